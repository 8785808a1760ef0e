#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The iSCSI backend: tgtd (the SAN) is killed (SIGKILL) under a qemu-io
# writer, restarted 3 s later and its target created again.  The writer sees
# no error, and every block reads back from the LUN's own file.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
. "$here/iscsi-target.sh"
requires qemu-io

start_sb_tgt 64M --werror retry --rerror retry --retry-interval 200ms --backend-timeout 5s

qemu_io_writer "$uri" 60
sleep 1
tgt_restart 3
t_up=$(now_ms)
writer_wait_since "$t_up" "the target was back"
sb_log_has 'session lost' || fail "the session was never lost: the test proved nothing"
sb_log_has 're-established' || fail "steadyblk did not log its reconnect"
tgt_log_events
stop_steadyblk sb
qemu_io_verify_file "$T/lun.img" 60
