#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A read-only export says so (NBD_FLAG_READ_ONLY, no trim or zero), refuses
# writes, trims and zeroes with EPERM on a connection that keeps serving, and
# the image is left untouched.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
. "$here/nbd-export.sh"
requires qemu-io nbdinfo jq
nbd_python

make_image "$T/disk.img" 16M
qemu_io_ok "$T/disk.img" 'write -P 0x3c 0 1M'
uri=$(sb_uri "$T/s.sock")
start_steadyblk sb --read-only --export "$uri" "$T/disk.img"

json=$(timeout 20 nbdinfo --json "$uri") || fail "nbdinfo failed"
[[ $(jq -r '.exports[0].is_read_only' <<<"$json") == true ]] || fail "not read-only"
[[ $(jq -r '.exports[0].can_trim' <<<"$json") == false ]] || fail "trim advertised"
[[ $(jq -r '.exports[0].can_zero' <<<"$json") == false ]] || fail "zero advertised"

nbd_py "$uri" <<'PY'
import sys, nbd
from nbdraw import expect_error
h = nbd.NBD()
h.set_strict_mode(0)  # send what the flags forbid: the server must refuse it
h.connect_uri(sys.argv[1])
expect_error(lambda: h.pwrite(b"x" * 4096, 0), "EPERM")
expect_error(lambda: h.pwrite(b"x" * 65536, 4096, nbd.CMD_FLAG_FUA), "EPERM")
expect_error(lambda: h.trim(4096, 0), "EPERM")
expect_error(lambda: h.zero(4096, 0), "EPERM")
assert h.pread(4096, 0) == b"\x3c" * 4096
h.shutdown()
PY
stop_steadyblk sb
qemu_io_ok "$T/disk.img" 'read -P 0x3c 0 1M' 'read -P 0 1M 1M'
