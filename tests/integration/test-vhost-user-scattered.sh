#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# vhost-user-blk requests whose data is several buffers of guest memory (a
# guest's large requests are dozens), of odd lengths and at odd addresses,
# written and read back on every data path: the file backend in both cache
# modes, which reads and writes the guest's buffers as they lie (cache=none
# copies what O_DIRECT cannot take), and an NBD backend, which takes one
# buffer and gets the request's bounce buffer.  Each time the disk holds
# the data in order, a read brings it back, and a read over a different
# split agrees.  Driven by tests/integration/vhost-user-driver.py.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/nbd-backend.sh"
requires python3 nbdkit

# O_DIRECT needs a file system that has it: next to the build, not /tmp.
DIRECT_DIR=${SB_BUILD:-$(dirname "$STEADYBLK")}
check_path() { # NAME BACKEND IMAGE [steadyblk options...]
    local name=$1 backend=$2 img=$3
    shift 3
    start_steadyblk "$name" "$@" --export "vhost-user-blk://$T/$name.sock" "$backend"
    PYTHONPATH=$(dirname "$0") timeout 60 python3 - "$T/$name.sock" "$img" "$name" <<'PY' ||
import os, sys
from importlib import import_module
d = import_module('vhost-user-driver')
sock, img, name = sys.argv[1:]
f = d.Frontend(sock)
f.features()
f.start(protocol=True)

def on_disk(sector, n):
    with open(img, 'rb') as fh:
        fh.seek(sector * 512)
        return fh.read(n)

# (sector, write split, read split, misalignment of each buffer)
cases = [
    (8, [100, 412, 1000, 24], [512, 512 - 64, 64, 512], 0),
    (64, [4096, 4096, 4096, 4096], [8192, 8192], 0),
    (128, [4096, 2048, 2048, 8192], [4096] * 4, 0),
    (256, [1536, 512, 2048], [1024, 3072], 7),
]
for sector, wl, rl, mis in cases:
    data = os.urandom(sum(wl))
    assert sum(rl) == len(data)
    st, _ = f.scattered(True, sector, wl, data, misalign=mis)
    assert st == 0, f'{name}: write status {st}'
    assert on_disk(sector, len(data)) == data, f'{name}: the disk holds other bytes at {sector}'
    st, got = f.scattered(False, sector, wl, misalign=mis)
    assert (st, got) == (0, data), f'{name}: read back at {sector}: status {st}'
    st, got = f.scattered(False, sector, rl, misalign=mis)
    assert (st, got) == (0, data), f'{name}: read over another split at {sector}: status {st}'
    print(f'ok: {name}: {len(wl)} buffers at sector {sector}, misaligned by {mis}')
PY
        fail "$name: driver checks failed"
    stop_steadyblk "$name"
}

make_image "$T/disk.img" 4M
check_path writeback "$T/disk.img" "$T/disk.img"

direct_img=$(mktemp "$DIRECT_DIR/vu-scattered.XXXXXX")
cleanup_add rm -f "$direct_img"
truncate -s 4M "$direct_img"
if dd if=/dev/zero of="$direct_img" bs=4096 count=1 oflag=direct conv=notrunc status=none 2>/dev/null; then
    check_path direct "$direct_img" "$direct_img" --cache none
else
    info "no O_DIRECT in $DIRECT_DIR: cache=none left out"
fi

make_image "$T/nbd.img" 4M
start_nbdkit be "$T/be.sock" file "$T/nbd.img"
check_path nbd "nbd+unix:///?socket=$T/be.sock" "$T/nbd.img"
echo "PASS"
