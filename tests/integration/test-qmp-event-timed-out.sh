#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# DISK_TIMED_OUT: held requests that pass their --retry-timeout are failed
# to their client and the event says how many; each request's age counts
# from its own hold, so a later one times out later, in an event of its own,
# and the last one ends the hang (state healthy).
. "$(dirname "$0")/functions.sh"
requires socat jq qemu-io

start_sb_qmp_faulty 16M --werror retry --retry-interval 100ms --retry-timeout 2s
qmp_open a "$T/qmp.sock"
held() { qmp_reply "$T/qmp.sock" '{"execute":"query-disks"}' | jq '.return[0].held'; }

qmp_send a '{"execute":"fault-set","arguments":{"op":"write"},"id":"on"}'
qmp_wait a '.id == "on"' >/dev/null || fail "fault-set failed"
# Two writes half a second apart; the flush after them goes out once both
# are done, the disk healthy again.
timeout 60 qemu-io -f raw "$uri" -c 'aio_write -P 0x91 0 4k' -c 'sleep 500' \
    -c 'aio_write -P 0x92 4k 4k' -c aio_flush >"$T/w.out" 2>&1 &
w=$!
cleanup_add "kill -9 $w"
wait_for 10 eval '(($(held) == 2))' || fail "the writes were not held"

first=$(qmp_wait a '.event == "DISK_TIMED_OUT"' 10) || fail "no DISK_TIMED_OUT"
json_ok "$first" '.data | .requests == 1 and .held == 1 and .state == "hung"
    and ."duration-ms" >= 2000 and ."last-errno" == "EIO"'
wait_for 10 eval '(($(qmp_events a | grep -c DISK_TIMED_OUT) == 2))' || fail "no second DISK_TIMED_OUT"
second=$(jq -c 'select(.event == "DISK_TIMED_OUT")' "$T/qmp-a.out" | tail -1)
json_ok "$second" '.data | .requests == 1 and .held == 0 and .state == "healthy"'
# Half a second apart, as the writes were.
gap=$(jq -n --argjson a "$first" --argjson b "$second" \
    '(($b.timestamp.seconds - $a.timestamp.seconds) * 1000000 + $b.timestamp.microseconds - $a.timestamp.microseconds) / 1000 | floor')
((gap >= 300)) || fail "the second request timed out ${gap} ms after the first: its age counted from the first"

wait "$w" || true
[[ $(grep -c 'aio_write failed: Input/output error' "$T/w.out") == 2 ]] ||
    fail "the writer did not see two errors: $(cat "$T/w.out")"
[[ $(qmp_events a | grep -v BLOCK_IO_ERROR | tr '\n' ' ') == "DISK_HUNG DISK_TIMED_OUT DISK_TIMED_OUT " ]] ||
    fail "events: $(qmp_events a | tr '\n' ' ')"
json_ok "$(qmp_reply "$T/qmp.sock" '{"execute":"query-disks"}')" \
    '.return[0] | .state == "healthy" and .counters.timeouts == 2 and .counters.hangs == 1'
stop_steadyblk sb
