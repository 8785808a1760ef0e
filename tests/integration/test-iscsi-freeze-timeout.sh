#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The iSCSI backend: tgtd (the SAN) freezes (SIGSTOP) for 4 s under a
# qemu-io writer.  Nothing comes back on the socket, so only the per-request
# --backend-timeout (1 s) can tell: the session is declared dead, commands in
# flight fail with ETIMEDOUT and are held, reconnects time out too until the
# target thaws.  The writer sees no error; every block is on the LUN's file.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
. "$here/nbd-backend.sh" # the writers and their checks
. "$here/iscsi-target.sh"

make_image "$T/lun.img" 64M
tgt_start
tgt_export "$T/lun.img"
uri=$(sb_uri "$T/s.sock")
start_steadyblk sb --werror retry --rerror retry --retry-interval 200ms \
    --backend-timeout 1s --export "$uri" "$(tgt_url)"

qemu_io_writer "$uri" 40
sleep 1
tgt_signal STOP
sleep 4
tgt_signal CONT
t_up=$(now_ms)
writer_wait
info "writer done $(($(now_ms) - t_up)) ms after the target thawed"
sb_log_has 'no answer within' || fail "no request timed out: the test proved nothing"
sb_log_has 're-established' || fail "steadyblk did not log its reconnect"
grep -E 'iscsi .*(session|reconnect)|disk .*(hold|recovered)' "$T/sb.log" | sed 's/^/# /' >&2
stop_steadyblk sb
qemu_io_verify_file "$T/lun.img" 40
