#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Fencing: a client that disconnects while its write is held never has that
# write land later, and new data written through another client stays.
. "$(dirname "$0")/functions.sh"
requires qemu-io

start_sb_faulty 16M --werror retry --rerror retry --retry-interval 100ms --retry-max-interval 200ms

fault_on "$T/fault" "write EIO"
sleep 0.3
# No `timeout` wrapper: the kill below must reach qemu-io itself.
qemu-io -f raw "$uri" -c 'write -P 0xaa 0 64k' -c 'write -P 0xaa 1M 64k' \
    >"$T/a.out" 2>&1 &
a=$!
cleanup_add "kill -9 $a"
# Bounded wait until the daemon holds A's write.
wait_for 10 grep -q 'holding requests' "$T/sb.log" || fail "A's write was never held"
sleep 0.5
kill -9 "$a"
wait "$a" 2>/dev/null || true
sleep 0.5  # the daemon notices the hang-up at once; give it a moment

fault_off "$T/fault"
sleep 1   # ample time for a (wrong) re-issue of A's write to land
# A's write never landed ...
qemu_io_ok "$uri" 'read -P 0 0 64k' 'read -P 0 1M 64k'
grep -q 'disconnected, 1 held requests dropped' "$T/sb.log" || fail "the daemon did not drop A's held write"
# ... and B's newer data is what stays.
qemu_io_ok "$uri" 'write -P 0xbb 0 64k' 'read -P 0xbb 0 64k'
sleep 1
qemu_io_ok "$uri" 'read -P 0xbb 0 64k' 'read -P 0 1M 64k'
stop_steadyblk sb
qemu_io_ok "$T/disk.img" 'read -P 0xbb 0 64k' 'read -P 0 1M 64k'
