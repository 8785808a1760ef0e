#!/bin/bash
# scenario-vhost-user-stop.sh - QEMU's `stop` during an outage, with
# steadyblk as the guest's virtio-blk device (vhost-user-blk).  Over NBD a
# held write keeps QEMU's monitor dead until the outage ends (QEMU drains
# its block layer); here steadyblk answers the ring's stop at once, keeps
# the held requests, and gives their completions to the guest after `cont`.
# guest -> steadyblk (vhost-user-blk, werror/rerror=retry, fault filter
# failing every request while a file exists) -> ext4 image.
# Exit: 0 pass, 1 fail, 77 skip.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

sb_need_steadyblk
sb_need qemu-system-x86_64 mkfs.ext4 e2fsck cpio timeout awk python3
sb_init vhost-user-stop "QEMU stop and cont during an outage, steadyblk as the virtio-blk device"
"$SB_VM_DIR/build-guest.sh" "$SB_BUILDDIR" > /dev/null

sock=$SB_DIR/vu.sock qmp=$SB_DIR/qmp.sock flag=$SB_DIR/outage
rm -f "$flag"
sb_mkdisk "$SB_DIR/disk.img"
SB_EXPORT_URI="vhost-user-blk://$sock" sb_steadyblk sut "$sock" "file:$SB_DIR/disk.img" \
    --werror retry --rerror retry --retry-max-interval 1s --fault-file "$flag"
sut_pid=$SB_LASTPID
sb_wait_socket "$sock"

sb_guest --socket "$sock" --duration 20 --vhost-user --qmp "$qmp"
sb_wait_start 40
sb_sleep_guest 4
touch "$flag"
sb_mark outage_start
sb_wait_line "$SB_DIR/sut.log" 'holding requests' 10 ||
    sb_fail "steadyblk held nothing: the outage did not reach the guest's writes"
stop_s=$(python3 "$SB_VM_DIR/qmp.py" "$qmp" stop | awk '{print $2}') ||
    sb_fail "QEMU did not answer stop"
sb_log "stop answered in ${stop_s} s, a request held"
sb_sleep 3
rm -f "$flag"
sb_mark outage_end
sb_wait_line "$SB_DIR/sut.log" 'recovered after' 10 || sb_fail "steadyblk did not recover"
python3 "$SB_VM_DIR/qmp.py" "$qmp" cont > /dev/null || sb_fail "QEMU did not answer cont"

rc=0
sb_guest_wait || rc=$?
sb_stop "$sut_pid"
[ $rc = 0 ] || sb_fail "guest produced no result"
sb_add stop_ms "$(awk -v s="$stop_s" 'BEGIN {printf "%d", s * 1000}')"
sb_add fsck "$(sb_fsck "$SB_DIR/disk.img")"
sb_summary

sb_assert stop_ms -lt 1000 "QEMU's stop answered in under a second during the outage"
sb_assert_unharmed 2
sb_assert_log sut 'recovered after [0-9]+ ms, [1-9][0-9]* held requests completed' \
    "requests were held across the stop, and completed after it"
sb_verdict "stop during an outage answered in ${stop_s} s; after cont the guest saw no error"
