#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The iSCSI backend: a LUN added to the target under a qemu-io writer makes
# tgtd raise UNIT ATTENTION (REPORTED LUNS DATA HAS CHANGED) on our LUN.  A
# unit attention is a state change, not a data error: steadyblk re-sends the
# command inside the backend, so even with werror=report the writer sees no
# error.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
. "$here/nbd-backend.sh" # the writers and their checks
. "$here/iscsi-target.sh"

make_image "$T/lun.img" 64M
make_image "$T/lun2.img" 16M
tgt_start
tgt_export "$T/lun.img"
uri=$(sb_uri "$T/s.sock")
start_steadyblk sb --werror report --rerror report --backend-timeout 5s \
    --export "$uri" "$(tgt_url)"

qemu_io_writer "$uri" 20
sleep 0.5
tgt_adm --op new --mode logicalunit --tid 1 --lun 2 -b "$T/lun2.img" || fail "tgtadm: new LUN"
writer_wait
sb_log_has 'UNIT_ATTENTION.*sending the' || fail "no unit attention came: the test proved nothing"
grep -E 'UNIT_ATTENTION' "$T/sb.log" | sed 's/^/# /' >&2
stop_steadyblk sb
qemu_io_verify_file "$T/lun.img" 20
