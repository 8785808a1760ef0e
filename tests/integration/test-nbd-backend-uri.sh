#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The NBD backend's URIs: an export name with percent-escapes, a relative
# socket path, and clear errors for what is not supported or malformed.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/nbd-backend.sh"
requires qemu-nbd

make_image "$T/disk.img" 16M
uri=$(sb_uri "$T/s.sock")

# An export name with a space, and a socket path relative to the current
# directory (made absolute at once, so a later chdir cannot break it).
start_qemu_nbd qn "$T/be.sock" "$T/disk.img" -x "my disk"
cd "$T"
start_steadyblk sb --export "$uri" "nbd+unix:///my%20disk?socket=be.sock"
cd - >/dev/null
qemu_io_ok "$uri" 'write -P 0xe1 0 64k' 'read -P 0xe1 0 64k'
stop_steadyblk sb

# start_fails URI TEXT : steadyblk refuses URI at start-up, saying TEXT.
start_fails() {
    local rc=0 out
    out=$(timeout 30 "$STEADYBLK" --foreground --backend-timeout 1s --export "$uri" "$1" 2>&1) ||
        rc=$?
    info "$1: $out"
    ((rc == 1)) || fail "$1: exit status $rc, expected 1"
    [[ $out == *"$2"* ]] || fail "$1: expected '$2' in: $out"
}
start_fails "nbds://127.0.0.1/x" "nbds needs tls-psk-file=FILE or tls-certificates=DIR"
start_fails "nbd://127.0.0.1/x?tls-psk-file=k" "TLS keys need nbds://"
start_fails "nbds://127.0.0.1/x?tls-psk-file=k&tls-verify-peer=maybe" "bad value"
start_fails "nbd+vsock:///x" "only nbd://, nbd+unix://, nbds:// and"
start_fails "nbd+unix:///x" "socket=PATH is missing"
start_fails "nbd+unix:///x?socket=$T/be.sock&tls=require" "unsupported query parameter 'tls=require'"
start_fails "nbd+unix://host/x?socket=$T/be.sock" "takes no host"
start_fails "nbd://127.0.0.1:99999/x" "bad port"
start_fails "nbd://user@127.0.0.1/x" "user names are not supported"
start_fails "nbd://127.0.0.1:1/x" "Connection refused"
start_fails "nbd+unix:///bad%2?socket=$T/be.sock" "bad export name"
kill_server qn TERM
