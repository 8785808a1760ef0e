#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The NBD export over TLS (X.509, certificates made now by certtool):
# steadyblk, nbdkit's file plugin and qemu-nbd serving the same 1 GiB file
# in /dev/shm on unix sockets, in one run, interleaved: 4 KiB random reads
# at queue depth 1 (libnbd), and nbdcopy writing and reading the whole disk
# over one connection.  steadyblk without TLS is measured too, for what TLS
# costs.  Medians of --rounds runs (default 3), and steadyblk's ratio to
# the best peer.
#
# usage: bench/tls.sh [--rounds N] [--seconds S]
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

rounds=3 secs=5
while (($#)); do
  case $1 in
    --rounds) rounds=${2:?}; shift 2 ;;
    --seconds) secs=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (try --help)" ;;
  esac
done
require_tools nbdcopy nbdinfo qemu-nbd nbdkit certtool psktool
require_python_nbd
find_steadyblk
bench_tmp tls
tmp=$BENCH_TMP
img=/dev/shm/sb-tls-bench.$$.img src=/dev/shm/sb-tls-bench.$$.src
BENCH_CLEAN_FILES=("$img" "$src")
head -c 1G /dev/urandom >"$src"
cp "$src" "$img"

# The test suite's certificate maker (it calls fail and requires).
fail() { die "$*"; }
requires() { require_tools "$@"; }
# shellcheck source=../tests/integration/tls.sh
source "$TOP_DIR/tests/integration/tls.sh"
tls_make_certs "$tmp/pki"
pki=$tmp/pki

servers=(steadyblk nbdkit qemu-nbd steadyblk-plain)
declare -A uri
start_one() { # start_one NAME
  local s=$tmp/$1.sock log=$tmp/$1.log
  uri[$1]="nbds+unix:///?socket=$s&tls-certificates=$pki/client"
  case $1 in
    steadyblk) start_server "$log" "$s" "${uri[$1]}" "$STEADYBLK" --foreground \
                 --tls require --tls-certificates "$pki/server" \
                 --export "nbd+unix:///?socket=$s" "$img" ;;
    nbdkit) start_server "$log" "$s" "${uri[$1]}" nbdkit -f -U "$s" --tls=require \
              --tls-certificates="$pki/server" file "$img" ;;
    qemu-nbd) start_server "$log" "$s" "${uri[$1]}" qemu-nbd -t -f raw -k "$s" \
                --object "tls-creds-x509,id=tls0,dir=$pki/server,endpoint=server" \
                --tls-creds tls0 "$img" ;;
    steadyblk-plain) uri[$1]="nbd+unix:///?socket=$s"
                     start_server "$log" "$s" "${uri[$1]}" "$STEADYBLK" --foreground \
                       --export "${uri[$1]}" "$img" ;;
  esac || die "$1 did not start"
}
for s in "${servers[@]}"; do start_one "$s"; done

# mibs CMD... : MiB/s of one bounded nbdcopy of the 1 GiB disk.
mibs() {
  local t0 t1
  t0=$(date +%s.%N)
  timeout 600 "$@" >/dev/null 2>&1 || die "failed: $*"
  t1=$(date +%s.%N)
  echo "$t0 $t1" | awk '{printf "%.0f", 1024 / ($2 - $1)}'
}
declare -A qd1 wr rd
for r in $(seq "$rounds"); do
  for s in "${servers[@]}"; do # interleaved: drift hits every server alike
    qd1[$s]+=" $(timeout 60 "$PYTHON" "$BENCH_DIR/nbdqd1.py" "${uri[$s]}" 4096 "$secs")"
    wr[$s]+=" $(mibs nbdcopy --connections=1 "$src" "${uri[$s]}")"
    rd[$s]+=" $(mibs nbdcopy --connections=1 "${uri[$s]}" null:)"
  done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }

echo "NBD over TLS (X.509, unix socket, 1 GiB in /dev/shm), medians of $rounds rounds, $(date -u +%Y-%m-%d), $(uname -r), $(nproc) CPUs"
echo
echo "| server | 4k randread QD1 (IOPS) | nbdcopy write (MiB/s) | nbdcopy read (MiB/s) |"
echo "|---|---|---|---|"
best_q=0 best_w=0 best_r=0
for s in "${servers[@]}"; do
  q=$(median <<<"${qd1[$s]}") w=$(median <<<"${wr[$s]}") r=$(median <<<"${rd[$s]}")
  printf '| %s | %s | %s | %s |\n' "$s" "$q" "$w" "$r"
  if [[ $s == nbdkit || $s == qemu-nbd ]]; then
    ((q > best_q)) && best_q=$q; ((w > best_w)) && best_w=$w; ((r > best_r)) && best_r=$r
  fi
done
q=$(median <<<"${qd1[steadyblk]}") w=$(median <<<"${wr[steadyblk]}") r=$(median <<<"${rd[steadyblk]}")
printf '| steadyblk / best peer | %.2f | %.2f | %.2f |\n' \
  "$(echo "$q $best_q" | awk '{print $1 / $2}')" "$(echo "$w $best_w" | awk '{print $1 / $2}')" \
  "$(echo "$r $best_r" | awk '{print $1 / $2}')"
