#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# set-error-policy round trip: what is set (durations as numbers of ms or as
# strings, sizes as numbers or strings) is what query-disks shows; a refused
# change leaves the whole policy as it was.
. "$(dirname "$0")/functions.sh"
requires socat jq

make_image "$T/disk.img" 1M
start_steadyblk sb --qmp "$T/qmp.sock" --export "$(sb_uri "$T/s.sock")" "$T/disk.img"
sock=$T/qmp.sock

r=$(qmp_reply "$sock" '{"execute":"set-error-policy","arguments":{"disk":"disk0",
    "rerror":"enospc","werror":"retry","retry-interval":"250ms","retry-max-interval":4000,
    "retry-timeout":"2m","retry-then":"stop","retry-errors":["EIO","ETIMEDOUT"],
    "max-held-requests":64,"max-held-bytes":"8M"}}')
json_ok "$r" '.return == {}'

policy() { qmp_reply "$sock" '{"execute":"query-disks"}' | jq -c '.return[0].policy'; }
expected='{"rerror":"enospc","werror":"retry","actions":{"read":"enospc","write":"retry",
    "flush":"retry","trim":"retry","write-zeroes":"retry","block-status":"enospc","cache":"enospc"},"retry-interval-ms":250,
    "retry-max-interval-ms":4000,"retry-timeout-ms":120000,"retry-then":"stop",
    "retry-errors":["EIO","ETIMEDOUT"],"max-held-requests":64,"max-held-bytes":8388608}'
p=$(policy)
json_ok "$p" ". == $expected"

# Each refused: bad action, bad duration, interval above its ceiling, bad
# errno, retry-then that is not report/stop, wrong type, unknown argument.
for args in '"werror":"sometimes"' '"retry-interval":"5 parsecs"' \
            '"retry-interval":"10s","rerror":"report"' '"retry-errors":["EWHAT"]' \
            '"retry-then":"ignore"' '"max-held-requests":"many"' '"retry-count":3'; do
    r=$(qmp_reply "$sock" "{\"execute\":\"set-error-policy\",\"arguments\":{$args}}")
    json_ok "$r" '.error.class == "GenericError" and (.error.desc | length > 0)'
done
[[ $(policy) == "$p" ]] || fail "a refused set-error-policy changed the policy: $(policy)"

# Part of it: the rest stays.
json_ok "$(qmp_reply "$sock" '{"execute":"set-error-policy","arguments":{"retry-timeout":0}}')" \
    '.return == {}'
json_ok "$(policy)" '."retry-timeout-ms" == 0 and ."retry-interval-ms" == 250 and .werror == "retry"'
stop_steadyblk sb
