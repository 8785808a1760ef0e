#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# werror=stop seen through QMP: DISK_STOPPED (and BLOCK_IO_ERROR with
# nospace for ENOSPC), query-disks says stopped, retry-now is refused, and
# nothing moves until `cont`: then DISK_RESUMED and DISK_RECOVERED, in order.
. "$(dirname "$0")/functions.sh"
requires socat jq qemu-io

start_sb_qmp_faulty 16M --werror stop
qmp_open a "$T/qmp.sock"

json_ok "$(qmp_reply "$T/qmp.sock" '{"execute":"cont"}')" '.error.class == "GenericError"'
qmp_send a '{"execute":"fault-set","arguments":{"op":"write","errno":"ENOSPC"},"id":"on"}'
qmp_wait a '.id == "on"' >/dev/null || fail "fault-set failed"
timeout 60 qemu-io -f raw "$uri" -c 'write -P 0x77 1M 64k' >"$T/w.out" 2>&1 &
w=$!
cleanup_add "kill -9 $w"

st=$(qmp_wait a '.event == "DISK_STOPPED"') || fail "no DISK_STOPPED"
json_ok "$st" '.data | .state == "stopped" and .held == 1 and ."held-bytes" == 65536
    and ."last-errno" == "ENOSPC"'
json_ok "$(qmp_wait a '.event == "BLOCK_IO_ERROR"')" '.data | .nospace and .action == "stop"'
json_ok "$(qmp_reply "$T/qmp.sock" '{"execute":"query-disks"}')" \
    '.return[0] | .state == "stopped" and .held == 1'
json_ok "$(qmp_reply "$T/qmp.sock" '{"execute":"retry-now"}')" '.error.desc | test("cont")'

qmp_send a '{"execute":"fault-clear","id":"off"}'
sleep 1
kill -0 "$w" 2>/dev/null || fail "the write completed while stopped: $(cat "$T/w.out")"

qmp_send a '{"execute":"cont","arguments":{"disk":"disk0"},"id":"cont"}'
json_ok "$(qmp_wait a '.id == "cont"')" '.return == {}'
json_ok "$(qmp_wait a '.event == "DISK_RECOVERED"')" '.data | .requests == 1 and .state == "healthy"'
order=$(qmp_events a | grep -v BLOCK_IO_ERROR | tr '\n' ' ')
[[ $order == "DISK_STOPPED DISK_RESUMED DISK_RECOVERED " ]] || fail "events: $order"

wait_for 20 eval "! kill -0 $w" || fail "the write did not complete after cont"
wait "$w" || fail "qemu-io failed: $(cat "$T/w.out")"
qemu_io_ok "$uri" 'read -P 0x77 1M 64k'
stop_steadyblk sb
