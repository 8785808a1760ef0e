#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# steadyblkctl fail-held: gives up on an outage; it says how many held
# requests were failed, their client gets the backend's error, the disk
# serves again; on a healthy disk it fails nothing.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/management.sh"
requires socat jq qemu-io

make_image "$T/disk.img" 16M
uri=$(sb_uri "$T/s.sock")
start_steadyblk sb --name vm1 --werror retry --retry-interval 100ms --fault-file "$T/outage" \
    --qmp "$T/qmp.sock" --export "$uri" "$T/disk.img"
ctl_follow ev --json

out=$(ctl fail-held) || fail "fail-held on a healthy disk failed"
[[ $out == "vm1: 0 held requests failed" ]] || fail "said: $out"

fault_on "$T/outage" "write ETIMEDOUT"
timeout 60 qemu-io -f raw "$uri" -c 'aio_write -P 0x61 0 4k' -c 'aio_write -P 0x62 4k 4k' \
    -c aio_flush >"$T/w.out" 2>&1 &
w=$!
cleanup_add "kill -9 $w"
wait_for 10 eval '(($(ctl query | jq ".[0].held") == 2))' || fail "not held: $(ctl query)"

out=$(ctl fail-held --disk vm1) || fail "fail-held failed"
[[ $out == "vm1: 2 held requests failed" ]] || fail "said: $out"
fh=$(ctl_wait_event ev '.event == "DISK_FAILED_HELD"') || fail "no DISK_FAILED_HELD"
json_ok "$fh" '.data | .disk == "vm1" and .requests == 2 and .held == 0 and .state == "healthy"
    and ."last-errno" == "ETIMEDOUT"'
wait_for 10 eval "! kill -0 $w" || fail "the writer is still held"
[[ $(grep -c 'aio_write failed: Input/output error' "$T/w.out") == 2 ]] ||
    fail "the writes did not fail (ETIMEDOUT is EIO on the NBD wire): $(cat "$T/w.out")"

fault_off "$T/outage"
qemu_io_ok "$uri" 'write -P 0x63 0 4k' 'read -P 0x63 0 4k'
[[ $(ctl status | awk 'NR == 2 { print $2 }') == healthy ]] || fail "status: $(ctl status)"
stop_steadyblk sb
