#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The NBD backend sends each operation to the server with the client's
# flags: a FUA write stays FUA, a write of zeroes keeps its "may punch a
# hole" choice, trim and flush arrive as themselves.  nbdkit's log filter
# shows what the server received.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/nbd-backend.sh"

start_nbdkit nk "$T/be.sock" --filter=log memory 16M logfile="$T/server.log"
start_sb_nbd

# qemu-io's default cache mode, writethrough, would make every write FUA.
timeout 60 qemu-io -f raw -t writeback "$uri" -c 'write -P 0x11 0 64k' \
    -c 'write -f -P 0x22 64k 64k' -c 'write -z 128k 64k' -c 'write -z -u 192k 64k' \
    -c 'discard 256k 64k' -c 'flush' -c 'read -P 0x22 64k 64k' >"$T/qemu-io.out" 2>&1 ||
    { cat "$T/qemu-io.out" >&2; fail "qemu-io failed"; }
! grep -q failed "$T/qemu-io.out" || { cat "$T/qemu-io.out" >&2; fail "qemu-io failed"; }
stop_steadyblk sb

expect() { # expect REGEX WHAT
    grep -qE "$1" "$T/server.log" || { cat "$T/server.log" >&2; fail "the server saw no $2"; }
}
expect 'Write id=[0-9]+ offset=0x0 count=0x10000 fua=0' 'plain write'
expect 'Write id=[0-9]+ offset=0x10000 count=0x10000 fua=1' 'FUA write'
expect 'Zero id=[0-9]+ offset=0x20000 count=0x10000 trim=0' 'write of zeroes that keeps its blocks'
expect 'Zero id=[0-9]+ offset=0x30000 count=0x10000 trim=1' 'write of zeroes that may trim'
expect 'Trim id=[0-9]+ offset=0x40000 count=0x10000' 'trim'
expect 'Flush id=' 'flush'
expect 'Read id=[0-9]+ offset=0x10000 count=0x10000' 'read'
