#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# --max-connections N: N clients are served; one more is accepted and closed
# at once (the client fails fast, it does not hang), with a warning in the
# log; the N others keep working, and once one leaves a newcomer is served.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
. "$here/nbd-export.sh"
requires qemu-io nbdinfo

N=4
make_image "$T/disk.img" 16M
uri=$(sb_uri "$T/s.sock")
# -v: the log says when each client has chosen its export.
start_steadyblk sb -v --max-connections "$N" --export "$uri" "$T/disk.img"

# N clients that write, stay connected for a while, then read back.
pids=()
for ((i = 0; i < N; i++)); do
    timeout 60 qemu-io -f raw "$uri" -c "write -P $((i + 1)) ${i}M 64k" -c 'sleep 4000' \
        -c "read -P $((i + 1)) ${i}M 64k" >"$T/c$i.out" 2>&1 &
    pids+=($!)
    cleanup_add "kill $!"
done
wait_for 10 sb_log_has "export '' \\(disk disk0\\)" "$N" ||
    fail "the $N clients did not all connect"

# One more: refused at once, cleanly.
start=$(now_ms)
rc=0
timeout 20 qemu-io -f raw "$uri" -c 'read 0 4k' >"$T/extra.out" 2>&1 || rc=$?
took=$(($(now_ms) - start))
info "client $((N + 1)): exit $rc after ${took} ms: $(head -1 "$T/extra.out")"
((rc != 0 && rc != 124)) || fail "client $((N + 1)) was not refused (exit $rc)"
((took < 5000)) || fail "refusing took ${took} ms"
rc=0
timeout 20 nbdinfo "$uri" >"$T/extra-info.out" 2>&1 || rc=$?
((rc != 0 && rc != 124)) || fail "nbdinfo was not refused (exit $rc)"
sb_log_has 'refused: 4 connections already' || fail "no warning about the refusal"
sb_log_show 'connections already'

# The N others were not disturbed.
for ((i = 0; i < N; i++)); do
    wait "${pids[i]}" || { cat "$T/c$i.out" >&2; fail "client $i failed"; }
    grep -q 'read 65536/65536' "$T/c$i.out" || { cat "$T/c$i.out" >&2; fail "client $i did not read"; }
done
# They are gone: a newcomer is served.
qemu_io_ok "$uri" 'read -P 1 0 64k' "read -P $N $((N - 1))M 64k"
stop_steadyblk sb
