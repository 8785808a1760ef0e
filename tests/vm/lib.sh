# lib.sh - helpers for tests/vm scenario scripts (source it; needs bash).
# Servers are started in the background, remembered by PID and stopped by PID
# (never by name); every wait is bounded; results are key=value files written
# by run-guest.sh.  Exit codes follow automake: 0 pass, 1 fail, 77 skip.
# shellcheck shell=bash

SB_VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SB_REPO=$(cd "$SB_VM_DIR/../.." && pwd)
: "${SB_BUILDDIR:=$SB_REPO/build}"
export SB_BUILDDIR

SB_PIDS=()      # servers we started, stopped in reverse order by sb_cleanup
SB_FAILS=0      # failed assertions so far

sb_log()  { echo "[$(date +%T)] ${SB_NAME:-vm}: $*" >&2; }
sb_skip() { sb_log "SKIP: $*"; exit 77; }
sb_fail() { sb_log "FAIL: $*"; exit 1; }

# sb_need CMD... : skip the scenario when a tool is missing.
sb_need() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || sb_skip "missing $c (see tests/vm/deps.txt)"
    done
}

# sb_need_nbdkit_filter NAME... : nbdkit filters live in separate packages on
# some distributions.
sb_need_nbdkit_filter() {
    local f
    for f in "$@"; do
        nbdkit --filter="$f" null --version >/dev/null 2>&1 || sb_skip "nbdkit filter $f not available"
    done
}

# sb_resultdir NAME : a fresh directory for this run's results, printed.
# $SB_RESULTS (default $SB_BUILDDIR/vm-results) holds one per scenario.
sb_resultdir() {
    local d=${SB_RESULTS:-$SB_BUILDDIR/vm-results}/$1
    rm -rf "$d"
    mkdir -p "$d"
    (cd "$d" && pwd)
}

sb_now() { date +%s.%N; }

# sb_start NAME CMD... : run CMD in the background, output to $SB_DIR/NAME.log;
# sets SB_LASTPID and remembers it for sb_cleanup.
sb_start() {
    local name=$1; shift
    # Appended: a restarted server keeps the log of its previous life.
    "$@" >> "$SB_DIR/$name.log" 2>&1 < /dev/null &
    SB_LASTPID=$!
    SB_PIDS+=("$SB_LASTPID")
    echo "$SB_LASTPID" > "$SB_DIR/$name.pid"
    sb_log "started $name (pid $SB_LASTPID): $*"
}

# sb_forget PID : drop PID from the cleanup list once it is reaped, so a
# recycled PID is never signalled later.
sb_forget() {
    local keep=() p
    for p in "${SB_PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    SB_PIDS=("${keep[@]}")
}

# sb_stop PID [GRACE_S] : SIGTERM, wait up to GRACE_S (default 5) seconds,
# then SIGKILL; the exit status goes to SB_STOP_RC (137 after the SIGKILL).
# Only ever our own children.
# shellcheck disable=SC2034 # SB_STOP_RC is read by the scenarios
sb_stop() {
    local pid=$1 grace=${2:-5} i
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        # A frozen (SIGSTOPped) server would only act on SIGTERM once continued.
        kill -CONT "$pid" 2>/dev/null || true
        for ((i = 0; i < grace * 10; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            sb_log "pid $pid ignored SIGTERM for ${grace}s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    SB_STOP_RC=0
    wait "$pid" 2>/dev/null || SB_STOP_RC=$?
    sb_forget "$pid"
}

# sb_kill PID [SIG] : hard stop for fault scenarios (default SIGKILL).
sb_kill() {
    kill "-${2:-KILL}" "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    sb_forget "$1"
}

# sb_cleanup : stop everything we started; installed as the EXIT trap by sb_init.
sb_cleanup() {
    local i
    for ((i = ${#SB_PIDS[@]} - 1; i >= 0; i--)); do
        sb_stop "${SB_PIDS[$i]}" 3
    done
    SB_PIDS=()
}

# sb_init NAME [TITLE] : common scenario start: result dir in $SB_DIR, cleanup
# trap, scenario start time.  TITLE says in words what runs (plot.sh uses it
# for the run's panel; default NAME).
sb_init() {
    SB_NAME=$1
    SB_DIR=$(sb_resultdir "$1")
    SB_T0=$(sb_now)
    echo "$1" > "$SB_DIR/scenario"
    echo "${2:-$1}" > "$SB_DIR/title"
    trap sb_cleanup EXIT
    trap 'exit 130' INT TERM
}

# sb_wait_socket PATH [TIMEOUT_S] : wait for a unix socket to appear (default 10 s).
sb_wait_socket() {
    local p=$1 t=${2:-10} i
    for ((i = 0; i < t * 20; i++)); do
        [ -S "$p" ] && return 0
        sleep 0.05
    done
    sb_fail "socket $p did not appear within ${t}s"
}

# sb_error_backend NAME SOCK IMAGE ERRNO FLAG : nbdkit serving IMAGE at SOCK
# through its error filter, which fails every request with ERRNO while FLAG
# exists (the connection stays up).  Waits for the socket; SB_LASTPID is its
# pid.  A stale socket (nbdkit leaves one after SIGKILL) is removed first.
sb_error_backend() {
    local name=$1 sock=$2 image=$3 errno=$4 flag=$5 pid
    rm -f "$sock"
    sb_start "$name" nbdkit -f -U "$sock" --filter=error file "$image" \
        error="$errno" error-rate=100% error-file="$flag"
    pid=$SB_LASTPID
    sb_wait_socket "$sock"
    SB_LASTPID=$pid
}

# sb_wait_file PATH TIMEOUT_S [PID] : wait for a file; give up early if PID died.
sb_wait_file() {
    local p=$1 t=$2 pid=${3:-} i
    for ((i = 0; i < t * 20; i++)); do
        [ -e "$p" ] && return 0
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
        sleep 0.05
    done
    return 1
}

# sb_wait_line FILE REGEX TIMEOUT_S : wait for a line matching REGEX in FILE.
sb_wait_line() {
    local f=$1 re=$2 t=$3 i
    for ((i = 0; i < t * 20; i++)); do
        grep -qE "$re" "$f" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# sb_mkdisk PATH [SIZE] : a fresh ext4 image.  The inode tables and journal
# are initialised here so the guest's ext4lazyinit thread writes nothing
# behind the workload's back.
sb_mkdisk() {
    rm -f "$1"
    truncate -s "${2:-256M}" "$1"
    mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$1"
}

# sb_fsck IMAGE : print clean|fixed|bad after e2fsck -fy (replays the journal;
# exit 0 clean, 1/2 errors corrected, >=4 uncorrected).
sb_fsck() {
    local rc=0
    timeout 60 e2fsck -fy "$1" > "$SB_DIR/fsck.log" 2>&1 || rc=$?
    case $rc in 0) echo clean ;; 1|2|3) echo fixed ;; *) echo bad ;; esac
}

# sb_mark EVENT : record a host event time in seconds since the guest's
# SBSTART (run-guest.sh writes sbstart.time), for plot.sh.
sb_mark() {
    local now t0
    now=$(sb_now)
    t0=$(cat "$SB_DIR/sbstart.time" 2>/dev/null || echo "$now")
    echo "$1 $(echo "$now $t0" | awk '{printf "%.2f", $1 - $2}')" >> "$SB_DIR/events.txt"
    sb_log "event $1"
}

# sb_get KEY [DIR] : a value from DIR/result.txt (default $SB_DIR), empty if absent.
sb_get() { sed -n "s/^$1=//p" "${2:-$SB_DIR}/result.txt" 2>/dev/null | tail -n1; }

# sb_add KEY VALUE : append a host-side finding to result.txt.
sb_add() { echo "$1=$2" >> "$SB_DIR/result.txt"; }

# sb_assert KEY OP VALUE [WHY] : OP is = != -eq -ne -gt -ge -lt -le; records
# failures in SB_FAILS so a scenario can report all of them at once.
sb_assert() {
    local k=$1 op=$2 want=$3 why=${4:-} got ok=0
    got=$(sb_get "$k")
    case $op in
        =)  [ "$got" = "$want" ] && ok=1 ;;
        !=) [ "$got" != "$want" ] && ok=1 ;;
        -eq|-ne|-gt|-ge|-lt|-le)
            [[ $got =~ ^-?[0-9]+$ ]] && test "$got" "$op" "$want" && ok=1 ;;
        *) sb_fail "sb_assert: unknown operator $op" ;;
    esac
    if [ $ok = 1 ]; then
        sb_log "ok:   $k=$got ($op $want)${why:+ - $why}"
    else
        sb_log "FAIL: $k=${got:-<missing>}, expected $op $want${why:+ - $why}"
        SB_FAILS=$((SB_FAILS + 1))
    fi
}

# sb_guest OPTS... : run-guest.sh in the background with results in $SB_DIR;
# sets SB_GUEST_PID.  Then sb_wait_start, faults, sb_guest_wait.
sb_guest() {
    "$SB_VM_DIR/run-guest.sh" --out "$SB_DIR" --builddir "$SB_BUILDDIR" "$@" \
        > "$SB_DIR/run-guest.log" 2>&1 &
    SB_GUEST_PID=$!
    SB_PIDS+=("$SB_GUEST_PID")
}

# sb_wait_start [TIMEOUT_S] : wait until the guest has started its workload.
sb_wait_start() {
    sb_wait_file "$SB_DIR/sbstart.time" "${1:-40}" "$SB_GUEST_PID" ||
        { cat "$SB_DIR/run-guest.log" >&2; sb_fail "guest did not start its workload"; }
    local up
    up=$(tr -d '\r' < "$SB_DIR/serial.log" | sed -n 's/^SBSTART .*boot_ms=\([0-9]*\).*/\1/p')
    sb_log "guest workload started (guest uptime ${up:-?} ms)"
}

# sb_sleep_guest S : sleep until S seconds after the guest's SBSTART, so fault
# timing does not depend on how long the boot took.
sb_sleep_guest() {
    local d
    d=$(echo "$1 $(cat "$SB_DIR/sbstart.time") $(sb_now)" | awk '{d = $1 - ($3 - $2); printf "%.2f", (d > 0 ? d : 0)}')
    sb_sleep "$d"
}

# sb_sleep S : a sleep that a SIGTERM/SIGINT to the scenario interrupts at
# once (bash runs traps only after a foreground command ends, but during `wait`).
sb_sleep() {
    sleep "$1" &
    wait $! || true
}

# sb_guest_wait : wait for run-guest.sh; returns its status (0 = got a result).
sb_guest_wait() {
    local rc=0
    wait "$SB_GUEST_PID" || rc=$?
    sb_forget "$SB_GUEST_PID"
    [ $rc = 0 ] || cat "$SB_DIR/run-guest.log" >&2
    return $rc
}

# sb_summary : print the result file and the scenario time; record the time.
sb_summary() {
    local wall
    wall=$(echo "$(sb_now) $SB_T0" | awk '{printf "%.1f", $1 - $2}')
    sb_add scenario_wall_s "$wall"
    sb_log "result ($SB_DIR/result.txt): $(grep -v '^scenario_wall_s=' "$SB_DIR/result.txt" | tr '\n' ' ')"
    sb_log "scenario took ${wall}s"
}

# sb_need_steadyblk : skip the scenario unless $STEADYBLK is the daemon to test.
sb_need_steadyblk() {
    if [ -z "${STEADYBLK:-}" ] || [ ! -x "$STEADYBLK" ]; then
        sb_skip "set STEADYBLK=/path/to/steadyblk"
    fi
}

# sb_steadyblk NAME SOCKET BACKEND [OPTION...] : start $STEADYBLK in the
# foreground, serving BACKEND at nbd+unix:///?socket=SOCKET with OPTIONs, its
# log in $SB_DIR/NAME.log; returns once its pidfile says every listener is
# ready, fails the scenario if it exits first or takes 15 s.  Sets SB_LASTPID.
sb_steadyblk() {
    local name=$1 sock=$2 backend=$3; shift 3
    local pidfile=$SB_DIR/$name.pidfile
    rm -f "$pidfile"
    sb_start "$name" "$STEADYBLK" --foreground --pidfile "$pidfile" \
        --export "${SB_EXPORT_URI:-nbd+unix:///?socket=$sock}" "$@" "$backend"
    if ! sb_wait_file "$pidfile" 15 "$SB_LASTPID"; then
        tail -n 5 "$SB_DIR/$name.log" >&2
        sb_fail "steadyblk did not start (log: $SB_DIR/$name.log)"
    fi
}

# sb_free_port : a TCP port on 127.0.0.1 that nothing listens on now.
sb_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# sb_assert_log NAME REGEX WHY : $SB_DIR/NAME.log (a server's log) has a line
# matching REGEX (grep -E); counted in SB_FAILS like sb_assert.
sb_assert_log() {
    local line
    if line=$(grep -m1 -E "$2" "$SB_DIR/$1.log" 2>/dev/null); then
        sb_log "ok:   $1.log: $line - $3"
    else
        sb_log "FAIL: no line matching /$2/ in $1.log - $3"
        SB_FAILS=$((SB_FAILS + 1))
    fi
}

# sb_assert_intact AFTER : no error anywhere in the guest, all data intact,
# the filesystem still writable (a probe write after AFTER) and consistent.
sb_assert_intact() {
    sb_assert status = "done"
    sb_assert writes -gt 0 "the guest wrote"
    sb_assert write_errors -eq 0 "no write+sync failed in the guest"
    sb_assert dmesg_io_errors -eq 0 "no I/O error in the guest kernel"
    sb_assert journal_aborted = 0 "ext4 journal intact"
    sb_assert remount_ro = 0 "not remounted read-only"
    sb_assert ext4_errors -eq 0 "no EXT4-fs error"
    sb_assert checksum_bad -eq 0 "every acknowledged file reads back intact"
    sb_assert probe = ok "a new durable write works after $1"
    sb_assert fsck = clean "the image is consistent"
}

# sb_assert_unharmed OUTAGE_S : the verdict of a scenario in which the guest
# must not notice an outage of OUTAGE_S seconds: sb_assert_intact; and the
# outage really reached the guest (a write was held through most of it) and
# was left promptly (no write held more than 5 s past it).
sb_assert_unharmed() {
    local len=$1
    sb_assert_intact "the outage"
    sb_assert max_latency_ms -ge "$(((len - 2) * 1000))" "a write waited out the outage"
    sb_assert max_latency_ms -le "$(((len + 5) * 1000))" "and was released soon after it"
}

# sb_assert_broken : the verdict of a control, in which the guest must see
# the outage: I/O errors, failed writes, ext4's journal abort.
sb_assert_broken() {
    sb_assert status = "done"
    sb_assert writes -gt 0 "the guest wrote"
    sb_assert dmesg_io_errors -gt 0 "the kernel logged I/O errors"
    sb_assert journal_aborted = 1 "ext4 aborted its journal"
    sb_assert write_errors -gt 0 "write+sync calls failed in the guest"
}

# sb_verdict WHAT : exit 1 if an assertion failed, else log "PASS: WHAT" and exit 0.
sb_verdict() {
    if [ "$SB_FAILS" -gt 0 ]; then
        sb_log "FAIL: $SB_FAILS checks failed"
        exit 1
    fi
    sb_log "PASS: $*"
    exit 0
}
