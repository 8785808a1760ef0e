#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Malformed handshakes: unknown client flags, a client without fixed
# newstyle, a bad option magic and an unknown export name are hung up on
# (with a warning naming the client); unknown, oversized and invalid options
# get error replies on a connection that still works.  A client connected
# all along keeps working, and so does a new one.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
. "$here/nbd-export.sh"
requires qemu-io python3

make_image "$T/disk.img" 16M
sock=$T/s.sock
start_steadyblk sb --export "$(sb_uri "$sock")" "$T/disk.img"

# A well-behaved client, in transmission the whole time.
timeout 60 qemu-io -f raw "$(sb_uri "$sock")" -c 'write -P 0x42 0 64k' -c 'sleep 2000' \
    -c 'read -P 0x42 0 64k' >"$T/bystander.out" 2>&1 &
bystander=$!
sleep 0.5

raw_py "$sock" <<'PY'
import struct, sys
from nbdraw import *
path = sys.argv[1]

s = connect(path); greet(s, 0xFF)
assert closed_by_peer(s), "unknown client flags accepted"
s = connect(path); greet(s, 0)
assert closed_by_peer(s), "a client without fixed newstyle accepted"
s = connect(path); greet(s); s.sendall(b"GARBAGE!" * 2)
assert closed_by_peer(s), "bad option magic accepted"
s = connect(path); greet(s); option(s, OPT_EXPORT_NAME, b"nope")
assert closed_by_peer(s), "unknown export accepted"
s = connect(path); greet(s); option(s, OPT_EXPORT_NAME, b"x" * 5000)
assert closed_by_peer(s), "an export name of 5000 bytes accepted"

# Errors the client can live with: the same connection goes on.
s = connect(path); greet(s)
option(s, 99, b"junk")
assert option_reply(s)[:2] == (99, REP_ERR_UNSUP)
option(s, OPT_STARTTLS)
assert option_reply(s)[1] == REP_ERR_UNSUP
option(s, OPT_STRUCTURED_REPLY, b"x")
assert option_reply(s)[1] == REP_ERR_INVALID
option(s, OPT_INFO, b"\0" * 100000)
assert option_reply(s)[1] == REP_ERR_TOO_BIG
option(s, OPT_LIST, b"x")
assert option_reply(s)[1] == REP_ERR_INVALID
option(s, OPT_GO, struct.pack(">I", 50) + b"ab")
assert option_reply(s)[1] == REP_ERR_INVALID
option(s, OPT_GO, struct.pack(">I", 4) + b"nope" + struct.pack(">H", 0))
assert option_reply(s)[1] == REP_ERR_UNKNOWN
size, flags = go(s)
assert size == 16 << 20, size
request(s, CMD_READ, 0, 4096, cookie=77)
assert reply(s) == (0, 77)
assert recvn(s, 4096) == b"\x42" * 4096

# ABORT is answered, then the server closes.
s = connect(path); greet(s); option(s, OPT_ABORT)
assert option_reply(s)[:2] == (OPT_ABORT, REP_ACK)
assert closed_by_peer(s), "no close after ABORT"
PY

wait "$bystander" || { cat "$T/bystander.out" >&2; fail "the bystander client failed"; }
grep -qiE 'fail|error' "$T/bystander.out" && fail "the bystander saw an error"
qemu_io_ok "$(sb_uri "$sock")" 'read -P 0x42 0 64k'
grep -q 'warning: nbd client [0-9]* (unix:.*): unknown client flags' "$T/sb.log" ||
    fail "no warning naming the client"
grep -q 'bad option magic' "$T/sb.log" || fail "no warning about the bad magic"
stop_steadyblk sb
