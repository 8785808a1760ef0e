#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A client that connects and never finishes the handshake is disconnected
# after 10 s, so half-open clients cannot pin resources; others are served
# meanwhile.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
. "$here/nbd-export.sh"
requires qemu-io python3

make_image "$T/disk.img" 8M
sock=$T/s.sock
start_steadyblk sb --export "$(sb_uri "$sock")" "$T/disk.img"

raw_py "$sock" <<'PY' &
import sys, time
from nbdraw import *
idle = connect(sys.argv[1], timeout=30)      # says nothing at all
half = connect(sys.argv[1], timeout=30)
greet(half)                                  # flags, then silence
start = time.monotonic()
assert closed_by_peer(idle) and closed_by_peer(half), "not disconnected"
took = time.monotonic() - start
assert 8 < took < 15, "disconnected after %.1f s" % took
PY
py=$!
sleep 1
qemu_io_ok "$(sb_uri "$sock")" 'write -P 0x71 0 4k' 'read -P 0x71 0 4k'
wait "$py" || fail "the idle clients were not disconnected in time"
[[ $(grep -c 'no export chosen within 10 s' "$T/sb.log") == 2 ]] ||
    fail "expected two handshake timeout warnings"
stop_steadyblk sb
