#!/bin/bash
# scenario-vhost-user-migrate.sh - live migration of a guest whose virtio-blk
# device is steadyblk (vhost-user-blk) while the guest writes: two QEMUs on
# this machine, each connected to its own vhost-user-blk export of the same
# disk.  QEMU turns dirty logging on (LOG_ALL, a shared log), steadyblk marks
# every page it writes (read data, status bytes, the used ring), and the
# ring's stop at the switch-over is drained for real (the destination cannot
# see what steadyblk holds).  With SB_MIGRATE_OUTAGE=1 the storage fails
# every request from 2 s before the migration until 8 s after it, so the
# switch-over waits for the held writes (scenario-vhost-user-migrate-outage.sh).
# guest -> steadyblk (vhost-user-blk x2, werror/rerror=retry, fault filter
# failing every request while a file exists) -> ext4 image.
# The guest, on the destination, must see nothing but slow writes, and
# verify every file it wrote; a second task in the guest reads the disk
# throughout (sbtest.reader=1), so read data lands in guest memory up to
# the switch-over.  Before it runs on, the destination's memory
# is compared with the source's, page by page (migrate.py): both are
# stopped then, so a page that differs is one written after it was last
# sent without a mark in the dirty log.
# Exit: 0 pass, 1 fail, 77 skip.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

outage=${SB_MIGRATE_OUTAGE:-0}
migrate_at=7 outage_len=10
name=vhost-user-migrate
[ "$outage" = 1 ] && name=vhost-user-migrate-outage

sb_need_steadyblk
sb_need qemu-system-x86_64 mkfs.ext4 e2fsck cpio timeout awk python3
sb_init "$name" "live migration at ${migrate_at} s with steadyblk as the virtio-blk device$([ "$outage" = 1 ] && echo ", during a ${outage_len} s outage")"
"$SB_VM_DIR/build-guest.sh" "$SB_BUILDDIR" > /dev/null

sock_a=$SB_DIR/vu-a.sock sock_b=$SB_DIR/vu-b.sock flag=$SB_DIR/outage
qmp_a=$SB_DIR/qmp-a.sock qmp_b=$SB_DIR/qmp-b.sock mig=$SB_DIR/mig.sock
rm -f "$flag" "$mig"
sb_mkdisk "$SB_DIR/disk.img"
SB_EXPORT_URI="vhost-user-blk://$sock_a" sb_steadyblk sut "$sock_a" "file:$SB_DIR/disk.img" \
    --export "vhost-user-blk://$sock_b" \
    --werror retry --rerror retry --retry-max-interval 1s --fault-file "$flag"
sut_pid=$SB_LASTPID
sb_wait_socket "$sock_a"
sb_wait_socket "$sock_b"

# The destination first, waiting for the guest; its results are the
# scenario's (the guest prints them there).  The source's go to src/.
sb_guest --socket "$sock_b" --duration 25 --vhost-user --qmp "$qmp_b" \
    --incoming "unix:$mig" --paused --append sbtest.reader=1 --timeout 150
"$SB_VM_DIR/run-guest.sh" --out "$SB_DIR/src" --builddir "$SB_BUILDDIR" --socket "$sock_a" \
    --duration 25 --vhost-user --qmp "$qmp_a" --append sbtest.reader=1 --timeout 150 \
    > "$SB_DIR/src.log" 2>&1 &
src_pid=$!
SB_PIDS+=("$src_pid")
sb_wait_file "$SB_DIR/src/sbstart.time" 40 "$src_pid" ||
    { cat "$SB_DIR/src.log" >&2; sb_fail "the source guest did not start its workload"; }
cp "$SB_DIR/src/sbstart.time" "$SB_DIR/sbstart.time"
sb_log "guest workload started on the source"

if [ "$outage" = 1 ]; then
    sb_sleep_guest "$((migrate_at - 2))"
    touch "$flag"
    sb_mark outage_start
    sb_wait_line "$SB_DIR/sut.log" 'holding requests' 10 ||
        sb_fail "steadyblk held nothing: the outage did not reach the guest's writes"
    # The outage ends on its own clock, while the migration waits on it.
    ( sleep "$outage_len"; rm -f "$flag" ) &
    SB_PIDS+=("$!")
fi
sb_sleep_guest "$migrate_at"
sb_mark migrate_start
mig_out=$(python3 "$SB_VM_DIR/migrate.py" "$qmp_a" "unix:$mig" "$qmp_b" "$SB_DIR") ||
    sb_fail "the migration failed: $mig_out"
sb_mark migrate_end
sb_log "migration: $mig_out"
wait "$src_pid" 2>/dev/null || true
sb_forget "$src_pid"

rc=0
sb_guest_wait || rc=$?
sb_stop "$sut_pid"
[ $rc = 0 ] || sb_fail "guest produced no result on the destination"
sb_add fsck "$(sb_fsck "$SB_DIR/disk.img")"
sb_add migration_total_ms "$(sed -n 's/.*total_ms=\([0-9-]*\).*/\1/p' <<<"$mig_out")"
sb_add migration_downtime_ms "$(sed -n 's/.*downtime_ms=\([0-9-]*\).*/\1/p' <<<"$mig_out")"
sb_add mem_diff_pages "$(sed -n 's/.*mem_diff_pages=\([0-9]*\).*/\1/p' <<<"$mig_out")"
sb_add mem_diff_first "$(sed -n 's/.*mem_diff_first=\([^ ]*\).*/\1/p' <<<"$mig_out")"
sb_summary

sb_assert_intact "the migration"
sb_assert mem_diff_pages -eq 0 \
    "the destination's memory was the source's, page for page (every page steadyblk wrote was in the dirty log)"
if [ "$outage" = 1 ]; then
    # The guest's clock stands still while the VM is stopped: its longest
    # write plus the switch-over is how long the write was held.
    sb_add held_ms "$(($(sb_get max_latency_ms) + $(sb_get migration_downtime_ms)))"
    sb_assert held_ms -ge "$(((outage_len - 3) * 1000))" "a write waited out the outage"
    sb_assert held_ms -le "$(((outage_len + 5) * 1000))" "and was released soon after it"
    sb_assert migration_downtime_ms -ge 2000 \
        "the switch-over waited for the held writes (the stop was drained)"
    sb_assert_log sut 'recovered after [0-9]+ ms, [1-9][0-9]* held requests completed' \
        "the held writes completed once the storage was back"
fi
sb_assert_log sut 'dirty log of [0-9]+ bytes' "QEMU shared its dirty log with steadyblk"
sb_assert_log sut 'dirty logging on' "and turned logging on"
sb_verdict "the guest migrated live with steadyblk as its vhost-user-blk device$([ "$outage" = 1 ] && echo ", across an outage")"
