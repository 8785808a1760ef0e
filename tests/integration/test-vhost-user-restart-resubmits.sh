#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# steadyblk SIGKILLed during an outage while it holds a vhost-user-blk
# write and a read behind it, and started again: the front end reconnects
# as QEMU's reconnect=1 does (the same guest memory, the in-flight region
# it kept, the ring's base set back to the used index), and the new daemon
# resubmits both from the region, oldest first, holds them through the
# rest of the outage, and completes them: the write lands, the read sees
# it, and the ring goes on with new requests.  Driven by
# tests/integration/vhost-user-driver.py.
. "$(dirname "$0")/functions.sh"
requires python3

make_image "$T/disk.img" 4M
python3 -c "import sys; sys.stdout.buffer.write(b'A' * 512)" |
    dd of="$T/disk.img" bs=512 seek=8 conv=notrunc status=none
sb_args=(--werror retry --rerror retry --retry-interval 100ms --retry-max-interval 200ms
    --fault-file "$T/outage" --export "vhost-user-blk://$T/vu.sock" "$T/disk.img")
start_steadyblk sb "${sb_args[@]}"
cleanup_add 'kill -9 "$(cat "$T/sb2.pid" 2>/dev/null)" 2>/dev/null'

sector() { dd if="$T/disk.img" bs=512 skip="$1" count=1 status=none | head -c 1; }

PYTHONPATH=$(dirname "$0") timeout 90 python3 - "$T" "$SB_PID_sb" "$STEADYBLK" \
    "${sb_args[@]}" <<'PY' || fail "driver checks failed"
import os, shlex, signal, subprocess, sys, time
from importlib import import_module
d = import_module('vhost-user-driver')
T, pid1, steadyblk, args = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
READ_AT = d.DATA + 0x4000

def wait_log(log, text, secs=10):
    deadline = time.monotonic() + secs
    while text not in open(log).read():
        assert time.monotonic() < deadline, f'{log}: no "{text}" within {secs} s'
        time.sleep(0.05)

f = d.Frontend(f'{T}/vu.sock')
f.features()
f.start(protocol=True)
assert f.write_sector(16, b'Z' * 512) == 0
open(f'{T}/outage', 'w').close()
f.write_sector(8, b'B' * 512, head=0, wait=False)
f.read_sector(8, head=3, wait=False, at=READ_AT)
wait_log(f'{T}/sb.log', 'holding requests')
time.sleep(0.3)  # both are held
assert f.used_idx() == 1, 'a held request was answered'
os.kill(pid1, signal.SIGKILL)
deadline = time.monotonic() + 10
while os.path.exists(f'/proc/{pid1}') and \
        open(f'/proc/{pid1}/stat').read().split()[2] != 'Z':
    assert time.monotonic() < deadline, 'the SIGKILLed steadyblk lives on'
    time.sleep(0.05)
print('ok: steadyblk killed with a write and a read held')

cmd = shlex.split(os.environ.get('SB_WRAPPER', '')) + [
    steadyblk, '--foreground', '--pidfile', f'{T}/sb2.pid'] + args
sb2 = subprocess.Popen(cmd, stdout=open(f'{T}/sb2.log', 'w'), stderr=subprocess.STDOUT)
try:
    deadline = time.monotonic() + 20
    while not (os.path.exists(f'{T}/sb2.pid') and os.path.getsize(f'{T}/sb2.pid')):
        assert sb2.poll() is None and time.monotonic() < deadline, 'steadyblk did not restart'
        time.sleep(0.05)
    f.reconnect(f'{T}/vu.sock')
    f.features()
    f.start(protocol=True, base=f.used_idx(), keep_region=True)
    wait_log(f'{T}/sb2.log', 'resubmitting 2 requests')
    wait_log(f'{T}/sb2.log', 'holding requests')
    assert f.used_idx() == 1, 'answered during the outage'
    print('ok: the new steadyblk resubmitted both and holds them')
    os.unlink(f'{T}/outage')
    f.wait_used(3, secs=10)
    assert f.request_result()[0] == 0, 'the resubmitted write failed'
    status, data = f.request_result(READ_AT)
    assert status == 0, 'the resubmitted read failed'
    assert data == b'B' * 512, f'the read did not see the write before it: {data[:8]}'
    print('ok: after the outage the write landed and the read behind it saw it')
    assert f.write_sector(8, b'C' * 512, head=0) == 0
    assert f.read_sector(8, head=3, at=READ_AT) == (0, b'C' * 512)
    print('ok: the ring goes on with new requests')
finally:
    sb2.terminate()
    try:
        rc = sb2.wait(10)
    except subprocess.TimeoutExpired:
        sb2.kill()
        raise
assert rc == 0, f'the new steadyblk exited {rc}'
PY

grep "closed: it" "$T/sb2.log" && fail "the new steadyblk closed the connection"
[[ $(sector 8) == C ]] || fail "sector 8 holds '$(sector 8)', not the last write"
[[ $(sector 16) == Z ]] || fail "sector 16 holds '$(sector 16)', not the write before the kill"
echo "PASS"
