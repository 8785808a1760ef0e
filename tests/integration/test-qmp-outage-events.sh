#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# An outage seen through QMP: a qemu-io writer is held while the fault filter
# fails writes; the events come in order, DISK_HUNG then DISK_RECOVERED, with
# the right counts, plus a QEMU-style BLOCK_IO_ERROR; query-disks shows the
# held requests meanwhile; the data lands.
. "$(dirname "$0")/functions.sh"
requires socat jq qemu-io

start_sb_qmp_faulty 16M --werror retry --retry-interval 100ms --retry-max-interval 200ms
qmp_open a "$T/qmp.sock"

qmp_send a '{"execute":"fault-set","arguments":{"op":"write","errno":"EIO"},"id":"on"}'
qmp_wait a '.id == "on" and .return == {}' >/dev/null || fail "fault-set failed"

timeout 60 qemu-io -f raw "$uri" -c 'aio_write -P 0xa1 0 64k' -c 'aio_write -P 0xa2 64k 64k' \
    -c 'aio_write -P 0xa3 128k 64k' -c 'aio_flush' >"$T/w.out" 2>&1 &
w=$!
cleanup_add "kill -9 $w"

hung=$(qmp_wait a '.event == "DISK_HUNG"') || fail "no DISK_HUNG"
json_ok "$hung" '.data | .disk == "disk0" and .state == "hung" and .held >= 1
    and ."last-errno" == "EIO"'
json_ok "$hung" '.timestamp.seconds > 0 and .timestamp.microseconds >= 0'
ioerr=$(qmp_wait a '.event == "BLOCK_IO_ERROR"') || fail "no BLOCK_IO_ERROR"
json_ok "$ioerr" '.data | .device == "disk0" and .operation == "write" and .action == "retry"
    and .nospace == false and .reason == "Input/output error"'

# All three writes end up held, none completes.
held() { qmp_reply "$T/qmp.sock" '{"execute":"query-disks"}' | jq -c '.return[0]'; }
wait_for 10 eval '[[ $(held | jq .held) == 3 ]]' || fail "not 3 held: $(held)"
sleep 0.5
d=$(held)
json_ok "$d" '.state == "hung" and .held == 3 and ."held-bytes" == 196608
    and ."oldest-held-age-ms" >= 400 and .counters.retries >= 1 and .counters.hangs == 1'
kill -0 "$w" 2>/dev/null || fail "the writer finished during the outage: $(cat "$T/w.out")"

qmp_send a '{"execute":"fault-clear","id":"off"}'
rec=$(qmp_wait a '.event == "DISK_RECOVERED"') || fail "no DISK_RECOVERED"
json_ok "$rec" '.data | .state == "healthy" and .held == 0 and .requests == 3
    and ."duration-ms" >= 500 and .retries >= 1 and ."last-errno" == "EIO"'

wait_for 20 eval "! kill -0 $w" || fail "the writer did not finish after the outage"
rc=0
wait "$w" || rc=$?
((rc == 0)) || fail "qemu-io failed: $(cat "$T/w.out")"
grep -qiE 'error|failed' "$T/w.out" && fail "qemu-io saw an error: $(cat "$T/w.out")"
qemu_io_ok "$uri" 'read -P 0xa1 0 64k' 'read -P 0xa2 64k 64k' 'read -P 0xa3 128k 64k'

order=$(qmp_events a | grep -v BLOCK_IO_ERROR | tr '\n' ' ')
[[ $order == "DISK_HUNG DISK_RECOVERED " ]] || fail "events: $order"
# One BLOCK_IO_ERROR a second at most, though every probe failed.
n=$(qmp_events a | grep -c BLOCK_IO_ERROR)
ms=$(jq '.data."duration-ms"' <<<"$rec")
((n <= ms / 1000 + 2)) || fail "$n BLOCK_IO_ERROR events in $ms ms"
d=$(held)
json_ok "$d" '.state == "healthy" and .counters.hangs == 1 and .counters."hang-time-ms" >= 500'
stop_steadyblk sb
