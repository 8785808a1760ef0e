#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The handshake tells the truth: nbdinfo (NBD_OPT_GO with every information
# request) sees the size, the transmission flags the file backend supports,
# the block size constraints and the description; LIST names every export
# of the socket.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
requires nbdinfo jq

make_image "$T/disk.img" 48M
sock=$T/s.sock
start_steadyblk sb --name vol0 --export "$(sb_uri "$sock")" \
    --export "$(sb_uri "$sock" second)" "$T/disk.img"

json=$(timeout 20 nbdinfo --json "$(sb_uri "$sock")") || fail "nbdinfo failed"
check() {
    local got
    got=$(jq -r ".exports[0].$1" <<<"$json")
    [[ $got == "$2" ]] || fail "$1 is '$got', expected '$2'"
}
check '"export-size"' $((48 << 20))
check is_read_only false
check is_rotational false
check can_flush true
check can_fua true
check can_trim true
check can_zero true
check can_fast_zero true
check can_multi_conn true
check can_df true # structured replies: a read is one chunk
check can_cache true # NBD_CMD_CACHE (the core answers for a backend that cannot)
check block_size_minimum 1
check block_size_preferred 4096
check block_size_maximum 33554432
check description "steadyblk disk vol0 (file:$T/disk.img)"

names=$(timeout 20 nbdinfo --list --json "$(sb_uri "$sock")" | jq -r '.exports[]."export-name"' | sort | tr '\n' ,)
[[ $names == ",second," ]] || fail "LIST gave '$names', expected the default export and 'second'"
stop_steadyblk sb
