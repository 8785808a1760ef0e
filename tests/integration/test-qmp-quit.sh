#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# `quit` answers, then the daemon shuts down cleanly and removes its socket.
. "$(dirname "$0")/functions.sh"
requires socat jq

make_image "$T/disk.img" 1M
start_steadyblk sb --qmp "$T/qmp.sock" --export "$(sb_uri "$T/s.sock")" "$T/disk.img"
json_ok "$(qmp_reply "$T/qmp.sock" '{"execute":"quit","id":"bye"}')" '.id == "bye" and .return == {}'
wait_for 10 eval "! kill -0 $SB_PID_sb" || fail "the daemon did not exit after quit"
rc=0
wait "$SB_PID_sb" || rc=$?
((rc == 0)) || fail "the daemon exited with status $rc: $(cat "$T/sb.log")"
[[ ! -e $T/qmp.sock ]] || fail "the QMP socket was left behind"
