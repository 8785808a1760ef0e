#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Garbage after the handshake (a bad request magic) disconnects that client
# only, with a warning naming it; a client in the middle of its own I/O is
# not disturbed, and new clients are served.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
. "$here/nbd-export.sh"
requires qemu-io fio python3

make_image "$T/disk.img" 32M
sock=$T/s.sock
start_steadyblk sb --export "$(sb_uri "$sock")" "$T/disk.img"

timeout 120 fio --name=bystander --ioengine=nbd --uri="$(sb_uri "$sock")" --rw=randrw --bs=4k \
    --iodepth=8 --size=16M --verify=crc32c --do_verify=1 --time_based --runtime=3 \
    --output="$T/fio.out" &
fio_pid=$!
sleep 0.5

raw_py "$sock" <<'PY'
import sys
from nbdraw import *
for junk in (b"\xde\xad\xbe\xef" * 16, b"\x25\x60\x95\x14" + b"\0" * 24):
    s = connect(sys.argv[1]); greet(s); go(s)
    request(s, CMD_READ, 0, 4096, cookie=1)   # a good one first
    assert reply(s) == (0, 1)
    recvn(s, 4096)
    s.sendall(junk)
    assert closed_by_peer(s), "garbage did not disconnect"
PY

wait "$fio_pid" || { cat "$T/fio.out" >&2; fail "the bystander fio failed"; }
grep -q 'err= 0' "$T/fio.out" || fail "the bystander fio saw errors"
qemu_io_ok "$(sb_uri "$sock")" 'write -P 0x61 20M 64k' 'read -P 0x61 20M 64k'
grep -q 'warning: nbd client [0-9]* (unix:.*): bad request magic 0xdeadbeef' "$T/sb.log" ||
    fail "no warning naming the client"
stop_steadyblk sb
