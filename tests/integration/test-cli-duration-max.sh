#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Durations have an upper bound, one year (8760h), so that deadlines
# (held_since + retry-timeout) and the doubling backoff cannot wrap.  Above
# it: on the command line, exit status 2 and one line naming the option and
# the maximum; over steadyblkctl set-policy, status 2 before anything is
# sent; over QMP set-error-policy, an error naming the parameter, and the
# policy unchanged.  The maximum itself is taken.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/management.sh"
requires socat jq

make_image "$T/disk.img" 1M

# expect_too_long OPTION VALUE : exit 2, one line naming OPTION and the maximum.
expect_too_long() {
    local rc=0 err
    err=$("$STEADYBLK" --foreground "$1" "$2" "$T/disk.img" 2>&1 >/dev/null) || rc=$?
    ((rc == 2)) || fail "$1 $2 exited with $rc, not 2 ($err)"
    (($(wc -l <<<"$err") == 1)) || fail "$1 $2 printed more than one line: $err"
    [[ $err == *"$1:"*"maximum is 1 year (8760h)"* ]] ||
        fail "$1 $2: the message names neither the option nor the maximum: $err"
    info "$1 $2: $err"
}

for opt in --retry-interval --retry-max-interval --retry-timeout --shutdown-timeout \
    --backend-timeout; do
    expect_too_long "$opt" 8761h
done
# Values that would wrap 64 bits of nanoseconds, in a large unit or not.
expect_too_long --retry-timeout 99999999999999h
expect_too_long --retry-timeout 18446744073709551615
expect_too_long --retry-max-interval 31536000001ms

# The maximum itself is accepted (captive mode: the daemon runs, then exits).
rc=0
out=$(timeout 20 "$STEADYBLK" --retry-timeout 8760h --retry-max-interval 8760h \
    --retry-interval 8760h --shutdown-timeout 8760h --run true "$T/disk.img" 2>&1) || rc=$?
((rc == 0)) || fail "one year exactly was refused (status $rc): $out"

# steadyblkctl set-policy checks with the same parser before sending.
for opt in --retry-interval --retry-max-interval --retry-timeout; do
    rc=$(ctl_rc --socket "$T/nowhere.sock" set-policy "$opt" 8761h)
    ((rc == 2)) || fail "set-policy $opt 8761h: status $rc, expected 2"
    grep -qF "set-policy: $opt: '8761h' is too long: the maximum is 1 year (8760h)" \
        "$T/ctl.err" || fail "set-policy message: $(cat "$T/ctl.err")"
done

# QMP: a string above the maximum, or a number (milliseconds) above it.
uri=$(sb_uri "$T/s.sock")
start_steadyblk sb --qmp "$T/qmp.sock" --export "$uri" "$T/disk.img"
before=$(qmp_reply "$T/qmp.sock" '{"execute":"query-disks"}' | jq -c '.return[0].policy')
for arg in '"retry-timeout": "8761h"' '"retry-max-interval": "99999999999999h"' \
    '"retry-interval": 31536000001'; do
    reply=$(qmp_reply "$T/qmp.sock" "{\"execute\":\"set-error-policy\",\"arguments\":{$arg}}")
    name=$(sed 's/^"\([a-z-]*\)".*/\1/' <<<"$arg")
    json_ok "$reply" ".error.desc | contains(\"$name\")"
    json_ok "$reply" '.error.desc | test("year")'
    info "set-error-policy {$arg}: $(jq -r .error.desc <<<"$reply")"
done
after=$(qmp_reply "$T/qmp.sock" '{"execute":"query-disks"}' | jq -c '.return[0].policy')
[[ $before == "$after" ]] || fail "a refused policy changed something: $before -> $after"
reply=$(qmp_reply "$T/qmp.sock" \
    '{"execute":"set-error-policy","arguments":{"retry-timeout":"8760h","retry-max-interval":"8760h"}}')
json_ok "$reply" '.return'
stop_steadyblk sb
