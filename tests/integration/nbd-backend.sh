# SPDX-License-Identifier: BSD-3-Clause
# Helpers for the NBD backend tests (test-nbd-backend-*.sh): the real servers
# steadyblk proxies to, started, stopped and restarted by PID, and the ways
# the tests make them fail for a while.  Sourced after functions.sh, never
# run; it brings writers.sh (the writers and the checks every outage test
# ends with) along.

requires nbdkit qemu-io
. "$(dirname "${BASH_SOURCE[0]}")/writers.sh"

# Every server is started by a function that waits until it is ready.
# NAME identifies it: its pid in SRV_PID_<NAME>, its log in $T/<NAME>.log.
# Start servers from the test's own shell, not from a ( subshell ): nbdkit
# exits with its parent.

# start_nbdkit NAME SOCK ARGS... : nbdkit on a unix socket.
start_nbdkit() {
    _server_remember "$@"
    local name=$1 sock=$2; shift 2
    rm -f "$sock" "$T/$name.pid" # nbdkit leaves its socket behind when killed
    nbdkit -f -U "$sock" -P "$T/$name.pid" "$@" >>"$T/$name.log" 2>&1 &
    _server_started "$name" $! "$T/$name.pid"
}

# start_nbdkit_tcp NAME PORT ARGS... : nbdkit on 127.0.0.1:PORT.
start_nbdkit_tcp() {
    _server_remember "$@"
    local name=$1 port=$2; shift 2
    rm -f "$T/$name.pid"
    nbdkit -f -i 127.0.0.1 -p "$port" -P "$T/$name.pid" "$@" >>"$T/$name.log" 2>&1 &
    _server_started "$name" $! "$T/$name.pid"
}

# start_qemu_nbd NAME SOCK FILE [ARGS...] : qemu-nbd on a unix socket (an
# absolute path).
start_qemu_nbd() {
    _server_remember "$@"
    local name=$1 sock=$2 file=$3; shift 3
    rm -f "$sock" "$T/$name.pid"
    qemu-nbd -t -f raw --cache=writeback -k "$sock" --pid-file "$T/$name.pid" "$@" "$file" \
        >>"$T/$name.log" 2>&1 &
    _server_started "$name" $! "$T/$name.pid"
}

# _server_remember NAME ARGS... : the start_* function that calls it, with
# its arguments, in SRV_START_<NAME>, for restart_server.
_server_remember() { printf -v "SRV_START_$1" '%q ' "${FUNCNAME[1]}" "$@"; }

_server_started() {
    local name=$1 pid=$2 pidfile=$3
    eval "SRV_PID_$name=$pid"
    cleanup_add "kill -9 $pid"
    if ! wait_for 10 test -s "$pidfile"; then
        cat "$T/$name.log" >&2
        fail "server $name did not start"
    fi
}

# kill_server NAME SIGNAL : sends SIGNAL and waits (bounded) until it is gone.
kill_server() {
    local name=$1 sig=$2 pid
    pid=$(eval "echo \$SRV_PID_$name")
    kill "-$sig" "$pid" 2>/dev/null || true
    wait_for 10 pid_gone "$pid" || fail "server $name survived SIG$sig for 10 s"
    wait "$pid" 2>/dev/null || true
}

# restart_server NAME SIGNAL SECONDS : the server goes down (kill_server NAME
# SIGNAL) and comes back SECONDS later, started as it was the last time.
restart_server() {
    local start=SRV_START_$1
    kill_server "$1" "$2"
    sleep "$3"
    eval "${!start}"
}

# start_sb_nbd SB_ARGS... : steadyblk (start_steadyblk sb) with SB_ARGS in
# front of the server on $T/be.sock, its export on $T/s.sock.  Sets uri to
# that export's URI.
# shellcheck disable=SC2120  # SB_ARGS may be empty
start_sb_nbd() {
    uri=$(sb_uri "$T/s.sock")
    start_steadyblk sb "$@" --export "$uri" "$(sb_uri "$T/be.sock")"
}

# errors_for FLAG SECONDS : nbdkit's error filter (error-file=FLAG) answers
# with its error for SECONDS.
errors_for() {
    touch "$1"
    sleep "$2"
    rm -f "$1"
}

# pause_for SOCK SECONDS : nbdkit's pause filter (pause-control=SOCK) holds
# every request for SECONDS.
pause_for() {
    pause_ctl "$1" p
    sleep "$2"
    pause_ctl "$1" r
}

# pause_ctl SOCK p|r : pauses or resumes nbdkit's pause filter; checks its answer.
pause_ctl() {
    local answer
    answer=$(printf '%s' "$2" | timeout 10 socat -t 5 - "UNIX-CONNECT:$1") || true
    [[ $answer == "${2^^}" ]] || fail "pause filter answered '$answer' to '$2'"
}
