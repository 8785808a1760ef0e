#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Runs every test and ends with one line "N passed, N failed, N skipped".
#
#   tests/run.sh --build DIR [--asan DIR] [--fuzz DIR] [--only PATTERN]
#
# Counted per test case: each cmocka case (TAP "ok"/"not ok"), each
# integration script (exit 0 pass, 77 skip, else fail), each corpus file a
# fuzz harness replays (tests/fuzz).  With --asan, the unit tests, the fuzz
# corpora and the integration scripts run again against the sanitizer build,
# and the unit tests run under valgrind too.  With --fuzz (a -Dfuzz=true
# clang build), each libFuzzer harness runs SB_FUZZ_RUNS (2000) inputs from
# its corpus: one result per harness.  Set SB_TEST_VM=0 to leave out the
# guest suite (tests/vm).
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build="" asan="" fuzz="" only=""
while (($#)); do
    case $1 in
    --build) build=$2; shift 2 ;;
    --asan) asan=$2; shift 2 ;;
    --fuzz) fuzz=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    *) echo "usage: $0 --build DIR [--asan DIR] [--fuzz DIR] [--only PATTERN]" >&2; exit 2 ;;
    esac
done
[[ -n $build ]] || { echo "$0: --build DIR is required" >&2; exit 2; }
# Absolute paths: the tests run in their own temporary folders.
build=$(cd "$build" && pwd)
[[ -z $asan ]] || asan=$(cd "$asan" && pwd)
[[ -z $fuzz ]] || fuzz=$(cd "$fuzz" && pwd)

passed=0 failed=0 skipped=0
failures=()
logdir=$(mktemp -d "${TMPDIR:-/tmp}/sbcheck.XXXXXX")

record() { # record RESULT NAME
    case $1 in
    pass) ((passed++)); echo "PASS: $2" ;;
    skip) ((skipped++)); echo "SKIP: $2" ;;
    *) ((failed++)); failures+=("$2"); echo "FAIL: $2" ;;
    esac
}

want() { [[ -z $only || $1 == *$only* ]]; }

# run_unit LABEL BINARY [WRAPPER...]: one result per cmocka case.
run_unit() {
    local label=$1 bin=$2; shift 2
    local log=$logdir/$label-$(basename "$bin").log rc=0 cases=0
    want "$label/$(basename "$bin")" || return 0
    CMOCKA_MESSAGE_OUTPUT=TAP timeout 600 "$@" "$bin" >"$log" 2>&1 || rc=$?
    while read -r line; do
        case $line in
        # cmocka writes a skipped case as "not ok N # SKIP name".
        *" # SKIP "*) record skip "$label/$(basename "$bin"): ${line##* # SKIP }"; ((cases++)) ;;
        "ok "*) record pass "$label/$(basename "$bin"): ${line#ok * - }"; ((cases++)) ;;
        "not ok "*) record fail "$label/$(basename "$bin"): ${line#not ok * - }"; ((cases++)) ;;
        esac
    done <"$log"
    # A crash or a sanitizer/valgrind report outside any case still fails.
    if ((rc != 0)) && ! grep -q '^not ok' "$log"; then
        record fail "$label/$(basename "$bin"): exit status $rc"
    fi
    if ((cases == 0 && rc == 0)); then
        record fail "$label/$(basename "$bin"): ran no test case"
    fi
    ((rc == 0)) || sed 's/^/    /' "$log" | tail -40
}

# run_script LABEL SCRIPT BINARY: one result per integration script.
run_script() {
    local label=$1 script=$2 bin=$3
    local name
    name="$label/$(basename "$script" .sh)"
    want "$name" || return 0
    local log=$logdir/${name//\//-}.log rc=0
    STEADYBLK=$bin SB_BUILD=$build timeout 600 bash "$script" >"$log" 2>&1 || rc=$?
    case $rc in
    0) record pass "$name" ;;
    77) record skip "$name ($(grep -m1 SKIP "$log" || true))" ;;
    *) record fail "$name (exit $rc)"; sed 's/^/    /' "$log" | tail -40 ;;
    esac
}

# run_fuzz LABEL BINARY: a libFuzzer harness, briefly, on a scratch copy of
# its corpus; what it finds is kept (the path is printed).
run_fuzz() {
    local label=$1 bin=$2 name h rc=0
    name=$(basename "$bin")
    h=${name#fuzz-}
    want "$label/$name" || return 0
    local log=$logdir/$label-$name.log work=$logdir/$label-$name
    mkdir -p "$work/corpus" "$work/crashes"
    cp "$top/tests/fuzz/corpus/$h/"* "$work/corpus/"
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 timeout 600 "$bin" \
        -runs="${SB_FUZZ_RUNS:-2000}" -timeout=10 -max_len=65536 \
        -artifact_prefix="$work/crashes/" "$work/corpus" >"$log" 2>&1 || rc=$?
    if ((rc == 0)); then
        record pass "$label/$name"
        return
    fi
    record fail "$label/$name (exit $rc)"
    grep -E 'ERROR|SUMMARY|fuzz harness:|#[0-9]+ 0x' "$log" | head -30 | sed 's/^/    /'
    local keep
    keep=$(mktemp -d "${TMPDIR:-/tmp}/sbcheck-fuzz-$h.XXXXXX")
    cp -r "$work/crashes" "$log" "$keep/"
    echo "    reproducers and log kept in $keep"
}

units() { find "$1/tests/unit" -maxdepth 1 -type f -name 'test-*' -perm -u+x | sort; }
fuzzers() { [[ -d $1/tests/fuzz ]] && find "$1/tests/fuzz" -maxdepth 1 -type f -name 'fuzz-*' -perm -u+x | sort; }
scripts() { find "$top/tests/integration" -maxdepth 1 -name 'test-*.sh' | sort; }

for t in $(units "$build"); do run_unit unit "$t"; done
for t in $(fuzzers "$build"); do run_unit fuzz "$t"; done
for s in $(scripts); do run_script integration "$s" "$build/src/daemon/steadyblk"; done

if [[ -n $asan ]]; then
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=99
    for t in $(units "$asan"); do run_unit asan "$t"; done
    for t in $(fuzzers "$asan"); do run_unit asan "$t"; done
    for s in $(scripts); do run_script asan "$s" "$asan/src/daemon/steadyblk"; done
    unset ASAN_OPTIONS UBSAN_OPTIONS
    if command -v valgrind >/dev/null; then
        for t in $(units "$build"); do
            run_unit valgrind "$t" valgrind -q --error-exitcode=98 --leak-check=full \
                --errors-for-leak-kinds=definite
        done
    fi
fi

if [[ -n $fuzz ]]; then
    for t in $(fuzzers "$fuzz"); do run_fuzz libfuzzer "$t"; done
fi

if [[ ${SB_TEST_VM:-1} != 0 && -x $top/tests/vm/run-all.sh ]] && want vm/; then
    while read -r result name; do
        record "$result" "vm/$name"
    done < <(STEADYBLK=$build/src/daemon/steadyblk SB_BUILD=$build \
        "$top/tests/vm/run-all.sh" "$build" 2>"$logdir/vm.log" || true)
fi

rm -rf "$logdir"
if ((failed)); then
    echo "Failed:"
    printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed, $skipped skipped"
((failed == 0))
