#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The NBD backend at start-up: steadyblk waits for a server that is not
# there yet (up to --backend-timeout), gives up on one that never comes with
# an error naming the URI, and gives up at once on a server that refuses the
# export name.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/nbd-backend.sh"
requires qemu-nbd

make_image "$T/disk.img" 16M
be=$(sb_uri "$T/be.sock")
uri=$(sb_uri "$T/s.sock")

# 1. The server comes 1 s after steadyblk: steadyblk waits for it.
t0=$(now_ms)
$SB_WRAPPER "$STEADYBLK" --foreground --pidfile "$T/sb.pid" --backend-timeout 5s \
    --export "$uri" "$be" >"$T/sb.log" 2>&1 &
SB_PID_sb=$!
cleanup_add "kill -9 $SB_PID_sb"
sleep 1
start_nbdkit nk "$T/be.sock" file "$T/disk.img"
wait_for 10 test -s "$T/sb.pid" || { cat "$T/sb.log" >&2; fail "steadyblk did not wait for the server"; }
info "ready $(($(now_ms) - t0)) ms after start"
qemu_io_ok "$uri" 'write -P 0xd1 0 64k' 'read -P 0xd1 0 64k'
stop_steadyblk sb
kill_server nk TERM

# 2. No server ever: a clear error after the backend timeout, exit status 1.
t0=$(now_ms)
rc=0
out=$(timeout 30 "$STEADYBLK" --foreground --backend-timeout 1s --export "$uri" "$be" 2>&1) ||
    rc=$?
elapsed=$(($(now_ms) - t0))
info "no server: status $rc after ${elapsed} ms: $out"
((rc == 1)) || fail "expected exit status 1, got $rc"
[[ $out == *"$be"*'cannot connect'* ]] || fail "the error does not name the backend: $out"
((elapsed >= 900 && elapsed < 5000)) || fail "gave up after ${elapsed} ms, not after the 1 s timeout"

# 3. The server answers but has no such export: no point waiting.
start_qemu_nbd qn "$T/be.sock" "$T/disk.img" -x disk
t0=$(now_ms)
rc=0
out=$(timeout 30 "$STEADYBLK" --foreground --backend-timeout 10s --export "$uri" \
    "nbd+unix:///other?socket=$T/be.sock" 2>&1) || rc=$?
elapsed=$(($(now_ms) - t0))
info "unknown export: status $rc after ${elapsed} ms: $out"
((rc == 1)) || fail "expected exit status 1, got $rc"
((elapsed < 3000)) || fail "a refused export was retried for ${elapsed} ms"
kill_server qn TERM
