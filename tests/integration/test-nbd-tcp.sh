#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# TCP exports: 127.0.0.1 with a port the kernel picks (the announced URI has
# it) and several names on one port; [::1] too when the host has IPv6.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
. "$here/nbd-export.sh"
requires qemu-io nbdinfo

make_image "$T/disk.img" 8M
start_steadyblk sb --export 'nbd://127.0.0.1:0/a' "$T/disk.img"
tcp=$(served_uri sb 'nbd://127')
[[ $tcp =~ ^nbd://127\.0\.0\.1:[0-9]+/a$ ]] || fail "announced '$tcp'"
qemu_io_ok "$tcp" 'write -P 0x7c 0 64k' 'read -P 0x7c 0 64k'
stop_steadyblk sb

port=${tcp#nbd://127.0.0.1:}
port=${port%/a}
start_steadyblk two --export "nbd://127.0.0.1:$port/a" --export "nbd://127.0.0.1:$port/b" \
    "$T/disk.img"
qemu_io_ok "nbd://127.0.0.1:$port/b" 'read -P 0x7c 0 64k'
[[ $(timeout 20 nbdinfo --list "nbd://127.0.0.1:$port/" | grep -c '^export=') == 2 ]] ||
    fail "LIST does not show both exports"
stop_steadyblk two

if python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
    start_steadyblk v6 --export 'nbd://[::1]:0/' "$T/disk.img"
    v6=$(served_uri v6 'nbd://\[::1\]')
    [[ -n $v6 ]] || fail "no IPv6 URI announced"
    qemu_io_ok "$v6" 'read -P 0x7c 0 64k'
    stop_steadyblk v6
else
    info "no IPv6 loopback here: [::1] not tested"
fi
