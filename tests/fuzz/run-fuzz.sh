#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Description: runs each libFuzzer harness of a -Dfuzz=true build for a
# while, on a copy of its checked-in corpus (what it finds stays in the
# scratch copy, so the checked-in corpus stays small), and says where the
# crashes went.
#
#   tests/fuzz/run-fuzz.sh BUILD_DIR [SECONDS] [HARNESS...]
#
# SECONDS per harness (60); every harness unless some are named (nbd,
# qmp, ...).  FUZZ_WORKDIR (a new temporary directory) holds corpus/<h>/
# and crashes/<h>/; FUZZ_ARGS adds libFuzzer options.  Exit status 1 if
# any harness found something.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:?usage: $0 BUILD_DIR [SECONDS] [HARNESS...]}
seconds=${2:-60}
shift $(($# < 2 ? $# : 2))
build=$(cd "$build" && pwd)
work=${FUZZ_WORKDIR:-$(mktemp -d "${TMPDIR:-/tmp}/sbfuzz-run.XXXXXX")}
mkdir -p "$work"

harnesses=("$@")
if ((${#harnesses[@]} == 0)); then
    for d in "$top"/tests/fuzz/corpus/*/; do harnesses+=("$(basename "$d")"); done
fi

found=()
for h in "${harnesses[@]}"; do
    bin=$build/tests/fuzz/fuzz-$h
    [[ -x $bin ]] || { echo "$bin: not built (a -Dfuzz=true build?)" >&2; exit 2; }
    mkdir -p "$work/corpus/$h" "$work/crashes/$h"
    cp -n "$top/tests/fuzz/corpus/$h/"* "$work/corpus/$h/"
    echo "== fuzz-$h: ${seconds}s, corpus $work/corpus/$h"
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        "$bin" -max_total_time="$seconds" -timeout=10 -max_len=65536 \
        -artifact_prefix="$work/crashes/$h/" ${FUZZ_ARGS:-} "$work/corpus/$h" \
        >"$work/fuzz-$h.log" 2>&1
    rc=$?
    grep -E '^(Done|stat::number_of_executed_units)' "$work/fuzz-$h.log" | tail -1
    if ((rc != 0)) || [[ -n $(ls -A "$work/crashes/$h") ]]; then
        found+=("$h")
        grep -E 'ERROR|SUMMARY|fuzz harness:|#[0-9]+ 0x' "$work/fuzz-$h.log" | head -20
    fi
done

echo "logs and corpora: $work"
if ((${#found[@]})); then
    echo "FOUND something in: ${found[*]}; reproducers:"
    for h in "${found[@]}"; do ls -d "$work/crashes/$h/"* 2>/dev/null | sed 's/^/  /'; done
    exit 1
fi
echo "nothing found"
