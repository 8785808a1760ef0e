#!/bin/bash
# scenario-kill-tgtd.sh - the IP-SAN behind steadyblk crashes:
# guest -> QEMU nbd client -> steadyblk (werror/rerror=retry) -> iSCSI ->
# tgtd (userspace target, LUN on an ext4 image file).  tgtd is SIGKILLed
# while the guest writes; 10 s later it is started again and, as after a real
# target restart, its configuration is re-created (tgtd keeps it in memory
# only).  steadyblk loses its session, holds the guest's requests, logs in
# again and re-sends them.  The guest must see nothing but a long write.
# Exit: 0 pass, 1 fail, 77 skip (no STEADYBLK, tool missing).
#
# tgtd listens on a free port of 127.0.0.1 with a private IPC socket (in the
# result directory), so it never meets a system tgtd or another test's.
# Knobs (environment): STEADYBLK, SB_BUILDDIR, SB_RESULTS (see lib.sh),
#   SB_DURATION (guest write phase, default 25), SB_OUTAGE_AT (seconds after
#   the guest's SBSTART, default 5), SB_OUTAGE_LEN (default 10),
#   SB_TRANSPORT (nbd, the default: QEMU's NBD client and virtio-blk;
#   vhost-user: steadyblk is the guest's virtio-blk device).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

duration=${SB_DURATION:-25}
outage_at=${SB_OUTAGE_AT:-5}
outage_len=${SB_OUTAGE_LEN:-10}

sb_need_steadyblk
sb_need qemu-system-x86_64 tgtd tgtadm python3 mkfs.ext4 e2fsck cpio timeout awk
sb_init "kill-tgtd${SB_NAME_SUFFIX:-}" "steadyblk --werror retry --rerror retry in front of tgtd (iSCSI), SIGKILLed and restarted ${outage_len} s later"
"$SB_VM_DIR/build-guest.sh" "$SB_BUILDDIR" > /dev/null

sock=$SB_DIR/sut.sock
iqn=iqn.2026-01.org.steadyblk.test:vm
port=$(sb_free_port)
export TGT_IPC_SOCKET=$SB_DIR/tgt-ipc.sock
sb_mkdisk "$SB_DIR/disk.img"

tgt_adm() { timeout 10 tgtadm --lld iscsi "$@" >> "$SB_DIR/tgtadm.log" 2>&1; }

# start_target : tgtd, then target 1 with LUN 1 on the image, open to every
# initiator.  Until the last step a login fails or finds no LUN: steadyblk
# keeps trying.
start_target() {
    local i
    sb_start tgtd tgtd -f --iscsi "portal=127.0.0.1:$port"
    tgtd_pid=$SB_LASTPID
    for ((i = 0; i < 100; i++)); do
        tgt_adm --op show --mode system && break
        kill -0 "$tgtd_pid" 2>/dev/null || sb_fail "tgtd exited (log: $SB_DIR/tgtd.log)"
        sleep 0.1
    done
    tgt_adm --op new --mode target --tid 1 -T "$iqn" || sb_fail "tgtadm: new target"
    tgt_adm --op new --mode logicalunit --tid 1 --lun 1 -b "$SB_DIR/disk.img" ||
        sb_fail "tgtadm: new LUN"
    tgt_adm --op bind --mode target --tid 1 -I ALL || sb_fail "tgtadm: bind"
}
start_target

[ "${SB_TRANSPORT:-nbd}" = nbd ] || export SB_EXPORT_URI="vhost-user-blk://$sock"
sb_steadyblk sut "$sock" "iscsi://127.0.0.1:$port/$iqn/1" \
    --werror retry --rerror retry --retry-max-interval 1s
sut_pid=$SB_LASTPID

sb_guest --socket "$sock" --duration "$duration" ${SB_EXPORT_URI:+--vhost-user}
sb_wait_start 40
sb_sleep_guest "$outage_at"
sb_kill "$tgtd_pid" KILL
sb_mark outage_start
sb_sleep_guest "$((outage_at + outage_len))"
start_target
sb_mark outage_end

rc=0
sb_guest_wait || rc=$?
sb_stop "$sut_pid"
sut_rc=$SB_STOP_RC
# tgtd ignores SIGTERM while it has a target; its writes are in the image
# file already (pwrite, fsync on SYNCHRONIZE CACHE), so SIGKILL loses nothing.
sb_kill "$tgtd_pid" KILL
[ $rc = 0 ] || sb_fail "guest produced no result"
sb_add fsck "$(sb_fsck "$SB_DIR/disk.img")"
sb_add steadyblk_exit "$sut_rc"
sb_summary

sb_assert_unharmed "$outage_len"
sb_assert_log sut 'session lost' "steadyblk saw the target go"
sb_assert_log sut 'holding requests' "steadyblk held requests"
sb_assert_log sut 'session re-established' "steadyblk logged in again"
sb_assert_log sut 'recovered after' "steadyblk released the held requests"
sb_assert steadyblk_exit -eq 0 "steadyblk shut down cleanly"
sb_verdict "the guest rode out a ${outage_len}s crash of the iSCSI target"
