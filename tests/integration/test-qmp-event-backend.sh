#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# BACKEND_DISCONNECTED and BACKEND_RECONNECTED: the NBD server behind the
# disk is killed and comes back; each change is one event, and query-disks
# follows (backend.connected, the backend's own state with its reconnect
# count); a write issued meanwhile is held and lands after the reconnect.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/nbd-backend.sh"
requires socat jq

make_image "$T/disk.img" 16M
start_nbdkit nk "$T/be.sock" file "$T/disk.img"
uri=$(sb_uri "$T/s.sock")
start_steadyblk sb --werror retry --retry-interval 200ms --retry-max-interval 500ms \
    --qmp "$T/qmp.sock" --export "$uri" "$(sb_uri "$T/be.sock")"
qmp_open a "$T/qmp.sock"
backend() { qmp_reply "$T/qmp.sock" '{"execute":"query-disks"}' | jq -c '.return[0].backend'; }
json_ok "$(backend)" '.driver == "nbd" and .connected == true and .state.connection == "up"'

kill_server nk KILL
down=$(qmp_wait a '.event == "BACKEND_DISCONNECTED"') || fail "no BACKEND_DISCONNECTED"
json_ok "$down" '.data | .disk == "disk0" and .state == "healthy" and .held == 0'
json_ok "$(backend)" '.connected == false and .state.connection != "up"'

# A write while it is down is held, not failed.
timeout 60 qemu-io -f raw "$uri" -c 'write -P 0xb1 0 64k' >"$T/w.out" 2>&1 &
w=$!
cleanup_add "kill -9 $w"
qmp_wait a '.event == "DISK_HUNG"' >/dev/null || fail "no DISK_HUNG"

start_nbdkit nk "$T/be.sock" file "$T/disk.img"
up=$(qmp_wait a '.event == "BACKEND_RECONNECTED"' 20) || fail "no BACKEND_RECONNECTED"
json_ok "$up" '.data | .disk == "disk0"'
qmp_wait a '.event == "DISK_RECOVERED"' 20 >/dev/null || fail "no DISK_RECOVERED"
wait "$w" || fail "qemu-io failed: $(cat "$T/w.out")"
grep -qiE 'error|failed' "$T/w.out" && fail "the writer saw an error: $(cat "$T/w.out")"
json_ok "$(backend)" '.connected == true and .state.connection == "up" and .state.reconnects >= 1'

# One event per change, in order: down, hung, up, recovered.
[[ $(qmp_events a | grep -v BLOCK_IO_ERROR | tr '\n' ' ') == \
   "BACKEND_DISCONNECTED DISK_HUNG BACKEND_RECONNECTED DISK_RECOVERED " ]] ||
    fail "events: $(qmp_events a | tr '\n' ' ')"
qemu_io_ok "$uri" 'read -P 0xb1 0 64k'
stop_steadyblk sb
