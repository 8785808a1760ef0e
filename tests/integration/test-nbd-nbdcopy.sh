#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A round trip of random data with nbdcopy (several connections, large
# requests): in through the export, out again, identical.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
requires nbdcopy qemu-img

head -c 40M /dev/urandom >"$T/src.img"
truncate -s 64M "$T/src.img"
make_image "$T/disk.img" 64M
uri=$(sb_uri "$T/s.sock")
start_steadyblk sb --export "$uri" "$T/disk.img"

timeout 120 nbdcopy "$T/src.img" "$uri" || fail "nbdcopy into the export failed"
timeout 120 nbdcopy "$uri" "$T/out.img" || fail "nbdcopy out of the export failed"
cmp "$T/src.img" "$T/out.img" || fail "the copy differs"
timeout 60 qemu-img compare -f raw -F raw "$uri" "$T/src.img" >/dev/null ||
    fail "qemu-img compare found a difference"
stop_steadyblk sb
cmp "$T/src.img" "$T/disk.img" || fail "the image differs"
