#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The vhost-user-blk front end goes (QEMU killed) while a write is held in
# an outage: the held write is fenced, and when the outage ends it never
# lands; the socket takes the next front end, whose write over the same
# sector does land and stays.  Driven by tests/integration/vhost-user-driver.py.
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

def wait_log(text, secs=10):
    deadline = time.monotonic() + secs
    while text not in open(f'{T}/sb.log').read():
        assert time.monotonic() < deadline, f'no "{text}" within {secs} s'
        time.sleep(0.05)

f = d.Frontend(f'{T}/vu.sock')
f.features()
f.start(protocol=True)
open(f'{T}/outage', 'w').close()
wait_log('rules in force')  # the filter has seen the file
f.write_sector(8, b'B' * 512, wait=False)
wait_log('holding requests')
f.sock.close()  # QEMU killed
wait_log('held requests dropped, never to be re-issued')
os.unlink(f'{T}/outage')
time.sleep(1.5)  # probes every 200 ms: the held write had its chance
assert open(f'{T}/disk.img', 'rb').read()[8 * 512:9 * 512] == b'A' * 512, \
    'the write held when the front end went landed'
print('ok: the outage is over and the held write of the front end gone did not land')
g = d.Frontend(f'{T}/vu.sock')
g.features()
g.start(protocol=True)
assert g.write_sector(8, b'C' * 512) == 0
assert g.read_sector(8, head=3, at=d.DATA + 0x4000) == (0, b'C' * 512)
print('ok: the next front end wrote the sector')
PY

stop_steadyblk sb
[[ $(sector8) == C ]] || fail "sector 8 holds '$(sector8)', not the next front end's write"
echo "PASS"
