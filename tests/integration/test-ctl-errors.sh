#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# steadyblkctl's exit codes, which scripts rely on: 0 done (and --help), 1
# the daemon answered with an error, 2 bad command line, 3 the daemon cannot
# be reached (no socket, refused, not QMP, no answer within --timeout, the
# connection lost).  Each failure says what is wrong in one line.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/management.sh"
requires socat jq python3

# expect STATUS MESSAGE ARGS... : steadyblkctl ARGS exits with STATUS and
# says MESSAGE (a fixed string) on stderr.
expect() {
    local want=$1 msg=$2 rc=0; shift 2
    timeout 30 "$STEADYBLKCTL" "$@" >"$T/out" 2>"$T/err" || rc=$?
    ((rc == want)) || fail "steadyblkctl $*: status $rc, expected $want: $(cat "$T/err")"
    grep -qF -- "$msg" "$T/err" || fail "steadyblkctl $*: said '$(cat "$T/err")', expected '$msg'"
    [[ $(wc -l <"$T/err") == 1 ]] || fail "steadyblkctl $*: more than one line: $(cat "$T/err")"
}

# 2: the command line.
unset STEADYBLK_QMP
expect 2 "which daemon? Give --socket PATH" status
expect 2 "'frobnicate' is not a command" --socket "$T/x" frobnicate
expect 2 "status: --bogus: unknown option" --socket "$T/x" status --bogus
expect 2 "status: -z: unknown option" --socket "$T/x" status -z
expect 2 "status: unexpected argument 'disk0'" --socket "$T/x" status disk0
expect 2 "status: --interval goes with --watch" --socket "$T/x" status --interval 2s
expect 2 "status: --interval: from 100ms to 1h" --socket "$T/x" status --watch --interval 10ms
expect 2 "status: --interval: from 100ms to 1h" --socket "$T/x" status --watch --interval 1000h
expect 2 "--timeout: must be more than 0" --socket "$T/x" --timeout 0 status
expect 2 "--timeout: 'soon' is not a duration" --socket "$T/x" --timeout soon status
expect 2 "cont: --disk: missing argument" --socket "$T/x" cont --disk
expect 2 "help: 'nope' is not a command" help nope
rc=0; "$STEADYBLKCTL" >/dev/null 2>"$T/err" || rc=$?
((rc == 2)) && grep -q '^Usage: steadyblkctl' "$T/err" || fail "no command: status $rc"

# 0: help, for the program and for each command, on stdout.
for args in --help -h help --version "help status" "status --help" "events -h" "set-policy --help" \
    "cont --help" "fail-held --help" "retry-now --help" "query --help"; do
    # shellcheck disable=SC2086
    out=$(timeout 10 "$STEADYBLKCTL" $args) || fail "steadyblkctl $args: status $?"
    [[ $out == Usage:* || $out == "steadyblkctl "[0-9]* ]] || fail "steadyblkctl $args: $out"
done

# 3: nobody there.
expect 3 "$T/none.sock: no such socket" --socket "$T/none.sock" status
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$T/stale.sock"
expect 3 "$T/stale.sock: connection refused (the daemon that made this socket is gone)" \
    --socket "$T/stale.sock" query
: >"$T/file"
expect 3 "$T/file: connection refused" --socket "$T/file" status
# A socket that accepts and never says a word: bounded by --timeout.
timeout 60 socat "UNIX-LISTEN:$T/mute.sock,fork" SYSTEM:'sleep 30' &
cleanup_add "kill $!"
wait_for 10 test -S "$T/mute.sock" || fail "socat did not listen"
t0=$(now_ms)
expect 3 "$T/mute.sock: no greeting from the daemon (timed out)" --socket "$T/mute.sock" \
    --timeout 500ms status
(($(now_ms) - t0 < 5000)) || fail "--timeout 500ms took $(($(now_ms) - t0)) ms"
# Something that talks, but not QMP.
timeout 60 socat "UNIX-LISTEN:$T/web.sock,fork" SYSTEM:'echo HTTP/1.1 400 Bad Request; sleep 5' &
cleanup_add "kill $!"
wait_for 10 test -S "$T/web.sock" || fail "socat did not listen"
expect 3 "$T/web.sock: the daemon sent something that is not QMP" --socket "$T/web.sock" status

# 1: the daemon says no.  3 again when it goes away under a follower.
make_image "$T/disk.img" 1M
start_steadyblk sb --qmp "$T/qmp.sock" --export "$(sb_uri "$T/s.sock")" "$T/disk.img"
expect 1 "cont: disk 'disk0' is not stopped (it is healthy)" --socket "$T/qmp.sock" cont
expect 1 "fail-held: Disk 'vm9' not found (this daemon serves: disk0)" \
    --socket "$T/qmp.sock" fail-held --disk vm9
ctl_follow ev
stop_steadyblk sb
ctl_stop ev CONT
((CTL_RC == 3)) || fail "events exited with $CTL_RC when the daemon went away"
grep -q "events: $T/qmp.sock: the daemon closed the connection" "$T/ev-ev.err" ||
    fail "events said: $(cat "$T/ev-ev.err")"
