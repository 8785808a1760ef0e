# SPDX-License-Identifier: BSD-3-Clause
# Helpers for the tests of a signal during the backend's first connection
# (test-*-startup-signal.sh): servers that take a connection and never say
# a word, and the check that the daemon stops promptly anyway.  Sourced
# after functions.sh, never run.

# mute_tcp_listener : a TCP listener on 127.0.0.1 that never accepts (the
# kernel completes the TCP handshake; nothing is ever answered).  Sets
# MUTE_PORT.
mute_tcp_listener() {
    python3 -c 'import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
print(s.getsockname()[1], flush=True)
time.sleep(120)' >"$T/mute.port" &
    cleanup_add "kill $!"
    wait_for 10 test -s "$T/mute.port" || fail "the mute listener did not start"
    MUTE_PORT=$(cat "$T/mute.port")
}

# mute_unix_listener SOCK : a unix-socket listener that accepts and never
# answers (socat hands each connection to a silent sleep).
mute_unix_listener() {
    rm -f "$1"
    socat "UNIX-LISTEN:$1,fork" SYSTEM:'sleep 120' &
    cleanup_add "kill $!"
    wait_for 10 test -S "$1" || fail "the mute unix listener did not start"
}

# expect_prompt_stop SIGNAL BACKEND : starts steadyblk on BACKEND (which
# never answers), sends SIGNAL after 0.5 s, and fails unless the daemon is
# gone within 2 s, with exit status 1 and a message saying it was
# interrupted during start-up.
expect_prompt_stop() {
    local sig=$1 backend=$2 pid rc=0 t0 elapsed
    "$STEADYBLK" --foreground --backend-timeout 30s --export "$(sb_uri "$T/s.sock")" \
        "$backend" >"$T/startup.log" 2>&1 &
    pid=$!
    cleanup_add "kill -9 $pid"
    sleep 0.5
    kill -0 "$pid" 2>/dev/null || { cat "$T/startup.log" >&2; fail "steadyblk exited before the signal"; }
    t0=$(now_ms)
    kill "-$sig" "$pid"
    wait_for 2 pid_gone "$pid" || { cat "$T/startup.log" >&2; fail "SIG$sig: still running after 2 s"; }
    elapsed=$(($(now_ms) - t0))
    wait "$pid" || rc=$?
    info "SIG$sig during start-up on $backend: status $rc after ${elapsed} ms: $(tail -1 "$T/startup.log")"
    ((rc == 1)) || { cat "$T/startup.log" >&2; fail "SIG$sig: exit status $rc, expected 1"; }
    grep -q 'interrupted during start-up' "$T/startup.log" ||
        { cat "$T/startup.log" >&2; fail "SIG$sig: no 'interrupted during start-up' message"; }
    ((elapsed < 1000)) || fail "SIG$sig: took ${elapsed} ms to stop"
    [[ ! -e $T/s.sock ]] || fail "SIG$sig: the export socket was left behind"
}
