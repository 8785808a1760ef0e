#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# BLOCK_IO_ERROR is rate-limited per disk (one a second, like QEMU's) but
# never at the cost of a state event: five hangs, each given up at once,
# within a second or so, give all ten state events in order and a single
# BLOCK_IO_ERROR per second.
. "$(dirname "$0")/functions.sh"
requires socat jq qemu-io

start_sb_qmp_faulty 16M --werror retry --retry-interval 10s
qmp_open a "$T/qmp.sock"
qmp_send a '{"execute":"fault-set","arguments":{"op":"write"},"id":"on"}'
qmp_wait a '.id == "on"' >/dev/null || fail "fault-set failed"

# One client, five writes one after the other: each is held, then failed.
timeout 60 qemu-io -f raw -t unsafe "$uri" -c 'write 0 4k' -c 'write 4k 4k' -c 'write 8k 4k' \
    -c 'write 12k 4k' -c 'write 16k 4k' >"$T/w.out" 2>&1 &
w=$!
cleanup_add "kill -9 $w"
for i in 1 2 3 4 5; do
    wait_for 10 eval "(( \$(qmp_events a | grep -c DISK_HUNG) == $i ))" || fail "no hang $i"
    qmp_send a "{\"execute\":\"fail-held\",\"id\":$i}"
    qmp_wait a ".id == $i and .return.failed == 1" >/dev/null || fail "fail-held $i"
done
wait "$w" || true
[[ $(grep -c 'write failed' "$T/w.out") == 5 ]] || fail "writer: $(cat "$T/w.out")"

states=$(qmp_events a | grep -v BLOCK_IO_ERROR | tr '\n' ' ')
[[ $states == "$(printf 'DISK_HUNG DISK_FAILED_HELD %.0s' 1 2 3 4 5)" ]] || fail "state events: $states"
# BLOCK_IO_ERRORs: at most one a second over the span of the events.
span_s=$(jq -s '(.[-1].timestamp.seconds - .[0].timestamp.seconds)' <(jq -c 'select(.event)' "$T/qmp-a.out"))
n=$(qmp_events a | grep -c BLOCK_IO_ERROR)
((n >= 1 && n <= span_s + 1)) || fail "$n BLOCK_IO_ERROR events over ${span_s}s"
info "5 hangs over ${span_s}s: $n BLOCK_IO_ERROR"
stop_steadyblk sb
