#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The NBD backend, the negative case for retry: with --retry-timeout 2s and
# a server that stays down for 6 s, the client's write fails after the
# timeout, not before and not much later.  Once the server is back, writes
# work again.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/nbd-backend.sh"

make_image "$T/disk.img" 16M
start_nbdkit nk "$T/be.sock" file "$T/disk.img"
start_sb_nbd --werror retry --rerror retry --retry-interval 200ms --retry-timeout 2s

kill_server nk KILL
sleep 0.3
# Timed when qemu-io prints the error (line-buffered), not when it exits:
# its flush at exit is held and times out too.
t0=$(now_ms)
timeout 60 stdbuf -oL qemu-io -f raw "$uri" -c 'write -P 0xc1 0 64k' 2>&1 |
    { read -r l; echo "$(now_ms) $l"; cat >/dev/null; } >"$T/qemu-io.out" &
writer=$!
cleanup_add "kill $writer"
sleep 6
start_nbdkit nk "$T/be.sock" file "$T/disk.img" # from this shell: nbdkit dies with its parent
wait "$writer" || true
line=$(cat "$T/qemu-io.out")
elapsed=$((${line%% *} - t0))
info "error after ${elapsed} ms: ${line#* }"
[[ $line == *'write failed'* ]] || fail "expected a failed write, got: $line"
((elapsed >= 1900)) || fail "error after ${elapsed} ms: before the 2 s retry-timeout"
((elapsed < 3500)) || fail "error after ${elapsed} ms: long after the 2 s retry-timeout"
sb_log_has 'timed out' || fail "no retry timeout in the daemon's log"

wait_for 10 sb_log_has 'reconnected' || fail "steadyblk did not reconnect"
qemu_io_ok "$uri" 'write -P 0xc2 0 64k' 'read -P 0xc2 0 64k'
stop_steadyblk sb
qemu_io_ok "$T/disk.img" 'read -P 0xc2 0 64k'
