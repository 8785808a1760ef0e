#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The NBD backend's opt-in request timeout (--backend-timeout-action
# reconnect), on a unix socket (no TCP timers to help): nbdkit's pause
# filter holds every request for 5 s, longer than --backend-timeout 2s.
# steadyblk declares the connection dead (ETIMEDOUT), resets it, reconnects
# and re-issues through the error policy, until the server answers again.
# The qemu-io writer sees no error and every block reads back from the
# backend's own file.  (By default a slow request is waited for instead:
# test-nbd-backend-slow-request.sh.)
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/nbd-backend.sh"
requires socat jq

make_image "$T/disk.img" 64M
start_nbdkit nk "$T/be.sock" --filter=pause file "$T/disk.img" pause-control="$T/ctl.sock"
start_sb_nbd --werror retry --rerror retry --retry-interval 200ms --backend-timeout 2s \
    --backend-timeout-action reconnect --qmp "$T/qmp.sock"

qemu_io_writer "$uri" 60
sleep 1
pause_for "$T/ctl.sock" 5
writer_wait
sb_log_has 'connection lost \(ETIMEDOUT\): a request got no answer within 2000 ms' ||
    fail "the backend timeout never fired: the test proved nothing"
sb_log_has 'reconnected' || fail "steadyblk did not log its reconnect"
# query-disks shows the backend's side of it.
state=$(qmp "$T/qmp.sock" '{"execute":"query-disks"}' | jq -c 'select(.return) | .return[0].backend.state')
info "backend state: $state"
jq -e '.connection == "up" and .reconnects >= 1 and ."request-timeouts" >= 1 and
    ."last-error" == ""' <<<"$state" >/dev/null || fail "query-disks says: $state"
stop_steadyblk sb
qemu_io_verify_file "$T/disk.img" 60
