#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# What holding safely costs steadyblk, in one run on one file: the
# unflushed-write log on (the default) against off, and a flaky path (the
# fault filter failing 1% and 5% of requests at random with EIO, under
# --werror/--rerror retry) against the same run with no faults.  Ratios to
# the first column (log-on), never absolute figures.
#
# usage: bench/faults.sh [--runtime S] [--ramp S] [--only VARIANT[,...]]
#                        [--jobs JOB[,JOB]] [--size MiB] [--retry-interval D]
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ALL_NAMES=(log-on log-off eio-1% eio-5%)
NAME_KIND=variant
default_jobs=randwrite32,randread32,seqwrite
retry_interval=1s

usage() {
  cat <<USAGE
usage: $0 [options]
$(common_usage)
  --retry-interval D  the policy's --retry-interval (default $retry_interval, steadyblk's own)
Variants (all steadyblk serving a file, --werror retry --rerror retry):
  log-on    the defaults: --max-unflushed-bytes 64M, no faults (the reference)
  log-off   --max-unflushed-bytes 0, no faults
  eio-1%    log on; the fault filter fails 1% of all requests with EIO
  eio-5%    the same at 5%
Jobs by default: $default_jobs
USAGE
}

own_option() {
  case $1 in
    --retry-interval) retry_interval=${2:?} ;;
    *) return 1 ;;
  esac
}

[[ " $* " == *" --jobs "* ]] || set -- --jobs "$default_jobs" "$@"
parse_options "$@"
parse_jobs "$JOBS_LIST"
find_steadyblk
[[ -x $STEADYBLK ]] || die "steadyblk not found at $STEADYBLK (build it, or set STEADYBLK=)"
require_tools fio jq nbdinfo timeout getconf

bench_tmp faults
file=/dev/shm/steadyblk-bench-$$.img
make_test_file "$file" "$SIZE_MIB"
fault=$BENCH_TMP/fault
out=$(results_dir faults)
STEADYBLK_EXTRA=()
{
  env_report
  echo "file: $file ($(describe_target "$file"))"
  echo "policy: --werror retry --rerror retry --retry-interval $retry_interval"
} >"$out/env.txt"
note "results in $out"

# variant_cmd NAME : CMD for the variant; writes the fault file's rule.
variant_cmd() {
  STEADYBLK_EXTRA=(--werror retry --rerror retry --retry-interval "$retry_interval"
                   --fault-file "$fault")
  rm -f "$fault"
  case $1 in
    log-off) STEADYBLK_EXTRA+=(--max-unflushed-bytes 0) ;;
    eio-*) echo "all EIO ${1#eio-}" >"$fault" ;;
  esac
  steadyblk_cmd "$file"
}

for v in "${NAMES[@]}"; do
  variant_cmd "$v"
  run_jobs "$v" "$out"
done

(( ${#RAN[@]} )) || die "no variant ran"
{
  echo "steadyblk under faults, $(date +%Y-%m-%d), $(hostname -s), $(nproc) CPUs, kernel $(uname -r)."
  echo "fio --ioengine=nbd over a unix socket, ${RAMP}s ramp + ${RUNTIME}s measured per job;"
  echo "file: $(describe_target "$file"); --werror retry --rerror retry --retry-interval $retry_interval."
  echo "Cells: IOPS or MB/s / server CPU seconds in the measured window, (ratio to ${RAN[0]})."
  echo
  print_ratio_table "$out/results.jsonl" "$(IFS=,; echo "${RAN[*]}")"
} | tee "$out/table.md"
