#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Bad input gets an error reply and the socket keeps serving, on the same
# connection and on new ones: malformed JSON, non-objects, unknown commands,
# wrong argument types, an oversized command, a half-sent command abandoned
# with a control character.
. "$(dirname "$0")/functions.sh"
requires socat jq

make_image "$T/disk.img" 1M
start_steadyblk sb --qmp "$T/qmp.sock" --export "$(sb_uri "$T/s.sock")" "$T/disk.img"

big=$(head -c 200000 /dev/zero | tr '\0' x)
out=$({ echo '{"execute":"qmp_capabilities"}'
        echo '{"execute": }'
        echo '[1, 2]'
        echo '"query-version"'
        echo '{"execute":"no-such-command","id":1}'
        echo '{"execute":"cont","arguments":{"disk":42},"id":2}'
        echo '{"execute":"set-error-policy","arguments":{"werror":["retry"]},"id":3}'
        echo '{"execute":"query-disks","arguments":{"verbose":true},"id":4}'
        echo '{"execute":"query-disks","extra":1,"id":5}'
        echo "{\"execute\":\"query-version\",\"id\":\"$big\"}"
        printf '{"execute":"query-version", \001\n'
        echo '{"execute":"query-version","id":"alive"}'; } |
      timeout 20 socat -t 5 - "UNIX-CONNECT:$T/qmp.sock" | tr -d '\r')

replies=$(jq -c 'select(has("return") or has("error"))' <<<"$out")
n=$(wc -l <<<"$replies")
((n == 12)) || fail "expected 12 replies, got $n: $replies"
errors=$(jq -c 'select(.error)' <<<"$replies" | wc -l)
((errors == 10)) || fail "expected 10 errors, got $errors: $replies"
json_ok "$(jq -c 'select(.id == 1)' <<<"$replies")" '.error.class == "CommandNotFound"'
for id in 2 3 4 5; do
    json_ok "$(jq -c "select(.id == $id)" <<<"$replies")" '.error.class == "GenericError"'
done
json_ok "$(tail -1 <<<"$replies")" '.id == "alive" and (.return.package | startswith("steadyblk"))'

# A new connection is served as well, and the daemon is fine.
json_ok "$(qmp_reply "$T/qmp.sock" '{"execute":"query-version"}')" '.return.qemu.minor == 1'
kill -0 "$SB_PID_sb" || fail "the daemon died"
stop_steadyblk sb
