#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# steadyblkctl retry-now: with a 30 s retry interval, a disk in an outage
# whose storage is back recovers at once when told, not at the next probe; on a healthy
# disk there is nothing to probe; on a stopped one it is the daemon's error
# (status 1, pointing at cont).
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/management.sh"
requires socat jq qemu-io

make_image "$T/disk.img" 16M
uri=$(sb_uri "$T/s.sock")
start_steadyblk sb --werror retry --retry-interval 30s --fault-file "$T/outage" \
    --qmp "$T/qmp.sock" --export "$uri" "$T/disk.img"
ctl_follow ev --json

out=$(ctl retry-now) || fail "retry-now on a healthy disk failed"
[[ $out == "disk0: healthy, nothing to probe" ]] || fail "said: $out"

fault_on "$T/outage" "write EIO"
timeout 60 qemu-io -f raw "$uri" -c 'write -P 0x71 0 4k' >"$T/w.out" 2>&1 &
w=$!
cleanup_add "kill -9 $w"
ctl_wait_event ev '.event == "DISK_HUNG"' >/dev/null || fail "no DISK_HUNG"
# The first failures are probed within milliseconds (a flaky path?); from
# eight in a row (~0.3 s) it is an outage, probed once per 30 s tick.
sleep 1.5
fault_off "$T/outage"
sleep 0.5
kill -0 "$w" || fail "the write completed before the next probe: the test proves nothing"
t0=$(now_ms)
out=$(ctl retry-now) || fail "retry-now failed"
[[ $out == "disk0: probing now" ]] || fail "said: $out"
ctl_wait_event ev '.event == "DISK_RECOVERED"' 5 >/dev/null || fail "no DISK_RECOVERED"
wait "$w" || fail "qemu-io failed: $(cat "$T/w.out")"
(($(now_ms) - t0 < 5000)) || fail "recovery took $(($(now_ms) - t0)) ms after retry-now"

# Stopped: retry-now is refused, with the way out in the message.
ctl set-policy --werror stop >/dev/null || fail "set-policy --werror stop"
fault_on "$T/outage" "write EIO"
timeout 60 qemu-io -f raw "$uri" -c 'write -P 0x72 0 4k' >"$T/w2.out" 2>&1 &
w=$!
cleanup_add "kill -9 $w"
ctl_wait_event ev '.event == "DISK_STOPPED"' >/dev/null || fail "no DISK_STOPPED"
rc=$(ctl_rc retry-now)
((rc == 1)) && grep -q "disk 'disk0' is stopped: use cont to resume it" "$T/ctl.err" ||
    fail "retry-now on a stopped disk: $rc $(cat "$T/ctl.err")"
fault_off "$T/outage"
ctl cont >/dev/null || fail "cont failed"
wait "$w" || fail "qemu-io failed: $(cat "$T/w2.out")"
stop_steadyblk sb
