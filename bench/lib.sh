# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# Shared helpers for bench/run.sh and bench/proxy.sh: the options and set-up
# both share, tool checks, servers started and stopped by PID with bounded
# waits, CPU accounting from /proc, the fio job set, and the markdown table.
# Sourced, never run.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC2034  # used by the scripts that source this file
TOP_DIR=$(cd "$BENCH_DIR/.." && pwd)

# Python with the Debian libnbd binding; a pyenv python3 on PATH lacks it.
PYTHON=${PYTHON:-/usr/bin/python3}

die()  { echo "bench: error: $*" >&2; exit 1; }
note() { echo "bench: $*" >&2; }

# Package that provides each tool, so the error says what to install.
declare -A TOOL_PKG=(
  [fio]=fio [jq]=jq [qemu-nbd]=qemu-utils [nbdkit]=nbdkit
  [qemu-storage-daemon]=qemu-system-common [nbdinfo]=libnbd-bin
  [timeout]=coreutils [getconf]=libc-bin
)

# require_tools TOOL... : exit with a clear message if one is missing.
require_tools() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 ||
      die "'$t' not found; install it with: apt-get install -y ${TOOL_PKG[$t]:-$t}"
  done
}

require_python_nbd() {
  "$PYTHON" -c 'import nbd' 2>/dev/null ||
    die "$PYTHON cannot import nbd; install it with: apt-get install -y python3-libnbd (or set PYTHON=)"
}

# ---------------------------------------------------------------- options

# Both scripts take --runtime, --ramp, --only, --jobs, --size and --help.
# Before parse_options a script sets ALL_NAMES (what --only may name, all of
# them by default), NAME_KIND ("server", "proxy") for messages and
# NAME_TOOL[name] (the tool a name needs beyond fio and the NBD tools), and
# defines usage (printing common_usage in it) and own_option OPT VALUE, which
# takes its own options (returns 1 for an unknown one).
declare -A NAME_TOOL=()
SIZE_MIB=1024

# common_usage : the usage lines of the options parse_options takes.
common_usage() {
  cat <<EOF
  --runtime S       measured seconds per fio job (default $RUNTIME)
  --ramp S          ramp seconds before measuring (default $RAMP)
  --only LIST       one $NAME_KIND or more, comma-separated: ${ALL_NAMES[*]}
  --jobs LIST       fio jobs, comma-separated: ${ALL_JOBS[*]}
  --size MiB        size of the test file in /dev/shm (default $SIZE_MIB)
EOF
}

# parse_options ARGS... : sets RUNTIME, RAMP, SIZE_MIB, JOBS_LIST (not yet
# checked: see parse_jobs) and NAMES, the --only list, checked against
# ALL_NAMES.
# shellcheck disable=SC2034  # JOBS_LIST is for the scripts
parse_options() {
  local only n
  only=$(IFS=,; echo "${ALL_NAMES[*]}")
  JOBS_LIST=$(IFS=,; echo "${ALL_JOBS[*]}")
  while (( $# )); do
    case $1 in
      --runtime) RUNTIME=${2:?} ;;
      --ramp)    RAMP=${2:?} ;;
      --only)    only=${2:?} ;;
      --jobs)    JOBS_LIST=${2:?} ;;
      --size)    SIZE_MIB=${2:?} ;;
      -h|--help) usage; exit 0 ;;
      *) own_option "$1" "${2:-}" || { usage >&2; die "unknown argument '$1'"; } ;;
    esac
    shift 2
  done
  [[ $RUNTIME =~ ^[0-9]+$ && $RAMP =~ ^[0-9]+$ && $SIZE_MIB =~ ^[0-9]+$ ]] ||
    die "--runtime, --ramp and --size take whole numbers"
  IFS=, read -r -a NAMES <<<"$only"
  for n in "${NAMES[@]}"; do
    [[ " ${ALL_NAMES[*]} " == *" $n "* ]] || die "unknown $NAME_KIND '$n' (known: ${ALL_NAMES[*]})"
  done
}

# select_runnable : after parse_options: exits unless the tools NAMES need
# are there, finds steadyblk, and sets RUNNABLE to NAMES without steadyblk
# if its binary is missing (SKIPPED then says so).
select_runnable() {
  local n
  require_tools fio jq nbdinfo timeout getconf
  for n in "${NAMES[@]}"; do
    [[ -z ${NAME_TOOL[$n]:-} ]] || require_tools "${NAME_TOOL[$n]}"
  done
  find_steadyblk
  RUNNABLE=()
  SKIPPED=
  for n in "${NAMES[@]}"; do
    if [[ $n == steadyblk && ! -x $STEADYBLK ]]; then
      SKIPPED="skipped, $STEADYBLK not found or not executable (set STEADYBLK=)"
      note "steadyblk: $SKIPPED"
    else
      RUNNABLE+=("$n")
    fi
  done
  (( ${#RUNNABLE[@]} )) || die "no $NAME_KIND to run"
}

# bench_tmp NAME : the exit trap, a private directory BENCH_TMP, and in it
# the socket the server under test listens on, SOCK (absolute: qemu-nbd
# requires it), with its URI.
bench_tmp() {
  install_trap
  BENCH_TMP=$(mktemp -d "/tmp/steadyblk-$1.XXXXXX")
  SOCK=$BENCH_TMP/s.sock
  URI="nbd+unix:///?socket=$SOCK"
}

# qemu_nbd_cache FILE : QEMU_NBD_CACHE, qemu-nbd's cache options for FILE,
# and QEMU_NBD_MODE, the same in words.  qemu-nbd as in TESTING.md uses
# O_DIRECT (--cache=none); where the file system refuses O_DIRECT, the page
# cache (writeback).
# shellcheck disable=SC2034  # used by the scripts that source this file
qemu_nbd_cache() {
  if direct_io_works "$1"; then
    QEMU_NBD_CACHE=(--cache=none --aio=native)
    QEMU_NBD_MODE="--cache=none --aio=native (O_DIRECT works on this file system)"
  else
    QEMU_NBD_CACHE=(--cache=writeback --aio=threads)
    QEMU_NBD_MODE="--cache=writeback --aio=threads (O_DIRECT refused on this file system)"
  fi
}

# ---------------------------------------------------------------- servers

# Every PID we started, so the exit trap can stop what is still running.
BENCH_PIDS=()
SERVER_PID=

# start_server LOG SOCK URI CMD... : start CMD in the background with output
# to LOG, set SERVER_PID, and wait (bounded by START_TIMEOUT) until the NBD
# export at URI answers a handshake.  Must not be called in a subshell, or
# SERVER_PID and the cleanup list are lost.  Returns 1 (and stops the server)
# if it dies or does not become ready.
START_TIMEOUT=${START_TIMEOUT:-15}
start_server() {
  local log=$1 sock=$2 uri=$3; shift 3
  # A stale socket from a killed nbdkit would make the readiness check lie.
  rm -f "$sock"
  # A plain simple command: $! is the server itself, not a wrapper shell,
  # which matters for kill and for /proc/PID/stat.
  "$@" >"$log" 2>&1 </dev/null &
  SERVER_PID=$!
  BENCH_PIDS+=("$SERVER_PID")
  if ! wait_nbd_ready "$SERVER_PID" "$sock" "$uri" "$START_TIMEOUT"; then
    note "server '$1' (pid $SERVER_PID) did not become ready; last lines of $log:"
    tail -n 15 "$log" >&2 || true
    stop_server "$SERVER_PID"
    return 1
  fi
}

# wait_nbd_ready PID SOCK URI SECONDS : poll until SOCK exists and an NBD
# handshake on URI succeeds; fail early if PID exits.
wait_nbd_ready() {
  local pid=$1 sock=$2 uri=$3 secs=$4 deadline
  deadline=$(( $(date +%s) + secs ))
  while (( $(date +%s) < deadline )); do
    pid_alive "$pid" || return 1
    # The handshake, not just the socket file: some servers create the
    # socket before they can serve, and nbdkit leaves stale ones behind.
    if [[ -S $sock ]] && timeout 5 nbdinfo --size "$uri" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.05
  done
  return 1
}

# pid_alive PID : true while PID runs.  kill -0 alone is not enough: our
# own dead child stays a zombie, and answers it, until we wait for it.
pid_alive() {
  local st
  st=$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $st && $st != Z ]]
}

# stop_server PID : SIGTERM, wait up to STOP_TIMEOUT seconds, then SIGKILL.
# Reaps the child so its exit does not linger as a zombie.
STOP_TIMEOUT=${STOP_TIMEOUT:-10}
stop_server() {
  local pid=$1 i
  [[ -n $pid ]] || return 0
  if pid_alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for (( i = 0; i < STOP_TIMEOUT * 20; i++ )); do
      pid_alive "$pid" || break
      sleep 0.05
    done
    if pid_alive "$pid"; then
      note "pid $pid ignored SIGTERM for ${STOP_TIMEOUT}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || true
  forget_pid "$pid"
}

forget_pid() {
  local p keep=()
  for p in "${BENCH_PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  BENCH_PIDS=("${keep[@]}")
}

# nap SECONDS : sleep in the background and wait for it, so that a signal
# runs the exit trap at once instead of after a sleep of RUNTIME seconds.
NAP_PID=
nap() {
  sleep "$1" &
  NAP_PID=$!
  wait "$NAP_PID"
  NAP_PID=
}

# Exit trap: stop everything still running (newest first: proxies before
# their backends), then remove temporary files.  BENCH_TMP and
# BENCH_CLEAN_FILES are set by the scripts.
BENCH_TMP=
BENCH_CLEAN_FILES=()
bench_cleanup() {
  local rc=$? i
  trap - EXIT INT TERM
  [[ -n $NAP_PID ]] && kill "$NAP_PID" 2>/dev/null
  for (( i = ${#BENCH_PIDS[@]} - 1; i >= 0; i-- )); do
    stop_server "${BENCH_PIDS[i]}"
  done
  if (( ${#BENCH_CLEAN_FILES[@]} )); then rm -f "${BENCH_CLEAN_FILES[@]}"; fi
  [[ -n $BENCH_TMP && -d $BENCH_TMP ]] && rm -rf "$BENCH_TMP"
  exit "$rc"
}
install_trap() {
  trap bench_cleanup EXIT
  # Turn signals into a normal exit so the EXIT trap runs once.
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# find_steadyblk : set STEADYBLK unless the caller did.  The meson build puts
# the binary in build/src/daemon/; build/steadyblk is accepted too.
find_steadyblk() {
  local c
  if [[ -n ${STEADYBLK:-} ]]; then return; fi
  STEADYBLK=$TOP_DIR/build/steadyblk
  for c in "$TOP_DIR/build/steadyblk" "$TOP_DIR/build/src/daemon/steadyblk"; do
    if [[ -x $c ]]; then STEADYBLK=$c; return; fi
  done
}

# steadyblk_cmd BACKEND : sets CMD to steadyblk's command line (see
# TESTING.md), serving BACKEND (a file or an NBD URI) on SOCK with the
# script's STEADYBLK_EXTRA options.
steadyblk_cmd() {
  CMD=("$STEADYBLK" --foreground --pidfile "$BENCH_TMP/steadyblk.pid"
       --export "$URI" "${STEADYBLK_EXTRA[@]}" "$1")
}

# ---------------------------------------------------------------- test file

# make_test_file PATH MIB : a file of random data, written in full, so reads
# hit real pages (a sparse file's holes read as zeroes without touching data).
make_test_file() {
  local path=$1 mib=$2
  note "creating ${mib} MiB test file $path"
  BENCH_CLEAN_FILES+=("$path")
  timeout 300 dd if=/dev/urandom of="$path" bs=1M count="$mib" iflag=fullblock status=none ||
    die "could not create $path"
}

# direct_io_works PATH : true if O_DIRECT reads work on PATH.  tmpfs only
# accepts O_DIRECT since Linux 6.6; qemu-nbd --cache=none needs it.
direct_io_works() {
  dd if="$1" of=/dev/null bs=4096 count=1 iflag=direct status=none 2>/dev/null
}

# ---------------------------------------------------------------- CPU

CLK_TCK=$(getconf CLK_TCK)

# cpu_ticks PID : utime+stime of the whole process.  /proc/PID/stat (not
# /proc/PID/task/TID/stat) sums all threads, including exited ones and
# io_uring's iou-wrk workers, which are threads of the process.
cpu_ticks() {
  local s f
  { s=$(<"/proc/$1/stat"); } 2>/dev/null || { echo 0; return; }
  # Field 2 (comm) may contain spaces: cut everything up to the last ')'.
  s=${s##*) }
  read -r -a f <<<"$s"
  # f[0] is field 3 (state); utime and stime are fields 14 and 15.
  echo $(( f[11] + f[12] ))
}

# ---------------------------------------------------------------- fio jobs

# The job set, in the table's order (ALL_JOBS); per job, what the table
# reports (iops or mbs), its label and fio's arguments.
ALL_JOBS=()
declare -A JOB_UNIT=() JOB_LABEL=() JOB_ARGS=()
define_job() { # define_job NAME UNIT LABEL FIO_ARGS
  ALL_JOBS+=("$1"); JOB_UNIT[$1]=$2; JOB_LABEL[$1]=$3; JOB_ARGS[$1]=$4
}
define_job randread1   iops "4k randread QD1"   "--rw=randread --bs=4k --iodepth=1"
define_job randread32  iops "4k randread QD32"  "--rw=randread --bs=4k --iodepth=32"
define_job randwrite32 iops "4k randwrite QD32" "--rw=randwrite --bs=4k --iodepth=32"
define_job seqread     mbs  "1M seq read QD8"   "--rw=read --bs=1M --iodepth=8"
define_job seqwrite    mbs  "1M seq write QD8"  "--rw=write --bs=1M --iodepth=8"

# parse_jobs LIST : validate a comma-separated job list into JOBS.
parse_jobs() {
  local j
  IFS=, read -r -a JOBS <<<"$1"
  for j in "${JOBS[@]}"; do
    [[ -n ${JOB_ARGS[$j]:-} ]] || die "unknown job '$j' (known: ${ALL_JOBS[*]})"
  done
}

RUNTIME=${RUNTIME:-20}
RAMP=${RAMP:-3}

# run_job SERVER JOB URI OUTDIR PID [EXTRA_PID] : run one fio job against URI,
# keep fio's JSON as OUTDIR/SERVER-JOB.json, and append one JSON line to
# OUTDIR/results.jsonl.  CPU is sampled for PID (and EXTRA_PID, e.g. the
# backend behind a proxy) twice: over the whole fio run, and over the
# measured window only (after ramp), which is what the table shows.
run_job() {
  local server=$1 job=$2 uri=$3 out=$4 pid=$5 xpid=${6:-}
  local json="$out/raw/$server-$job.json" fpid rc=0
  local c0 c1 c2 c3 x1=0 x2=0 t0 t3
  local -a args
  read -r -a args <<<"${JOB_ARGS[$job]}"
  note "  $server: ${JOB_LABEL[$job]} (${RAMP}s ramp + ${RUNTIME}s)"
  c0=$(cpu_ticks "$pid"); t0=$(date +%s.%N)
  # Bounded: fio's own runtime plus slack for connecting and a slow exit.
  timeout --kill-after=5 $(( RAMP + RUNTIME + 60 )) \
    fio --name="$job" --ioengine=nbd --uri="$uri" "${args[@]}" \
        --time_based --runtime="$RUNTIME" --ramp_time="$RAMP" \
        --output-format=json --output="$json" >"$out/raw/$server-$job.fio.log" 2>&1 &
  fpid=$!
  BENCH_PIDS+=("$fpid")
  # Sampling the window from here is off by fio's start-up (tens of ms),
  # small against a runtime of seconds.
  nap "$RAMP"; c1=$(cpu_ticks "$pid"); [[ -n $xpid ]] && x1=$(cpu_ticks "$xpid")
  nap "$RUNTIME"; c2=$(cpu_ticks "$pid"); [[ -n $xpid ]] && x2=$(cpu_ticks "$xpid")
  wait "$fpid" || rc=$?
  forget_pid "$fpid"
  # fio's stdout is empty unless it complained; keep it only then.
  [[ -s $out/raw/$server-$job.fio.log ]] || rm -f "$out/raw/$server-$job.fio.log"
  c3=$(cpu_ticks "$pid"); t3=$(date +%s.%N)
  if (( rc != 0 )) || ! jq -e '.jobs[0].error == 0' "$json" >/dev/null 2>&1; then
    note "  $server: fio failed (rc=$rc), see $out/raw/$server-$job.fio.log"
    jq -nc --arg s "$server" --arg j "$job" '{server:$s, job:$j, failed:true}' >>"$out/results.jsonl"
    return 0
  fi
  jq -c --arg s "$server" --arg j "$job" --arg unit "${JOB_UNIT[$job]}" \
     --argjson tck "$CLK_TCK" \
     --argjson cw "$(( c2 - c1 ))" --argjson ct "$(( c3 - c0 ))" \
     --argjson xw "$(( x2 - x1 ))" --arg t0 "$t0" --arg t3 "$t3" '
    .jobs[0] as $r
    | (if ($r.read.io_bytes > 0) then $r.read else $r.write end) as $d
    | {server:$s, job:$j, unit:$unit,
       iops:$d.iops, mbs:($d.bw_bytes / 1e6), lat_us:($d.lat_ns.mean / 1000),
       cpu_s:($cw / $tck), cpu_total_s:($ct / $tck), wall_s:(($t3 | tonumber) - ($t0 | tonumber)),
       runtime_s:($r.job_runtime / 1000)}
    | .value = (if $unit == "iops" then .iops else .mbs end)
    | if $xw > 0 then .extra_cpu_s = ($xw / $tck) else . end' \
     "$json" >>"$out/results.jsonl"
}

# run_jobs NAME OUT [BACKEND_PID] : starts the server NAME (its command line
# in CMD) on SOCK, runs every job of JOBS through URI with results in OUT,
# and stops it.  BACKEND_PID is the backend behind a proxy: its CPU goes to
# extra_cpu_s, and its death ends the run.  A server that does not start or
# dies is noted in OUT/env.txt; one that starts is added to RAN.
RAN=()
run_jobs() {
  local name=$1 out=$2 bpid=${3:-} j
  note "starting $name: ${CMD[*]}"
  if ! start_server "$out/raw/$name.log" "$SOCK" "$URI" "${CMD[@]}"; then
    echo "$name: failed to start" >>"$out/env.txt"
    return 0
  fi
  RAN+=("$name")
  for j in "${JOBS[@]}"; do
    run_job "$name" "$j" "$URI" "$out" "$SERVER_PID" "$bpid"
    if ! pid_alive "$SERVER_PID"; then
      note "$name died during $j; skipping its other jobs (see $out/raw/$name.log)"
      echo "$name: died during $j" >>"$out/env.txt"
      break
    fi
    [[ -z $bpid ]] || pid_alive "$bpid" || die "the backend died during $name $j"
  done
  stop_server "$SERVER_PID"
}

# ---------------------------------------------------------------- table

# What both tables share: rounding, a throughput cell, the results that did
# not fail indexed by "server/job", and the rows (the jobs that ran, in
# ALL_JOBS order, from jobs_json).
TABLE_JQ_DEFS='
    def r1: (. * 10 | round) / 10;
    def r2: (. * 100 | round) / 100;
    def tput($u): if $u == "iops"
                  then (if . >= 1000 then "\(. / 1000 | r1)k" else "\(round)" end)
                  else "\(round) MB/s" end;
    def ok: map(select(.failed | not)) | INDEX("\(.server)/\(.job)");
    def rows: (map(.job) | unique) as $present
              | $jobs | map(select(.name as $j | $present | index($j)));
'

# jobs_json : ALL_JOBS with their labels, as a JSON array for the tables.
jobs_json() {
  local j
  for j in "${ALL_JOBS[@]}"; do
    jq -nc --arg name "$j" --arg text "${JOB_LABEL[$j]}" '{name: $name, label: $text}'
  done | jq -sc .
}

# print_table RESULTS.jsonl MAIN PEERS_CSV [COLUMNS_CSV] : markdown table,
# one row per job, one column per server in COLUMNS (default MAIN + PEERS),
# cells "throughput / CPU-s", and the ratios of MAIN to the peer with the
# best throughput.  Servers with no results show "-".
print_table() {
  local results=$1 main=$2 peers=$3 cols=${4:-}
  [[ -n $cols ]] || cols="$main,$peers"
  jq -rs --arg main "$main" --arg peers "$peers" --arg cols "$cols" \
     --argjson jobs "$(jobs_json)" "$TABLE_JQ_DEFS"'
    ($cols | split(",")) as $C | ($peers | split(",")) as $P
    | ok as $ok
    | (map(select(.failed)) | INDEX("\(.server)/\(.job)")) as $bad
    | rows as $rows
    | "| job | " + ($C | join(" | ")) + " | \($main) / best peer | \($main) CPU per I/O / that peer |",
      "|---|" + ($C | map("---|") | join("")) + "---|---|",
      ($rows[] as $row | $row.name as $j
       | ($P | map($ok["\(.)/\($j)"]) | map(select(.)) | max_by(.value)) as $best
       | $ok["\($main)/\($j)"] as $m
       | "| \($row.label) | "
         + ($C | map(. as $s | $ok["\($s)/\($j)"] as $x
              | if $x then ($x.value | tput($x.unit))
                      + (if $j == "randread1" then " (\($x.lat_us | round) us)" else "" end)
                      + " / \($x.cpu_s | r2) s"
                elif $bad["\($s)/\($j)"] then "failed"
                else "-" end) | join(" | "))
         + " | " + (if $m and $best then "\($m.value / $best.value | r2) (vs \($best.server))" else "-" end)
         + " | " + (if $m and $best and $m.cpu_s > 0 and $best.cpu_s > 0
                    then "\(($m.cpu_s / $m.value) / ($best.cpu_s / $best.value) | r2)"
                    else "-" end)
         + " |")' "$results"
}

# print_ratio_table RESULTS.jsonl COLUMNS_CSV : markdown table, one row per
# job, one column per variant of the same server, cells "throughput / CPU-s
# (ratio to the first column)".
print_ratio_table() {
  local results=$1 cols=$2
  jq -rs --arg cols "$cols" --argjson jobs "$(jobs_json)" "$TABLE_JQ_DEFS"'
    ($cols | split(",")) as $C
    | ok as $ok
    | rows as $rows
    | "| job | " + ($C | join(" | ")) + " |",
      "|---|" + ($C | map("---|") | join("")),
      ($rows[] as $row | $row.name as $j | $ok["\($C[0])/\($j)"] as $ref
       | "| \($row.label) | "
         + ($C | map(. as $s | $ok["\($s)/\($j)"] as $x
              | if $x then ($x.value | tput($x.unit)) + " / \($x.cpu_s | r2) s"
                      + (if $ref and $s != $C[0] then " (\($x.value / $ref.value | r2))" else "" end)
                else "failed" end) | join(" | "))
         + " |")' "$results"
}

# env_report : machine and tool versions, and steadyblk's command (or why it
# was skipped), for the results directory.
env_report() {
  echo "date: $(date -Is)"
  echo "host: $(hostname)"
  echo "kernel: $(uname -r)"
  echo "cpus: $(nproc) ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'))"
  echo "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "fio: $(fio --version)"
  echo "qemu-nbd: $(qemu-nbd --version | head -n1)"
  echo "nbdkit: $(nbdkit --version)"
  echo "qemu-storage-daemon: $(qemu-storage-daemon --version | head -n1)"
  echo "runtime: ${RUNTIME}s, ramp: ${RAMP}s"
  echo "steadyblk: ${SKIPPED:-$STEADYBLK ${STEADYBLK_EXTRA[*]}}"
}

# results_dir SUFFIX : a fresh bench/results/<date>-<host>/ (time of day included
# so two runs on one day do not overwrite each other).
results_dir() {
  local d
  d="$BENCH_DIR/results/$(date +%Y-%m-%dT%H%M%S)-$(hostname -s)${1:+-$1}"
  mkdir -p "$d/raw"
  echo "$d"
}

# describe_target PATH : "block device" (with its size) or the file system a
# file lives on; stat -f on a device node would name devtmpfs instead.
describe_target() {
  if [[ -b $1 ]]; then
    echo "block device $1, $(blockdev --getsize64 "$1") bytes"
  else
    echo "$(stat -f -c %T "$1") file, $(stat -c %s "$1") bytes"
  fi
}
