#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The dirty log of a live migration, as QEMU shares it (SET_LOG_BASE,
# LOG_ALL, the ring's addresses again with the used ring's to log): every
# page of guest memory that steadyblk writes is marked, and no other.  A
# read marks its data buffers, its status byte's page and the used ring,
# whether the data lands straight in the guest's buffers (the file backend,
# scattered over several of them) or is copied there from the bounce
# buffer (an NBD backend); a write marks only its status byte's page and
# the used ring (the guest's data is read, not written); the stop
# (GET_VRING_BASE) marks the used ring.  A page written by the device and
# missing from the log is one the migration never sends again: the
# destination's guest finds it stale.  Driven by
# tests/integration/vhost-user-driver.py.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/nbd-backend.sh"
requires python3 nbdkit

check_path() { # NAME BACKEND [steadyblk options...]
    local name=$1 backend=$2
    shift 2
    start_steadyblk "$name" "$@" --export "vhost-user-blk://$T/$name.sock" "$backend"
    PYTHONPATH=$(dirname "$0") timeout 60 python3 - "$T/$name.sock" "$name" <<'PY' ||
import os, sys, time
from importlib import import_module
d = import_module('vhost-user-driver')
sock, name = sys.argv[1:]
f = d.Frontend(sock)
f.features()
f.start(protocol=True)
USED_PAGE = d.USED // 4096

def pages(addr, n):
    return set(range(addr // 4096, (addr + n - 1) // 4096 + 1))

def expect(want, what):
    # The used ring is marked just after the guest can see it: wait a moment
    # for the marks, then they must be exactly these.
    deadline = time.monotonic() + 2
    got = set()
    while not want <= got and time.monotonic() < deadline:
        time.sleep(0.01)
        got |= f.logged_pages()
    time.sleep(0.05)
    got |= f.logged_pages()
    assert got == want, f'{name}: {what}: pages {sorted(got)} marked, wanted {sorted(want)}'
    print(f'ok: {name}: {what}: pages {sorted(want)} marked, no other')

# Data on the disk to read back, written before the migration starts.
data = os.urandom(12288)
st, _ = f.scattered(True, 64, [4096, 4096, 4096], data)
assert st == 0, f'{name}: write status {st}'
f.start_logging()
f.logged_pages()

# A read over three buffers (the last two pages apart from the first by a
# page of their own), its header and status byte on pages of their own.
at = d.DATA
lens = [4096, 1000, 7192]
st, got = f.scattered(False, 64, lens, misalign=0, at=at)
assert (st, got) == (0, data), f'{name}: read back: status {st}'
want, page = {USED_PAGE}, at + 0x1000
for n in lens:
    want |= pages(page, n)
    page += (n + 0xfff) & ~0xfff
want |= pages(page, 1)   # the status byte
assert at // 4096 not in want
expect(want, 'a read over three buffers')

# A read into one buffer: data and status byte 0xe00 bytes apart.
at = d.DATA + 0x20000
st, got = f.read_sector(64, at=at)
assert (st, got) == (0, data[:512]), f'{name}: one-sector read: status {st}'
expect({at // 4096, (at + 0x1000) // 4096, USED_PAGE}, 'a read into one buffer')

# A write reads the guest's buffers: only its status byte and the ring.
at = d.DATA + 0x40000
st, _ = f.scattered(True, 128, [2048, 2048], os.urandom(4096), at=at)
assert st == 0, f'{name}: write status {st}'
expect({(at + 0x3000) // 4096, USED_PAGE}, 'a write over two buffers')

base = f.get_vring_base()
assert base == f.avail_idx, f'{name}: stopped at {base}, {f.avail_idx} offered'
expect({USED_PAGE}, 'the stop')
PY
        fail "$name: dirty log checks failed"
    stop_steadyblk "$name"
}

make_image "$T/disk.img" 4M
check_path file "$T/disk.img"

make_image "$T/nbd.img" 4M
start_nbdkit be "$T/be.sock" file "$T/nbd.img"
check_path nbd "nbd+unix:///?socket=$T/be.sock"
echo "PASS"
