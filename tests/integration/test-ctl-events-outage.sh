#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# An outage followed through `steadyblkctl events`: with --json, the exact
# sequence (BLOCK_IO_ERROR, DISK_HUNG, rate-limited BLOCK_IO_ERRORs,
# DISK_RECOVERED) with the right counts; without, one readable line per
# event in local time.  SIGINT and SIGTERM stop the followers with status 0.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/management.sh"
requires socat jq qemu-io

make_image "$T/disk.img" 16M
uri=$(sb_uri "$T/s.sock")
start_steadyblk sb --werror retry --retry-interval 100ms --retry-max-interval 200ms \
    --fault-file "$T/outage" --qmp "$T/qmp.sock" --export "$uri" "$T/disk.img"
ctl_follow json --json
ctl_follow text

fault_on "$T/outage" "write EIO"
timeout 60 qemu-io -f raw "$uri" -c 'aio_write -P 0x31 0 64k' -c 'aio_write -P 0x32 64k 64k' \
    -c 'aio_write -P 0x33 128k 64k' -c aio_flush >"$T/w.out" 2>&1 &
w=$!
cleanup_add "kill -9 $w"
held() { ctl query | jq '.[0].held'; }
wait_for 10 eval '(($(held) == 3))' || fail "not 3 held: $(ctl query)"
sleep 1.2 # long enough for a second BLOCK_IO_ERROR (one per second)
fault_off "$T/outage"
rec=$(ctl_wait_event json '.event == "DISK_RECOVERED"') || fail "no DISK_RECOVERED"
wait "$w" || fail "qemu-io failed: $(cat "$T/w.out")"
grep -qiE 'error|failed' "$T/w.out" && fail "qemu-io saw an error: $(cat "$T/w.out")"

# The exact sequence: the first error, the hang, more errors (at most one a
# second), the recovery; nothing else, nothing twice.
names=$(ctl_event_names json)
info "$names"
[[ $names =~ ^BLOCK_IO_ERROR\ DISK_HUNG\ (BLOCK_IO_ERROR\ )+DISK_RECOVERED\ $ ]] ||
    fail "sequence: $names"
hung=$(ctl_wait_event json '.event == "DISK_HUNG"')
json_ok "$hung" '.data | .disk == "disk0" and .state == "hung" and .held >= 1
    and ."last-errno" == "EIO" and .retries == 0'
json_ok "$rec" '.data | .state == "healthy" and .held == 0 and ."held-bytes" == 0
    and .requests == 3 and .retries >= 1 and ."duration-ms" >= 1000 and ."last-errno" == "EIO"'
n=$(grep -c BLOCK_IO_ERROR "$T/ev-json.out")
ms=$(jq '.data."duration-ms"' <<<"$rec")
((n <= ms / 1000 + 2)) || fail "$n BLOCK_IO_ERROR events in $ms ms: not rate-limited"
# --json prints the daemon's own lines: timestamps, data, all of it.
json_ok "$hung" '.timestamp.seconds > 0 and (.timestamp | has("microseconds"))'

# The readable stream: the same events, one line each, local time first.
wait_for 5 grep -q DISK_RECOVERED "$T/ev-text.out" || fail "text: $(cat "$T/ev-text.out")"
[[ $(wc -l <"$T/ev-text.out") == $(wc -l <"$T/ev-json.out") ]] ||
    fail "text and json differ: $(cat "$T/ev-text.out")"
line=$(grep ' DISK_HUNG: ' "$T/ev-text.out")
when=$(date -d "@$(jq '.timestamp.seconds' <<<"$hung")" '+%Y-%m-%d %H:%M:%S')
[[ $line =~ ^$when\.[0-9]{3}\ disk0\ DISK_HUNG:\ holding\ [0-9]+\ requests?\ \([0-9]+K\),\ last\ error\ EIO$ ]] ||
    fail "hung line: $line (expected at $when)"
line=$(grep ' DISK_RECOVERED: ' "$T/ev-text.out")
[[ $line =~ disk0\ DISK_RECOVERED:\ recovered\ after\ [0-9.]+s:\ 3\ held\ requests\ completed,\ [0-9]+\ retr ]] ||
    fail "recovered line: $line"
line=$(grep -m1 ' BLOCK_IO_ERROR: ' "$T/ev-text.out")
[[ $line =~ disk0\ BLOCK_IO_ERROR:\ write\ error:\ Input/output\ error\ \(action\ retry\)$ ]] ||
    fail "I/O error line: $line"

ctl_stop json INT
((CTL_RC == 0)) || fail "events --json exited with $CTL_RC on SIGINT"
ctl_stop text TERM
((CTL_RC == 0)) || fail "events exited with $CTL_RC on SIGTERM"
stop_steadyblk sb
