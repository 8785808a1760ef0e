#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Pause on shutdown: SIGTERM ends the daemon within a bounded time even while
# it holds requests, and the held write never lands (it is dropped, not
# failed: a reconnecting client sends it again).
. "$(dirname "$0")/functions.sh"
requires qemu-io

make_image "$T/disk.img" 16M
uri=$(sb_uri "$T/s.sock")
start_steadyblk sb --werror retry --rerror retry --fault-file "$T/fault" \
    --export "$uri" "$T/disk.img"

fault_on "$T/fault" "write EIO"
sleep 0.3
timeout 60 qemu-io -f raw "$uri" -c 'write -P 0xee 0 64k' >"$T/w.out" 2>&1 &
w=$!
cleanup_add "kill -9 $w"
wait_for 10 grep -q 'holding requests' "$T/sb.log" || fail "the write was never held"
t0=$(now_ms)
stop_steadyblk sb 5
info "shut down in $(($(now_ms) - t0)) ms with a held request"
wait "$w" 2>/dev/null || true
[[ -e $T/s.sock ]] && fail "the socket file was left behind"
[[ -e $T/sb.pid ]] && fail "the pidfile was left behind"
qemu_io_ok "$T/disk.img" 'read -P 0 0 64k'
