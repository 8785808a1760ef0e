#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The NBD backend: nbdkit's error filter answers EIO to every request for
# 3 s (the connection stays up) under a qemu-io writer.  With
# werror=retry,rerror=retry the writer sees no error and every block reads
# back from the backend's own file.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/nbd-backend.sh"

make_image "$T/disk.img" 64M
start_nbdkit nk "$T/be.sock" --filter=error file "$T/disk.img" \
    error=EIO error-rate=100% error-file="$T/flag"
start_sb_nbd --werror retry --rerror retry --retry-interval 200ms --retry-max-interval 1s

qemu_io_writer "$uri" 50
sleep 1
errors_for "$T/flag" 3
writer_wait
sb_log_has 'backend error EIO, holding' || fail "no EIO was held: the test proved nothing"
sb_log_has 'connection lost' && fail "an EIO reply must not cost the connection"
stop_steadyblk sb
qemu_io_verify_file "$T/disk.img" 50
