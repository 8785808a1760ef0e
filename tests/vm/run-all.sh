#!/bin/bash
# run-all.sh BUILDDIR - run every tests/vm/scenario-*.sh one after the other
# (each boots a TCG guest: running them in parallel on two cores only makes
# every one slower) and print one line per scenario on stdout,
# "pass|fail|skip NAME", as tests/run.sh expects; details go to stderr.
# STEADYBLK (the daemon to test) is passed through to the scenarios.  The
# latency plot of the retry run against the control (no steadyblk) is drawn
# when both ran; docs/guest-outage.png is a copy of it.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ $# -eq 1 ] || { echo "usage: $0 BUILDDIR" >&2; exit 2; }
SB_BUILDDIR=$(mkdir -p "$1" && cd "$1" && pwd)
export SB_BUILDDIR
results=${SB_RESULTS:-$SB_BUILDDIR/vm-results}

# Build once up front so a build failure is reported once, not per scenario.
if ! "$here/build-guest.sh" "$SB_BUILDDIR" >&2; then
    for s in "$here"/scenario-*.sh; do echo "fail $(basename "$s" .sh) (guest build failed)"; done
    exit 0
fi

ran=" "
for s in "$here"/scenario-*.sh; do
    name=$(basename "$s" .sh)
    rc=0
    # The scenarios bound themselves; this is the last line of defence.
    timeout -k 10 180 "$s" >&2 || rc=$?
    case $rc in
        0) echo "pass $name" ;;
        77) echo "skip $name" ;;
        *) echo "fail $name (exit $rc)" ;;
    esac
    [ $rc = 77 ] || ran+="$name "
done

# Only runs from this time: a skipped scenario leaves an old result dir behind.
if [[ $ran == *" scenario-retry-nbdkit "* && $ran == *" scenario-control-nbdkit "* ]]; then
    "$here/plot.sh" -o "$results/latency.png" \
        -t "A Linux guest writing to ext4 through a storage outage: latency of each write+sync" \
        "$results/retry-nbdkit" "$results/control-nbdkit" >&2 || true
fi
