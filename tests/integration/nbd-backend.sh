# SPDX-License-Identifier: BSD-3-Clause
# Helpers for the NBD backend tests (test-nbd-backend-*.sh): the real servers
# steadyblk proxies to, started and stopped by PID, and the checks every
# outage test ends with.  Sourced after functions.sh, never run.

requires nbdkit qemu-io

# Every server is started by a function that waits until it is ready.
# NAME identifies it: its pid in SRV_PID_<NAME>, its log in $T/<NAME>.log.
# Start servers from the test's own shell, not from a ( subshell ): nbdkit
# exits with its parent.

# start_nbdkit NAME SOCK ARGS... : nbdkit on a unix socket.
start_nbdkit() {
    local name=$1 sock=$2; shift 2
    rm -f "$sock" "$T/$name.pid" # nbdkit leaves its socket behind when killed
    nbdkit -f -U "$sock" -P "$T/$name.pid" "$@" >>"$T/$name.log" 2>&1 &
    _server_started "$name" $! "$T/$name.pid"
}

# start_nbdkit_tcp NAME PORT ARGS... : nbdkit on 127.0.0.1:PORT.
start_nbdkit_tcp() {
    local name=$1 port=$2; shift 2
    rm -f "$T/$name.pid"
    nbdkit -f -i 127.0.0.1 -p "$port" -P "$T/$name.pid" "$@" >>"$T/$name.log" 2>&1 &
    _server_started "$name" $! "$T/$name.pid"
}

# start_qemu_nbd NAME SOCK FILE [ARGS...] : qemu-nbd on a unix socket (an
# absolute path).
start_qemu_nbd() {
    local name=$1 sock=$2 file=$3; shift 3
    rm -f "$sock" "$T/$name.pid"
    qemu-nbd -t -f raw --cache=writeback -k "$sock" --pid-file "$T/$name.pid" "$@" "$file" \
        >>"$T/$name.log" 2>&1 &
    _server_started "$name" $! "$T/$name.pid"
}

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
    local deadline=$((SECONDS + 10))
    while kill -0 "$pid" 2>/dev/null; do
        ((SECONDS < deadline)) || fail "server $name survived SIG$sig for 10 s"
        sleep 0.05
    done
    wait "$pid" 2>/dev/null || true
}

# pause_ctl SOCK p|r : pauses or resumes nbdkit's pause filter; checks its answer.
pause_ctl() {
    local answer
    answer=$(printf '%s' "$2" | timeout 10 socat -t 5 - "UNIX-CONNECT:$1") || true
    [[ $answer == "${2^^}" ]] || fail "pause filter answered '$answer' to '$2'"
}

# The writers.  Each one runs in the background while the test makes the
# backend fail; writer_wait then fails the test if the writer saw an error.

# fio_writer URI SIZE SECONDS : random 4 KiB writes with crc32c headers over
# SIZE bytes, rate-limited to last about SECONDS, then fio's verify pass
# through steadyblk.  Sets WRITER_PID and WRITER_OUT.
fio_writer() {
    requires fio
    local uri=$1 size=$2 secs=$3
    local rate=$(( $(numfmt --from=iec "$size") / secs ))
    timeout 120 fio --name=nbdbe --ioengine=nbd --uri="$uri" --rw=randwrite --bs=4k \
        --iodepth=16 --size="$size" --rate="$rate" --verify=crc32c --do_verify=1 \
        --verify_fatal=1 --output-format=json --output="$T/fio.json" &
    WRITER_PID=$! WRITER_OUT=$T/fio.json
    cleanup_add "kill $WRITER_PID"
}

# fio_verify_file FILE SIZE : fio's verify pass of fio_writer's workload,
# straight on the backend's own file (same job, same seed, nothing written).
fio_verify_file() {
    local file=$1 size=$2
    timeout 120 fio --name=nbdbe --ioengine=psync --filename="$file" --rw=randwrite \
        --bs=4k --size="$size" --verify=crc32c --verify_only --verify_fatal=1 \
        --output="$T/fio-file.out" ||
        { cat "$T/fio-file.out" >&2; fail "the backend's file does not verify"; }
}

# fio_max_write_ms : the slowest write of fio_writer, in ms.
fio_max_write_ms() { jq '.jobs[0].write.clat_ns.max / 1000000 | floor' "$T/fio.json"; }

# qemu_io_writer URI COUNT : COUNT writes of 64 KiB, each with its own
# pattern at its own offset, one every 100 ms (so it spans an outage), each
# read back at once.  Sets WRITER_PID and WRITER_OUT.
qemu_io_writer() {
    local uri=$1 count=$2 i args=()
    for ((i = 0; i < count; i++)); do
        args+=(-c "write -P $(qemu_io_pattern "$i") $((i * 65536)) 64k")
        args+=(-c "read -P $(qemu_io_pattern "$i") $((i * 65536)) 64k" -c "sleep 100")
    done
    timeout 120 qemu-io -f raw "$uri" "${args[@]}" >"$T/qemu-io.out" 2>&1 &
    WRITER_PID=$! WRITER_OUT=$T/qemu-io.out
    cleanup_add "kill $WRITER_PID"
}
qemu_io_pattern() { printf '0x%02x' $((($1 * 7 + 1) % 255 + 1)); }

# qemu_io_verify_file FILE COUNT : every block of qemu_io_writer, read back
# from the backend's own file.
qemu_io_verify_file() {
    local file=$1 count=$2 i cmds=()
    for ((i = 0; i < count; i++)); do
        cmds+=("read -P $(qemu_io_pattern "$i") $((i * 65536)) 64k")
    done
    qemu_io_ok "$file" "${cmds[@]}"
}

# writer_wait : waits for the writer; fails the test if it saw any error
# (fio's job error, qemu-io's "... failed").
writer_wait() {
    local rc=0
    wait "$WRITER_PID" || rc=$?
    if ((rc != 0)) || grep -qE 'failed|"error" : [1-9]' "$WRITER_OUT"; then
        cat "$WRITER_OUT" >&2
        fail "the writer saw an error (exit $rc)"
    fi
}

# sb_log_has REGEX [N] : the daemon's log (start_steadyblk NAME sb) has a
# line matching REGEX (at least N of them).
sb_log_has() { (($(grep -cE "$1" "$T/sb.log") >= ${2:-1})); }
