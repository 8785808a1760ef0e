#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# qemu-io's NBD client through every command: writes (FUA too) and reads with
# patterns, write zeroes, discard, asynchronous writes and flush; the image
# holds the same data afterwards.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
requires qemu-io

make_image "$T/disk.img" 32M
uri=$(sb_uri "$T/s.sock")
start_steadyblk sb --export "$uri" "$T/disk.img"

qemu_io_ok "$uri" 'write -P 0xab 0 64k' 'read -P 0xab 0 64k' \
    'write -f -P 0x11 1M 4k' 'read -P 0x11 1M 4k' \
    'write -P 0x22 2M 3M' 'write -z 3M 1M' 'read -P 0x22 2M 1M' 'read -P 0 3M 1M' \
    'discard 8M 1M' 'read -P 0 8M 1M' \
    'aio_write -P 0x33 16M 512' 'aio_write -P 0x44 17M 128k' 'aio_flush' \
    'read -P 0x33 16M 512' 'read -P 0x44 17M 128k' 'flush' \
    'write -P 0x55 31M 1M' 'read -P 0x55 31M 1M'
stop_steadyblk sb
qemu_io_ok "$T/disk.img" 'read -P 0xab 0 64k' 'read -P 0x11 1M 4k' 'read -P 0x22 2M 1M' \
    'read -P 0 3M 1M' 'read -P 0x33 16M 512' 'read -P 0x44 17M 128k' 'read -P 0x55 31M 1M'
