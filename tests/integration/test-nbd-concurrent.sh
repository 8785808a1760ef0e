#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Several clients at once on one socket (and over TCP): each writes and
# checks its own region while fio verifies another; nobody disturbs anybody.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
. "$here/nbd-export.sh"
requires qemu-io fio

make_image "$T/disk.img" 64M
uri=$(sb_uri "$T/s.sock")
start_steadyblk sb --export "$uri" --export 'nbd://127.0.0.1:0/' "$T/disk.img"
tcp=$(served_uri sb 'nbd://127')
[[ -n $tcp ]] || fail "no TCP export announced"

timeout 120 fio --name=bg --ioengine=nbd --uri="$uri" --rw=randrw --bs=4k --iodepth=16 \
    --offset=32M --size=32M --verify=crc32c --do_verify=1 --output="$T/fio.out" &
pids=($!)
for i in 1 2 3 4 5 6; do
    u=$uri
    ((i % 2)) || u=$tcp
    timeout 120 qemu-io -f raw "$u" -c "write -P $i ${i}M 1M" -c "aio_write -P $((i + 16)) $((i + 8))M 64k" \
        -c aio_flush -c "read -P $i ${i}M 1M" -c "read -P $((i + 16)) $((i + 8))M 64k" \
        >"$T/q$i.out" 2>&1 &
    pids+=($!)
done
for p in "${pids[@]}"; do
    wait "$p" || { cat "$T"/q*.out "$T/fio.out" >&2; fail "a client failed"; }
done
grep -qiE 'fail|error' "$T"/q*.out && { cat "$T"/q*.out >&2; fail "qemu-io reported an error"; }
grep -q 'err= 0' "$T/fio.out" || { cat "$T/fio.out" >&2; fail "fio reported errors"; }
for i in 1 2 3 4 5 6; do
    qemu_io_ok "$uri" "read -P $i ${i}M 1M" "read -P $((i + 16)) $((i + 8))M 64k"
done
stop_steadyblk sb
