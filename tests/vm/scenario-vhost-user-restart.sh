#!/bin/bash
# scenario-vhost-user-restart.sh - steadyblk, the guest's virtio-blk device
# (vhost-user-blk), is SIGKILLed twice while the guest writes, and started
# again each time: QEMU (chardev reconnect=1) connects to the new daemon and
# hands it the in-flight region it kept, and the new daemon resubmits, in
# order, the requests the killed one had popped and not answered.
# guest -> steadyblk (vhost-user-blk, werror/rerror=retry, fault filter
# failing every request while a file exists) -> ext4 image.
#   t=4 s   SIGKILL while the guest writes, no outage; a new daemon at once
#   t=8 s   the backend fails every request: the new daemon holds writes
#   t=10 s  SIGKILL during the outage, held requests and all; a new daemon
#           1 s later: it resubmits them and holds them in turn
#   t=16 s  the backend recovers: the writes complete
# The guest must see nothing but slow writes (DESIGN.md, "Pause on drain
# and reset").  This guest's writes complete in the order they were made,
# so popping the ring again from the base QEMU sends would pass too; the
# resubmission of chains answered out of order is proven by
# tests/integration/test-vhost-user-restart-resubmits.sh.
# Exit: 0 pass, 1 fail, 77 skip.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

outage_at=8 outage_len=8 kill1_at=4 kill2_at=10

sb_need_steadyblk
sb_need qemu-system-x86_64 mkfs.ext4 e2fsck cpio timeout awk
sb_init vhost-user-restart "steadyblk (vhost-user-blk) SIGKILLed at ${kill1_at} s and, during a ${outage_len} s outage, at ${kill2_at} s; QEMU reconnect=1"
"$SB_VM_DIR/build-guest.sh" "$SB_BUILDDIR" > /dev/null

sock=$SB_DIR/vu.sock flag=$SB_DIR/outage
rm -f "$flag"
sb_mkdisk "$SB_DIR/disk.img"
sut_args=(--werror retry --rerror retry --retry-max-interval 1s --fault-file "$flag")
export SB_EXPORT_URI="vhost-user-blk://$sock"
sb_steadyblk sut1 "$sock" "file:$SB_DIR/disk.img" "${sut_args[@]}"
sut1_pid=$SB_LASTPID
sb_wait_socket "$sock"

sb_guest --socket "$sock" --duration 25 --vhost-user --reconnect 1
sb_wait_start 40

sb_sleep_guest "$kill1_at"
sb_kill "$sut1_pid"
sb_mark steadyblk1_killed
sb_steadyblk sut2 "$sock" "file:$SB_DIR/disk.img" "${sut_args[@]}"
sut2_pid=$SB_LASTPID

sb_sleep_guest "$outage_at"
touch "$flag"
sb_mark outage_start
sb_wait_line "$SB_DIR/sut2.log" 'holding requests' 10 ||
    sb_fail "the second steadyblk held nothing: QEMU did not reconnect, or the guest did not write"
sb_sleep_guest "$kill2_at"
sb_kill "$sut2_pid"
sb_mark steadyblk2_killed
sb_sleep 1
sb_steadyblk sut3 "$sock" "file:$SB_DIR/disk.img" "${sut_args[@]}"
sut3_pid=$SB_LASTPID
sb_mark steadyblk3_started

sb_sleep_guest "$((outage_at + outage_len))"
rm -f "$flag"
sb_mark outage_end

rc=0
sb_guest_wait || rc=$?
sb_stop "$sut3_pid"
sut3_rc=$SB_STOP_RC
[ $rc = 0 ] || sb_fail "guest produced no result"
sb_add fsck "$(sb_fsck "$SB_DIR/disk.img")"
sb_add steadyblk3_exit "$sut3_rc"
sb_summary

sb_assert_unharmed "$outage_len"
sb_assert_log sut2 'holding requests' "QEMU reconnected to the second steadyblk, which held writes"
sb_assert_log sut3 'resubmitting [1-9][0-9]* requests left unanswered' \
    "the third steadyblk resubmitted what the second held when it was killed"
sb_assert_log sut3 'recovered after [0-9]+ ms, [1-9][0-9]* held requests completed' \
    "and completed them when the backend came back"
sb_assert steadyblk3_exit -eq 0 "the last steadyblk shut down cleanly"
sb_verdict "the guest rode out two SIGKILLs of its vhost-user-blk device, one during a ${outage_len}s outage"
