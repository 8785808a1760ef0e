#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# steadyblkctl status --watch: refreshes every --interval and at once on an
# event; on a terminal it redraws in place (cursor home, lines cleared to
# their end, the rest of the screen cleared); Ctrl-C (SIGINT) stops it with
# status 0, and it stops with status 3 when the daemon goes away.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/management.sh"
requires socat jq qemu-io script

make_image "$T/disk.img" 16M
uri=$(sb_uri "$T/s.sock")
start_steadyblk sb --werror retry --retry-interval 100ms --fault-file "$T/outage" \
    --qmp "$T/qmp.sock" --export "$uri" "$T/disk.img"

# Not a terminal: frames one after the other, each with its header.
"$STEADYBLKCTL" --socket "$T/qmp.sock" status --watch --interval 10s >"$T/watch.out" \
    2>"$T/watch.err" &
CTL_PID_watch=$!
cleanup_add "kill $CTL_PID_watch"
frames() { grep -c '^steadyblk .* at .*every 10.0s; Ctrl-C quits' "$T/watch.out"; }
wait_for 10 eval '(($(frames) == 1))' || fail "no first frame: $(cat "$T/watch.out")"
grep -q $'\033' "$T/watch.out" && fail "escape sequences in a file"
# An event refreshes the table at once, long before the 10 s interval.
fault_on "$T/outage" "write EIO"
timeout 60 qemu-io -f raw "$uri" -c 'write -P 0x21 0 4k' >"$T/w.out" 2>&1 &
w=$!
cleanup_add "kill -9 $w"
wait_for 5 grep -qE '^disk0 +hung' "$T/watch.out" || fail "the hang was not shown at once: $(cat "$T/watch.out")"
fault_off "$T/outage"
wait_for 10 eval '[[ $(grep -E "^disk0 " "$T/watch.out" | tail -1) =~ ^disk0\ +healthy ]]' ||
    fail "the recovery was not shown: $(cat "$T/watch.out")"
wait "$w" || fail "qemu-io failed: $(cat "$T/w.out")"
ctl_stop watch INT
((CTL_RC == 0)) || fail "status --watch exited with $CTL_RC on SIGINT: $(cat "$T/watch.err")"

# A terminal: redrawn in place.
SHELL=/bin/sh timeout 60 script -qfec "'$STEADYBLKCTL' --socket '$T/qmp.sock' status --watch --interval 200ms" \
    /dev/null >"$T/tty.out" 2>&1 </dev/null &
CTL_PID_tty=$!
cleanup_add "kill $CTL_PID_tty"
redraws() { grep -o $'\033\[H' "$T/tty.out" | wc -l; }
wait_for 10 eval '(($(redraws) >= 3))' ||
    fail "no redraws on a terminal: $(od -c "$T/tty.out" | head -20)"
grep -q $'\033\[2J' "$T/tty.out" || fail "the screen is not cleared first"
grep -q $'CLIENTS\033\[K' "$T/tty.out" || fail "lines are not cleared to their end"
grep -q $'\033\[J' "$T/tty.out" || fail "the rest of the screen is not cleared"

# The daemon goes away: both watchers stop, with status 3 and a message.
"$STEADYBLKCTL" --socket "$T/qmp.sock" status --watch >"$T/gone.out" 2>"$T/gone.err" &
CTL_PID_gone=$!
cleanup_add "kill $CTL_PID_gone"
wait_for 10 grep -q '^DISK' "$T/gone.out" || fail "no first frame: $(cat "$T/gone.err")"
stop_steadyblk sb
ctl_stop gone CONT
((CTL_RC == 3)) || fail "status --watch exited with $CTL_RC when the daemon went away"
grep -q 'the daemon closed the connection' "$T/gone.err" || fail "message: $(cat "$T/gone.err")"
wait_for 10 eval "! kill -0 $CTL_PID_tty" || fail "the terminal watcher is still running"
