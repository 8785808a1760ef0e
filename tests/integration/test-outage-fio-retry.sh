#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# werror=retry: fio (nbd engine, 16 deep, crc32c verify) sees no error across a
# 5 s write outage and every block verifies.
. "$(dirname "$0")/functions.sh"
requires fio

start_sb_faulty 64M --werror retry --rerror retry --retry-interval 200ms --retry-max-interval 1s

# Rate-limited so the write phase lasts ~8 s and the outage falls inside it.
timeout 120 fio --name=outage --ioengine=nbd --uri="$uri" --rw=randwrite --bs=4k \
    --iodepth=16 --size=32M --rate=4m --verify=crc32c --do_verify=1 \
    --verify_fatal=1 --output="$T/fio.out" &
fio_pid=$!
cleanup_add "kill $fio_pid"
sleep 1.5
outage_for "$T/fault" 5 "write EIO"
rc=0
wait "$fio_pid" || rc=$?
cat "$T/fio.out" >&2
((rc == 0)) || fail "fio exited with $rc"
grep -q 'err= 0' "$T/fio.out" || fail "fio reported errors"
grep -q 'verify' "$T/fio.out" || true
held=$(grep -c 'holding requests' "$T/sb.log" || true)
((held >= 1)) || fail "the outage never held a request: the test proved nothing"
stop_steadyblk sb
