#!/bin/bash
# scenario-control-nbdkit.sh - the control experiment: a guest's ext4 disk
# served straight by nbdkit (no steadyblk), with a 10 s EIO outage injected by
# nbdkit's error filter while the guest writes.  The guest MUST break (I/O
# errors, journal abort): this proves the harness sees breakage when it
# happens, so a clean run in the retry scenarios means something.
# Exit: 0 breakage seen, 1 not seen (or harness failure), 77 tool missing.
#
# Knobs (environment): SB_BUILDDIR, SB_RESULTS (see lib.sh),
#   SB_DURATION (guest write phase, default 25), SB_OUTAGE_AT (seconds after
#   the guest's SBSTART, default 5), SB_OUTAGE_LEN (default 10),
#   SB_ERRNO (default EIO).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

duration=${SB_DURATION:-25}
outage_at=${SB_OUTAGE_AT:-5}
outage_len=${SB_OUTAGE_LEN:-10}
errno=${SB_ERRNO:-EIO}

sb_need qemu-system-x86_64 nbdkit mkfs.ext4 e2fsck cpio timeout awk
sb_need_nbdkit_filter error
sb_init control-nbdkit "no steadyblk: QEMU on nbdkit, which fails every request with EIO for ${outage_len} s"
"$SB_VM_DIR/build-guest.sh" "$SB_BUILDDIR" > /dev/null

sock=$SB_DIR/nbd.sock
flag=$SB_DIR/outage.flag
sb_mkdisk "$SB_DIR/disk.img"
# The error filter fails every request while $flag exists; the connection
# stays up, so QEMU (werror=enospc by default for EIO: report) hands the
# error to the guest.
sb_error_backend nbdkit "$sock" "$SB_DIR/disk.img" "$errno" "$flag"

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
sb_stop "$(cat "$SB_DIR/nbdkit.pid")"
[ $rc = 0 ] || sb_fail "guest produced no result"
sb_add fsck "$(sb_fsck "$SB_DIR/disk.img")"
sb_summary

sb_assert_broken
if [ "$SB_FAILS" -gt 0 ]; then
    sb_log "the control did not show the expected breakage: the harness is broken"
fi
sb_verdict "the guest broke as expected without steadyblk"
