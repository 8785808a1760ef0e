#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The NBD backend: a server that is slow, not dead.  nbdkit's delay filter
# takes 3 s per write, longer than --backend-timeout 1s.  By default
# (--backend-timeout-action wait) steadyblk keeps waiting on the live
# connection: the write completes successfully, reaches the server exactly
# once, on the one connection steadyblk ever made; the slow request is
# logged and counted (query-disks "slow-requests"), and nothing is torn
# down or reconnected.  Abandoning the connection instead would leave the
# write in doubt at a server that may still execute it after the retry.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/nbd-backend.sh"
requires socat jq

make_image "$T/disk.img" 16M
start_nbdkit nk "$T/be.sock" --filter=log --filter=delay file "$T/disk.img" wdelay=3 \
    logfile="$T/requests.log"
# With the old behaviour the write would time out, be re-sent on a new
# connection, time out again ... until --retry-timeout fails it.
start_sb_nbd --werror retry --rerror retry --retry-interval 200ms --retry-timeout 6s \
    --backend-timeout 1s --qmp "$T/qmp.sock"

t0=$(now_ms)
qemu_io_ok "$uri" 'write -P 0x5a 1M 64k'
elapsed=$(($(now_ms) - t0))
info "the 3 s write took ${elapsed} ms"
((elapsed >= 2800)) || fail "the write did not wait for the slow server (${elapsed} ms)"
((elapsed < 6000)) || fail "the write took ${elapsed} ms: more than one attempt?"

writes=$(grep -c 'Write id=[0-9]* offset=0x100000 count=0x10000' "$T/requests.log" || true)
((writes == 1)) || fail "the server received the write $writes times, not once"
conns=$(grep -c ' Connect export=' "$T/requests.log" || true)
((conns == 1)) || fail "steadyblk connected $conns times to the server, not once"
sb_log_has 'connection lost|reconnect' && { sb_log_show 'backend'; fail "the connection was abandoned"; }
sb_log_has 'a write of 65536 bytes at 1048576 has had no answer for [0-9]+ ms' ||
    fail "the slow request was not logged"
sb_log_has 'the slow write of 65536 bytes at 1048576 completed \(ok\)' ||
    fail "the slow request's completion was not logged"
sb_log_show 'slow|no answer'

state=$(qmp_reply "$T/qmp.sock" '{"execute":"query-disks"}' | jq -c '.return[0].backend.state')
info "backend state: $state"
jq -e '.connection == "up" and .reconnects == 0 and ."request-timeouts" == 0 and
    ."slow-requests" == 1 and ."last-error" == ""' <<<"$state" >/dev/null ||
    fail "query-disks says: $state"

qemu_io_ok "$uri" 'read -P 0x5a 1M 64k'
stop_steadyblk sb
qemu_io_ok "$T/disk.img" 'read -P 0x5a 1M 64k'
