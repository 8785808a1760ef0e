#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The NBD backend passes the server's facts on to steadyblk's own clients
# truthfully: size, block size constraints, and the flush, FUA, trim, zero,
# multi-conn and read-only flags, for three differently configured servers.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/nbd-backend.sh"
requires nbdinfo jq

# What a client learns; block sizes a server does not advertise read as the
# protocol's defaults (1, 4096, 32 MiB), which steadyblk advertises then.
facts() {
    nbdinfo --json "$1" | jq -c '.exports[0] | {"export-size", is_read_only, can_flush,
        can_fua, can_trim, can_zero, can_multi_conn,
        min: (.block_size_minimum // 1), pref: (.block_size_preferred // 4096),
        max: (.block_size_maximum // 33554432)}'
}

be=$(sb_uri "$T/be.sock")
uri=$(sb_uri "$T/s.sock")
n=0
for server in \
    "--filter=blocksize-policy memory 64M blocksize-minimum=512 blocksize-preferred=64K blocksize-maximum=1M" \
    "--filter=nozero --filter=multi-conn memory 32M multi-conn-mode=disable" \
    "-r memory 16M"; do
    n=$((n + 1))
    # shellcheck disable=SC2086
    start_nbdkit "nk$n" "$T/be.sock" $server
    start_steadyblk "sb$n" --export "$uri" "$be"
    want=$(facts "$be")
    got=$(facts "$uri")
    info "nbdkit $server: $got"
    [[ $got == "$want" ]] || fail "nbdkit $server: the server says $want, steadyblk $got"
    stop_steadyblk "sb$n"
    kill_server "nk$n" TERM
done
