#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# fio's NBD engine at queue depth 32, random reads and writes of mixed sizes
# (512 bytes to 1 MiB, several requests per receive), every block verified.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
requires fio

make_image "$T/disk.img" 64M
uri=$(sb_uri "$T/s.sock")
start_steadyblk sb --export "$uri" "$T/disk.img"

timeout 120 fio --name=verify --ioengine=nbd --uri="$uri" --rw=randrw --bsrange=512-1M \
    --iodepth=32 --size=48M --verify=crc32c --do_verify=1 --verify_fatal=1 \
    --output="$T/fio.out" || { cat "$T/fio.out" >&2; fail "fio failed"; }
grep -q 'err= 0' "$T/fio.out" || { cat "$T/fio.out" >&2; fail "fio reported errors"; }
stop_steadyblk sb
