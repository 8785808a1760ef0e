#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The NBD backend: nbdkit's error filter answers ESHUTDOWN to every request
# for 3 s.  steadyblk takes each ESHUTDOWN as "this connection is going
# away": it drops the connection and reconnects (no storm), and the held
# requests go out again on a new connection.  The qemu-io
# writer sees no error and every block reads back from the backend's file.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/nbd-backend.sh"

make_image "$T/disk.img" 64M
start_nbdkit nk "$T/be.sock" --filter=error file "$T/disk.img" \
    error=ESHUTDOWN error-rate=100% error-file="$T/flag"
start_sb_nbd --werror retry --rerror retry --retry-interval 200ms --retry-max-interval 1s

qemu_io_writer "$uri" 50
sleep 1
errors_for "$T/flag" 3
writer_wait
sb_log_has 'connection lost \(ESHUTDOWN\)' || fail "no ESHUTDOWN dropped the connection"
sb_log_has 'reconnected' || fail "steadyblk did not log its reconnect"
# No storm: a server that answers ESHUTDOWN at once gets about one new
# connection per probe of the core (--retry-interval 200ms, +-25% jitter):
# 15 to 20 in 3 s, where reconnecting at every answer would make thousands.
losses=$(grep -c 'connection lost' "$T/sb.log")
info "$losses connections lost to ESHUTDOWN in 3 s"
((losses <= 40)) || fail "$losses reconnects in 3 s: a reconnect storm"
stop_steadyblk sb
qemu_io_verify_file "$T/disk.img" 50
