#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# steadyblkctl status: the table of disks, healthy and then during an
# outage (state and hang age, held requests and bytes, oldest age, retries,
# errors, last error, backend connection, clients), from --socket or from
# $STEADYBLK_QMP.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/management.sh"
requires socat jq qemu-io

make_image "$T/disk.img" 16M
uri=$(sb_uri "$T/s.sock")
start_steadyblk sb --name data --werror retry --retry-interval 100ms \
    --retry-max-interval 200ms --fault-file "$T/outage" --qmp "$T/qmp.sock" \
    --export "$uri" "$T/disk.img"

out=$(ctl status) || fail "status failed"
info "$out"
[[ $(head -1 <<<"$out") =~ ^DISK\ +STATE\ +HELD\ +BYTES\ +OLDEST\ +RETRIES\ +ERRORS\ +LAST-ERROR\ +BACKEND\ +CLIENTS$ ]] ||
    fail "header: $(head -1 <<<"$out")"
read -r -a row <<<"$(sed -n 2p <<<"$out")"
[[ "${row[*]}" == "data healthy 0 0 - 0 0 - fault connected 0" ]] || fail "healthy row: ${row[*]}"
[[ $(wc -l <<<"$out") == 2 ]] || fail "one disk, one row: $out"

# The same through the environment.
out2=$(STEADYBLK_QMP=$T/qmp.sock timeout 30 "$STEADYBLKCTL" status) || fail "status via STEADYBLK_QMP"
[[ $out2 == "$out" ]] || fail "STEADYBLK_QMP gave another table: $out2"

# An outage: two 64 KiB writes held (the second queued behind the first).
fault_on "$T/outage" "write EIO"
timeout 60 qemu-io -f raw "$uri" -c 'aio_write -P 0x11 0 64k' -c 'aio_write -P 0x12 1M 64k' \
    -c aio_flush >"$T/w.out" 2>&1 &
w=$!
cleanup_add "kill -9 $w"
wait_for 10 eval '[[ $(ctl status | awk "NR == 2 { print \$4 }") == 2 ]]' ||
    fail "the writes were not held: $(ctl status)"
sleep 1
out=$(ctl status)
info "$out"
read -r -a row <<<"$(sed -n 2p <<<"$out")"
# data hung 1.1s 2 128K 1.1s RETRIES ERRORS EIO fault connected 1
[[ ${row[0]} == data && ${row[1]} == hung && ${row[2]} =~ ^1\.[0-9]s$ ]] || fail "state: ${row[*]}"
[[ ${row[3]} == 2 && ${row[4]} == 128K && ${row[5]} =~ ^1\.[0-9]s$ ]] || fail "held: ${row[*]}"
((row[6] >= 2 && row[7] >= 3)) || fail "retries and errors: ${row[*]}"
[[ "${row[*]:8}" == "EIO fault connected 1" ]] || fail "last error, backend, clients: ${row[*]}"

fault_off "$T/outage"
wait_for 20 eval "! kill -0 $w" || fail "the writer did not finish after the outage"
wait "$w" || fail "qemu-io failed: $(cat "$T/w.out")"
read -r -a row <<<"$(ctl status | sed -n 2p)"
# data healthy 0 0 - RETRIES ERRORS EIO fault connected 0 (no hang age now)
[[ ${row[1]} == healthy && ${row[2]} == 0 && ${row[3]} == 0 && ${row[4]} == - ]] ||
    fail "after the outage: ${row[*]}"
[[ ${row[7]} == EIO ]] || fail "the last error is remembered: ${row[*]}"
stop_steadyblk sb
