#!/bin/bash
# scenario-retry-nbdkit.sh - template for "server under test in front of a
# failing backend": guest -> QEMU nbd client -> SUT (steadyblk) -> nbdkit
# (error filter, file plugin) -> ext4 image.  A backend outage is injected
# while the guest writes; with werror/rerror=retry the guest must see nothing
# but a long write: no errors, no journal abort, every file intact.
# Exit: 0 pass, 1 fail, 77 skip (no server under test).
#
# The server under test (environment):
#   STEADYBLK=/path/to/steadyblk   run as
#       $STEADYBLK --foreground --pidfile P --export nbd+unix:///?socket=S
#                  --werror retry --rerror retry nbd+unix:///?socket=BACKSOCK
#   SB_SUT_CMD='...'   any other command instead (run by bash, exec'd so its
#       PID is the one we stop), with $SB_SOCK (export socket to create),
#       $SB_BACKSOCK (backend socket), $SB_PIDFILE in its environment.  E.g. a
#       stand-in that works today, nbdkit retrying each failed request:
#       SB_SUT_CMD='nbdkit -f -U "$SB_SOCK" --filter=retry-request nbd socket="$SB_BACKSOCK" retry-request-retries=60 retry-request-delay=1'
# Other knobs:
#   SB_NAME_SUFFIX   result directory retry-nbdkit<suffix> (default empty)
#   SB_FAULT         eio (error filter, default) | kill (SIGKILL the backend,
#                    restart it after the outage) | freeze (SIGSTOP/SIGCONT it)
#   SB_ERRNO         errno for eio (default EIO; ENOSPC, ESHUTDOWN ...)
#   SB_DURATION, SB_OUTAGE_AT, SB_OUTAGE_LEN  as in the control (25, 5, 10)
#   SB_RECONNECT=N   QEMU's nbd client with reconnect-delay=N (for SUT restarts)
#   SB_DRIVE_OPTS    extra QEMU -drive options
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

duration=${SB_DURATION:-25}
outage_at=${SB_OUTAGE_AT:-5}
outage_len=${SB_OUTAGE_LEN:-10}
errno=${SB_ERRNO:-EIO}
fault=${SB_FAULT:-eio}

if [ -z "${SB_SUT_CMD:-}" ]; then
    if [ -z "${STEADYBLK:-}" ] || [ ! -x "$STEADYBLK" ]; then
        sb_skip "set STEADYBLK=/path/to/steadyblk (or SB_SUT_CMD)"
    fi
fi
sb_need qemu-system-x86_64 nbdkit mkfs.ext4 e2fsck cpio timeout awk
sb_need_nbdkit_filter error
sb_init "retry-nbdkit${SB_NAME_SUFFIX:-}"
"$SB_VM_DIR/build-guest.sh" "$SB_BUILDDIR" > /dev/null

export SB_SOCK=$SB_DIR/sut.sock SB_BACKSOCK=$SB_DIR/backend.sock SB_PIDFILE=$SB_DIR/sut.pidfile
flag=$SB_DIR/outage.flag
sb_mkdisk "$SB_DIR/disk.img"

start_backend() {
    # nbdkit leaves its socket behind after SIGKILL.
    rm -f "$SB_BACKSOCK"
    sb_start backend nbdkit -f -U "$SB_BACKSOCK" --filter=error file "$SB_DIR/disk.img" \
        error="$errno" error-rate=100% error-file="$flag"
    backend_pid=$SB_LASTPID
    sb_wait_socket "$SB_BACKSOCK"
}
start_backend

if [ -n "${SB_SUT_CMD:-}" ]; then
    sb_start sut bash -c "exec $SB_SUT_CMD"
else
    sb_start sut "$STEADYBLK" --foreground --pidfile "$SB_PIDFILE" \
        --export "nbd+unix:///?socket=$SB_SOCK" --werror retry --rerror retry \
        "nbd+unix:///?socket=$SB_BACKSOCK"
fi
sut_pid=$SB_LASTPID
if [ -z "${SB_SUT_CMD:-}" ]; then
    # steadyblk writes its pidfile once every listener is ready.
    if ! sb_wait_file "$SB_PIDFILE" 10 "$sut_pid"; then
        tail -n 5 "$SB_DIR/sut.log" >&2
        sb_fail "steadyblk did not start (log: $SB_DIR/sut.log)"
    fi
fi
sb_wait_socket "$SB_SOCK"

sb_guest --socket "$SB_SOCK" --duration "$duration" \
    ${SB_RECONNECT:+--reconnect "$SB_RECONNECT"} ${SB_DRIVE_OPTS:+--drive-opts "$SB_DRIVE_OPTS"}
sb_wait_start 40
sb_sleep_guest "$outage_at"
case $fault in
    eio)    touch "$flag" ;;
    kill)   sb_kill "$backend_pid" KILL ;;
    freeze) kill -STOP "$backend_pid" ;;
    *)      sb_fail "unknown SB_FAULT=$fault" ;;
esac
sb_mark outage_start
sb_sleep_guest "$((outage_at + outage_len))"
case $fault in
    eio)    rm -f "$flag" ;;
    kill)   start_backend ;;
    freeze) kill -CONT "$backend_pid" ;;
esac
sb_mark outage_end

rc=0
sb_guest_wait || rc=$?
sb_stop "$sut_pid"
sb_stop "$backend_pid"
[ $rc = 0 ] || sb_fail "guest produced no result"
sb_add fsck "$(sb_fsck "$SB_DIR/disk.img")"
sb_summary

sb_assert status = "done"
sb_assert writes -gt 0 "the guest wrote"
sb_assert write_errors -eq 0 "no write+sync failed in the guest"
sb_assert dmesg_io_errors -eq 0 "no I/O error in the guest kernel"
sb_assert journal_aborted = 0 "ext4 journal intact"
sb_assert remount_ro = 0 "not remounted read-only"
sb_assert ext4_errors -eq 0 "no EXT4-fs error"
sb_assert checksum_bad -eq 0 "every acknowledged file reads back intact"
sb_assert probe = ok "a new durable write works after the outage"
sb_assert fsck = clean "the image is consistent"
# The outage really happened: some write was held through most of it.
sb_assert max_latency_ms -ge "$(( (outage_len - 2) * 1000 ))" "a write waited out the outage"
if [ "$SB_FAILS" -gt 0 ]; then
    sb_log "FAIL: $SB_FAILS checks failed"
    exit 1
fi
sb_log "PASS: the guest rode out a ${outage_len}s $fault outage"
exit 0
