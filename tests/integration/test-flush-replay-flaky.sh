#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Invariant 2 on a flaky path: the backend restarts and loses its write-back
# cache, then fails one write in five.  The replay of the unflushed log must
# still finish, in order (the log holds several writes to the same blocks:
# a retried older write landing after a newer one would show), without
# treating the flaky backend as down: each failed replay write is retried on
# its own while the others go on, and the disk is degraded, not hung.
#
# nbdkit serves the file through its cache filter (write-back) under its
# error filter, which fails 20% of the writes while $T/flaky exists.  A
# client writes 384 blocks of 16 KiB at random over 96 slots, unflushed;
# nbdkit is SIGKILLed and restarted flaky; once steadyblk has reconnected
# the client flushes: that must succeed, and the file must hold the last
# write to each slot.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/nbd-backend.sh"
. "$(dirname "$0")/nbd-export.sh"
requires nbdkit socat jq cmp
nbd_python

img=$T/disk.img
rm -f "$img"; make_image "$img" 16M

be_args=(--filter=error --filter=cache file "$img" cache=writeback
    error-pwrite=EIO error-pwrite-rate=20% "error-file=$T/flaky")
start_nbdkit be "$T/be.sock" "${be_args[@]}"
start_sb_nbd --werror retry --rerror retry --retry-interval 200ms \
    --retry-max-interval 1s --max-unflushed-bytes 64M --qmp "$T/qmp.sock"
qmp_open ev "$T/qmp.sock"

# The client flushes once steadyblk has reconnected, so the replay starts on
# a healthy disk and the flush waits behind it.
export SB_HOOK="touch $T/flaky; kill -KILL \$(cat $T/be.pid); touch $T/restart;
    for i in \$(seq 600); do [ -e $T/go ] && exit 0; sleep 0.05; done; exit 1"
timeout 120 "$NBD_PY" -c '
import os, random, subprocess, sys, nbd
slot, slots = 16384, 96
rng = random.Random(1205)
expect = bytearray(slots * slot)
h = nbd.NBD()
h.connect_uri(sys.argv[1])
for i in range(384):
    s = rng.randrange(slots)
    data = bytes([i & 0xff, i >> 8]) * (slot // 2)
    h.pwrite(data, (1 << 20) + s * slot)
    expect[s * slot:(s + 1) * slot] = data
open(sys.argv[2], "wb").write(expect)
subprocess.run(["bash", "-c", os.environ["SB_HOOK"]], check=True)
h.flush()
h.shutdown()' "$uri" "$T/expect" >"$T/client.log" 2>&1 &
client=$!

wait_for 60 test -e "$T/restart" || fail "the client never asked for the restart"
wait_for 10 bash -c "! kill -0 \$(cat $T/be.pid 2>/dev/null) 2>/dev/null" || true
start_nbdkit be "$T/be.sock" "${be_args[@]}"
qmp_wait ev '.event == "BACKEND_RECONNECTED"' 20 >/dev/null || fail "steadyblk did not reconnect"
touch "$T/go"
wait "$client" || { cat "$T/client.log" >&2; fail "the client's flush failed"; }
rm -f "$T/flaky"

qmp_wait ev '.event == "DISK_REPLAYED" and .data.writes >= 96' 10 >/dev/null ||
    fail "no DISK_REPLAYED event for the whole log"
qmp_wait ev '.event == "DISK_DEGRADED"' 5 >/dev/null ||
    fail "the replay met failures but the disk never said it is degraded"
failed=$(grep -c "could not be written again" "$T/sb.log" || true)
((failed == 0)) || fail "$failed replay writes were given up on under --werror retry"
# A pass ends only when its first write fails (nothing written yet: the
# backend may be down) or on SB_OUTAGE_STREAK failures in a row; at 20% that
# is a handful at most, against one per failed write (~80) if each failure
# ended the pass.
passes_cut=$(grep -c "writing an unflushed write again failed" "$T/sb.log" || true)
((passes_cut <= 6)) || fail "the replay was cut $passes_cut times: failed writes were not retried on their own"
errors=$(grep -c "EIO" "$T/be.log" || true)
info "replay cut $passes_cut times; nbdkit failed $errors writes"

stop_steadyblk sb
kill -TERM "$(cat "$T/be.pid")"
wait_for 10 bash -c "! kill -0 $(cat "$T/be.pid") 2>/dev/null" || fail "nbdkit did not stop"
cmp <(dd if="$img" bs=16384 skip=64 count=96 status=none) "$T/expect" ||
    fail "the flushed file does not hold the last write to each slot"
echo "PASS"
