#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Every read completes, however its completion arrives.  Reads that miss a
# block device's page cache complete through io_uring task work, which the
# kernel runs whenever steadyblk's thread returns to user space, at any
# moment of a loop iteration; a completion posted after the backend's last
# look and before the loop sleeps must still wake it.  Here the device is a
# loop device over a freshly written file (its data in the file's page cache,
# so the device answers in microseconds, inside that window), served cold, and
# fio reads it at random, QD1 and QD4, in rounds with a fresh daemon each.
# A read that never completes stalls fio: the bounded wait catches it.
# (A race: against the unfixed backend this test caught the stall in one run
# of three; it cannot be forced, only given many chances.)
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
. "$here/blockdev.sh"
requires fio
requires_blockdev

for round in 1 2 3 4; do
    qd=$(((round % 2) ? 1 : 4))
    dd if=/dev/urandom of="$T/dev.img" bs=1M count=256 status=none
    loop_attach "$T/dev.img"
    rm -f "$T/s.sock"
    uri=$(sb_uri "$T/s.sock")
    start_steadyblk sb --export "$uri" "$LOOP_DEV"
    rc=0
    timeout 30 fio --name=cold --ioengine=nbd --uri="$uri" --rw=randread --bs=4k \
        --iodepth="$qd" --time_based --runtime=4 --output-format=terse \
        >"$T/fio.out" 2>"$T/fio.err" || rc=$?
    ((rc != 124)) || fail "round $round (QD$qd): a read never completed; fio stalled"
    ((rc == 0)) || { cat "$T/fio.err" >&2; fail "round $round (QD$qd): fio failed ($rc)"; }
    info "round $round (QD$qd): $(cut -d';' -f8 "$T/fio.out") reads/s, every one completed"
    stop_steadyblk sb
    loop_detach
    rm -f "$T/dev.img"
done
