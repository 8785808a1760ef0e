#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A vhost-user-blk device reset during an outage (DESIGN.md, "Pause on
# drain and reset"), driven by a front end of our own speaking QEMU's
# order (tests/integration/vhost-user-driver.py): a write is held; the
# ring's stop (GET_VRING_BASE) is answered at once, not after the outage;
# the reset (a new in-flight region asked for) fences the held write; when
# the outage ends it never lands, and the new device's write over the same
# sector does, and stays.
. "$(dirname "$0")/functions.sh"
requires python3

make_image "$T/disk.img" 4M
python3 -c "import sys; sys.stdout.buffer.write(b'A' * 512)" |
    dd of="$T/disk.img" bs=512 seek=8 conv=notrunc status=none
start_steadyblk sb --werror retry --rerror retry --retry-interval 100ms \
    --retry-max-interval 200ms --fault-file "$T/outage" \
    --export "vhost-user-blk://$T/vu.sock" "$T/disk.img"

sector8() { dd if="$T/disk.img" bs=512 skip=8 count=1 status=none | head -c 1; }

PYTHONPATH=$(dirname "$0") timeout 60 python3 - "$T" <<'PY' || fail "driver checks failed"
import os, sys, time
from importlib import import_module
d = import_module('vhost-user-driver')
T = sys.argv[1]

f = d.Frontend(f'{T}/vu.sock')
assert f.features() & d.F_PROTOCOL_FEATURES
f.start(protocol=True)
assert f.read_sector(8)[1] == b'A' * 512
open(f'{T}/outage', 'w').close()
deadline = time.monotonic() + 10
while 'rules in force' not in open(f'{T}/sb.log').read():  # the filter saw it
    assert time.monotonic() < deadline, 'the fault file was not noticed'
    time.sleep(0.05)
f.write_sector(8, b'B' * 512, head=3, wait=False)
deadline = time.monotonic() + 10
while 'holding requests' not in open(f'{T}/sb.log').read():
    assert time.monotonic() < deadline, 'the write was not held'
    time.sleep(0.05)
t = time.monotonic()
base = f.get_vring_base()
took = time.monotonic() - t
assert took < 1, f'the stop took {took:.2f} s'
assert base == 2, f'base {base}'
assert f.used_idx() == 1, 'the held write was answered'
print(f'ok: the stop answered in {took * 1000:.0f} ms with a write held')
f.inflight_region(1, d.QSIZE)  # the reset
os.unlink(f'{T}/outage')
time.sleep(1.5)  # probes every 200 ms: the old write had its chance
assert open(f'{T}/disk.img', 'rb').read()[8 * 512:9 * 512] == b'A' * 512, \
    'the write held before the reset landed'
print('ok: the outage is over and the fenced write did not land')
# The new device: its driver sets the rings up afresh before it starts,
# then writes over the same sector.
f.avail_idx = 0
f.mem[d.USED:d.USED + 4] = b'\0' * 4
f.mem[d.AVAIL:d.AVAIL + 4] = b'\0' * 4
f.start(protocol=True, base=0)
assert f.write_sector(8, b'C' * 512) == 0
assert f.read_sector(8)[1] == b'C' * 512
print('ok: the new device wrote the sector')
PY

grep -q "reset with 1 requests of the old device still out" "$T/sb.log" ||
    fail "the reset was not logged"
grep -q "vhost-user-blk client 1 was reset, 1 held requests dropped, never to be re-issued" \
    "$T/sb.log" || fail "the held write's drop was not logged as the reset's"
stop_steadyblk sb
[[ $(sector8) == C ]] || fail "sector 8 holds '$(sector8)', not the new device's write"
echo "PASS"
