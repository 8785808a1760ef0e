#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The NBD backend: nbdkit's error filter answers ENOSPC to every write for
# 3 s (a thin pool that fills up, then grows) under a fio writer.  With
# werror=retry the writer sees no error and every block verifies, through
# steadyblk and on the backend's own file.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/nbd-backend.sh"

make_image "$T/disk.img" 64M
start_nbdkit nk "$T/be.sock" --filter=error file "$T/disk.img" \
    error=ENOSPC error-pwrite-rate=100% error-file="$T/flag"
start_sb_nbd --werror retry --rerror retry --retry-interval 200ms --retry-max-interval 1s

fio_writer "$uri" 16M 8
sleep 1.5
errors_for "$T/flag" 3
writer_wait
sb_log_has 'backend error ENOSPC, holding' || fail "no ENOSPC was held: the test proved nothing"
sb_log_has 'connection lost' && fail "an ENOSPC reply must not cost the connection"
stop_steadyblk sb
fio_verify_file "$T/disk.img" 16M
