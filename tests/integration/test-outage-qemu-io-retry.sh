#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# werror=retry: a qemu-io writer sees no error across a 5 s EIO outage of every
# operation, and its data verifies afterwards, through steadyblk and on the file.
. "$(dirname "$0")/functions.sh"
requires qemu-io

start_sb_faulty 64M --werror retry --rerror retry --retry-interval 200ms --retry-max-interval 1s

t0=$(now_ms)
outage_for "$T/fault" 5 "all EIO"
qemu_io_ok "$uri" 'write -P 0xa1 0 1M' 'write -P 0xa2 1M 1M' 'aio_write -P 0xa3 2M 64k' \
    'aio_write -P 0xa4 4M 64k' 'aio_flush' 'read -P 0xa1 0 1M'
elapsed=$(($(now_ms) - t0))
info "writer finished after ${elapsed} ms"
# The writer must really have been held through the outage, not run before it.
((elapsed >= 4000)) || fail "writer finished after ${elapsed} ms: the outage did not hold it"

qemu_io_ok "$uri" 'read -P 0xa1 0 1M' 'read -P 0xa2 1M 1M' 'read -P 0xa3 2M 64k' \
    'read -P 0xa4 4M 64k'
stop_steadyblk sb
# And on the backend's own file, without steadyblk in between.
qemu_io_ok "$T/disk.img" 'read -P 0xa1 0 1M' 'read -P 0xa2 1M 1M' 'read -P 0xa3 2M 64k' \
    'read -P 0xa4 4M 64k'
