#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The iSCSI backend: tgtd (the SAN) is killed (SIGKILL) under a fio writer
# (queue depth 16, crc32c headers), restarted 3 s later and its target
# created again.  It is frozen for 0.3 s first, so that commands are surely
# in flight on the session that dies: libiscsi cancels them, steadyblk fails
# each once and the core re-issues it on the next session.  The writer sees
# no error, and every block verifies through steadyblk and on the LUN's file.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
. "$here/iscsi-target.sh"
requires fio

start_sb_tgt 64M --werror retry --rerror retry --retry-interval 200ms --backend-timeout 5s

fio_writer "$uri" 16M 8
sleep 1.5
tgt_signal STOP
sleep 0.3
tgt_restart 3
t_up=$(now_ms)
writer_wait_since "$t_up" "the target was back"
sb_log_has 'session lost.* [1-9][0-9]* requests in flight' ||
    fail "no request was in flight on the lost session: the test proved nothing"
sb_log_has 're-established' || fail "steadyblk did not log its reconnect"
tgt_log_events
stop_steadyblk sb
fio_verify_file "$T/lun.img" 16M
