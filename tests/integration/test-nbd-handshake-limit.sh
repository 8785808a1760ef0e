#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Handshakes in progress are bounded, and clients that sit in the handshake
# (a slowloris: connect, send nothing) never lock real clients out: past
# the bound the oldest handshake is dropped, and when every connection is
# taken a handshake older than a second yields its place.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
. "$here/nbd-export.sh"
requires qemu-io nbdinfo python3

make_image "$T/disk.img" 16M
uri=$(sb_uri "$T/s.sock")
# -v: the log says when each client has chosen its export.
start_steadyblk sb -v --max-connections 16 --export "$uri" "$T/disk.img"

# idle_sockets COUNT DONEFILE : COUNT sockets that connect and say nothing,
# kept open until DONEFILE exists; prints how many the daemon closed.
idle_sockets() {
    raw_py "$T/s.sock" "$1" "$2" <<'PY'
import os, sys, time
from nbdraw import *
path, n, done = sys.argv[1], int(sys.argv[2]), sys.argv[3]
socks = [connect(path, timeout=0.01) for _ in range(n)]
open(done + ".ready", "w").close()
deadline = time.monotonic() + 40
while not os.path.exists(done) and time.monotonic() < deadline:
    time.sleep(0.05)
print(sum(closed_by_peer(s) for s in socks))
PY
}

# 1. A flood of 100 idle sockets, far past the 16 connections.
idle_sockets 100 "$T/done1" >"$T/idle1.out" &
py=$!
cleanup_add "kill $py"
wait_for 20 test -e "$T/done1.ready" || fail "the idle sockets did not connect"
qemu_io_ok "$uri" 'write -P 0x5a 0 64k' 'read -P 0x5a 0 64k'
timeout 20 nbdinfo "$uri" >/dev/null || fail "nbdinfo was not served during the flood"
touch "$T/done1"
wait "$py" || fail "the idle sockets' script failed"
info "the daemon closed $(cat "$T/idle1.out") of the 100 idle sockets"
(($(cat "$T/idle1.out") >= 84)) || fail "expected at least 84 idle sockets dropped"
sb_log_has 'dropped: the most handshakes at once are in progress' ||
    fail "no line about the dropped handshakes"
# A flood is logged once a second, not once a socket.
(($(grep -c 'handshakes dropped since' "$T/sb.log") < 20)) || fail "one line per dropped socket"

# 2. Every connection taken: 14 real clients stay connected, 2 idle sockets
# sit in their handshake; after a second they yield to a newcomer.
pids=()
for ((i = 0; i < 14; i++)); do
    timeout 60 qemu-io -f raw "$uri" -c 'read -P 0x5a 0 4k' -c 'sleep 5000' \
        -c 'read -P 0x5a 0 4k' >"$T/c$i.out" 2>&1 &
    pids+=($!)
    cleanup_add "kill $!"
done
# Two clients were served in step 1 (qemu-io, nbdinfo), the others now.
wait_for 10 sb_log_has "export '' \\(disk disk0\\)" 16 ||
    fail "the 14 clients did not connect"
idle_sockets 2 "$T/done2" >"$T/idle2.out" &
py=$!
cleanup_add "kill $py"
wait_for 20 test -e "$T/done2.ready" || fail "the idle sockets did not connect"
sleep 1.2
qemu_io_ok "$uri" 'read -P 0x5a 0 64k'
sb_log_has 'still in its handshake with every connection taken' ||
    fail "no line about the stale handshake that yielded"
touch "$T/done2"
wait "$py" || true
for ((i = 0; i < 14; i++)); do
    wait "${pids[i]}" || { cat "$T/c$i.out" >&2; fail "client $i failed"; }
done
stop_steadyblk sb
