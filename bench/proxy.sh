#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# steadyblk as a proxy for remote NBD storage, side by side with the peers
# that can ride out a lost backend: qemu-storage-daemon's NBD client with
# reconnect-delay, and nbdkit's nbd plugin with the retry filter.  All sit in
# front of the same qemu-nbd backend.  Two parts:
#  1. throughput: the fio jobs of run.sh through each proxy (plus fio straight
#     to the backend, as a reference that no proxy can beat);
#  2. recovery: a QD1 writer runs through the proxy, the backend is SIGKILLed
#     and restarted OUTAGE seconds later; we measure from the moment the new
#     backend socket accepts to the first write that completes after it.
#
# usage: bench/proxy.sh [--runtime S] [--ramp S] [--only PROXY[,PROXY]]
#                       [--jobs JOB[,JOB]|none] [--reps N] [--outage S] [--size MiB]
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ALL_NAMES=(steadyblk qsd-nbd nbdkit-retry)
NAME_KIND=proxy
NAME_TOOL=([qsd-nbd]=qemu-storage-daemon [nbdkit-retry]=nbdkit)
PEERS=qsd-nbd,nbdkit-retry

usage() {
  cat <<EOF
usage: $0 [options]
$(common_usage)
  --jobs none       skips part 1 (throughput)
  --reps N          recovery repetitions per proxy (default 5; 0 skips part 2)
  --outage S        seconds the backend stays dead (default 3)
env: STEADYBLK (default build/steadyblk or build/src/daemon/steadyblk),
     STEADYBLK_EXTRA_ARGS (default "--rerror retry --werror retry")
EOF
}

reps=5
outage=3
own_option() {
  case $1 in
    --reps)   reps=${2:?} ;;
    --outage) outage=${2:?} ;;
    *) return 1 ;;
  esac
}

parse_options "$@"
[[ $reps =~ ^[0-9]+$ && $outage =~ ^[0-9]+$ ]] || die "--reps and --outage take whole numbers"
JOBS=()
[[ $JOBS_LIST == none ]] || parse_jobs "$JOBS_LIST"
require_tools qemu-nbd
(( reps == 0 )) || require_python_nbd
select_runnable
# The peers hide a lost backend by default; steadyblk reports errors unless
# told to retry, so the default here asks it to.  Set STEADYBLK_EXTRA_ARGS
# (even to "") to override; it is word-split on purpose.
read -r -a STEADYBLK_EXTRA <<<"${STEADYBLK_EXTRA_ARGS---rerror retry --werror retry}"

bench_tmp proxy                  # SOCK: the proxy's export
BSOCK=$BENCH_TMP/backend.sock    # the backend qemu-nbd, absolute for qemu-nbd
BURI="nbd+unix:///?socket=$BSOCK"

file=/dev/shm/steadyblk-proxy-$$.img
make_test_file "$file" "$SIZE_MIB"
qemu_nbd_cache "$file"
# --shared=8: a proxy may open several connections to its backend (and our
# readiness probe is one more); qemu-nbd's default of one client at a time
# would leave the extra ones waiting in the listen backlog.
BACKEND_CMD=(qemu-nbd -t -f raw "${QEMU_NBD_CACHE[@]}" --shared=8 -k "$BSOCK" "$file")

out=$(results_dir proxy)
{
  env_report
  echo "backend: ${BACKEND_CMD[*]}"
  echo "recovery: $reps reps, ${outage}s outage"
} >"$out/env.txt"
note "results in $out"

# proxy_cmd NAME : set CMD to the proxy's command line (see TESTING.md).
proxy_cmd() {
  case $1 in
    steadyblk) steadyblk_cmd "$BURI" ;;
    qsd-nbd)
      CMD=(qemu-storage-daemon
           --blockdev "driver=nbd,node-name=n0,server.type=unix,server.path=$BSOCK,reconnect-delay=10"
           --nbd-server "addr.type=unix,addr.path=$SOCK"
           --export "type=nbd,id=e0,node-name=n0,name=,writable=on") ;;
    nbdkit-retry)
      # The retry filter reopens the nbd plugin's connection after a failed
      # request (defaults: 5 retries, 2 s delay doubling each time).
      CMD=(nbdkit -f -U "$SOCK" --filter=retry nbd "socket=$BSOCK") ;;
  esac
}

# ---------------------------------------------------------------- part 1

start_backend() {
  start_server "$out/raw/backend.log" "$BSOCK" "$BURI" "${BACKEND_CMD[@]}" ||
    die "backend qemu-nbd did not start"
  BACKEND_PID=$SERVER_PID
}

if (( ${#JOBS[@]} )); then
  note "part 1: throughput through each proxy"
  start_backend
  for j in "${JOBS[@]}"; do
    run_job direct "$j" "$BURI" "$out" "$BACKEND_PID"
  done
  for p in "${RUNNABLE[@]}"; do
    proxy_cmd "$p"
    run_jobs "$p" "$out" "$BACKEND_PID"
  done
  stop_server "$BACKEND_PID"
fi

# ---------------------------------------------------------------- part 2

# wait_line FILE REGEX SECONDS : wait until a line of FILE matches REGEX.
wait_line() {
  local deadline=$(( $(date +%s) + $3 ))
  until grep -Eq "$2" "$1" 2>/dev/null; do
    (( $(date +%s) < deadline )) || return 1
    sleep 0.05
  done
}

# outage_gap FILE SKIP MIN SECONDS : print the first writer "gap" line after
# the first SKIP ones that lasts at least MIN seconds (the pause spanning the
# outage; a short hiccup of a busy machine is not it), waiting at most SECONDS.
outage_gap() {
  local deadline=$(( $(date +%s) + $4 ))
  until awk -v skip="$2" -v min="$3" '
          $1 == "gap" && ++n > skip && $3 - $2 >= min { print; found = 1; exit }
          END { exit !found }' "$1"; do
    (( $(date +%s) < deadline )) || return 1
    sleep 0.05
  done
}

# recovery NAME : the kill/restart cycle for one proxy, appending one JSON
# line per repetition to $out/recovery.jsonl.
recovery() {
  local p=$1
  local wlog="$out/raw/$p-writer.log" rep t_acc line gap_start gap_end ngaps
  local errs0 errs1 wpid apid rc
  start_backend
  proxy_cmd "$p"
  note "recovery: starting $p"
  start_server "$out/raw/$p-recovery.log" "$SOCK" "$URI" "${CMD[@]}" || {
    echo "$p: failed to start for recovery" >>"$out/env.txt"; stop_server "$BACKEND_PID"; return 0; }
  local proxy_pid=$SERVER_PID
  "$PYTHON" "$BENCH_DIR/nbdtime.py" writer "$URI" >"$wlog" 2>&1 </dev/null &
  wpid=$!
  BENCH_PIDS+=("$wpid")
  if ! wait_line "$wlog" '^ready' 15; then
    note "$p: the writer did not get a first write through; see $wlog"
    echo "$p: writer did not start for recovery" >>"$out/env.txt"
    stop_server "$wpid"; stop_server "$proxy_pid"; stop_server "$BACKEND_PID"
    return 0
  fi
  for (( rep = 1; rep <= reps; rep++ )); do
    nap 2   # steady writing before the fault
    errs0=$(awk '$1 == "gap" { e = $4 } END { print e + 0 }' "$wlog")
    ngaps=$(grep -c '^gap ' "$wlog" || true)
    kill -KILL "$BACKEND_PID"
    wait "$BACKEND_PID" 2>/dev/null || true
    forget_pid "$BACKEND_PID"
    nap "$outage"
    # The poller starts before the backend, so it sees the first moment
    # the new socket accepts (qemu-nbd replaces the dead socket file).
    "$PYTHON" "$BENCH_DIR/nbdtime.py" waitaccept "$BSOCK" 30 >"$BENCH_TMP/accept" &
    apid=$!
    wait_line "$BENCH_TMP/accept" '^polling' 10 || die "the socket poller did not start"
    "${BACKEND_CMD[@]}" >>"$out/raw/backend.log" 2>&1 </dev/null &
    BACKEND_PID=$!
    BENCH_PIDS+=("$BACKEND_PID")
    rc=0; wait "$apid" || rc=$?
    (( rc == 0 )) || die "backend did not come back within 30 s"
    t_acc=$(tail -n 1 "$BENCH_TMP/accept")
    # The first write that completes after the backend accepts again ends a
    # "gap" line at least as long as the outage; allow the proxy 60 s.
    if ! line=$(outage_gap "$wlog" "$ngaps" "$outage" 60); then
      note "$p rep $rep: no write completed within 60 s after the backend returned"
      jq -nc --arg p "$p" --argjson r "$rep" '{proxy:$p, rep:$r, failed:true}' >>"$out/recovery.jsonl"
      break
    fi
    read -r _ gap_start gap_end errs1 <<<"$line"
    jq -nc --arg p "$p" --argjson r "$rep" --argjson acc "$t_acc" \
       --argjson s "$gap_start" --argjson e "$gap_end" --argjson err "$(( errs1 - errs0 ))" \
       '{proxy:$p, rep:$r, recovery_s:($e - $acc), stall_s:($e - $s), client_errors:$err}' \
       | tee -a "$out/recovery.jsonl" >&2
  done
  stop_server "$wpid"
  stop_server "$proxy_pid"
  stop_server "$BACKEND_PID"
}

if (( reps > 0 )); then
  note "part 2: recovery after the backend is SIGKILLed and back after ${outage}s ($reps reps)"
  for p in "${RUNNABLE[@]}"; do recovery "$p"; done
fi

# ---------------------------------------------------------------- report

{
  echo "Proxies in front of qemu-nbd, $(date +%Y-%m-%d), $(hostname -s), $(nproc) CPUs, kernel $(uname -r)."
  if (( ${#JOBS[@]} )); then
    echo "fio --ioengine=nbd over unix sockets, ${RAMP}s ramp + ${RUNTIME}s measured per job."
    echo "Cells: IOPS or MB/s / proxy CPU seconds in the measured window (all threads);"
    echo "'direct' is fio straight to the backend, no proxy (its CPU is the backend's)."
    echo
    cols=direct
    for p in "${NAMES[@]}"; do cols+=",$p"; done
    print_table "$out/results.jsonl" steadyblk "$PEERS" "$cols"
    echo
  fi
  if (( reps > 0 )) && [[ -s $out/recovery.jsonl ]]; then
    echo "Recovery: backend SIGKILLed under a QD1 4 KiB writer, restarted after ${outage}s."
    echo "recovery = backend socket accepts again -> first write completes; stall = whole pause seen by the writer."
    echo
    echo "| proxy | reps | recovery mean / min / max (s) | stall mean / min / max (s) | client errors |"
    echo "|---|---|---|---|---|"
    jq -rs 'def r2: (. * 100 | round) / 100;
      group_by(.proxy)[] | . as $g | map(select(.failed | not)) as $ok
      | if ($ok | length) == 0 then "| \($g[0].proxy) | 0 | failed | failed | - |"
        else "| \($g[0].proxy) | \($ok | length)\(if ($g | length) > ($ok | length) then " (+1 failed)" else "" end)"
          + " | \($ok | map(.recovery_s) | add / length | r2) / \($ok | map(.recovery_s) | min | r2) / \($ok | map(.recovery_s) | max | r2)"
          + " | \($ok | map(.stall_s) | add / length | r2) / \($ok | map(.stall_s) | min | r2) / \($ok | map(.stall_s) | max | r2)"
          + " | \($ok | map(.client_errors) | add) |" end' "$out/recovery.jsonl"
  fi
} | tee "$out/table.md"
