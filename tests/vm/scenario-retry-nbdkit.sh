#!/bin/bash
# scenario-retry-nbdkit.sh - steadyblk's main claim, and the picture in the
# README: guest -> QEMU nbd client -> steadyblk (werror/rerror=retry) ->
# nbdkit (error filter, file plugin) -> ext4 image.  nbdkit fails every
# request with EIO for 10 s while the guest writes; the guest must see
# nothing but a long write: no errors, no journal abort, every file intact.
# With the knobs below it is also a template for other faults and for other
# servers in steadyblk's place.
# Exit: 0 pass, 1 fail, 77 skip (no server under test).
#
# The server under test (environment):
#   STEADYBLK=/path/to/steadyblk   run as
#       $STEADYBLK --foreground --pidfile P --export nbd+unix:///?socket=S
#                  --werror retry --rerror retry --retry-max-interval 1s
#                  nbd+unix:///?socket=BACKSOCK
#       The backoff ceiling of 1 s (default 30 s) releases the held write at
#       most ~1 s after the outage ends, so the picture (run-all.sh) shows the
#       stall as long as the outage; with the default the probes come 1, 2,
#       4, 8 s apart and the write stalls a few seconds longer.
#   SB_SUT_CMD='...'   any other command instead (run by bash, exec'd so its
#       PID is the one we stop), with $SB_SOCK (export socket to create),
#       $SB_BACKSOCK (backend socket), $SB_PIDFILE in its environment.  E.g. a
#       peer to compare with, nbdkit retrying each failed request:
#       SB_SUT_CMD='nbdkit -f -U "$SB_SOCK" --filter=retry-request nbd socket="$SB_BACKSOCK" retry-request-retries=60 retry-request-delay=1'
# Other knobs:
#   SB_NAME_SUFFIX   result directory retry-nbdkit<suffix> (default empty)
#   SB_FAULT         eio (error filter, default) | kill (SIGKILL the backend,
#                    restart it after the outage) | freeze (SIGSTOP/SIGCONT it)
#   SB_ERRNO         errno for eio (default EIO; ENOSPC, ESHUTDOWN ...)
#   SB_DURATION, SB_OUTAGE_AT, SB_OUTAGE_LEN  as in the control (25, 5, 10)
#   SB_RECONNECT=N   QEMU's nbd client with reconnect-delay=N (for SUT restarts)
#   SB_TRANSPORT     nbd (default: QEMU's NBD client and virtio-blk) |
#                    vhost-user (steadyblk is the guest's virtio-blk device)
#   SB_DRIVE_OPTS    extra QEMU -drive options
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

duration=${SB_DURATION:-25}
outage_at=${SB_OUTAGE_AT:-5}
outage_len=${SB_OUTAGE_LEN:-10}
errno=${SB_ERRNO:-EIO}
fault=${SB_FAULT:-eio}
transport=${SB_TRANSPORT:-nbd}

[ -n "${SB_SUT_CMD:-}" ] || sb_need_steadyblk
sb_need qemu-system-x86_64 nbdkit mkfs.ext4 e2fsck cpio timeout awk
sb_need_nbdkit_filter error
case $fault in
    eio)    what="nbdkit failing every request with $errno for ${outage_len} s" ;;
    kill)   what="nbdkit, SIGKILLed and restarted ${outage_len} s later" ;;
    freeze) what="nbdkit, frozen (SIGSTOP) for ${outage_len} s" ;;
    *)      sb_fail "unknown SB_FAULT=$fault" ;;
esac
if [ -n "${SB_SUT_CMD:-}" ]; then
    what="${SB_SUT_CMD%% *} in front of $what"
else
    what="steadyblk --werror retry --rerror retry in front of $what"
fi
sb_init "retry-nbdkit${SB_NAME_SUFFIX:-}" "$what"
"$SB_VM_DIR/build-guest.sh" "$SB_BUILDDIR" > /dev/null

export SB_SOCK=$SB_DIR/sut.sock SB_BACKSOCK=$SB_DIR/backend.sock SB_PIDFILE=$SB_DIR/sut.pidfile
flag=$SB_DIR/outage.flag
sb_mkdisk "$SB_DIR/disk.img"

start_backend() {
    sb_error_backend backend "$SB_BACKSOCK" "$SB_DIR/disk.img" "$errno" "$flag"
    backend_pid=$SB_LASTPID
}
start_backend

if [ -n "${SB_SUT_CMD:-}" ]; then
    sb_start sut bash -c "exec $SB_SUT_CMD"
else
    [ "$transport" = nbd ] || export SB_EXPORT_URI="vhost-user-blk://$SB_SOCK"
    sb_steadyblk sut "$SB_SOCK" "nbd+unix:///?socket=$SB_BACKSOCK" \
        --werror retry --rerror retry --retry-max-interval 1s
fi
sut_pid=$SB_LASTPID
sb_wait_socket "$SB_SOCK"

sb_guest --socket "$SB_SOCK" --duration "$duration" ${SB_EXPORT_URI:+--vhost-user} \
    ${SB_RECONNECT:+--reconnect "$SB_RECONNECT"} ${SB_DRIVE_OPTS:+--drive-opts "$SB_DRIVE_OPTS"}
sb_wait_start 40
sb_sleep_guest "$outage_at"
case $fault in
    eio)    touch "$flag" ;;
    kill)   sb_kill "$backend_pid" KILL ;;
    freeze) kill -STOP "$backend_pid" ;;
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

sb_assert_unharmed "$outage_len"
if [ -z "${SB_SUT_CMD:-}" ]; then
    # It was steadyblk that held the guest's writes, and it let them go.
    sb_assert_log sut 'holding requests' "steadyblk held requests"
    sb_assert_log sut 'recovered after' "steadyblk recovered"
fi
sb_verdict "the guest rode out a ${outage_len}s $fault outage"
