#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Chaos, bounded: tests/chaos/chaos.py's verifying writer for CHAOS_SECONDS
# (60 by default) while its schedule flips the fault filter, kills, stops and
# restarts the backend (nbdkit with a write-back cache, or qemu-nbd) and kills
# clients with requests in flight.  It checks every read against its model,
# the backend's file after each checkpoint flush, the whole disk at the end,
# steadyblk's peak RSS and its clean stop.  CHAOS_SEED replays a run (the
# seed is printed either way).  `make soak` runs the same for longer.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/nbd-export.sh"
requires nbdkit qemu-nbd
nbd_python

# A sanitizer build keeps freed memory in quarantine: its RSS says nothing
# about steadyblk's own bounds, so it gets more slack.
slack=64
ldd "$STEADYBLK" 2>/dev/null | grep -q libasan && slack=512

args=(--steadyblk "$STEADYBLK" --dir "$T" --seconds "${CHAOS_SECONDS:-60}"
      --backend "${CHAOS_BACKEND:-mixed}" --rss-slack "$slack")
[[ -z ${CHAOS_SEED:-} ]] || args+=(--seed "$CHAOS_SEED")
[[ -z $SB_WRAPPER ]] || args+=(--wrapper "$SB_WRAPPER")

rc=0
timeout $((${CHAOS_SECONDS:-60} + 240)) "$NBD_PY" "$_nbd_here/../chaos/chaos.py" "${args[@]}" || rc=$?
if ((rc != 0)); then
    tail -30 "$T/steadyblk.log" >&2
    ((rc != 124)) || fail "the chaos run did not finish in time"
    fail "the chaos run found a violation (exit $rc)"
fi
echo "PASS"
