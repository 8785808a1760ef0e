# SPDX-License-Identifier: BSD-3-Clause
# Shared helpers for the integration tests: sourced, never run.
#
# Each test is one file, one behaviour.  Exit 0 = passed, 77 = skipped (a tool
# is missing), anything else = failed.  Every wait is bounded, every server is
# started and stopped by PID, every socket is a unix socket or 127.0.0.1.
set -euo pipefail

: "${STEADYBLK:?STEADYBLK must point at the steadyblk binary}"
# Wrapper for the daemon under test, e.g. "valgrind --error-exitcode=99 -q".
: "${SB_WRAPPER:=}"

T=$(mktemp -d "${TMPDIR:-/tmp}/sbtest.XXXXXX")
# Tools that drop state files (fio) leave them in the test folder.
cd "$T"
_cleanups=()

# cleanup_add CMD... : run CMD at exit, last added first.
cleanup_add() { _cleanups+=("$*"); }
_run_cleanups() {
    local rc=$? i
    for ((i = ${#_cleanups[@]} - 1; i >= 0; i--)); do
        eval "${_cleanups[i]}" >/dev/null 2>&1 || true
    done
    [[ -n ${SB_KEEP:-} ]] && echo "# kept $T" >&2 || rm -rf "$T"
    exit "$rc"
}
trap _run_cleanups EXIT
trap 'exit 130' INT TERM

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 77; }
info() { echo "# $*" >&2; }

# requires TOOL... : skip the test if a tool is missing.
requires() {
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 || skip "$t is not installed"
    done
}

# wait_for SECONDS CMD... : poll CMD every 50 ms until it succeeds or time runs out.
wait_for() {
    local secs=$1; shift
    local deadline=$((SECONDS + secs))
    until "$@" 2>/dev/null; do
        ((SECONDS < deadline)) || return 1
        sleep 0.05
    done
}

# start_steadyblk NAME ARGS... : start a daemon in the foreground mode, its
# log in $T/NAME.log, wait (bounded) until its pidfile says it is ready.
# Sets SB_PID_<NAME>.
start_steadyblk() {
    local name=$1; shift
    local pidfile=$T/$name.pid
    rm -f "$pidfile"
    # shellcheck disable=SC2086
    $SB_WRAPPER "$STEADYBLK" --foreground --pidfile "$pidfile" "$@" \
        >"$T/$name.log" 2>&1 &
    local pid=$!
    eval "SB_PID_$name=$pid"
    cleanup_add "kill -9 $pid"
    if ! wait_for 20 test -s "$pidfile"; then
        cat "$T/$name.log" >&2
        fail "steadyblk ($name) did not become ready"
    fi
}

# stop_steadyblk NAME [SECONDS] : SIGTERM, and fail if it takes longer than
# SECONDS (default 10) or exits with an error.
stop_steadyblk() {
    local name=$1 secs=${2:-10} pid
    pid=$(eval "echo \$SB_PID_$name")
    kill -TERM "$pid" 2>/dev/null || return 0
    local deadline=$((SECONDS + secs))
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            kill -9 "$pid"
            fail "steadyblk ($name) did not stop within ${secs}s"
        fi
        sleep 0.05
    done
    local rc=0
    wait "$pid" || rc=$?
    if ((rc != 0)); then
        cat "$T/$name.log" >&2
        fail "steadyblk ($name) exited with status $rc"
    fi
}

# sb_uri SOCKET [NAME] : the NBD URI of a unix-socket export.
sb_uri() { echo "nbd+unix:///${2:-}?socket=$1"; }

# make_image PATH SIZE : a sparse image.
make_image() { truncate -s "$2" "$1"; }

# qmp SOCKET JSON... : send qmp_capabilities then each command; prints every
# reply line (events included).  Bounded by a timeout.
qmp() {
    local sock=$1; shift
    { echo '{"execute":"qmp_capabilities"}'
      local c; for c in "$@"; do echo "$c"; done
      sleep 0.2; } |
        timeout 10 socat -t 5 - "UNIX-CONNECT:$sock"
}

# qmp_reply SOCKET JSON : the reply line ("return" or "error") to one command.
qmp_reply() { qmp "$1" "$2" | jq -c 'select(has("return") or has("error"))' | tail -1; }

# json_ok JSON FILTER : fail the test unless jq's FILTER holds for JSON.
json_ok() { jq -e "$2" <<<"$1" >/dev/null 2>&1 || fail "expected $2 in: $1"; }

# qmp_open NAME SOCKET : a QMP client that stays connected (and negotiated)
# in the background, to watch events; every line the server sends it lands
# in $T/qmp-NAME.out.  Talk to it with qmp_send, look with qmp_wait.
qmp_open() {
    local name=$1 sock=$2 fifo=$T/qmp-$1.in fd
    mkfifo "$fifo"
    timeout 600 socat -t 10 - "UNIX-CONNECT:$sock" <"$fifo" >"$T/qmp-$name.out" \
        2>"$T/qmp-$name.err" &
    cleanup_add "kill $!"
    exec {fd}>"$fifo"
    eval "_qmp_fd_$name=$fd"
    qmp_send "$name" '{"execute":"qmp_capabilities","id":"qmp_open"}'
    qmp_wait "$name" '.id == "qmp_open"' >/dev/null || fail "QMP client $name: no negotiation"
}

# qmp_send NAME JSON : sends one command on client NAME.
qmp_send() { local fd; fd=$(eval "echo \$_qmp_fd_$1"); printf '%s\n' "$2" >&"$fd"; }

# qmp_wait NAME JQ_CONDITION [SECONDS] : waits (10 s by default) until
# client NAME has received a line for which the condition holds, and prints
# the first such line.  Fails (returns 1) if none comes.
qmp_wait() {
    wait_for "${3:-10}" _qmp_has "$1" "$2" || return 1
    jq -c "select($2)" "$T/qmp-$1.out" 2>/dev/null | head -1
}
_qmp_has() { jq -c "select($2)" "$T/qmp-$1.out" 2>/dev/null | grep -q .; }

# qmp_events NAME : the names of the events client NAME received, in order.
qmp_events() { jq -r 'select(.event) | .event' "$T/qmp-$1.out" 2>/dev/null; }

# fault_on FILE RULE... / fault_off FILE : drive the fault filter's trigger file.
fault_on() { local f=$1; shift; printf '%s\n' "$@" >"$f.tmp"; mv "$f.tmp" "$f"; }
fault_off() { rm -f "$1"; }

# now_ms : monotonic-enough wall clock in milliseconds, for elapsed times.
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# outage_for FAULTFILE SECONDS RULE... : an outage in the background: the
# rules apply now and are removed after SECONDS.  Sets OUTAGE_PID.
outage_for() {
    local f=$1 secs=$2; shift 2
    fault_on "$f" "$@"
    (sleep "$secs"; fault_off "$f") &
    OUTAGE_PID=$!
    cleanup_add "kill $OUTAGE_PID"
}

# rss_kb PID : resident set size of a process in KiB.
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# qemu_io_ok URI CMD... : run qemu-io (bounded), fail the test on any error.
# Its output is left in QEMU_IO_OUT.
qemu_io_ok() {
    local uri=$1; shift
    local args=() c rc=0 what=$*
    for c in "$@"; do args+=(-c "$c"); done
    ((${#what} <= 300)) || what="${what:0:300}... ($# commands)"
    QEMU_IO_OUT=$(timeout 120 qemu-io -f raw "$uri" "${args[@]}" 2>&1) || rc=$?
    if ((rc != 0)); then
        echo "$QEMU_IO_OUT" >&2
        ((rc != 124)) || echo "qemu-io did not finish in 120 s" >&2
        fail "qemu-io failed (exit $rc): $what"
    fi
    if grep -qiE 'failed|error' <<<"$QEMU_IO_OUT"; then
        echo "$QEMU_IO_OUT" >&2
        fail "qemu-io reported an error: $what"
    fi
}

# start_sb_faulty SIZE SB_ARGS... : steadyblk (start_steadyblk sb) with
# SB_ARGS serving a fresh SIZE image, $T/disk.img, on $T/s.sock through the
# fault filter that $T/fault drives (fault_on, outage_for).  Sets uri to the
# export's URI.
start_sb_faulty() {
    make_image "$T/disk.img" "$1"; shift
    uri=$(sb_uri "$T/s.sock")
    start_steadyblk sb "$@" --fault-file "$T/fault" --export "$uri" "$T/disk.img"
}

# start_sb_qmp_faulty SIZE SB_ARGS... : the same, but the fault filter is
# driven over the QMP socket $T/qmp.sock (fault-set, fault-clear).
start_sb_qmp_faulty() {
    make_image "$T/disk.img" "$1"; shift
    uri=$(sb_uri "$T/s.sock")
    start_steadyblk sb "$@" --fault-injection --qmp "$T/qmp.sock" --export "$uri" "$T/disk.img"
}

# qemu_io_bg OUT URI CMD... : qemu-io (bounded) running each CMD on URI in
# the background, its output in OUT, killed at exit.  Sets QEMU_IO_PID.
qemu_io_bg() {
    local out=$1 uri=$2 c args=(); shift 2
    for c in "$@"; do args+=(-c "$c"); done
    timeout 60 qemu-io -f raw "$uri" "${args[@]}" >"$out" 2>&1 &
    QEMU_IO_PID=$!
    cleanup_add "kill -9 $QEMU_IO_PID"
}

# pid_gone PID : true once process PID has exited.
pid_gone() { ! kill -0 "$1" 2>/dev/null; }

# sb_log_has REGEX [N] : the daemon's log (start_steadyblk NAME sb) has a
# line matching REGEX (at least N of them).
sb_log_has() { (($(grep -cE "$1" "$T/sb.log") >= ${2:-1})); }

# sb_log_show REGEX : the daemon's log lines matching REGEX, as comments on
# stderr, to show what happened; fails if there is none.
sb_log_show() { grep -E "$1" "$T/sb.log" | sed 's/^/# /' >&2; }
