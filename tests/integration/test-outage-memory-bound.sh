#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The memory bound: while a client keeps writing into an outage, the daemon's
# RSS stops growing (backpressure), and every write completes once it ends.
. "$(dirname "$0")/functions.sh"
requires fio

start_sb_faulty 256M --werror retry --rerror retry --retry-interval 200ms \
    --retry-max-interval 500ms --max-held-requests 64 --max-held-bytes 8M
pid=$SB_PID_sb

fault_on "$T/fault" "write EIO"
timeout 120 fio --name=flood --ioengine=nbd --uri="$uri" --rw=write --bs=256k \
    --iodepth=64 --size=200M --output="$T/fio.out" &
fio_pid=$!
cleanup_add "kill $fio_pid"
sleep 2
r1=$(rss_kb "$pid")
sleep 3
r2=$(rss_kb "$pid")
info "RSS during the outage: ${r1} KiB, then ${r2} KiB"
fault_off "$T/fault"
rc=0
wait "$fio_pid" || rc=$?
((rc == 0)) || { cat "$T/fio.out" >&2; fail "fio exited with $rc"; }
grep -q 'err= 0' "$T/fio.out" || fail "fio reported errors"
# Growth after the bound was reached: allocator noise only.
((r2 - r1 < 4096)) || fail "RSS grew by $((r2 - r1)) KiB while held"
grep -q 'memory bound reached\|holding requests' "$T/sb.log" || fail "nothing was held"
stop_steadyblk sb
