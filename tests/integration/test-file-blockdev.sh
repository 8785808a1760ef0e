#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The file backend on a block device (a loop device over a file), in both
# cache modes: steadyblk sees a block device, not its device node's file
# system; it advertises the device's logical block size; every command
# (write, FUA write, write-zeroes with and without holes, trim, flush, read)
# does what it says; and what the client wrote is on the device's own file.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
. "$here/blockdev.sh"
requires qemu-io nbdinfo jq
requires_blockdev

# What the writes below leave, read back through steadyblk and then from the
# device's own file.
written=('read -P 0x11 0 1M' 'read -P 0x22 1M 1M'
         'read -P 0 2M 512k' 'read -P 0x33 2560k 512k'
         'read -P 0 3M 512k' 'read -P 0x44 3584k 512k')

for cache in writeback none; do
    make_image "$T/dev.img" 16M
    loop_attach "$T/dev.img"
    rm -f "$T/s.sock"
    uri=$(sb_uri "$T/s.sock")
    start_steadyblk sb --cache "$cache" --export "$uri" "$LOOP_DEV"
    sb_log_has "block device, 16777216 bytes, cache=$cache.*io_uring" ||
        { cat "$T/sb.log" >&2; fail "cache=$cache: not served as a block device through io_uring"; }

    info=$(timeout 30 nbdinfo --json "$uri") || fail "nbdinfo failed"
    json_ok "$info" '.exports[0]."export-size" == 16777216'
    json_ok "$info" '.exports[0]."block_size_minimum" == 512'
    json_ok "$info" '.exports[0].can_trim and .exports[0].can_zero and .exports[0].can_fua'

    qemu_io_ok "$uri" \
        'write -P 0x11 0 1M' \
        'write -P 0x22 -f 1M 1M' \
        'write -P 0x33 2M 1M' 'write -z 2M 512k' \
        'write -P 0x44 3M 1M' 'write -z -u 3M 512k' \
        'write -P 0x55 4M 1M' 'discard 4M 1M' \
        'flush' "${written[@]}"
    stop_steadyblk sb
    loop_detach

    # The device's own file holds what the client wrote.  (A trimmed range
    # reads as zeroes on a loop device over a sparse file; that is the
    # device's promise, not NBD's, so only the written ranges are checked.)
    qemu_io_ok "$T/dev.img" "${written[@]}"
    info "cache=$cache: every command landed on the device"
    rm -f "$T/dev.img"
done
