#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Copying a mostly empty image out of an NBD server: a 4 GiB file holding
# 20 MiB of data (20 runs of 1 MiB), read by nbdcopy (to null:) and by
# qemu-img convert (to a raw file in /dev/shm), from steadyblk, nbdkit's
# file plugin and qemu-nbd serving the same file in one run; with
# STEADYBLK_BEFORE=PATH also from that build of steadyblk (one without
# block status).  A server that answers block status lets the client skip
# the holes: the time follows the data, not the size.  Medians of
# --rounds runs (default 3), as times and as ratios to steadyblk's.
#
# usage: bench/sparse-copy.sh [--rounds N] [--size GiB]
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

rounds=3 size_gib=4
while (($#)); do
  case $1 in
    --rounds) rounds=${2:?}; shift 2 ;;
    --size) size_gib=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (try --help)" ;;
  esac
done
require_tools nbdcopy qemu-img qemu-nbd nbdkit python3
find_steadyblk
bench_tmp sparse-copy
tmp=$BENCH_TMP
out=/dev/shm/sb-sparse-copy.$$.raw
BENCH_CLEAN_FILES=("$out")

img=$tmp/sparse.img
truncate -s "${size_gib}G" "$img"
for i in $(seq 0 19); do
  # 1 MiB of data every size/20, so the holes are long and many.
  dd if=/dev/urandom of="$img" bs=1M count=1 seek=$((i * size_gib * 1024 / 20)) \
     conv=notrunc status=none
done

servers=(steadyblk nbdkit qemu-nbd)
[[ -n ${STEADYBLK_BEFORE:-} ]] && servers+=(steadyblk-before)
declare -A sock
start_one() { # start_one NAME
  local s=$tmp/$1.sock u log=$tmp/$1.log
  u="nbd+unix:///?socket=$s"
  sock[$1]=$s
  case $1 in
    steadyblk) start_server "$log" "$s" "$u" "$STEADYBLK" --foreground --export "$u" "$img" ;;
    steadyblk-before) start_server "$log" "$s" "$u" "$STEADYBLK_BEFORE" --foreground \
                        --export "$u" "$img" ;;
    nbdkit) start_server "$log" "$s" "$u" nbdkit -f -U "$s" file "$img" ;;
    qemu-nbd) start_server "$log" "$s" "$u" qemu-nbd -t -e 8 -f raw -k "$s" "$img" ;;
  esac || die "$1 did not start"
}
for s in "${servers[@]}"; do start_one "$s"; done

# time_it CMD... : wall seconds of one bounded run.
time_it() {
  local t0 t1
  t0=$(date +%s.%N)
  timeout 600 "$@" > /dev/null 2>&1 || die "failed: $*"
  t1=$(date +%s.%N)
  echo "$t0 $t1" | awk '{printf "%.3f", $2 - $1}'
}
declare -A t_copy t_convert
for s in "${servers[@]}"; do t_copy[$s]=""; t_convert[$s]=""; done
for r in $(seq "$rounds"); do
  for s in "${servers[@]}"; do # interleaved: drift hits every server alike
    uri="nbd+unix:///?socket=${sock[$s]}"
    t_copy[$s]+=" $(time_it nbdcopy "$uri" null:)"
    rm -f "$out"
    t_convert[$s]+=" $(time_it qemu-img convert -f raw -O raw "$uri" "$out")"
    rm -f "$out"
  done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }

echo "Copying a ${size_gib} GiB image holding 20 MiB of data, medians of $rounds rounds, $(date -u +%Y-%m-%d), $(uname -r)"
echo
echo "| server | nbdcopy to null: (s) | / steadyblk | qemu-img convert (s) | / steadyblk |"
echo "|---|---|---|---|---|"
ref_copy=$(median <<<"${t_copy[steadyblk]}") ref_conv=$(median <<<"${t_convert[steadyblk]}")
for s in "${servers[@]}"; do
  c=$(median <<<"${t_copy[$s]}") v=$(median <<<"${t_convert[$s]}")
  printf '| %s | %s | %.2f | %s | %.2f |\n' "$s" "$c" "$(echo "$c $ref_copy" | awk '{print $1 / $2}')" \
    "$v" "$(echo "$v $ref_conv" | awk '{print $1 / $2}')"
done
