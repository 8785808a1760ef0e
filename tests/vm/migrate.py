# SPDX-License-Identifier: BSD-3-Clause
"""migrate.py SOCKET URI [DEST_SOCKET DIR] : live-migrates the QEMU whose QMP
monitor is on SOCKET to URI (a destination started with -incoming URI), waits
for the end, and prints "total_ms=N downtime_ms=N"; exits 1 if the migration
fails or takes more than 120 s.  The source QEMU is told to quit afterwards.

With DEST_SOCKET (the destination's QMP monitor; the destination started
stopped, -S) the guest memory of both is saved into DIR once the migration
has completed, compared page by page, and the destination then continued:
"mem_pages=N mem_diff_pages=N mem_diff_first=0xGPA,..." joins the output.
Both QEMUs are stopped then, so their memory must be the same: a page that
differs is one written on the source after it was last sent, which nobody
marked dirty (a device's write missing from the dirty log).  The files are
removed afterwards."""
import json
import mmap
import os
import socket
import sys
import time

PAGE = 4096


class Monitor:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(130)
        self.sock.connect(path)
        self.f = self.sock.makefile('rw')
        self.f.readline()
        self.run('qmp_capabilities')

    def run(self, cmd, **args):
        self.f.write(json.dumps({'execute': cmd, 'arguments': args}) + '\n')
        self.f.flush()
        while True:
            r = json.loads(self.f.readline())
            if 'return' in r:
                return r['return']
            if 'error' in r:
                sys.exit(f'{cmd}: {r["error"]}')


def compare(src, dst, folder):
    """Saves both guests' memory and counts the pages that differ."""
    # The destination may still be loading the last bytes the source sent.
    deadline = time.monotonic() + 30
    while dst.run('query-status')['status'] == 'inmigrate':
        if time.monotonic() > deadline:
            sys.exit('the destination is still loading the migration after 30 s')
        time.sleep(0.1)
    size = src.run('query-memory-size-summary')['base-memory']
    paths = [os.path.join(folder, n) for n in ('mem-src.bin', 'mem-dst.bin')]
    try:
        for mon, path in zip((src, dst), paths):
            mon.run('pmemsave', val=0, size=size, filename=path)
        with open(paths[0], 'rb') as a, open(paths[1], 'rb') as b:
            ma = mmap.mmap(a.fileno(), 0, access=mmap.ACCESS_READ)
            mb = mmap.mmap(b.fileno(), 0, access=mmap.ACCESS_READ)
            diff = [p for p in range(size // PAGE)
                    if ma[p * PAGE:(p + 1) * PAGE] != mb[p * PAGE:(p + 1) * PAGE]]
    finally:
        for path in paths:
            if os.path.exists(path):
                os.unlink(path)
    first = ','.join(hex(p * PAGE) for p in diff[:8]) or '-'
    return f' mem_pages={size // PAGE} mem_diff_pages={len(diff)} mem_diff_first={first}'


src = Monitor(sys.argv[1])
# The default (128 MiB/s) would stretch 512 MiB of guest over seconds.
src.run('migrate-set-parameters', **{'max-bandwidth': 8 << 30, 'downtime-limit': 300})
src.run('migrate', uri=sys.argv[2])
deadline = time.monotonic() + 120
while True:
    st = src.run('query-migrate')
    if st.get('status') == 'completed':
        break
    if st.get('status') in ('failed', 'cancelled'):
        sys.exit(f'migration {st.get("status")}: {st.get("error-desc", "")}')
    if time.monotonic() > deadline:
        sys.exit(f'migration not done after 120 s: {st.get("status")}')
    time.sleep(0.1)
out = f'total_ms={st.get("total-time", -1)} downtime_ms={st.get("downtime", -1)}'
if len(sys.argv) > 4:
    dst = Monitor(sys.argv[3])
    out += compare(src, dst, sys.argv[4])
    dst.run('cont')
print(out)
src.run('quit')
