#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A write above the advertised 32 MiB maximum is refused with EINVAL after
# its payload has been read and dropped, and the connection goes on; a write
# header claiming 100 MiB is hung up on (nobody reads that much to drop it),
# and other clients are served.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
. "$here/nbd-export.sh"
requires qemu-io python3
nbd_python

make_image "$T/disk.img" 64M
sock=$T/s.sock
uri=$(sb_uri "$sock")
start_steadyblk sb --export "$uri" "$T/disk.img"

nbd_py "$uri" <<'PY'
import sys, nbd
from nbdraw import expect_error
h = nbd.NBD()
h.set_strict_mode(0)
h.connect_uri(sys.argv[1])
expect_error(lambda: h.pwrite(b"o" * (32 * 2**20 + 4096), 0), "EINVAL")
expect_error(lambda: h.pread(32 * 2**20 + 4096, 0), "EINVAL")
h.pwrite(b"k" * (32 * 2**20), 0)  # the maximum itself is fine
assert h.pread(4096, 32 * 2**20 - 4096) == b"k" * 4096
h.shutdown()
PY

raw_py "$sock" <<'PY'
import sys
from nbdraw import *
s = connect(sys.argv[1]); greet(s); go(s)
request(s, CMD_WRITE, 0, 100 * 2**20, cookie=3)
assert closed_by_peer(s), "a 100 MiB write was not refused"
PY
qemu_io_ok "$uri" 'read -P 0x6b 0 1M'
grep -q 'warning: nbd client [0-9]* (unix:.*): write of 104857600 bytes' "$T/sb.log" ||
    fail "no warning about the huge write"
stop_steadyblk sb
