#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# QMP's opening, as QEMU's clients expect it: a greeting of QEMU's shape, only
# qmp_capabilities runs before negotiation (CommandNotFound otherwise, and
# again once negotiated), ids of any JSON type come back as sent; the socket
# is for its owner only.
. "$(dirname "$0")/functions.sh"
requires socat jq

make_image "$T/disk.img" 1M
start_steadyblk sb --qmp "$T/qmp.sock" --export "$(sb_uri "$T/s.sock")" "$T/disk.img"

mode=$(stat -c %a "$T/qmp.sock")
[[ $mode == 600 ]] || fail "the QMP socket has mode $mode, not 600"

out=$({ echo '{"execute":"query-version","id":1}'
        echo '{"execute":"qmp_capabilities","id":"neg"}'
        echo '{"execute":"qmp_capabilities","id":3}'
        echo '{"execute":"query-version","id":{"x":[4]}}'
        echo '{"execute":"query-commands","id":5}'; } |
      timeout 10 socat -t 5 - "UNIX-CONNECT:$T/qmp.sock")
line() { sed -n "$1p" <<<"$out" | tr -d '\r'; }

json_ok "$(line 1)" '.QMP.version.qemu | .major == 0 and .minor == 1 and .micro == 0'
json_ok "$(line 1)" '(.QMP.version.package | startswith("steadyblk ")) and .QMP.capabilities == []'
json_ok "$(line 2)" '.id == 1 and .error.class == "CommandNotFound"'
json_ok "$(line 3)" '.id == "neg" and .return == {}'
json_ok "$(line 4)" '.id == 3 and .error.class == "CommandNotFound"'
json_ok "$(line 5)" '.id == {"x": [4]} and (.return.package | startswith("steadyblk "))'
json_ok "$(line 6)" '.id == 5 and ([.return[].name] | contains(["qmp_capabilities",
    "query-version", "query-commands", "quit", "query-disks", "set-error-policy", "cont",
    "fail-held", "retry-now", "fault-set", "fault-clear", "query-faults"]))'
[[ -z $(line 7) ]] || fail "unexpected output: $(line 7)"
stop_steadyblk sb
