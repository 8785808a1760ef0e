#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The iSCSI backend: tgtd (the SAN) freezes (SIGSTOP) for 4 s under a
# qemu-io writer.  Nothing comes back on the socket, so only the per-request
# --backend-timeout (1 s) can tell: the session is declared dead, commands in
# flight fail with ETIMEDOUT and are held, reconnects time out too until the
# target thaws.  The writer sees no error; every block is on the LUN's file.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
. "$here/iscsi-target.sh"
requires qemu-io

start_sb_tgt 64M --werror retry --rerror retry --retry-interval 200ms --backend-timeout 1s

qemu_io_writer "$uri" 40
sleep 1
tgt_signal STOP
sleep 4
tgt_signal CONT
t_up=$(now_ms)
writer_wait_since "$t_up" "the target thawed"
sb_log_has 'no answer within' || fail "no request timed out: the test proved nothing"
sb_log_has 're-established' || fail "steadyblk did not log its reconnect"
tgt_log_events
stop_steadyblk sb
qemu_io_verify_file "$T/lun.img" 40
