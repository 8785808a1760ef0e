#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# steadyblkctl query: what QMP query-disks returns, as JSON for scripts,
# including the exports and the clients connected to them.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/management.sh"
requires socat jq qemu-io

make_image "$T/disk.img" 16M
uri=$(sb_uri "$T/s.sock")
start_steadyblk sb --qmp "$T/qmp.sock" --export "$uri" --export "$(sb_uri "$T/s.sock" second)" \
    "$T/disk.img"

q=$(ctl query) || fail "query failed"
raw=$(qmp_reply "$T/qmp.sock" '{"execute":"query-disks"}' | jq -c '.return')
[[ $(jq -c . <<<"$q") == "$raw" ]] || fail "query is not query-disks: $q"
json_ok "$q" 'length == 1 and .[0].name == "disk0" and .[0].clients == 0'
json_ok "$q" '[.[0].exports[] | .name] == ["", "second"] and (.[0].exports[0].uri | startswith("nbd+unix:///?socket="))'

# A client holds a connection open on the second export while we look.
timeout 60 qemu-io -f raw "$(sb_uri "$T/s.sock" second)" -c 'sleep 30000' &
c=$!
cleanup_add "kill $c"
wait_for 10 eval '(($(ctl query | jq ".[0].clients") == 1))' || fail "no client: $(ctl query)"
q=$(ctl query)
json_ok "$q" '.[0].exports[0].clients == [] and (.[0].exports[1].clients | length) == 1'
json_ok "$q" '.[0].exports[1].clients[0] | (.id | type) == "number"
    and (.name | startswith("nbd client ")) and .pending == 0 and .inflight == 0'
kill "$c"
wait_for 10 eval '(($(ctl query | jq ".[0].clients") == 0))' || fail "the client is still listed"
stop_steadyblk sb
