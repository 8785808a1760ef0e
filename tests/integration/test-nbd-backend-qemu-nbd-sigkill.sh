#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The NBD backend: qemu-nbd is killed (SIGKILL) under a qemu-io writer and
# comes back 3 s later.  The writer sees no error and every block reads back
# from the backend's own file.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/nbd-backend.sh"
requires qemu-nbd

make_image "$T/disk.img" 64M
start_qemu_nbd qn "$T/be.sock" "$T/disk.img"
start_sb_nbd --werror retry --rerror retry --retry-interval 200ms

qemu_io_writer "$uri" 60
sleep 1
restart_server qn KILL 3
writer_wait
sb_log_has 'connection lost' || fail "the connection was never lost: the test proved nothing"
sb_log_has 'reconnected' || fail "steadyblk did not log its reconnect"
stop_steadyblk sb
kill_server qn TERM # it locks the image
qemu_io_verify_file "$T/disk.img" 60
