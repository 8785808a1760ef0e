#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The metrics endpoint before, during and after an outage: healthy and
# empty at first; during, the hung state, held requests and bytes, the age
# of the oldest; after, the hang counted, one observation in the hang
# duration histogram (in the right bucket), the errors by errno, the
# requests and bytes per operation.  Every scrape passes the strict parser
# (and promtool when it is installed).
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/management.sh"
requires curl jq qemu-io python3

make_image "$T/disk.img" 16M
uri=$(sb_uri "$T/s.sock")
start_steadyblk sb --werror retry --retry-interval 100ms --retry-max-interval 200ms \
    --fault-file "$T/outage" --qmp "$T/qmp.sock" --metrics "unix:$T/metrics.sock" \
    --export "$uri" "$T/disk.img"
d='disk="disk0"'

# Before.
m=$(metrics_get "$T/metrics.sock")
metrics_check "$m"
[[ $(metric "$m" "steadyblk_disk_state{$d,state=\"healthy\"}") == 1 ]] || fail "not healthy"
[[ $(metric "$m" "steadyblk_disk_state{$d,state=\"hung\"}") == 0 ]] || fail "hung"
[[ $(metric "$m" "steadyblk_held_requests{$d}") == 0 ]] || fail "held"
[[ $(metric "$m" "steadyblk_hangs_total{$d}") == 0 ]] || fail "hangs"
[[ $(metric "$m" "steadyblk_hang_duration_seconds_count{$d}") == 0 ]] || fail "histogram"
[[ $(metric "$m" "steadyblk_backend_connected{$d}") == 1 ]] || fail "backend"
grep -q '^steadyblk_errors_total{' <<<"$m" && fail "errors before any error"

# During: two writes held.
fault_on "$T/outage" "write EIO"
timeout 60 qemu-io -f raw "$uri" -c 'aio_write -P 0xc1 0 64k' -c 'aio_write -P 0xc2 64k 64k' \
    -c aio_flush >"$T/w.out" 2>&1 &
w=$!
cleanup_add "kill -9 $w"
wait_for 10 eval '[[ $(metric "$(metrics_get "$T/metrics.sock")" "steadyblk_held_requests{$d}") == 2 ]]' ||
    fail "not held"
sleep 1.3
m=$(metrics_get "$T/metrics.sock")
metrics_check "$m"
[[ $(metric "$m" "steadyblk_disk_state{$d,state=\"hung\"}") == 1 ]] || fail "not hung"
[[ $(metric "$m" "steadyblk_disk_state{$d,state=\"healthy\"}") == 0 ]] || fail "healthy while hung"
[[ $(metric "$m" "steadyblk_held_bytes{$d}") == 131072 ]] || fail "held bytes"
age=$(metric "$m" "steadyblk_oldest_held_age_seconds{$d}")
python3 -c "import sys; sys.exit(not 1.2 <= float(sys.argv[1]) < 5)" "$age" || fail "oldest age $age"
[[ $(metric "$m" "steadyblk_clients{$d}") == 1 ]] || fail "clients"
[[ $(metric "$m" "steadyblk_hangs_total{$d}") == 1 ]] || fail "hangs during"
(($(metric "$m" "steadyblk_retries_total{$d}") >= 1)) || fail "retries"
[[ $(metric "$m" "steadyblk_hang_duration_seconds_count{$d}") == 0 ]] || fail "observed before the end"

# After: the hang is over and measured.
fault_off "$T/outage"
wait "$w" || fail "qemu-io failed: $(cat "$T/w.out")"
m=$(metrics_get "$T/metrics.sock")
metrics_check "$m"
info "$(grep -E 'hang_duration|errors_total|_total\{.*write' <<<"$m")"
[[ $(metric "$m" "steadyblk_disk_state{$d,state=\"healthy\"}") == 1 ]] || fail "not healthy after"
[[ $(metric "$m" "steadyblk_held_requests{$d}") == 0 ]] || fail "held after"
[[ $(metric "$m" "steadyblk_oldest_held_age_seconds{$d}") == 0 ]] || fail "age after"
[[ $(metric "$m" "steadyblk_hangs_total{$d}") == 1 ]] || fail "hangs after"
[[ $(metric "$m" "steadyblk_hang_duration_seconds_count{$d}") == 1 ]] || fail "no observation"
sum=$(metric "$m" "steadyblk_hang_duration_seconds_sum{$d}")
ms=$(ctl query | jq '.[0].counters."hang-time-ms"')
python3 -c "import sys; s, ms = float(sys.argv[1]), int(sys.argv[2]); sys.exit(not (1.3 <= s < 10 and abs(s * 1000 - ms) < 50))" \
    "$sum" "$ms" || fail "hang duration $sum s, query-disks says $ms ms"
# 1.3 s or so: not in the buckets up to 1 s, in those from 2 s.
[[ $(metric "$m" "steadyblk_hang_duration_seconds_bucket{$d,le=\"1\"}") == 0 ]] || fail "le=1"
for le in 5 300 +Inf; do
    [[ $(metric "$m" "steadyblk_hang_duration_seconds_bucket{$d,le=\"$le\"}") == 1 ]] || fail "le=$le"
done
errs=$(metric "$m" "steadyblk_errors_total{$d,errno=\"EIO\"}")
[[ $errs == $(ctl query | jq '.[0].counters.errors') ]] || fail "EIO errors $errs"
(($(metric "$m" "steadyblk_requests_total{$d,op=\"write\"}") == 2)) || fail "write requests"
(($(metric "$m" "steadyblk_bytes_total{$d,op=\"write\"}") == 131072)) || fail "write bytes"
(($(metric "$m" "steadyblk_requests_total{$d,op=\"flush\"}") >= 1)) || fail "flush requests"
[[ $(metric "$m" "steadyblk_timeouts_total{$d}") == 0 ]] || fail "timeouts"
stop_steadyblk sb
[[ ! -e $T/metrics.sock ]] || fail "the metrics socket was left behind"
