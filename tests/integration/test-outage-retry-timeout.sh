#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# werror=retry with retry-timeout=2s: during a longer outage the client gets
# the error after the timeout, not before, and not much later.
. "$(dirname "$0")/functions.sh"
requires qemu-io

start_sb_faulty 16M --werror retry --rerror retry --retry-interval 200ms --retry-timeout 2s

fault_on "$T/fault" "write EIO"
sleep 0.3
t0=$(now_ms)
out=$(timeout 60 qemu-io -f raw "$uri" -c 'write -P 0xcc 0 64k' 2>&1) && \
    fail "the write succeeded during the outage: $out"
elapsed=$(($(now_ms) - t0))
info "error after ${elapsed} ms: $out"
grep -q 'Input/output error' <<<"$out" || fail "expected EIO, got: $out"
((elapsed >= 1900)) || fail "error after ${elapsed} ms: before the 2 s timeout"
((elapsed < 4000)) || fail "error after ${elapsed} ms: long after the 2 s timeout"
grep -q 'timed out' "$T/sb.log" || fail "no timeout in the daemon's log"
fault_off "$T/fault"
qemu_io_ok "$uri" 'write -P 0xcc 0 64k' 'read -P 0xcc 0 64k'
stop_steadyblk sb
