#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Side-by-side benchmark: steadyblk serving a local file over NBD against
# qemu-nbd, nbdkit (file plugin) and qemu-storage-daemon (io_uring), all on
# the same file in the same run, driven by fio's nbd engine over a unix socket.
# Prints a markdown table and keeps raw fio JSON in bench/results/<date>-<host>/.
#
# usage: bench/run.sh [--runtime S] [--ramp S] [--only SERVER[,SERVER]]
#                     [--jobs JOB[,JOB]] [--size MiB] [--file PATH]
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ALL_SERVERS=(steadyblk qemu-nbd nbdkit qsd)
PEERS=qemu-nbd,nbdkit,qsd

usage() {
  cat <<EOF
usage: $0 [options]
  --runtime S       measured seconds per job (default $RUNTIME)
  --ramp S          ramp seconds before measuring (default $RAMP)
  --only LIST       servers to run, comma-separated: ${ALL_SERVERS[*]}
  --jobs LIST       jobs to run, comma-separated: ${ALL_JOBS[*]}
  --size MiB        size of the test file in /dev/shm (default 1024)
  --file PATH       use an existing file or block device instead (its data is
                    overwritten by the write jobs; it is not deleted)
env: STEADYBLK (default build/steadyblk or build/src/daemon/steadyblk),
     STEADYBLK_EXTRA_ARGS (extra daemon options, e.g. "--cache none")
EOF
}

only=$(IFS=,; echo "${ALL_SERVERS[*]}")
jobs_list=$(IFS=,; echo "${ALL_JOBS[*]}")
size_mib=1024
file=
while (( $# )); do
  case $1 in
    --runtime) RUNTIME=${2:?}; shift 2 ;;
    --ramp)    RAMP=${2:?}; shift 2 ;;
    --only)    only=${2:?}; shift 2 ;;
    --jobs)    jobs_list=${2:?}; shift 2 ;;
    --size)    size_mib=${2:?}; shift 2 ;;
    --file)    file=${2:?}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
done
[[ $RUNTIME =~ ^[0-9]+$ && $RAMP =~ ^[0-9]+$ && $size_mib =~ ^[0-9]+$ ]] ||
  die "--runtime, --ramp and --size take whole numbers"
parse_jobs "$jobs_list"
IFS=, read -r -a SERVERS <<<"$only"
for s in "${SERVERS[@]}"; do
  [[ " ${ALL_SERVERS[*]} " == *" $s "* ]] || die "unknown server '$s' (known: ${ALL_SERVERS[*]})"
done

require_tools fio jq nbdinfo timeout getconf
for s in "${SERVERS[@]}"; do
  case $s in
    qemu-nbd) require_tools qemu-nbd ;;
    nbdkit)   require_tools nbdkit ;;
    qsd)      require_tools qemu-storage-daemon ;;
  esac
done

find_steadyblk
# Word splitting is wanted: extra options for the daemon, e.g. a policy.
read -r -a STEADYBLK_EXTRA <<<"${STEADYBLK_EXTRA_ARGS:-}"
RUNNABLE=()
skipped=
for s in "${SERVERS[@]}"; do
  if [[ $s == steadyblk && ! -x $STEADYBLK ]]; then
    skipped="skipped, $STEADYBLK not found or not executable (set STEADYBLK=)"
    note "steadyblk: $skipped"
  else
    RUNNABLE+=("$s")
  fi
done
(( ${#RUNNABLE[@]} )) || die "no server to run"

install_trap
BENCH_TMP=$(mktemp -d /tmp/steadyblk-bench.XXXXXX)
SOCK=$BENCH_TMP/s.sock        # absolute: qemu-nbd requires it
URI="nbd+unix:///?socket=$SOCK"

if [[ -z $file ]]; then
  file=/dev/shm/steadyblk-bench-$$.img
  make_test_file "$file" "$size_mib"
else
  [[ -e $file ]] || die "--file $file does not exist"
  file=$(readlink -f "$file")
fi

# qemu-nbd as in TESTING.md uses O_DIRECT (--cache=none); fall back to the
# page cache (writeback) where the file system refuses O_DIRECT.
if direct_io_works "$file"; then
  QEMU_NBD_CACHE=(--cache=none --aio=native)
  qemu_nbd_mode="--cache=none --aio=native (O_DIRECT works on this file system)"
else
  QEMU_NBD_CACHE=(--cache=writeback --aio=threads)
  qemu_nbd_mode="--cache=writeback --aio=threads (O_DIRECT refused on this file system)"
fi

out=$(results_dir "")
{
  env_report
  echo "file: $file ($(describe_target "$file"))"
  echo "qemu-nbd: $qemu_nbd_mode"
  echo "steadyblk: ${skipped:-$STEADYBLK ${STEADYBLK_EXTRA[*]}}"
} >"$out/env.txt"
note "results in $out"

# server_cmd NAME : set CMD to the server's command line (see TESTING.md).
server_cmd() {
  case $1 in
    steadyblk)
      CMD=("$STEADYBLK" --foreground --pidfile "$BENCH_TMP/steadyblk.pid"
           --export "$URI" "${STEADYBLK_EXTRA[@]}" "$file") ;;
    qemu-nbd)
      CMD=(qemu-nbd -t -f raw "${QEMU_NBD_CACHE[@]}" -k "$SOCK" "$file") ;;
    nbdkit)
      CMD=(nbdkit -f -U "$SOCK" file "$file") ;;
    qsd)
      # name= makes it the default (empty-name) export like the others;
      # without it the export would be called after its node, f0.
      # A block device needs QEMU's host_device driver, a file its file driver.
      local qdrv=file
      [[ -b $file ]] && qdrv=host_device
      CMD=(qemu-storage-daemon
           --blockdev "driver=$qdrv,node-name=f0,filename=$file,aio=io_uring"
           --nbd-server "addr.type=unix,addr.path=$SOCK"
           --export "type=nbd,id=e0,node-name=f0,name=,writable=on") ;;
  esac
}

ran=()
for s in "${RUNNABLE[@]}"; do
  server_cmd "$s"
  note "starting $s: ${CMD[*]}"
  if ! start_server "$out/raw/$s.log" "$SOCK" "$URI" "${CMD[@]}"; then
    echo "$s: failed to start" >>"$out/env.txt"
    continue
  fi
  for j in "${JOBS[@]}"; do
    run_job "$s" "$j" "$URI" "$out" "$SERVER_PID"
    if ! pid_alive "$SERVER_PID"; then
      note "$s died during $j; skipping its other jobs (see $out/raw/$s.log)"
      echo "$s: died during $j" >>"$out/env.txt"
      break
    fi
  done
  stop_server "$SERVER_PID"
  ran+=("$s")
done

(( ${#ran[@]} )) || die "no server ran"
cols=$(IFS=,; echo "${ran[*]}")
# Keep steadyblk's column even when it is missing, so the gap is visible.
[[ " ${SERVERS[*]} " == *" steadyblk "* && " ${ran[*]} " != *" steadyblk "* ]] && cols="steadyblk,$cols"
{
  echo "Local file over NBD, $(date +%Y-%m-%d), $(hostname -s), $(nproc) CPUs, kernel $(uname -r)."
  echo "fio --ioengine=nbd over a unix socket, ${RAMP}s ramp + ${RUNTIME}s measured per job;"
  echo "file: $(describe_target "$file"), qemu-nbd $qemu_nbd_mode."
  echo "Cells: IOPS or MB/s / server CPU seconds in the measured window (all threads)."
  echo
  print_table "$out/results.jsonl" steadyblk "$PEERS" "$cols"
} | tee "$out/table.md"
