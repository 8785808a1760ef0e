#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The iSCSI backend: a UNIT ATTENTION with ASC 29h (POWER ON, RESET, OR BUS
# DEVICE RESET OCCURRED) means the LUN's volatile write cache may be gone
# (DESIGN.md invariant 2).  steadyblk must tell the core
# (sb_backend_cache_lost, logged once per report) before it completes any
# request after it, in both places it comes:
# 1. on a live session: another initiator resets the LUN (a LOGICAL UNIT
#    RESET task management function, sent by libiscsi's iscsi-test-cu);
#    tgtd then answers our next command with the unit attention;
# 2. at the bring-up of a new session: tgtd is killed and comes back, and
#    greets the new login with it.
# The writer sees no error either way, and every block is on the LUN's file.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
. "$here/iscsi-target.sh"
requires qemu-io iscsi-test-cu

lost='UNIT_ATTENTION.*\(0x29[0-9a-f]{2}\): the LUN was powered on or reset'

start_sb_tgt 64M --werror retry --rerror retry --backend-timeout 5s
qemu_io_ok "$uri" 'write -P 0x21 1M 64k'
sb_log_has "$lost" && fail "a cache loss was reported before any reset"

# 1. A LUN reset from another I_T nexus.  The test case itself may fail on
# tgtd (it checks things after the reset we do not need): what matters is
# that it sent the reset, which tgtd logs as a task management function.
rc=0
timeout 30 iscsi-test-cu --dataloss --test=ALL.iSCSITMF.LUNResetSimpleAsync "$(tgt_url)" \
    >"$T/cu.log" 2>&1 || rc=$?
grep -q 'LUNResetSimpleAsync' "$T/cu.log" || { cat "$T/cu.log" >&2; fail "iscsi-test-cu did not run (status $rc)"; }
qemu_io_ok "$uri" 'write -P 0x22 2M 64k' 'read -P 0x21 1M 64k' 'read -P 0x22 2M 64k'
sb_log_has "$lost" || { sb_log_show 'iscsi'; fail "the LUN reset was not reported as a cache loss"; }
sb_log_has "$lost" 2 && fail "one LUN reset was reported more than once"
sb_log_show "$lost"

# 2. The target restarts: the new session's login brings the unit attention.
tgt_restart 1
wait_for 15 sb_log_has 'session re-established' || fail "no new session"
qemu_io_ok "$uri" 'write -P 0x23 3M 64k'
wait_for 5 sb_log_has "$lost" 2 || { tgt_log_events; fail "the new session's reset was not reported"; }
sb_log_show "$lost"
stop_steadyblk sb
qemu_io_ok "$T/lun.img" 'read -P 0x21 1M 64k' 'read -P 0x22 2M 64k' 'read -P 0x23 3M 64k'
