#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Requests the export cannot take get the protocol's error and the connection
# goes on: reads and trims past the end EINVAL, writes and zeroes past the end
# ENOSPC, zero-length and unknown-flag requests EINVAL; then a normal read on
# the same connection, and another client, still work.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
. "$here/nbd-export.sh"
requires qemu-io
nbd_python

make_image "$T/disk.img" 8M
uri=$(sb_uri "$T/s.sock")
start_steadyblk sb --export "$uri" "$T/disk.img"
qemu_io_ok "$uri" 'write -P 0x5e 0 4k'

nbd_py "$uri" <<'PY'
import sys, nbd
from nbdraw import expect_error
h = nbd.NBD()
h.set_strict_mode(0)  # let libnbd send what a buggy client would
h.connect_uri(sys.argv[1])
size = h.get_size()
expect_error(lambda: h.pread(4096, size), "EINVAL")
expect_error(lambda: h.pread(8192, size - 4096), "EINVAL")
expect_error(lambda: h.pread(4096, 2**63), "EINVAL")
expect_error(lambda: h.pwrite(b"w" * 4096, size - 2048), "ENOSPC")
expect_error(lambda: h.zero(8192, size - 4096), "ENOSPC")
expect_error(lambda: h.trim(8192, size - 4096), "EINVAL")
expect_error(lambda: h.pread(0, 0), "EINVAL")
expect_error(lambda: h.pread(4096, 0, nbd.CMD_FLAG_NO_HOLE), "EINVAL")
assert h.pread(4096, 0) == b"\x5e" * 4096
assert h.pread(4096, size - 4096) == b"\0" * 4096
h.shutdown()
PY
qemu_io_ok "$uri" 'read -P 0x5e 0 4k' 'read -P 0 4k 4k'
stop_steadyblk sb
