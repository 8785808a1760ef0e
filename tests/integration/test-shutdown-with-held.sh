#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Pause on shutdown: SIGTERM ends the daemon within a bounded time even while
# it holds requests, and the held write never lands (it is dropped, not
# failed: a reconnecting client sends it again).
. "$(dirname "$0")/functions.sh"
requires qemu-io

start_sb_faulty 16M --werror retry --rerror retry

fault_on "$T/fault" "write EIO"
sleep 0.3
qemu_io_bg "$T/w.out" "$uri" 'write -P 0xee 0 64k'
w=$QEMU_IO_PID
wait_for 10 grep -q 'holding requests' "$T/sb.log" || fail "the write was never held"
t0=$(now_ms)
stop_steadyblk sb 5
info "shut down in $(($(now_ms) - t0)) ms with a held request"
wait "$w" 2>/dev/null || true
[[ -e $T/s.sock ]] && fail "the socket file was left behind"
[[ -e $T/sb.pid ]] && fail "the pidfile was left behind"
qemu_io_ok "$T/disk.img" 'read -P 0 0 64k'
