#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# steadyblkctl cont: a disk stopped by --werror stop stays stopped after the
# storage is back, until `cont` resumes it (status 0, "resumed"); the held
# write then lands.  cont on a disk that is not stopped is the daemon's
# error: status 1 and its message.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/management.sh"
requires socat jq qemu-io

make_image "$T/disk.img" 16M
uri=$(sb_uri "$T/s.sock")
start_steadyblk sb --werror stop --fault-file "$T/outage" --qmp "$T/qmp.sock" \
    --export "$uri" "$T/disk.img"
ctl_follow ev --json

rc=$(ctl_rc cont)
((rc == 1)) || fail "cont on a healthy disk: status $rc"
grep -q "disk 'disk0' is not stopped (it is healthy)" "$T/ctl.err" || fail "message: $(cat "$T/ctl.err")"

fault_on "$T/outage" "write ENOSPC"
timeout 60 qemu-io -f raw "$uri" -c 'write -P 0x51 2M 64k' >"$T/w.out" 2>&1 &
w=$!
cleanup_add "kill -9 $w"
ctl_wait_event ev '.event == "DISK_STOPPED"' >/dev/null || fail "no DISK_STOPPED"
fault_off "$T/outage"
sleep 0.5
kill -0 "$w" 2>/dev/null || fail "the write completed while stopped"
[[ $(ctl status | awk 'NR == 2 { print $2 }') == stopped ]] || fail "status: $(ctl status)"

out=$(ctl cont) || fail "cont failed: $out"
[[ $out == "disk0: resumed, re-issuing 1 held requests" ]] || fail "cont said: $out"
rec=$(ctl_wait_event ev '.event == "DISK_RECOVERED"') || fail "no DISK_RECOVERED"
json_ok "$rec" '.data.requests == 1'
[[ $(ctl_event_names ev | tr ' ' '\n' | grep -v BLOCK_IO_ERROR | tr '\n' ' ') == \
   "DISK_STOPPED DISK_RESUMED DISK_RECOVERED " ]] || fail "events: $(ctl_event_names ev)"
wait_for 20 eval "! kill -0 $w" || fail "the write did not complete after cont"
wait "$w" || fail "qemu-io failed: $(cat "$T/w.out")"
qemu_io_ok "$uri" 'read -P 0x51 2M 64k'
stop_steadyblk sb
