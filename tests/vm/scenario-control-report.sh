#!/bin/bash
# scenario-control-report.sh - the control with steadyblk in the path:
# guest -> QEMU nbd client -> steadyblk (werror/rerror=report) -> nbdkit
# (error filter) -> ext4 image, and the same 10 s EIO outage as the retry
# scenario.  With "report" steadyblk passes every error on at once, so the
# guest MUST break (I/O errors, journal abort) exactly as it does with no
# steadyblk at all: only the policy makes the difference in the retry
# scenario.  If this scenario ever passes as healthy, the test is broken.
# Exit: 0 breakage seen, 1 not seen (or harness failure), 77 skip.
#
# Knobs (environment): STEADYBLK, SB_BUILDDIR, SB_RESULTS (see lib.sh),
#   SB_DURATION (guest write phase, default 25), SB_OUTAGE_AT (seconds after
#   the guest's SBSTART, default 5), SB_OUTAGE_LEN (default 10).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

duration=${SB_DURATION:-25}
outage_at=${SB_OUTAGE_AT:-5}
outage_len=${SB_OUTAGE_LEN:-10}

sb_need_steadyblk
sb_need qemu-system-x86_64 nbdkit mkfs.ext4 e2fsck cpio timeout awk
sb_need_nbdkit_filter error
sb_init control-report "steadyblk --werror report --rerror report in front of nbdkit failing every request with EIO for ${outage_len} s"
"$SB_VM_DIR/build-guest.sh" "$SB_BUILDDIR" > /dev/null

sock=$SB_DIR/sut.sock
backsock=$SB_DIR/backend.sock
flag=$SB_DIR/outage.flag
sb_mkdisk "$SB_DIR/disk.img"

sb_error_backend backend "$backsock" "$SB_DIR/disk.img" EIO "$flag"
backend_pid=$SB_LASTPID
sb_steadyblk sut "$sock" "nbd+unix:///?socket=$backsock" --werror report --rerror report
sut_pid=$SB_LASTPID

sb_guest --socket "$sock" --duration "$duration"
sb_wait_start 40
sb_sleep_guest "$outage_at"
touch "$flag"
sb_mark outage_start
sb_sleep_guest "$((outage_at + outage_len))"
rm -f "$flag"
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

sb_assert_broken
# Reported, not held: no write of the guest waited out the outage.
sb_assert max_latency_ms -lt "$(((outage_len - 2) * 1000))" "no write was held"
sb_assert steadyblk_exit -eq 0 "steadyblk shut down cleanly"
if [ "$SB_FAILS" -gt 0 ]; then
    sb_log "the control did not show the expected breakage: the harness is broken"
fi
sb_verdict "the guest broke as expected with werror/rerror=report"
