#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The iSCSI backend: a LUN added to the target under a qemu-io writer makes
# tgtd raise UNIT ATTENTION (REPORTED LUNS DATA HAS CHANGED) on our LUN.  A
# unit attention is a state change, not a data error: steadyblk re-sends the
# command inside the backend, so even with werror=report the writer sees no
# error.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
. "$here/iscsi-target.sh"
requires qemu-io

make_image "$T/lun2.img" 16M
start_sb_tgt 64M --werror report --rerror report --backend-timeout 5s

qemu_io_writer "$uri" 20
sleep 0.5
tgt_adm --op new --mode logicalunit --tid 1 --lun 2 -b "$T/lun2.img" || fail "tgtadm: new LUN"
writer_wait
sb_log_has 'UNIT_ATTENTION.*sending the' || fail "no unit attention came: the test proved nothing"
sb_log_show UNIT_ATTENTION
stop_steadyblk sb
qemu_io_verify_file "$T/lun.img" 20
