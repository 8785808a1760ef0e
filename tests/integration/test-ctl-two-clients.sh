#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Several management clients at once through steadyblkctl: two `events
# --json` followers receive the same events, byte for byte; a readable
# follower and a `status --watch` run alongside; commands from yet another
# client act on the disk meanwhile; nobody's stream is disturbed.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/management.sh"
requires socat jq qemu-io

make_image "$T/disk.img" 16M
uri=$(sb_uri "$T/s.sock")
start_steadyblk sb --werror retry --retry-interval 1s --fault-file "$T/outage" \
    --qmp "$T/qmp.sock" --export "$uri" "$T/disk.img"
ctl_follow a --json
ctl_follow b --json
ctl_follow c
"$STEADYBLKCTL" --socket "$T/qmp.sock" status --watch --interval 200ms >"$T/watch.out" 2>&1 &
CTL_PID_watch=$!
cleanup_add "kill $CTL_PID_watch"

fault_on "$T/outage" "all EIO"
timeout 60 qemu-io -f raw "$uri" -c 'write -P 0x81 0 4k' -c 'read -P 0x81 0 4k' >"$T/w.out" 2>&1 &
w=$!
cleanup_add "kill -9 $w"
ctl_wait_event a '.event == "DISK_HUNG"' >/dev/null || fail "client a: no DISK_HUNG"
# Other clients steer the disk while the followers follow.
ctl set-policy --retry-interval 100ms --retry-max-interval 100ms >/dev/null || fail "set-policy"
fault_off "$T/outage"
ctl retry-now >/dev/null || fail "retry-now"
ctl_wait_event a '.event == "DISK_RECOVERED"' >/dev/null || fail "client a: no DISK_RECOVERED"
ctl_wait_event b '.event == "DISK_RECOVERED"' >/dev/null || fail "client b: no DISK_RECOVERED"
wait_for 5 grep -q DISK_RECOVERED "$T/ev-c.out" || fail "client c: no DISK_RECOVERED"
wait "$w" || fail "qemu-io failed: $(cat "$T/w.out")"

cmp -s "$T/ev-a.out" "$T/ev-b.out" || fail "a and b got different events: $(diff "$T/ev-a.out" "$T/ev-b.out")"
[[ $(wc -l <"$T/ev-c.out") == $(wc -l <"$T/ev-a.out") ]] || fail "c got another number of events"
[[ $(ctl_event_names a | tr ' ' '\n' | grep -v BLOCK_IO_ERROR | tr '\n' ' ') == \
   "DISK_HUNG DISK_RECOVERED " ]] || fail "events: $(ctl_event_names a)"
grep -qE '^disk0 +hung' "$T/watch.out" || fail "the watcher never showed the hang"
wait_for 5 eval '[[ $(grep -E "^disk0 " "$T/watch.out" | tail -1) =~ ^disk0\ +healthy ]]' ||
    fail "the watcher does not show the recovery"
for c in a b c watch; do
    ctl_stop "$c" INT
    ((CTL_RC == 0)) || fail "client $c exited with $CTL_RC"
done
stop_steadyblk sb
