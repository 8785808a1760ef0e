#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The NBD backend: qemu-nbd is stopped with SIGTERM under a fio writer and
# comes back 3 s later.  The writer sees no error, and every block verifies
# through steadyblk and on the backend's own file.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/nbd-backend.sh"
requires qemu-nbd

make_image "$T/disk.img" 64M
start_qemu_nbd qn "$T/be.sock" "$T/disk.img"
start_sb_nbd --werror retry --rerror retry --retry-interval 200ms

fio_writer "$uri" 16M 8
sleep 1.5
restart_server qn TERM 3
writer_wait
sb_log_has 'connection lost' || fail "the connection was never lost: the test proved nothing"
sb_log_has 'reconnected' || fail "steadyblk did not log its reconnect"
stop_steadyblk sb
kill_server qn TERM # it locks the image
fio_verify_file "$T/disk.img" 16M
