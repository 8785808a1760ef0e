#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The long chaos run (make soak): tests/integration/test-chaos.sh again and
# again, each round with a new seed and the next backend (mixed, nbdkit,
# qemu-nbd), until SOAK_SECONDS (1800) have passed; rounds of
# SOAK_ROUND_SECONDS (600).  Stops at the first failing round and says
# which seed replays it (CHAOS_SEED=N CHAOS_BACKEND=B test-chaos.sh).
#
#   tests/chaos/soak.sh STEADYBLK-BINARY
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
total=${SOAK_SECONDS:-1800} round=${SOAK_ROUND_SECONDS:-600}
backends=(mixed nbdkit qemu-nbd)
start=$SECONDS n=0
while ((SECONDS - start < total)); do
    left=$((total - (SECONDS - start)))
    secs=$((left < round ? left : round))
    ((secs >= 10)) || break
    backend=${backends[n % 3]}
    seed=$((RANDOM * 32768 + RANDOM))
    echo "# round $((n + 1)): $secs s, backend $backend, seed $seed"
    if ! STEADYBLK=$bin CHAOS_SECONDS=$secs CHAOS_SEED=$seed CHAOS_BACKEND=$backend \
        bash "$here/../integration/test-chaos.sh"; then
        echo "soak: round $((n + 1)) failed; replay: CHAOS_SEED=$seed CHAOS_BACKEND=$backend"
        exit 1
    fi
    n=$((n + 1))
done
echo "soak: $n rounds passed in $((SECONDS - start)) s"
