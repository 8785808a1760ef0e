#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# steadyblk SIGKILLed with vhost-user-blk requests out, and started again:
# the front end reconnects as QEMU's reconnect=1 does (the same guest
# memory, the in-flight region it kept, the ring's base set back to the
# used index), and the new daemon resubmits from the region what the
# killed one had popped and not answered, oldest first.
#   backend: nbdkit, every write taking 3 s (delay filter)
#   a write W (slow) is out; a read R1 popped after it is answered; an
#   outage starts (steadyblk's fault filter) and a read R2 is held: what is
#   in flight, W and R2, is not a run of the avail ring.  SIGKILL.
#   the new daemon resubmits W and R2 and holds them through the outage;
#   when it ends both complete: W lands, R2 reads its sector, nothing is
#   answered twice, and the ring goes on with new requests.
# Popping again from the base instead would answer R1 twice and lose W.
# Driven by tests/integration/vhost-user-driver.py.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/nbd-backend.sh"
requires python3 nbdkit

make_image "$T/disk.img" 4M
for s in 8 24; do
    python3 -c "import sys; sys.stdout.buffer.write(b'A' * 512)" |
        dd of="$T/disk.img" bs=512 seek=$s conv=notrunc status=none
done
start_nbdkit be "$T/be.sock" --filter=delay file "$T/disk.img" wdelay=3
sb_args=(--werror retry --rerror retry --retry-interval 100ms --retry-max-interval 200ms
    --fault-file "$T/outage" --export "vhost-user-blk://$T/vu.sock" "nbd+unix:///?socket=$T/be.sock")
start_steadyblk sb "${sb_args[@]}"
cleanup_add 'kill -9 "$(cat "$T/sb2.pid" 2>/dev/null)" 2>/dev/null'

sector() { dd if="$T/disk.img" bs=512 skip="$1" count=1 status=none | head -c 1; }

PYTHONPATH=$(dirname "$0") timeout 90 python3 - "$T" "$SB_PID_sb" "$STEADYBLK" \
    "${sb_args[@]}" <<'PY' || fail "driver checks failed"
import os, shlex, signal, struct, subprocess, sys, time
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
assert f.read_sector(8) == (0, b'A' * 512)                    # used 1
t = time.monotonic()
f.write_sector(8, b'B' * 512, head=0, wait=False)             # W: 3 s at nbdkit
assert f.read_sector(24, head=3, at=READ_AT) == (0, b'A' * 512)  # R1, used 2
open(f'{T}/outage', 'w').close()
wait_log(f'{T}/sb.log', 'rules in force')  # the filter has seen the file
f.read_sector(24, head=3, wait=False, at=READ_AT)             # R2: held
wait_log(f'{T}/sb.log', 'holding requests')
assert f.used_idx() == 2, 'a request was answered during the outage'
os.kill(pid1, signal.SIGKILL)
assert time.monotonic() - t < 2.5, 'too slow: the write may have completed'
deadline = time.monotonic() + 10
while os.path.exists(f'/proc/{pid1}') and \
        open(f'/proc/{pid1}/stat').read().split()[2] != 'Z':
    assert time.monotonic() < deadline, 'the SIGKILLed steadyblk lives on'
    time.sleep(0.05)
print('ok: steadyblk killed with a write at the backend and a read held')

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
    assert f.used_idx() == 2, 'answered during the outage'
    print('ok: the new steadyblk resubmitted both and holds them')
    os.unlink(f'{T}/outage')
    f.wait_used(4, secs=15)
    time.sleep(0.5)
    assert f.used_idx() == 4, f'used index {f.used_idx()}: a request was answered twice'
    used = [struct.unpack_from('<I', f.mem, d.USED + 4 + 8 * i)[0] for i in range(4)]
    assert sorted(used[2:]) == [0, 3], f'used heads {used}: not W and R2'
    assert f.request_result()[0] == 0, 'the resubmitted write failed'
    assert f.request_result(READ_AT) == (0, b'A' * 512), 'the resubmitted read failed'
    print('ok: after the outage W and R2 completed, each once')
    assert f.read_sector(8, head=3, at=READ_AT) == (0, b'B' * 512), 'W did not land'
    assert f.write_sector(24, b'C' * 512, head=0) == 0
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
[[ $(sector 8) == B ]] || fail "sector 8 holds '$(sector 8)', not the resubmitted write"
[[ $(sector 24) == C ]] || fail "sector 24 holds '$(sector 24)', not the last write"
echo "PASS"
