#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Requests that take the file backend several steps complete on their own:
# zeroes written a chunk at a time where the file system cannot zero a range
# (tmpfs), a FUA sync after zeroing, a fall-back from one way of zeroing to
# the next.  A step queued while the daemon reaps completions has no event
# of its own to start it; the backend must start it before the daemon
# sleeps.  Once it did not: on tmpfs the first 4 MiB write-zeroes waited
# forever, on ext4 one in a few hundred.  One client, one request at a
# time, so no other request's event can wake the daemon by chance.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
requires qemu-io

# The file systems to try: the test folder's, and tmpfs where there is one.
dirs=("$T")
if [[ $(df --output=fstype /dev/shm 2>/dev/null | tail -1) == tmpfs ]]; then
    shm=$(mktemp -d /dev/shm/sbtest.XXXXXX)
    cleanup_add "rm -rf $shm"
    dirs+=("$shm")
else
    info "no tmpfs at /dev/shm: only $(df --output=fstype "$T" | tail -1) is tried"
fi

# qemu-io's "write -z" asks for NBD_CMD_FLAG_NO_HOLE (no -u), so zeroes are
# written where ZERO_RANGE is missing; "-f" adds FUA, so a sync follows.
cmds=('write -P 0xaa 0 12M')
for ((i = 0; i < 100; i++)); do
    cmds+=('write -z 0 4M' 'write -z -f 4M 4M' 'write -z -u 8M 4M')
done
cmds+=('read -P 0 0 12M')

for dir in "${dirs[@]}"; do
    fs=$(df --output=fstype "$dir" | tail -1)
    caches=(writeback none)
    [[ $fs != tmpfs ]] || caches=(writeback) # tmpfs has no O_DIRECT
    for cache in "${caches[@]}"; do
        img=$dir/disk.img
        make_image "$img" 16M
        rm -f "$T/s.sock"
        uri=$(sb_uri "$T/s.sock")
        start_steadyblk sb --cache "$cache" --export "$uri" "$img"
        info "$fs, cache=$cache: 300 write-zeroes in several steps each"
        qemu_io_ok "$uri" "${cmds[@]}"
        (($(grep -c '^wrote' <<<"$QEMU_IO_OUT") == 301)) ||
            fail "$fs, cache=$cache: not every write was answered"
        stop_steadyblk sb
        rm -f "$img"
        info "$fs, cache=$cache: all answered"
    done
done
