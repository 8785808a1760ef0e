#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The event loop never waits for the storage.  Behind steadyblk is storage
# that takes 4 s for every read and write (nbdkit's delay filter behind
# nbdfuse); first as a block device (a loop device over that file), then as a
# regular file on that (FUSE) file system.  While a client's read that misses
# the cache, and then its flush, are at the storage, the management socket
# answers at once: the loop is free.  A backend that did the I/O on the loop
# would answer only after the client's request completed.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
. "$here/blockdev.sh"
requires qemu-io socat jq
requires_blockdev

delay=4
slow_storage 64M "$delay"

# answers_while_busy NAME CMD... : qemu-io runs CMD in the background; the QMP
# socket must answer while that request is still at the storage, and the
# request must then complete without error.
answers_while_busy() {
    local name=$1; shift
    qemu_io_bg "$T/$name.out" "$uri" "$@"
    sleep 0.5 # the request has reached the storage (it takes $delay s there)
    local reply
    reply=$(qmp_reply "$T/qmp.sock" '{"execute":"query-version"}')
    json_ok "$reply" '.return.package'
    kill -0 "$QEMU_IO_PID" 2>/dev/null ||
        fail "$name: the QMP reply came only after the I/O completed: the loop waited for the storage"
    wait "$QEMU_IO_PID" || { cat "$T/$name.out" >&2; fail "$name: qemu-io failed"; }
    grep -qiE 'failed|error' "$T/$name.out" && { cat "$T/$name.out" >&2; fail "$name: I/O error"; }
    info "$name: the management socket answered while the request was at the storage"
}

# serve BACKEND : steadyblk with a QMP socket in front of BACKEND.
serve() {
    rm -f "$T/s.sock" "$T/qmp.sock"
    uri=$(sb_uri "$T/s.sock")
    start_steadyblk sb --qmp "$T/qmp.sock" --export "$uri" "$1"
}

# A block device: its device node lives on devtmpfs, which must not fool
# steadyblk into taking it for memory.
loop_attach "$T/fuse/disk"
serve "$LOOP_DEV"
answers_while_busy bdev-read 'read 1M 64k'
answers_while_busy bdev-flush 'write -P 0x5a 2M 64k' 'flush'
stop_steadyblk sb 30
loop_detach

# A regular file on a slow file system.
serve "$T/fuse/disk"
answers_while_busy file-read 'read 4M 64k'
answers_while_busy file-flush 'write -P 0xa5 6M 64k' 'flush'
stop_steadyblk sb 30
