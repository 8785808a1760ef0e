#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The iSCSI backend with werror=report: while tgtd (the SAN) is down, the
# client sees the error at once (the negative case that proves the SAN tests
# can fail); once the target is back, the session returns by itself.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
. "$here/iscsi-target.sh"
requires qemu-io

start_sb_tgt 16M --werror report --rerror report --backend-timeout 5s
qemu_io_ok "$uri" 'write -P 0x5a 0 64k'

tgt_crash
t0=$(now_ms)
out=$(timeout 60 qemu-io -f raw "$uri" -c 'write -P 0x5b 0 64k' 2>&1) &&
    fail "the write succeeded with the SAN down: $out"
elapsed=$(($(now_ms) - t0))
grep -q 'write failed' <<<"$out" || fail "expected a failed write, got: $out"
((elapsed < 3000)) || fail "report took ${elapsed} ms: it should be immediate"
info "the client saw '$(grep -m1 'write failed' <<<"$out")' after ${elapsed} ms"

tgt_serve "$T/lun.img"
wait_for 15 grep -q 're-established' "$T/sb.log" || fail "no reconnect within 15 s"
qemu_io_ok "$uri" 'read -P 0x5a 0 64k' 'write -P 0x5c 0 64k' 'read -P 0x5c 0 64k'
stop_steadyblk sb
qemu_io_ok "$T/lun.img" 'read -P 0x5c 0 64k'
