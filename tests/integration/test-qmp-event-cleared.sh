#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# DISK_CLEARED: a hang that ends with no request recovered is still an
# event.  The client of a held write goes away: its request is dropped
# (never re-issued), the disk is healthy again and says so; the next failure
# is a new hang.  A stopped disk whose client went away, given up with
# fail-held (nothing left to fail), says so too.
. "$(dirname "$0")/functions.sh"
requires socat jq qemu-io

start_sb_qmp_faulty 16M --werror retry --retry-interval 100ms
qmp_open a "$T/qmp.sock"
disk() { qmp_reply "$T/qmp.sock" '{"execute":"query-disks"}' | jq -c '.return[0]'; }

qmp_send a '{"execute":"fault-set","arguments":{"op":"write"},"id":"on"}'
qmp_wait a '.id == "on"' >/dev/null || fail "fault-set failed"
qemu-io -f raw "$uri" -c 'aio_write -P 0xa1 0 4k' -c 'aio_write -P 0xa2 4k 4k' -c 'sleep 60000' \
    >/dev/null 2>&1 &
w=$!
cleanup_add "kill -9 $w"
wait_for 10 eval '(($(disk | jq .held) == 2))' || fail "not held: $(disk)"
kill -9 "$w"
cl=$(qmp_wait a '.event == "DISK_CLEARED"') || fail "no DISK_CLEARED: $(qmp_events a | tr '\n' ' ')"
json_ok "$cl" '.data | .state == "healthy" and .held == 0 and .requests == 2
    and ."duration-ms" >= 0 and ."last-errno" == "EIO"'
json_ok "$(disk)" '.state == "healthy" and .held == 0 and .counters.hangs == 1'

# The outage goes on: the next write is a new hang.
timeout 60 qemu-io -f raw "$uri" -c 'write -P 0xa3 8k 4k' >"$T/w2.out" 2>&1 &
w2=$!
cleanup_add "kill -9 $w2"
wait_for 10 eval '(($(qmp_events a | grep -c DISK_HUNG) == 2))' || fail "no second DISK_HUNG"
qmp_send a '{"execute":"fault-clear","id":"off"}'
qmp_wait a '.event == "DISK_RECOVERED"' >/dev/null || fail "no DISK_RECOVERED"
wait "$w2" || fail "qemu-io failed: $(cat "$T/w2.out")"

# Stopped, its client gone, then given up: nothing to fail, the stop ends.
qmp_send a '{"execute":"set-error-policy","arguments":{"werror":"stop"},"id":"stop"}'
qmp_wait a '.id == "stop" and .return == {}' >/dev/null || fail "set-error-policy failed"
qmp_send a '{"execute":"fault-set","arguments":{"op":"write"},"id":"on2"}'
qmp_wait a '.id == "on2"' >/dev/null || fail "fault-set failed"
qemu-io -f raw "$uri" -c 'write -P 0xa4 0 4k' >/dev/null 2>&1 &
w3=$!
cleanup_add "kill -9 $w3"
qmp_wait a '.event == "DISK_STOPPED"' >/dev/null || fail "no DISK_STOPPED"
kill -9 "$w3"
wait_for 10 eval '(($(disk | jq .held) == 0))' || fail "the request of the dead client is still held"
json_ok "$(disk)" '.state == "stopped"'
json_ok "$(qmp_reply "$T/qmp.sock" '{"execute":"fail-held"}')" '.return.failed == 0'
wait_for 5 eval '(($(qmp_events a | grep -c DISK_CLEARED) == 2))' || fail "no DISK_CLEARED after fail-held"
json_ok "$(jq -c 'select(.event == "DISK_CLEARED")' "$T/qmp-a.out" | tail -1)" \
    '.data | .state == "healthy" and .requests == 1'
[[ $(qmp_events a | grep -v BLOCK_IO_ERROR | tr '\n' ' ') == \
   "DISK_HUNG DISK_CLEARED DISK_HUNG DISK_RECOVERED DISK_STOPPED DISK_CLEARED " ]] ||
    fail "events: $(qmp_events a | tr '\n' ' ')"
json_ok "$(disk)" '.state == "healthy" and .counters.hangs == 3'
stop_steadyblk sb
