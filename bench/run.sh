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

ALL_NAMES=(steadyblk qemu-nbd nbdkit qsd)
NAME_KIND=server
NAME_TOOL=([qemu-nbd]=qemu-nbd [nbdkit]=nbdkit [qsd]=qemu-storage-daemon)
PEERS=qemu-nbd,nbdkit,qsd

usage() {
  cat <<EOF
usage: $0 [options]
$(common_usage)
  --file PATH       use an existing file or block device instead (its data is
                    overwritten by the write jobs; it is not deleted)
env: STEADYBLK (default build/steadyblk or build/src/daemon/steadyblk),
     STEADYBLK_EXTRA_ARGS (extra daemon options, e.g. "--cache none")
EOF
}

file=
own_option() {
  case $1 in
    --file) file=${2:?} ;;
    *) return 1 ;;
  esac
}

parse_options "$@"
parse_jobs "$JOBS_LIST"
select_runnable
# Word splitting is wanted: extra options for the daemon, e.g. a policy.
read -r -a STEADYBLK_EXTRA <<<"${STEADYBLK_EXTRA_ARGS:-}"

bench_tmp bench
if [[ -z $file ]]; then
  file=/dev/shm/steadyblk-bench-$$.img
  make_test_file "$file" "$SIZE_MIB"
else
  [[ -e $file ]] || die "--file $file does not exist"
  file=$(readlink -f "$file")
fi
qemu_nbd_cache "$file"

out=$(results_dir "")
{
  env_report
  echo "file: $file ($(describe_target "$file"))"
  echo "qemu-nbd: $QEMU_NBD_MODE"
} >"$out/env.txt"
note "results in $out"

# server_cmd NAME : set CMD to the server's command line (see TESTING.md).
server_cmd() {
  case $1 in
    steadyblk) steadyblk_cmd "$file" ;;
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

# Every server starts from the same state: whatever the storage behind the
# file keeps in the page cache (a loop device's backing file, say) is read in
# once here, or the first server would pay for warming it for the others.  A
# block device's own cache the kernel drops whenever its last user closes it,
# so on a block device each server's first job starts that cache cold.
note "reading $file once, to warm what lies behind it"
timeout 600 dd if="$file" of=/dev/null bs=4M status=none || note "warming $file failed; going on"

for s in "${RUNNABLE[@]}"; do
  server_cmd "$s"
  run_jobs "$s" "$out"
done

(( ${#RAN[@]} )) || die "no server ran"
cols=$(IFS=,; echo "${RAN[*]}")
# Keep steadyblk's column even when it is missing, so the gap is visible.
[[ " ${NAMES[*]} " == *" steadyblk "* && " ${RAN[*]} " != *" steadyblk "* ]] && cols="steadyblk,$cols"
{
  echo "Local file over NBD, $(date +%Y-%m-%d), $(hostname -s), $(nproc) CPUs, kernel $(uname -r)."
  echo "fio --ioengine=nbd over a unix socket, ${RAMP}s ramp + ${RUNTIME}s measured per job;"
  echo "file: $(describe_target "$file"), qemu-nbd $QEMU_NBD_MODE."
  echo "Cells: IOPS or MB/s / server CPU seconds in the measured window (all threads)."
  echo
  print_table "$out/results.jsonl" steadyblk "$PEERS" "$cols"
} | tee "$out/table.md"
