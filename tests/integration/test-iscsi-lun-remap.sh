#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The iSCSI backend: the LUN is removed from the target under a qemu-io
# writer (the session stays up and answers LOGICAL UNIT NOT SUPPORTED) and
# mapped again 2 s later.  steadyblk treats the vanished LUN like a lost
# session: it reconnects until the LUN is back.  The writer sees no error, and
# every block reads back from the LUN's own file.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
. "$here/iscsi-target.sh"
requires qemu-io

start_sb_tgt 64M --werror retry --rerror retry --retry-interval 200ms --backend-timeout 5s

qemu_io_writer "$uri" 40
sleep 1
# tgtd refuses to delete a LUN while commands are queued on it ("this logical
# unit is still active"); under a busy writer that is a matter of luck, so the
# delete is retried, bounded, as an administrator would.
wait_for 5 tgt_adm --op delete --mode logicalunit --tid 1 --lun 1 ||
    { tail -5 "$T/tgtd.log" >&2; fail "tgtadm: delete LUN"; }
sleep 2
tgt_adm --op new --mode logicalunit --tid 1 --lun 1 -b "$T/lun.img" || fail "tgtadm: new LUN"
t_up=$(now_ms)
writer_wait_since "$t_up" "the LUN was back"
sb_log_has 'the LUN is gone' || fail "the LUN was never missed: the test proved nothing"
sb_log_has 're-established' || fail "steadyblk did not log its reconnect"
tgt_log_events
stop_steadyblk sb
qemu_io_verify_file "$T/lun.img" 40
