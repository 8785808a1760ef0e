#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# fail-held: the operator gives up on an outage; the held write fails to its
# client with the backend's error, DISK_FAILED_HELD says how many, and the
# disk serves again.
. "$(dirname "$0")/functions.sh"
requires socat jq qemu-io

start_sb_qmp_faulty 16M --werror retry --retry-interval 100ms
qmp_open a "$T/qmp.sock"

qmp_send a '{"execute":"fault-set","arguments":{"op":"write","errno":"ETIMEDOUT"},"id":"on"}'
qmp_wait a '.id == "on"' >/dev/null || fail "fault-set failed"
timeout 60 qemu-io -f raw "$uri" -c 'write -P 0x11 0 4k' >"$T/w.out" 2>&1 &
w=$!
cleanup_add "kill -9 $w"
qmp_wait a '.event == "DISK_HUNG"' >/dev/null || fail "no DISK_HUNG"
json_ok "$(qmp_reply "$T/qmp.sock" '{"execute":"retry-now"}')" '.return == {}'

qmp_send a '{"execute":"fail-held","id":"give-up"}'
json_ok "$(qmp_wait a '.id == "give-up"')" '.return.failed == 1'
json_ok "$(qmp_wait a '.event == "DISK_FAILED_HELD"')" '.data | .requests == 1 and .held == 0'
wait_for 20 eval "! kill -0 $w" || fail "the writer is still held"
wait "$w" || true
grep -q 'write failed' "$T/w.out" || fail "the writer did not see an error: $(cat "$T/w.out")"

qmp_send a '{"execute":"fault-clear"}'
qemu_io_ok "$uri" 'write -P 0x12 0 4k' 'read -P 0x12 0 4k'
json_ok "$(qmp_reply "$T/qmp.sock" '{"execute":"query-disks"}')" '.return[0].state == "healthy"'
stop_steadyblk sb
