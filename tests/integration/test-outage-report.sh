#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# werror=report: the backend's error reaches the client at once (the negative
# case that proves the outage tests can fail).
. "$(dirname "$0")/functions.sh"
requires qemu-io

start_sb_faulty 16M --werror report --rerror report

fault_on "$T/fault" "write EIO"
sleep 0.3
t0=$(now_ms)
out=$(timeout 60 qemu-io -f raw "$uri" -c 'write -P 0xbb 0 64k' 2>&1) && \
    fail "the write succeeded during the outage: $out"
elapsed=$(($(now_ms) - t0))
grep -q 'Input/output error' <<<"$out" || fail "expected EIO, got: $out"
((elapsed < 3000)) || fail "report took ${elapsed} ms: it should be immediate"

# Reads still work: rerror applies to reads only, and reads were not faulted.
qemu_io_ok "$uri" 'read -P 0 0 64k'
fault_off "$T/fault"
qemu_io_ok "$uri" 'write -P 0xbb 0 64k' 'read -P 0xbb 0 64k'
stop_steadyblk sb
