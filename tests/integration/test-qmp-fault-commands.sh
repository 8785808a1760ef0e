#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The fault filter driven over QMP: fault-set fails reads at a chosen rate and
# offset range, query-faults shows the rules and counts the injections,
# fault-clear ends it; without --fault-injection the commands say so.
. "$(dirname "$0")/functions.sh"
requires socat jq qemu-io

make_image "$T/disk.img" 16M
uri=$(sb_uri "$T/s.sock")
start_steadyblk plain --qmp "$T/plain.sock" --export "$(sb_uri "$T/p.sock")" "$T/disk.img"
json_ok "$(qmp_reply "$T/plain.sock" '{"execute":"query-faults"}')" \
    '.error.desc | test("--fault-injection")'
stop_steadyblk plain

start_steadyblk sb --fault-injection --qmp "$T/qmp.sock" --export "$uri" "$T/disk.img"
sock=$T/qmp.sock
json_ok "$(qmp_reply "$sock" '{"execute":"fault-set","arguments":{"op":"read","errno":"EIO",
    "rate":100,"offset-start":1048576,"offset-end":2097152}}')" '.return == {}'
for bad in '"op":"open"' '"op":"read","rate":150' '"op":"read","errno":"EBOGUS"' \
           '"op":"read","offset-start":10,"offset-end":5' '"rate":50'; do
    json_ok "$(qmp_reply "$sock" "{\"execute\":\"fault-set\",\"arguments\":{$bad}}")" \
        '.error.class == "GenericError"'
done

qemu_io_ok "$uri" 'read 0 64k'                # outside the range
out=$(timeout 30 qemu-io -f raw "$uri" -c 'read 1M 64k' 2>&1) && fail "the read in range succeeded: $out"
grep -q 'Input/output error' <<<"$out" || fail "unexpected: $out"

f=$(qmp_reply "$sock" '{"execute":"query-faults"}')
json_ok "$f" '.return.rules[0] | .op == "read" and .enabled and .errno == "EIO" and .rate == 100
    and ."offset-start" == 1048576 and ."offset-end" == 2097152 and .injected >= 1'
json_ok "$f" '.return.rules[1] | .op == "write" and (.enabled | not)'

json_ok "$(qmp_reply "$sock" '{"execute":"fault-clear"}')" '.return == {}'
qemu_io_ok "$uri" 'read 1M 64k'
json_ok "$(qmp_reply "$sock" '{"execute":"query-faults"}')" '[.return.rules[].enabled] | any | not'
stop_steadyblk sb
