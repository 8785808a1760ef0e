#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Several QMP clients at once: each negotiated client receives every event
# (the same one, same timestamp); a client still negotiating receives none;
# commands from either act on the same disk.
. "$(dirname "$0")/functions.sh"
requires socat jq qemu-io

start_sb_qmp_faulty 16M --werror retry --retry-interval 100ms
qmp_open a "$T/qmp.sock"
qmp_open b "$T/qmp.sock"
# A third client that never negotiates (its input stays open, empty).
mkfifo "$T/shy.in"
timeout 60 socat -t 10 - "UNIX-CONNECT:$T/qmp.sock" <"$T/shy.in" >"$T/shy.out" 2>&1 &
cleanup_add "kill $!"
# shellcheck disable=SC2034 # only held open, never written
exec {shy}>"$T/shy.in"

qmp_send a '{"execute":"fault-set","arguments":{"op":"all"},"id":"on"}'
qmp_wait a '.id == "on"' >/dev/null || fail "fault-set failed"
timeout 60 qemu-io -f raw "$uri" -c 'write -P 0x3c 0 4k' >"$T/w.out" 2>&1 &
w=$!
cleanup_add "kill -9 $w"

ha=$(qmp_wait a '.event == "DISK_HUNG"') || fail "client a: no DISK_HUNG"
hb=$(qmp_wait b '.event == "DISK_HUNG"') || fail "client b: no DISK_HUNG"
[[ $ha == "$hb" ]] || fail "the clients got different events: $ha / $hb"

qmp_send b '{"execute":"fault-clear","id":"off"}'
ra=$(qmp_wait a '.event == "DISK_RECOVERED"') || fail "client a: no DISK_RECOVERED"
rb=$(qmp_wait b '.event == "DISK_RECOVERED"') || fail "client b: no DISK_RECOVERED"
[[ $ra == "$rb" ]] || fail "the clients got different events: $ra / $rb"
json_ok "$ra" '.data.requests == 1'
[[ $(qmp_events a | tr '\n' ' ') == "$(qmp_events b | tr '\n' ' ')" ]] ||
    fail "different event sequences: $(qmp_events a | tr '\n' ' ') / $(qmp_events b | tr '\n' ' ')"

wait_for 20 eval "! kill -0 $w" || fail "the writer did not finish"
wait "$w" || fail "qemu-io failed: $(cat "$T/w.out")"
grep -q '"event"' "$T/shy.out" && fail "a client that did not negotiate got events"
grep -q '"QMP"' "$T/shy.out" || fail "the third client got no greeting"
stop_steadyblk sb
