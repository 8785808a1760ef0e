#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# query-disks describes a disk completely: its state, backend, error policy
# (per operation too), counters that follow real I/O, and its held requests.
. "$(dirname "$0")/functions.sh"
requires socat jq qemu-io

make_image "$T/disk.img" 16M
uri=$(sb_uri "$T/s.sock")
start_steadyblk sb --name data --werror retry --retry-interval 250ms --retry-timeout 1m \
    --qmp "$T/qmp.sock" --export "$uri" "$T/disk.img"

d=$(qmp_reply "$T/qmp.sock" '{"execute":"query-disks"}' | jq -c '.return[0]')
json_ok "$d" '.name == "data" and .state == "healthy"'
json_ok "$d" '(.backend.name | endswith("disk.img")) and .backend.connected == true'
json_ok "$d" '.policy | .rerror == "report" and .werror == "retry"'
json_ok "$d" '.policy.actions == {"read": "report", "write": "retry", "flush": "retry",
    "trim": "retry", "write-zeroes": "retry", "block-status": "report",
    "cache": "report"}'
json_ok "$d" '.policy | ."retry-interval-ms" == 250 and ."retry-timeout-ms" == 60000
    and ."retry-then" == "report" and (."retry-errors" | index("EIO") != null)
    and ."max-held-requests" > 0 and ."max-held-bytes" > 0'
json_ok "$d" '.counters | .requests.total == 0 and .errors == 0 and .hangs == 0
    and ."last-errno" == null and ."hang-time-ms" == 0'
json_ok "$d" '.held == 0 and ."held-bytes" == 0 and ."oldest-held-age-ms" == 0 and .inflight == 0'
json_ok "$d" '."hang-age-ms" == 0 and .counters."errors-by-errno" == {} and .backend.state == null'
json_ok "$d" ".exports == [{\"name\": \"\", \"uri\": \"$uri\", \"read-only\": false,
    \"clients\": []}] and .clients == 0"

qemu_io_ok "$uri" 'write -P 0x5a 0 64k' 'read -P 0x5a 0 64k'
d=$(qmp_reply "$T/qmp.sock" '{"execute":"query-disks"}' | jq -c '.return[0]')
json_ok "$d" '.counters.requests.write >= 1 and .counters.bytes.write >= 65536'
json_ok "$d" '.counters.requests.read >= 1 and .counters.bytes.read >= 65536'
json_ok "$d" '.counters.requests.total >= 2 and .counters.errors == 0'
stop_steadyblk sb
