#!/bin/bash
# scenario-vhost-user-reset.sh - QMP `system_reset` of a guest whose write
# steadyblk, its virtio-blk device (vhost-user-blk), has not answered.  The
# reset ends the device instance (DESIGN.md, "Pause on drain and reset"):
# a held write is fenced, never re-issued; a write still at the backend
# makes the new instance's overlapping requests wait until it completes.
# The rebooted guest writes new data over the same blocks: nothing from
# before the reset may land on it.
# guest (raw /dev/vda, O_DIRECT, guest-init.sh's sbtest.mode=reset) ->
# steadyblk (vhost-user-blk, werror/rerror=retry) -> the image.
#   boot 1: A over a 64 KiB region (acknowledged, read back); then the fault
#           starts and the guest writes B over the region
#   reset:  QMP system_reset (QEMU without -no-reboot) while B is out
#   boot 2: reads the region, writes C over it with a flush; 3 s after C
#           completed it reads C, and after poweroff the image holds C
# SB_RESET_FAULT picks the fault:
#   outage (default): steadyblk's fault file fails every write with EIO
#           (reads work): B is held.  Boot 2 reads A (B never landed), its
#           C is held in turn; the host ends the outage: C completes.
#           steadyblk logs B dropped; its events: the first hang cleared
#           with 1 request dropped, the second recovered with 1 completed.
#   slow:   steadyblk -> nbdkit (sh plugin) over the image, which takes
#           10 s to write B: B is at the backend at the reset.  Boot 2's
#           read of the region waits for B (and reads B); C lands after B
#           (nbdkit's log of the region's writes: A, B, C in that order).
#           scenario-vhost-user-reset-slow.sh runs this one.
# SB_DRIVE_OPTS: extra -device vhost-user-blk-pci options (queue-size=256).
# Exit: 0 pass, 1 fail, 77 skip.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

fault=${SB_RESET_FAULT:-outage}
sb_need_steadyblk
sb_need qemu-system-x86_64 cpio timeout awk python3 sha256sum
case $fault in
    outage) name=vhost-user-reset what="holds a write during an outage" ;;
    slow) name=vhost-user-reset-slow what="has a write at a slow backend"
          sb_need nbdkit
          nbdkit sh --version > /dev/null 2>&1 || sb_skip "no nbdkit sh plugin" ;;
    *) sb_fail "SB_RESET_FAULT=$fault: outage or slow" ;;
esac
ctl=${STEADYBLKCTL:-$(dirname "$STEADYBLK")/../ctl/steadyblkctl}
[ -x "$ctl" ] || sb_skip "no steadyblkctl next to $STEADYBLK (set STEADYBLKCTL)"
sb_init "$name" "QMP system_reset while steadyblk (vhost-user-blk) $what; the rebooted guest writes over the same blocks"
"$SB_VM_DIR/build-guest.sh" "$SB_BUILDDIR" > /dev/null

sock=$SB_DIR/vu.sock qmp=$SB_DIR/qmp.sock sbqmp=$SB_DIR/sb-qmp.sock flag=$SB_DIR/fault
img=$SB_DIR/disk.img serial=$SB_DIR/serial.log bsock=$SB_DIR/b.sock
writes=$SB_DIR/region-writes.log slow_s=10
rm -f "$flag" "$img" "$writes"
truncate -s 64M "$img"
: > "$writes"

# What the region (64 KiB at 1 MiB) holds in the image: A, B, C, zero, other.
region_is() {
    local s p
    s=$(dd if="$img" bs=65536 skip=16 count=1 status=none | sha256sum | cut -d' ' -f1)
    for p in A B C; do
        [ "$s" = "$(yes "SBPATTERN-$p" | head -c 65536 | sha256sum | cut -d' ' -f1)" ] && { echo $p; return; }
    done
    [ "$s" = "$(head -c 65536 /dev/zero | sha256sum | cut -d' ' -f1)" ] && { echo zero; return; }
    echo other
}
holds() { grep -c 'holding requests' "$SB_DIR/sut.log" 2>/dev/null || true; }

sut_args=(--werror retry --rerror retry --retry-max-interval 1s --qmp "$sbqmp")
if [ "$fault" = slow ]; then
    # A write touching the region takes $slow_s s if the flag exists when it
    # arrives; each one is logged with its pattern's letter when it lands.
    # thread_model parallel: other requests pass a slow one.
    { printf '#!/bin/bash\nimg=%q flag=%q writes=%q slow=%q\n' "$img" "$flag" "$writes" "$slow_s"
      cat <<'PLUGIN'
case $1 in
    thread_model) echo parallel ;;
    get_size) stat -L -c %s "$img" ;;
    can_write|can_flush|flush) exit 0 ;;
    pread) dd if="$img" iflag=skip_bytes,count_bytes skip="$4" count="$3" bs=64k status=none ;;
    pwrite)
        buf=$(mktemp "$img.w.XXXXXX")
        cat > "$buf"
        region=0
        [ "$4" -lt $((1048576 + 65536)) ] && [ $(($4 + $3)) -gt 1048576 ] && region=1
        if [ $region = 1 ] && [ -e "$flag" ]; then
            echo "slow $4 $3 $(date +%s.%N)" >> "$writes"
            sleep "$slow"
        fi
        dd if="$buf" of="$img" oflag=seek_bytes seek="$4" conv=notrunc bs=64k status=none
        [ $region = 1 ] && echo "landed $4 $3 $(head -c 11 "$buf" | tail -c 1) $(date +%s.%N)" >> "$writes"
        rm -f "$buf" ;;
    *) exit 2 ;;
esac
PLUGIN
    } > "$SB_DIR/slow-plugin.sh"
    chmod +x "$SB_DIR/slow-plugin.sh"
    rm -f "$bsock"
    sb_start backend nbdkit -f -U "$bsock" sh "$SB_DIR/slow-plugin.sh"
    sb_wait_socket "$bsock"
    backend="nbd+unix:///?socket=$bsock"
else
    sut_args+=(--fault-file "$flag")
    backend="file:$img"
fi
SB_EXPORT_URI="vhost-user-blk://$sock" sb_steadyblk sut "$sock" "$backend" "${sut_args[@]}"
sut_pid=$SB_LASTPID
sb_wait_socket "$sock"
sb_start events "$ctl" -s "$sbqmp" events --json
events_pid=$SB_LASTPID

sb_guest --socket "$sock" --vhost-user --reboot --qmp "$qmp" --timeout 150 \
    --append "sbtest.mode=reset" ${SB_DRIVE_OPTS:+--drive-opts "$SB_DRIVE_OPTS"}
sb_wait_start 40
sb_wait_line "$serial" '^SBPHASE 1 a_written' 20 ||
    sb_fail "the guest did not write pattern A (serial: $serial)"
# The guest waits 2 s before it writes B: the fault is in force by then.
if [ "$fault" = slow ]; then
    touch "$flag"
    sb_mark slow_start
    sb_wait_line "$writes" '^slow ' 10 || sb_fail "the guest's write of B did not reach nbdkit"
    rm -f "$flag" # B only: what comes after it is written at once
    sb_mark slow_end
else
    echo "write EIO" > "$flag.tmp" && mv "$flag.tmp" "$flag"
    sb_mark outage_start
    sb_wait_line "$SB_DIR/sut.log" 'holding requests' 10 ||
        sb_fail "steadyblk held nothing: the outage did not reach the guest's write of B"
fi
sb_sleep 1
[ "$(region_is)" = A ] || sb_fail "the region holds $(region_is) before the reset, not A"
python3 "$SB_VM_DIR/qmp.py" "$qmp" system_reset > /dev/null || sb_fail "QEMU did not answer system_reset"
sb_mark system_reset
t_reset=$(sb_now)

# Boot 2: its read of the region, and C.  Bounded: if the reset left the disk
# blocked, the outage ends anyway, boot 2 goes on after it, and the verdict
# says what it found.
booted_again() {
    local i
    for ((i = 0; i < $1 * 10; i++)); do
        [ "$(grep -c '^SBBOOTING' "$serial")" -ge 2 ] && return 0
        sb_sleep 0.1
    done
    return 1
}
c_held=0 boot2_s=none region_outage=none
booted_again 20 || sb_log "no second boot 20 s after the reset"
if sb_wait_line "$serial" '^SBPHASE 2 c_issued' $((slow_s + 15)); then
    boot2_s=$(awk -v a="$(sb_now)" -v b="$t_reset" 'BEGIN {printf "%.1f", a - b}')
    if [ "$fault" = outage ]; then
        for ((i = 0; i < 100; i++)); do
            [ "$(holds)" -ge 2 ] && { c_held=1; break; }
            sb_sleep 0.1
        done
    fi
    sb_log "boot 2 wrote C ${boot2_s}s after the reset$([ $c_held = 0 ] || echo ', held')"
else
    sb_log "boot 2 did not write C within the wait: the outage ends anyway"
fi
if [ "$fault" = outage ]; then
    region_outage=$(region_is)
    sb_sleep 2
    rm -f "$flag"
    sb_mark outage_end
fi

rc=0
sb_guest_wait || rc=$?
if [ "$fault" = slow ]; then
    # Compare the image once B landed: a write the device did not order
    # would land after C.
    sb_wait_line "$writes" '^landed [0-9]+ [0-9]+ B ' $((slow_s + 5)) || sb_log "B never landed"
fi
sb_stop "$sut_pid"
sut_rc=$SB_STOP_RC
sb_stop "$events_pid"
[ $rc = 0 ] || sb_fail "guest produced no result"
sb_add boots "$(tr -d '\r' < "$serial" | grep -c '^SBBOOTING')"
sb_add region_in_image "$(region_is)"
sb_add reset_to_c_s "$boot2_s"
sb_add steadyblk_exit "$sut_rc"
if [ "$fault" = outage ]; then
    sb_add c_held_during_outage "$c_held"
    sb_add region_during_outage "$region_outage"
    # steadyblk's events (steadyblkctl events --json): a hang ended with N requests.
    events_with() { grep -cE "\"event\": *\"$1\".*\"requests\": *$2[,}]" "$SB_DIR/events.log" || true; }
    sb_add event_cleared "$(events_with DISK_CLEARED 1)"
    sb_add event_recovered "$(events_with DISK_RECOVERED 1)"
else
    sb_add landing_order "$(awk '$1 == "landed" {printf "%s", $4}' "$writes")"
    sb_add events "$(grep -c '"event"' "$SB_DIR/events.log" || true)"
fi
sb_summary

sb_assert status = "done" "boot 2 ran to its verdict"
sb_assert boot -eq 2 "the verdict is the rebooted guest's"
sb_assert boots -eq 2 "the guest booted twice: the reset, then nothing else"
if [ "$fault" = outage ]; then
    sb_assert region_before_c = A "boot 2 read the acknowledged A: the held B did not land"
    sb_assert c_held_during_outage -eq 1 "boot 2 ran during the outage and its write of C was held"
    sb_assert region_during_outage = A "the image held A until the outage ended"
else
    sb_assert region_before_c = B "boot 2's read waited for B, at the backend at the reset, to land"
    sb_assert region_read_ms -ge 1000 "and took that long"
    sb_assert landing_order = ABC "nbdkit wrote the region A, B, C: C after the old device's B"
    sb_assert events -eq 0 "nothing failed, nothing was held"
fi
sb_assert c_write = ok "C completed"
sb_assert region_after = C "3 s after C the guest reads C: nothing from before the reset landed on it"
sb_assert region_in_image = C "the image holds C after poweroff"
sb_assert steadyblk_exit -eq 0 "steadyblk shut down cleanly"
sb_assert_log sut 'reset with 1 requests of the old device still out' "steadyblk saw the reset with B out"
if [ "$fault" = outage ]; then
    sb_assert event_cleared -eq 1 "DISK_CLEARED: the old device's hang ended with its 1 held write dropped"
    sb_assert event_recovered -eq 1 "DISK_RECOVERED: the new device's hang ended with its 1 write completed"
    sb_assert_log sut 'was reset, 1 held requests dropped, never to be re-issued' "and dropped B"
    sb_assert_log sut 'recovered after [0-9]+ ms, 1 held requests completed' "C was held and completed"
    sb_verdict "system_reset with a write held: it never landed; the rebooted guest's write over it did, and stayed"
fi
sb_verdict "system_reset with a write at the backend: the rebooted guest's read and write over it waited for it; C landed last"
