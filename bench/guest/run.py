#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""run.py --out DIR --timeout S --server LABEL:PID:BYTES... -- QEMU-COMMAND...

Boots the benchmark guest (bench/guest/fio-init.sh) with QEMU-COMMAND,
whose serial console must be stdout, and follows its console: each disk
the guest reports is matched to the server whose disk has that many bytes;
at each job's begin and end every server's CPU time (utime + stime of the
whole process, all threads) is read from /proc.  Writes DIR/serial.txt and
DIR/results.json (one record per round, job and server: IOPS, MB/s, the
server's CPU seconds and I/Os), and exits 1 if the guest did not finish."""
import argparse
import socket
import json
import os
import selectors
import subprocess
import sys
import time

CLK_TCK = os.sysconf('SC_CLK_TCK')


def cpu_seconds(pid):
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def hmp(path, commands):
    """Each HMP command's output over the QMP socket at path."""
    out = []
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(path)
    f = s.makefile('rw')
    f.readline()
    for c in ['qmp_capabilities'] + commands:
        m = {'execute': c} if c == 'qmp_capabilities' else \
            {'execute': 'human-monitor-command', 'arguments': {'command-line': c}}
        f.write(json.dumps(m) + '\n')
        f.flush()
        while True:
            r = json.loads(f.readline())
            if 'return' in r or 'error' in r:
                break
        if c != 'qmp_capabilities':
            out.append(f'(qemu) {c}\n{r.get("return", r.get("error"))}')
    s.close()
    return '\n'.join(out)


def diagnose(path, out):
    """The guest's virtqueues as QEMU sees them, into out/stall.txt."""
    try:
        text = hmp(path, ['info virtio', 'info registers'])
        devs = [l.split()[0] for l in text.splitlines() if l.startswith('/machine')]
        cmds = []
        for d in devs:
            cmds += [f'info virtio-queue-status {d} 0', f'info virtio-vhost-queue-status {d} 0']
        text += '\n' + hmp(path, cmds)
    except (OSError, ValueError) as e:
        text = f'no diagnosis: {e}'
    with open(os.path.join(out, 'stall.txt'), 'w') as f:
        f.write(text + '\n')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    ap.add_argument('--timeout', type=float, required=True)
    ap.add_argument('--server', action='append', required=True)
    ap.add_argument('--qmp', help="QEMU's QMP socket, for a diagnosis of a stall")
    ap.add_argument('--stall', type=float, default=0,
                    help='give up after this many seconds without a console line')
    ap.add_argument('qemu', nargs=argparse.REMAINDER)
    a = ap.parse_args()
    qemu = a.qemu[1:] if a.qemu[:1] == ['--'] else a.qemu
    servers = {}
    for s in a.server:
        label, pid, size = s.split(':')
        servers[int(size)] = (label, int(pid))

    disk_server = {}
    begin = {}
    results = []
    done = False
    deadline = time.monotonic() + a.timeout
    serial = open(os.path.join(a.out, 'serial.txt'), 'w')
    p = subprocess.Popen(qemu, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=open(os.path.join(a.out, 'qemu.log'), 'w'))
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ)
    buf = b''
    t_start = last_line = time.monotonic()
    try:
        while not done:
            left = deadline - time.monotonic()
            if left <= 0:
                print('run: the guest did not finish in time', file=sys.stderr)
                if a.qmp:
                    diagnose(a.qmp, a.out)
                break
            if a.stall and time.monotonic() - last_line > a.stall:
                print(f'run: no console line for {a.stall:.0f} s: the guest stalled '
                      f'(see {a.out}/stall.txt)', file=sys.stderr)
                if a.qmp:
                    diagnose(a.qmp, a.out)
                break
            if not sel.select(min(left, 1.0)):
                continue
            chunk = os.read(p.stdout.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
            while b'\n' in buf:
                raw, buf = buf.split(b'\n', 1)
                line = raw.decode(errors='replace').rstrip('\r')
                last_line = time.monotonic()
                serial.write(f'{last_line - t_start:8.1f} {line}\n')
                serial.flush()
                w = line.split(' ')
                if w[0] == 'SBDISK':
                    if int(w[2]) not in servers:
                        print(f'run: disk {w[1]} of {w[2]} bytes is no server\'s',
                              file=sys.stderr)
                        return 1
                    disk_server[w[1]] = servers[int(w[2])]
                elif w[0] == 'SBBENCH':
                    now = {label: cpu_seconds(pid) for label, pid in servers.values()}
                    key = (w[2], w[3], w[4])
                    if w[1] == 'begin':
                        begin[key] = (time.monotonic(), now)
                    else:
                        t0, c0 = begin.pop(key)
                        begin[key + ('end',)] = (time.monotonic() - t0,
                                                 {k: now[k] - c0[k] for k in now})
                elif w[0] == 'SBRES' and len(w) == 10:
                    key = (w[1], w[2], w[3])
                    wall, cpu = begin.pop(key + ('end',))
                    label = disk_server[w[3]][0]
                    riops, wiops, rbw, wbw, rios, wios = (float(x) for x in w[4:10])
                    results.append({
                        'round': int(w[1]), 'job': w[2], 'server': label,
                        'iops': riops + wiops, 'mbps': (rbw + wbw) / 1e6,
                        'ios': int(rios + wios), 'cpu_s': cpu[label], 'wall_s': wall,
                        'others_cpu_s': {k: v for k, v in cpu.items() if k != label},
                    })
                elif w[0] == 'SBERROR':
                    print(f'run: guest: {line}', file=sys.stderr)
                elif w[0] == 'SBDONE':
                    done = True
    finally:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        serial.close()
    with open(os.path.join(a.out, 'results.json'), 'w') as f:
        json.dump(results, f, indent=1)
    if not done or not results:
        print(f'run: no complete result (see {a.out}/serial.txt)', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
