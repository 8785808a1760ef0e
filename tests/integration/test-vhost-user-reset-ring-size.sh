#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A vhost-user-blk device is reset while a write of the old instance is
# still at a slow backend (nbdkit, 3 s per write), and the new instance's
# ring has another size (a virtio 1 driver may pick a smaller one than the
# device offers: a guest's firmware and its kernel can differ).  The new
# ring must run at once, the old write still out (it never started: the
# slots were not resized while a request was in one of them): its
# requests are answered, the old write lands, and a write of the new
# device over the same sector lands after it.  Then a ring larger than
# before, again with an old write out.  Driven by
# tests/integration/vhost-user-driver.py.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/nbd-backend.sh"
requires python3 nbdkit

make_image "$T/disk.img" 4M
start_nbdkit be "$T/be.sock" --filter=delay file "$T/disk.img" wdelay=3
start_steadyblk sb --werror retry --rerror retry \
    --export "vhost-user-blk://$T/vu.sock" "nbd+unix:///?socket=$T/be.sock"

PYTHONPATH=$(dirname "$0") timeout 90 python3 - "$T" <<'PY' || fail "driver checks failed"
import sys, time
from importlib import import_module
d = import_module('vhost-user-driver')
T = sys.argv[1]

def sector(n):
    with open(f'{T}/disk.img', 'rb') as f:
        f.seek(n * 512)
        return f.read(512)

def new_device(f, qsize):
    """A reset and the next start, its rings set up afresh with @qsize
    entries (start() asks for a new in-flight region: the reset)."""
    d.QSIZE = qsize
    f.avail_idx = 0
    f.mem[d.USED:d.USED + 4] = b'\0' * 4
    f.mem[d.AVAIL:d.AVAIL + 4] = b'\0' * 4
    f.start(protocol=True, base=0)

f = d.Frontend(f'{T}/vu.sock')
f.features()
f.start(protocol=True)
for old, new, stale, data in ((8, 4, b'B', b'C'), (4, 16, b'D', b'E')):
    f.write_sector(8, stale * 512, wait=False)
    time.sleep(0.5)  # at nbdkit now, for 3 s
    assert f.get_vring_base() == f.avail_idx
    t = time.monotonic()
    new_device(f, new)
    # A read elsewhere: the new ring runs though the old write is out.
    st, _ = f.read_sector(16, head=0, at=d.DATA + 0x4000)
    took = time.monotonic() - t
    assert st == 0 and took < 2, f'the new ring of {new} (was {old}) answered in {took:.1f} s'
    print(f'ok: a ring of {new} entries after one of {old}, a write of the old one out: '
          f'a read answered in {took * 1000:.0f} ms')
    # Over the old write's sector: waits for it (2.5 s), takes 3 s itself.
    at = d.DATA + 0x8000
    f.write_sector(8, data * 512, head=1, wait=False, at=at)
    f.wait_used(2, secs=10)
    assert f.mem[at + 0x1000] == 0, f'status {f.mem[at + 0x1000]}'
    assert sector(8) == data * 512, f'sector 8 holds {sector(8)[:1]!r}, not {data!r}'
    print(f'ok: the new device\'s write over the old one ({stale!r}) landed after it')
PY
stop_steadyblk sb
echo "PASS"
