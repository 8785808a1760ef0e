# SPDX-License-Identifier: BSD-3-Clause
# The writers the backend outage tests run through steadyblk while they make
# the storage behind it fail, and the checks of the backend's own file they
# end with.  Sourced by nbd-backend.sh and iscsi-target.sh, after
# functions.sh; never run.
#
# Each writer runs in the background; writer_wait then fails the test if the
# writer saw an error.  Nothing here needs a particular backend: each test
# says which writer's tool it requires.

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

# writer_wait_since MS WHAT : writer_wait, then says how long after WHAT
# (at now_ms time MS) the writer was done.
writer_wait_since() {
    writer_wait
    info "writer done $(($(now_ms) - $1)) ms after $2"
}
