# SPDX-License-Identifier: BSD-3-Clause
# Helpers for the management-plane tests (test-ctl-*.sh, test-metrics-*.sh,
# test-docs-*.sh): steadyblkctl and the metrics endpoint.  Sourced after
# functions.sh, never run.

# steadyblkctl from the same build as the daemon under test.
: "${STEADYBLKCTL:=$(dirname "$STEADYBLK")/../ctl/steadyblkctl}"
[[ -x $STEADYBLKCTL ]] || fail "no steadyblkctl at $STEADYBLKCTL (set STEADYBLKCTL)"

# ctl ARGS... : steadyblkctl on the test's QMP socket, bounded.
ctl() { timeout 30 "$STEADYBLKCTL" --socket "$T/qmp.sock" "$@"; }

# ctl_rc ARGS... : steadyblkctl's exit status (its output in $T/ctl.out and
# $T/ctl.err); never fails the test by itself.
ctl_rc() {
    local rc=0
    ctl "$@" >"$T/ctl.out" 2>"$T/ctl.err" || rc=$?
    echo "$rc"
}

# ctl_follow NAME ARGS... : `steadyblkctl events ARGS` in the background, its
# output in $T/ev-NAME.out; returns once it follows the stream (it says so on
# stderr).  Sets CTL_PID_<NAME>.  Not under timeout(1), which signals the
# whole process group with SIGCONT too: LeakSanitizer's exit-time check can
# hang on that in the ASan build.  The cleanup kills it.
ctl_follow() {
    local name=$1; shift
    "$STEADYBLKCTL" --socket "$T/qmp.sock" events "$@" >"$T/ev-$name.out" 2>"$T/ev-$name.err" &
    eval "CTL_PID_$name=$!"
    cleanup_add "kill $!"
    wait_for 10 grep -q 'following the events' "$T/ev-$name.err" ||
        fail "steadyblkctl events ($name) did not start: $(cat "$T/ev-$name.err")"
}

# ctl_wait_event NAME JQ_CONDITION [SECONDS] : waits until `events --json`
# client NAME printed an event for which the condition holds; prints it.
ctl_wait_event() {
    wait_for "${3:-10}" _ctl_has "$1" "$2" || return 1
    jq -c "select($2)" "$T/ev-$1.out" | head -1
}
_ctl_has() { jq -c "select($2)" "$T/ev-$1.out" 2>/dev/null | grep -q .; }

# ctl_event_names NAME : the event names client NAME printed, in order, on one line.
ctl_event_names() { jq -r '.event' "$T/ev-$1.out" | tr '\n' ' '; }

# ctl_stop NAME SIGNAL : sends SIGNAL to client NAME (started in the
# background, without timeout(1)), waits (bounded) until it is gone and sets
# CTL_RC to its exit status.
ctl_stop() {
    local pid
    pid=$(eval "echo \$CTL_PID_$1")
    kill "-$2" "$pid" 2>/dev/null || true
    wait_for 10 eval "! kill -0 $pid" || fail "steadyblkctl ($1) ignored SIG$2"
    CTL_RC=0
    wait "$pid" || CTL_RC=$?
}

# metrics_get SOCKET [PATH] : the body of GET PATH (/metrics) on the metrics
# unix socket, checked to be a 200 in the text format.
metrics_get() {
    local hdr=$T/metrics.headers body
    body=$(curl -sS --max-time 10 -D "$hdr" --unix-socket "$1" "http://localhost${2:-/metrics}") ||
        fail "curl on $1 failed"
    grep -q '^HTTP/1.1 200' "$hdr" || fail "metrics: $(head -1 "$hdr")"
    grep -qi '^Content-Type: text/plain; version=0.0.4' "$hdr" ||
        fail "metrics: wrong content type: $(grep -i content-type "$hdr")"
    printf '%s\n' "$body"
}

# metric TEXT SERIES : the value of SERIES (e.g. 'steadyblk_held_requests{disk="disk0"}')
# in the exposition TEXT; fails the test if it is not there exactly once.
metric() {
    local v
    v=$(awk -v k="$2" '$1 == k { print $2 }' <<<"$1")
    [[ $(wc -l <<<"$v") == 1 && -n $v ]] || fail "series $2: '${v//$'\n'/,}' in the metrics"
    echo "$v"
}

# metrics_check TEXT : the strict exposition-format parser, and promtool's
# linter when it is installed.
metrics_check() {
    python3 "$(dirname "${BASH_SOURCE[0]}")/check-metrics.py" <<<"$1" ||
        fail "the metrics do not parse"
    if command -v promtool >/dev/null; then
        promtool check metrics <<<"$1" || fail "promtool check metrics failed"
    fi
}
