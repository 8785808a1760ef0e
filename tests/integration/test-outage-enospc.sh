#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# werror=enospc: ENOSPC stops the disk and holds the write until `cont`; any
# other error (EIO) is reported to the client at once.
. "$(dirname "$0")/functions.sh"
requires qemu-io socat jq

make_image "$T/disk.img" 16M
uri=$(sb_uri "$T/s.sock")
start_steadyblk sb --werror enospc --rerror report --fault-file "$T/fault" \
    --qmp "$T/qmp.sock" --export "$uri" "$T/disk.img"

# EIO: reported, not held.
fault_on "$T/fault" "write EIO"
sleep 0.3
out=$(timeout 60 qemu-io -f raw "$uri" -c 'write -P 0xe1 0 64k' 2>&1) &&
    fail "the write succeeded during an EIO outage: $out"
grep -q 'Input/output error' <<<"$out" || fail "expected EIO, got: $out"

# ENOSPC: the disk stops and the write waits.
fault_on "$T/fault" "write ENOSPC"
sleep 0.3
qemu_io_bg "$T/w.out" "$uri" 'write -P 0xe2 0 64k'
wait_for 10 grep -q 'stopped after backend error ENOSPC' "$T/sb.log" ||
    fail "ENOSPC did not stop the disk"
out=$(qmp "$T/qmp.sock" '{"execute":"query-disks"}')
state=$(jq -r 'select(.return | type == "array") | .return[0].state' <<<"$out")
[[ $state == stopped ]] || fail "query-disks says '$state', not stopped"
fault_off "$T/fault"
sleep 1
kill -0 "$QEMU_IO_PID" 2>/dev/null || fail "the write completed while stopped: $(cat "$T/w.out")"

qmp "$T/qmp.sock" '{"execute":"cont"}' >/dev/null
wait_for 10 eval "! kill -0 $QEMU_IO_PID" || fail "the write did not complete after cont"
rc=0
wait "$QEMU_IO_PID" || rc=$?
((rc == 0)) || fail "qemu-io failed after cont: $(cat "$T/w.out")"
qemu_io_ok "$uri" 'read -P 0xe2 0 64k'
stop_steadyblk sb
