#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The NBD backend: nbdkit is stopped with SIGTERM under a qemu-io writer (it
# answers ESHUTDOWN to what is in flight, then closes) and comes back 3 s
# later.  The writer sees no error and every block reads back from the
# backend's own file.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/nbd-backend.sh"

make_image "$T/disk.img" 64M
start_nbdkit nk "$T/be.sock" file "$T/disk.img"
start_sb_nbd --werror retry --rerror retry --retry-interval 200ms

qemu_io_writer "$uri" 60
sleep 1
restart_server nk TERM 3
writer_wait
sb_log_has 'connection lost' || fail "the connection was never lost: the test proved nothing"
sb_log_has 'reconnected' || fail "steadyblk did not log its reconnect"
stop_steadyblk sb
qemu_io_verify_file "$T/disk.img" 60
