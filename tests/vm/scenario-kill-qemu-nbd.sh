#!/bin/bash
# scenario-kill-qemu-nbd.sh - the NBD server behind steadyblk crashes:
# guest -> QEMU nbd client -> steadyblk (werror/rerror=retry) -> qemu-nbd ->
# ext4 image.  qemu-nbd is SIGKILLed while the guest writes and started again
# 10 s later; steadyblk loses its backend connection, holds the guest's
# requests, reconnects when the server is back and re-sends them.  The guest
# must see nothing but a long write.
# Exit: 0 pass, 1 fail, 77 skip (no STEADYBLK, tool missing).
#
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
sb_need qemu-system-x86_64 qemu-nbd mkfs.ext4 e2fsck cpio timeout awk
sb_init "kill-qemu-nbd${SB_NAME_SUFFIX:-}" "steadyblk --werror retry --rerror retry in front of qemu-nbd, SIGKILLed and restarted ${outage_len} s later"
"$SB_VM_DIR/build-guest.sh" "$SB_BUILDDIR" > /dev/null

sock=$SB_DIR/sut.sock
backsock=$SB_DIR/backend.sock   # absolute: qemu-nbd wants that
sb_mkdisk "$SB_DIR/disk.img"

start_backend() {
    # -t: keep serving after a client disconnects (steadyblk reconnects).
    # qemu-nbd replaces a stale socket file itself.
    sb_start backend qemu-nbd -t -f raw -k "$backsock" "$SB_DIR/disk.img"
    backend_pid=$SB_LASTPID
    sb_wait_socket "$backsock"
}
start_backend

[ "${SB_TRANSPORT:-nbd}" = nbd ] || export SB_EXPORT_URI="vhost-user-blk://$sock"
sb_steadyblk sut "$sock" "nbd+unix:///?socket=$backsock" \
    --werror retry --rerror retry --retry-max-interval 1s
sut_pid=$SB_LASTPID

sb_guest --socket "$sock" --duration "$duration" ${SB_EXPORT_URI:+--vhost-user}
sb_wait_start 40
sb_sleep_guest "$outage_at"
sb_kill "$backend_pid" KILL
sb_mark outage_start
sb_sleep_guest "$((outage_at + outage_len))"
start_backend
sb_mark outage_end

rc=0
sb_guest_wait || rc=$?
sb_stop "$sut_pid"
sut_rc=$SB_STOP_RC
sb_stop "$backend_pid"
[ $rc = 0 ] || sb_fail "guest produced no result"
sb_add fsck "$(sb_fsck "$SB_DIR/disk.img")"
sb_add steadyblk_exit "$sut_rc"
sb_summary

sb_assert_unharmed "$outage_len"
sb_assert_log sut 'connection lost' "steadyblk saw the server go"
sb_assert_log sut 'holding requests' "steadyblk held requests"
sb_assert_log sut 'reconnected after' "steadyblk reconnected"
sb_assert_log sut 'recovered after' "steadyblk released the held requests"
sb_assert steadyblk_exit -eq 0 "steadyblk shut down cleanly"
sb_verdict "the guest rode out a ${outage_len}s crash of qemu-nbd"
