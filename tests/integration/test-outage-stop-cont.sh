#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# werror=stop: a failed write stops the disk; nothing is retried even after
# the backend is back, until a management `cont` re-issues it.
. "$(dirname "$0")/functions.sh"
requires qemu-io socat jq

start_sb_faulty 16M --werror stop --rerror report --qmp "$T/qmp.sock"

fault_on "$T/fault" "write EIO"
sleep 0.3
qemu_io_bg "$T/w.out" "$uri" 'write -P 0xd1 0 64k'
w=$QEMU_IO_PID
wait_for 10 grep -q 'stopped after' "$T/sb.log" || fail "the disk did not stop"
out=$(qmp "$T/qmp.sock" '{"execute":"query-disks"}')
state=$(jq -r 'select(.return | type == "array") | .return[0].state' <<<"$out")
[[ $state == stopped ]] || fail "query-disks says '$state', not stopped"

fault_off "$T/fault"
sleep 1.5
kill -0 "$w" 2>/dev/null || fail "the write completed while the disk was stopped: $(cat "$T/w.out")"

out=$(qmp "$T/qmp.sock" '{"execute":"cont","arguments":{"disk":"disk0"}}')
(($(jq -s 'map(select(.return)) | length' <<<"$out") == 2)) || fail "cont was refused: $out"
wait_for 10 eval "! kill -0 $w" || fail "the write did not complete after cont"
rc=0
wait "$w" || rc=$?
((rc == 0)) || fail "qemu-io failed after cont: $(cat "$T/w.out")"
grep -qiE 'error|failed' "$T/w.out" && fail "qemu-io saw an error: $(cat "$T/w.out")"
qemu_io_ok "$uri" 'read -P 0xd1 0 64k'
stop_steadyblk sb
