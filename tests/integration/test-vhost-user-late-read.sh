#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A read of a vhost-user-blk device is still at a slow backend (nbdkit, 3 s
# per read) when the device is reset, and again when the front end goes
# away.  The guest may use that buffer for something else by then: when
# the backend's data arrives it must not land in guest memory (the device
# maps guest memory afresh and puts a private copy over the old addresses),
# nothing is pushed onto the ring for it, and the new device reads and
# writes as usual.  Driven by tests/integration/vhost-user-driver.py.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/nbd-backend.sh"
requires python3 nbdkit

make_image "$T/disk.img" 4M
python3 -c "import sys; sys.stdout.buffer.write(b'A' * 512)" |
    dd of="$T/disk.img" bs=512 seek=8 conv=notrunc status=none
start_nbdkit be "$T/be.sock" --filter=delay file "$T/disk.img" rdelay=3
start_steadyblk sb --werror retry --rerror retry \
    --export "vhost-user-blk://$T/vu.sock" "nbd+unix:///?socket=$T/be.sock"

PYTHONPATH=$(dirname "$0") timeout 90 python3 - "$T" <<'PY' || fail "driver checks failed"
import sys, time
from importlib import import_module
d = import_module('vhost-user-driver')
T = sys.argv[1]
SLOW_AT = d.DATA + 0x4000
MARK = b'M' * 512

def reused(f, at):
    """The guest takes the buffer back for something else."""
    f.mem[at + 0x200:at + 0x400] = MARK
    f.mem[at + 0x1000] = 0x77

def untouched(f, at, used):
    assert f.request_result(at) == (0x77, MARK), \
        f'the late read landed in guest memory: {f.request_result(at)[1][:8]}'
    assert f.used_idx() == used, 'the late read was pushed onto the ring'

f = d.Frontend(f'{T}/vu.sock')
f.features()
f.start(protocol=True)
f.read_sector(8, head=0, wait=False, at=SLOW_AT)
time.sleep(0.5)  # at nbdkit now, for 3 s
assert f.get_vring_base() == 1
f.inflight_region(1, d.QSIZE)  # the reset
reused(f, SLOW_AT)
time.sleep(4)
untouched(f, SLOW_AT, 0)
print('ok: a read at the backend across a reset stayed out of guest memory')

# The new device, its rings set up afresh, reads and writes as usual.
f.avail_idx = 0
f.mem[d.USED:d.USED + 4] = b'\0' * 4
f.mem[d.AVAIL:d.AVAIL + 4] = b'\0' * 4
f.start(protocol=True, base=0)
assert f.write_sector(8, b'B' * 512) == 0
f.wait_used(1)
assert f.read_sector(8, head=3, at=d.DATA + 0x8000) == (0, b'B' * 512)
print('ok: the new device reads and writes')

# The front end goes with a read at the backend.
f.read_sector(8, head=0, wait=False, at=SLOW_AT)
time.sleep(0.5)
f.sock.close()
reused(f, SLOW_AT)
time.sleep(4)
untouched(f, SLOW_AT, 2)
print('ok: a read at the backend when the front end went stayed out of guest memory')
g = d.Frontend(f'{T}/vu.sock')
g.features()
g.start(protocol=True)
assert g.read_sector(8) == (0, b'B' * 512)
print('ok: the next front end is served')
PY

grep -q "reset with 1 requests of the old device still out" "$T/sb.log" ||
    fail "the reset was not logged"
grep -q "could not be mapped again" "$T/sb.log" && fail "guest memory was not moved"
stop_steadyblk sb
echo "PASS"
