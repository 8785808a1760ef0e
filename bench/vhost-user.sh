#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# vhost-user.sh - fio inside a Linux guest on three disks at once, in one
# run and one guest: steadyblk's vhost-user-blk export, qemu-storage-daemon's
# vhost-user-blk export, and steadyblk's NBD export through QEMU's NBD
# client, each a file of random data in /dev/shm.  The guest runs each job
# on each disk in turn (the order rotating every round); the host reads
# each server's CPU time at every job's start and end.  Prints IOPS or
# MB/s, server CPU per I/O, and steadyblk's ratios; keeps the raw results
# in bench/results/<date>-<host>-vhost-user/.
#
# The guest runs under TCG here (KVM does not boot on these machines): its
# single emulated CPU is slower than any of the servers, so throughput
# ratios say how much each server costs a CPU-bound guest, and the CPU per
# I/O columns are the servers' own work.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNTIME=8 ROUNDS=1 SIZE_MIB=512 JOBS_LIST=
RAMP=0 # for env_report: fio in the guest measures from its start
usage() {
  cat <<EOF
usage: bench/vhost-user.sh [options]
  --runtime S     seconds per fio job in the guest (default $RUNTIME)
  --rounds N      rounds over every job and disk, medians reported (default $ROUNDS)
  --size MiB      size of each disk (default $SIZE_MIB)
  --jobs LIST     comma-separated, of randread-qd1 randread-qd32 randwrite-qd1
                  randwrite-qd32 seqread-1m seqwrite-1m (default all)
Environment: STEADYBLK (default build/src/daemon/steadyblk), BUILD (build).
EOF
}
while (( $# )); do
  case $1 in
    --runtime) RUNTIME=${2:?} ;;
    --rounds)  ROUNDS=${2:?} ;;
    --size)    SIZE_MIB=${2:?} ;;
    --jobs)    JOBS_LIST=${2:?} ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
  shift 2
done
[[ $RUNTIME =~ ^[0-9]+$ && $ROUNDS =~ ^[0-9]+$ && $SIZE_MIB =~ ^[0-9]+$ ]] ||
  die "--runtime, --rounds and --size take whole numbers"
require_tools fio qemu-storage-daemon qemu-system-x86_64 timeout
find_steadyblk
[[ -x $STEADYBLK ]] || die "no steadyblk at $STEADYBLK (make build)"

bench_tmp vhost-user
initrd=$("$BENCH_DIR/guest/build-initramfs.sh" "${BUILD:-$TOP_DIR/build}")
vmlinux=$(dirname "$initrd")/vmlinux

# Three disks one MiB apart in size: the guest names each by its size.
sb_vu=/dev/shm/sb-bench-vu.img qsd_vu=/dev/shm/sb-bench-qsd.img sb_nbd=/dev/shm/sb-bench-nbd.img
make_test_file "$sb_vu" "$SIZE_MIB"
make_test_file "$qsd_vu" $((SIZE_MIB + 1))
make_test_file "$sb_nbd" $((SIZE_MIB + 2))

# wait_socket PID SOCK : until SOCK exists (bounded), or PID is gone.
wait_socket() {
  local i
  for (( i = 0; i < START_TIMEOUT * 20; i++ )); do
    [[ -S $2 ]] && return 0
    pid_alive "$1" || break
    sleep 0.05
  done
  die "no socket $2 from pid $1"
}

"$STEADYBLK" --foreground ${SB_VERBOSE:+-v} --qmp "$BENCH_TMP/sb-vu.qmp" \
  --export "vhost-user-blk://$BENCH_TMP/sb-vu.sock" "$sb_vu" \
  > "$BENCH_TMP/sb-vu.log" 2>&1 < /dev/null &
pid_sb_vu=$!; BENCH_PIDS+=("$pid_sb_vu")
# qemu-storage-daemon's vhost-user-blk export with the same I/O path as
# steadyblk's file backend (io_uring, page cache).
qemu-storage-daemon \
  --blockdev "driver=file,node-name=file,filename=$qsd_vu,aio=io_uring,cache.direct=off" \
  --export "type=vhost-user-blk,id=vu,node-name=file,addr.type=unix,addr.path=$BENCH_TMP/qsd.sock,writable=on" \
  --chardev "socket,id=qmp,path=$BENCH_TMP/qsd.qmp,server=on,wait=off" --monitor chardev=qmp \
  > "$BENCH_TMP/qsd.log" 2>&1 < /dev/null &
pid_qsd=$!; BENCH_PIDS+=("$pid_qsd")
"$STEADYBLK" --foreground ${SB_VERBOSE:+-v} --qmp "$BENCH_TMP/sb-nbd.qmp" \
  --export "nbd+unix:///?socket=$BENCH_TMP/sb-nbd.sock" "$sb_nbd" \
  > "$BENCH_TMP/sb-nbd.log" 2>&1 < /dev/null &
pid_sb_nbd=$!; BENCH_PIDS+=("$pid_sb_nbd")
wait_socket "$pid_sb_vu" "$BENCH_TMP/sb-vu.sock"
wait_socket "$pid_qsd" "$BENCH_TMP/qsd.sock"
wait_socket "$pid_sb_nbd" "$BENCH_TMP/sb-nbd.sock"

out=$(results_dir vhost-user)
njobs=6
[[ -n $JOBS_LIST ]] && njobs=$(tr ',' '\n' <<<"$JOBS_LIST" | wc -l)
# Boot, the jobs (fio's own start included), and room to spare.
tmo=$(( 60 + ROUNDS * njobs * 3 * (RUNTIME + 10) ))
{
  env_report
  echo "guest: TCG, 1 vCPU, 1 GiB, kernel $(cat "$(dirname "$initrd")/kernel-version"); fio libaio O_DIRECT in the guest"
  echo "disks: $SIZE_MIB MiB of random data in /dev/shm each; rounds: $ROUNDS"
} > "$out/env.txt"
note "guest running (up to $tmo s): results in $out"
# Fixed PCI slots, one per disk; the guest tells them apart by size.
"$PYTHON" "$BENCH_DIR/guest/run.py" --out "$out/raw" --timeout "$tmo" \
  --qmp "$BENCH_TMP/qemu.qmp" --stall $(( 3 * RUNTIME + 60 )) \
  --server "steadyblk-vhost-user:$pid_sb_vu:$((SIZE_MIB << 20))" \
  --server "qsd-vhost-user:$pid_qsd:$(((SIZE_MIB + 1) << 20))" \
  --server "steadyblk-nbd:$pid_sb_nbd:$(((SIZE_MIB + 2) << 20))" -- \
  qemu-system-x86_64 -accel tcg -cpu qemu64,+rdrand -machine q35 -m 1024 -smp 1 \
    -display none -monitor none -nodefaults -no-reboot -serial stdio \
    -qmp "unix:$BENCH_TMP/qemu.qmp,server=on,wait=off" \
    -object memory-backend-memfd,id=mem,size=1024M,share=on -numa node,memdev=mem \
    -kernel "$vmlinux" -initrd "$initrd" \
    -append "console=ttyS0 quiet panic=-1 rdinit=/bench-init sbbench.runtime=$RUNTIME sbbench.rounds=$ROUNDS${JOBS_LIST:+ sbbench.jobs=$JOBS_LIST}" \
    -chardev "socket,id=vu0,path=$BENCH_TMP/sb-vu.sock" -device vhost-user-blk-pci,chardev=vu0,addr=0x4 \
    -chardev "socket,id=vu1,path=$BENCH_TMP/qsd.sock" -device vhost-user-blk-pci,chardev=vu1,addr=0x5 \
    -drive "file=nbd:unix:$BENCH_TMP/sb-nbd.sock,format=raw,if=none,id=nbd0,cache=none" \
    -device virtio-blk-pci,drive=nbd0,addr=0x6 ||
  die "the guest benchmark did not complete (see $out/raw)"
"$PYTHON" "$BENCH_DIR/guest/report.py" "$out/raw/results.json" | tee "$out/summary.md"
cat "$out/env.txt"
