#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The iSCSI backend: tgtd (the SAN) is killed (SIGKILL) under a qemu-io
# writer, restarted 3 s later and its target created again.  The writer sees
# no error, and every block reads back from the LUN's own file.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
. "$here/nbd-backend.sh" # the writers and their checks
. "$here/iscsi-target.sh"

make_image "$T/lun.img" 64M
tgt_start
tgt_export "$T/lun.img"
uri=$(sb_uri "$T/s.sock")
start_steadyblk sb --werror retry --rerror retry --retry-interval 200ms \
    --backend-timeout 5s --export "$uri" "$(tgt_url)"

qemu_io_writer "$uri" 60
sleep 1
tgt_crash
sleep 3
tgt_start
tgt_export "$T/lun.img"
t_up=$(now_ms)
info "target back at $(date +%T.%3N)"
writer_wait
info "writer done $(($(now_ms) - t_up)) ms after the target was back"
sb_log_has 'session lost' || fail "the session was never lost: the test proved nothing"
sb_log_has 're-established' || fail "steadyblk did not log its reconnect"
grep -E 'iscsi .*(session|reconnect)|disk .*(hold|recovered)' "$T/sb.log" | sed 's/^/# /' >&2
stop_steadyblk sb
qemu_io_verify_file "$T/lun.img" 60
