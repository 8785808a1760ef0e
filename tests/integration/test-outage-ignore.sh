#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# rerror=ignore, werror=ignore: a failed request completes to the client as if
# it succeeded: a read returns zeroes (never stale memory), a write reports
# success without landing.  Dangerous by design; this pins down what it does.
. "$(dirname "$0")/functions.sh"
requires qemu-io

start_sb_faulty 16M --werror ignore --rerror ignore
qemu_io_ok "$uri" 'write -P 0xab 0 64k' 'read -P 0xab 0 64k'

fault_on "$T/fault" "all EIO"
sleep 0.3
# The data on disk is 0xab, but the failed read must hand back zeroes.
qemu_io_ok "$uri" 'read -P 0 0 64k'
# The failed write says it succeeded ...
qemu_io_ok "$uri" 'write -P 0xcd 0 64k'
fault_off "$T/fault"
sleep 0.3
# ... and nothing of it landed.
qemu_io_ok "$uri" 'read -P 0xab 0 64k'
grep -q 'holding requests' "$T/sb.log" && fail "ignore held a request"
stop_steadyblk sb
qemu_io_ok "$T/disk.img" 'read -P 0xab 0 64k'
