#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# steadyblkctl set-policy during an outage: the new policy applies to the
# requests already held (a shorter --retry-timeout fails the over-age ones at
# once: DISK_TIMED_OUT; --werror report gives up on them: DISK_FAILED_HELD),
# the policy in force is printed, only the options given change.  Values
# are checked with the daemon's parsers before anything is sent (status 2);
# what the daemon refuses is status 1 and changes nothing.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/management.sh"
requires socat jq qemu-io

make_image "$T/disk.img" 16M
uri=$(sb_uri "$T/s.sock")
start_steadyblk sb --werror retry --retry-interval 200ms --fault-file "$T/outage" \
    --qmp "$T/qmp.sock" --export "$uri" "$T/disk.img"
ctl_follow ev --json
policy() { ctl query | jq -c '.[0].policy'; }
before=$(policy)

# Bad values: refused here, whatever the socket (the daemon is never asked).
for args in "--retry-timeout 30x" "--werror sometimes" "--retry-then ignore" \
    "--retry-errors EIO,ENOPE" "--max-held-bytes lots" "--max-held-requests -1"; do
    # shellcheck disable=SC2086
    rc=$(ctl_rc --socket "$T/nowhere.sock" set-policy $args)
    ((rc == 2)) || fail "set-policy $args: status $rc, expected 2"
    grep -qF "set-policy: ${args%% *}: " "$T/ctl.err" || fail "message: $(cat "$T/ctl.err")"
done
rc=$(ctl_rc set-policy)
((rc == 2)) && grep -q 'nothing to change' "$T/ctl.err" || fail "no option: $rc $(cat "$T/ctl.err")"
# What the daemon refuses: status 1, its message, nothing changed.
rc=$(ctl_rc set-policy --retry-max-interval 1ms)
((rc == 1)) || fail "a ceiling below the interval: status $rc"
grep -q 'retry-max-interval must not be shorter than retry-interval' "$T/ctl.err" ||
    fail "message: $(cat "$T/ctl.err")"
rc=$(ctl_rc set-policy --disk nope --werror report)
((rc == 1)) && grep -q "Disk 'nope' not found (this daemon serves: disk0)" "$T/ctl.err" ||
    fail "unknown disk: $rc $(cat "$T/ctl.err")"
[[ $(policy) == "$before" ]] || fail "a refused change changed the policy: $(policy)"

# An outage with no timeout: two writes held for good ...
fault_on "$T/outage" "write EIO"
timeout 60 qemu-io -f raw "$uri" -c 'aio_write -P 0x41 0 4k' -c 'aio_write -P 0x42 4k 4k' \
    -c aio_flush >"$T/w1.out" 2>&1 &
w=$!
cleanup_add "kill -9 $w"
wait_for 10 eval '(($(ctl query | jq ".[0].held") == 2))' || fail "not held: $(ctl query)"
sleep 1.5
kill -0 "$w" || fail "the writer finished during the outage"
# ... until the timeout is set to 1 s: both are older, both fail now.
out=$(ctl set-policy --retry-timeout 1s) || fail "set-policy failed"
[[ $out =~ ^disk0:\ rerror=report\ werror=retry\ retry-interval=200ms\ .*\ retry-timeout=1s\ retry-then=report ]] ||
    fail "printed policy: $out"
to=$(ctl_wait_event ev '.event == "DISK_TIMED_OUT"' 5) || fail "no DISK_TIMED_OUT"
json_ok "$to" '.data | .requests == 2 and .state == "healthy" and .held == 0
    and ."duration-ms" >= 1500 and ."last-errno" == "EIO"'
wait_for 5 eval "! kill -0 $w" || fail "the held writes were not failed"
grep -q 'write failed: Input/output error' "$T/w1.out" || fail "writer: $(cat "$T/w1.out")"
json_ok "$(policy)" '."retry-timeout-ms" == 1000 and .werror == "retry"
    and ."retry-interval-ms" == 200 and .rerror == "report"'

# Forever again, and a second outage given up by a change of action.
ctl set-policy --retry-timeout 0 >/dev/null || fail "set-policy --retry-timeout 0"
timeout 60 qemu-io -f raw "$uri" -c 'write -P 0x43 8k 4k' >"$T/w2.out" 2>&1 &
w=$!
cleanup_add "kill -9 $w"
ctl_wait_event ev '.event == "DISK_HUNG"' >/dev/null || fail "no second DISK_HUNG"
out=$(ctl set-policy --werror report) || fail "set-policy --werror report"
[[ $out == *" werror=report "* && $out == *" retry-timeout=0s "* ]] || fail "printed: $out"
fh=$(ctl_wait_event ev '.event == "DISK_FAILED_HELD"' 5) || fail "no DISK_FAILED_HELD"
json_ok "$fh" '.data | .requests == 1 and .state == "healthy"'
wait_for 5 eval "! kill -0 $w" || fail "the held write was not failed"
grep -q 'write failed: Input/output error' "$T/w2.out" || fail "writer: $(cat "$T/w2.out")"
[[ $(ctl_event_names ev | tr ' ' '\n' | grep -v BLOCK_IO_ERROR | tr '\n' ' ') == \
   "DISK_HUNG DISK_TIMED_OUT DISK_HUNG DISK_FAILED_HELD " ]] || fail "events: $(ctl_event_names ev)"
fault_off "$T/outage"
stop_steadyblk sb
