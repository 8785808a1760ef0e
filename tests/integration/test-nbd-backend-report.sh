#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The NBD backend, the negative case that proves the outage tests can fail:
# with werror=report,rerror=report a client writing while the server is
# down gets the error at once.  And without any probe from the core, the
# backend still reconnects by itself once the server is back.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/nbd-backend.sh"

make_image "$T/disk.img" 16M
start_nbdkit nk "$T/be.sock" file "$T/disk.img"
start_sb_nbd --werror report --rerror report

qemu_io_ok "$uri" 'write -P 0xb1 0 64k'
kill_server nk KILL
wait_for 5 sb_log_has 'connection lost' || fail "steadyblk did not notice the server's death"
t0=$(now_ms)
out=$(timeout 60 qemu-io -f raw "$uri" -c 'write -P 0xb2 0 64k' 2>&1) &&
    fail "the write succeeded with the server down: $out"
elapsed=$(($(now_ms) - t0))
info "error after ${elapsed} ms: $out"
grep -q 'write failed' <<<"$out" || fail "expected a failed write, got: $out"
((elapsed < 2000)) || fail "report took ${elapsed} ms: it should be immediate"

start_nbdkit nk "$T/be.sock" file "$T/disk.img"
wait_for 5 sb_log_has 'reconnected' || fail "steadyblk did not reconnect by itself"
qemu_io_ok "$uri" 'read -P 0xb1 0 64k' 'write -P 0xb3 0 64k'
stop_steadyblk sb
qemu_io_ok "$T/disk.img" 'read -P 0xb3 0 64k'
