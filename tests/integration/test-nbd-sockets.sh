#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Listening sockets: a stale socket file left by a killed daemon is replaced;
# a live one, a file that is not a socket, or the same export twice is an
# error; the socket is 0660 and removed on a clean shutdown.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
requires qemu-io

make_image "$T/disk.img" 8M
sock=$T/s.sock
uri=$(sb_uri "$sock")

start_steadyblk first --export "$uri" "$T/disk.img"
kill -9 "$SB_PID_first"
wait "$SB_PID_first" 2>/dev/null || true
[[ -S $sock ]] || fail "the killed daemon left no socket to test with"

start_steadyblk sb --export "$uri" "$T/disk.img"
qemu_io_ok "$uri" 'write -P 0x1f 0 4k' 'read -P 0x1f 0 4k'
[[ $(stat -c %a "$sock") == 660 ]] || fail "socket mode is $(stat -c %a "$sock")"

expect_refused() { # expect_refused MESSAGE ARGS...
    local msg=$1 rc=0; shift
    timeout 20 "$STEADYBLK" --foreground "$@" "$T/disk.img" >"$T/refused.log" 2>&1 || rc=$?
    ((rc == 1)) || fail "expected exit status 1, got $rc: $(cat "$T/refused.log")"
    grep -q "$msg" "$T/refused.log" || fail "no '$msg' in: $(cat "$T/refused.log")"
}
expect_refused 'another server is listening there' --export "$uri"
touch "$T/file"
expect_refused 'exists and is not a socket' --export "$(sb_uri "$T/file")"
expect_refused "export 'a' is already served" --export "$(sb_uri "$T/d.sock" a)" \
    --export "$(sb_uri "$T/d.sock" a)"
[[ -e $T/d.sock ]] && fail "a refused start left its socket behind"

qemu_io_ok "$uri" 'read -P 0x1f 0 4k'  # the live daemon was not disturbed
stop_steadyblk sb
[[ -e $sock ]] && fail "the socket was not removed on shutdown"
true
