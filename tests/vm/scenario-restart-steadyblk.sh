#!/bin/bash
# scenario-restart-steadyblk.sh - steadyblk itself is restarted in the middle
# of an outage: guest -> QEMU nbd client (reconnect-delay) -> steadyblk
# (werror/rerror=retry) -> nbdkit (error filter) -> ext4 image.
#   t=5 s   the backend starts failing every request with EIO: steadyblk
#           holds the guest's writes
#   t=8 s   SIGTERM: steadyblk drops its held requests unanswered and exits
#           (docs/architecture.md, "Shutdown"); QEMU sees the connection go
#           and keeps the requests it got no answer for
#   t=9 s   a new steadyblk on the same socket; QEMU reconnects and sends
#           those requests again; the new daemon holds them in turn
#   t=15 s  the backend recovers: the writes complete
# The guest must see nothing but a long write (DESIGN.md, "Pause on drain and
# reset").
# Exit: 0 pass, 1 fail, 77 skip (no STEADYBLK, tool missing).
#
# Knobs (environment): STEADYBLK, SB_BUILDDIR, SB_RESULTS (see lib.sh),
#   SB_DURATION (guest write phase, default 25), SB_OUTAGE_AT (seconds after
#   the guest's SBSTART, default 5), SB_OUTAGE_LEN (default 10),
#   SB_RESTART_AT (seconds into the outage, default 3), SB_RESTART_GAP
#   (seconds without a daemon, default 1), SB_RECONNECT (QEMU's
#   reconnect-delay, default 20: it must cover the gap and QEMU's own
#   reconnect backoff of 1, 2, 4 s).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

duration=${SB_DURATION:-25}
outage_at=${SB_OUTAGE_AT:-5}
outage_len=${SB_OUTAGE_LEN:-10}
restart_at=${SB_RESTART_AT:-3}
restart_gap=${SB_RESTART_GAP:-1}
reconnect=${SB_RECONNECT:-20}

sb_need_steadyblk
sb_need qemu-system-x86_64 nbdkit mkfs.ext4 e2fsck cpio timeout awk
sb_need_nbdkit_filter error
sb_init restart-steadyblk "steadyblk restarted ${restart_at} s into a ${outage_len} s EIO outage; QEMU reconnect-delay=$reconnect"
"$SB_VM_DIR/build-guest.sh" "$SB_BUILDDIR" > /dev/null

sock=$SB_DIR/sut.sock
backsock=$SB_DIR/backend.sock
flag=$SB_DIR/outage.flag
sb_mkdisk "$SB_DIR/disk.img"

sb_error_backend backend "$backsock" "$SB_DIR/disk.img" EIO "$flag"
backend_pid=$SB_LASTPID

sut_args=("nbd+unix:///?socket=$backsock" --werror retry --rerror retry --retry-max-interval 1s)
sb_steadyblk sut1 "$sock" "${sut_args[@]}"
sut1_pid=$SB_LASTPID

sb_guest --socket "$sock" --duration "$duration" --reconnect "$reconnect"
sb_wait_start 40
sb_sleep_guest "$outage_at"
touch "$flag"
sb_mark outage_start

sb_sleep_guest "$((outage_at + restart_at))"
# SIGKILL after 5 s would also end the connection, and the test would pass
# without proving a clean shutdown: the exit status tells them apart.
sb_stop "$sut1_pid" 5
sut1_rc=$SB_STOP_RC
sb_mark steadyblk_stopped
sb_sleep "$restart_gap"
sb_steadyblk sut2 "$sock" "${sut_args[@]}"
sut2_pid=$SB_LASTPID
sb_mark steadyblk_started

sb_sleep_guest "$((outage_at + outage_len))"
rm -f "$flag"
sb_mark outage_end

rc=0
sb_guest_wait || rc=$?
sb_stop "$sut2_pid"
sut2_rc=$SB_STOP_RC
sb_stop "$backend_pid"
[ $rc = 0 ] || sb_fail "guest produced no result"
sb_add fsck "$(sb_fsck "$SB_DIR/disk.img")"
sb_add steadyblk1_exit "$sut1_rc"
sb_add steadyblk2_exit "$sut2_rc"
sb_summary

sb_assert_unharmed "$outage_len"
sb_assert_log sut1 'holding requests' "the first steadyblk held requests"
sb_assert_log sut1 'shutting down' "and was stopped during the outage"
sb_assert_log sut1 'held requests dropped' "dropping what it held, unanswered"
sb_assert steadyblk1_exit -eq 0 "it shut down cleanly on SIGTERM, held requests and all"
sb_assert_log sut2 'holding requests' "the second steadyblk held QEMU's re-sent requests"
sb_assert_log sut2 'recovered after' "and completed them when the backend came back"
sb_assert steadyblk2_exit -eq 0 "the second steadyblk shut down cleanly"
sb_verdict "the guest rode out a restart of steadyblk during a ${outage_len}s outage"
