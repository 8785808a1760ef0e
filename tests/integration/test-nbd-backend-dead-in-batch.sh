#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The NBD backend's server dies between two requests of one batch: the first
# submit finds the socket closed and libnbd's handle dies under it; the next
# ones must count as the connection lost (held and re-issued under
# --werror retry), not as an invalid request reported to the client.
#
# steadyblk is SIGSTOPped; a client sends four writes; nbdkit is SIGKILLed
# and started again; steadyblk is let go.  The client's socket became ready
# before the backend's, so the writes are submitted before the backend's
# hang-up is seen.  Every write must succeed and be on the file.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/nbd-backend.sh"
. "$(dirname "$0")/nbd-export.sh"
nbd_python

img=$T/disk.img
make_image "$img" 16M
start_nbdkit be "$T/be.sock" file "$img"
start_sb_nbd --werror retry --retry-interval 50ms --retry-max-interval 200ms ${SB_TEST_VERBOSE:+-v}

for round in 1 2 3; do
    rm -f "$T/connected" "$T/go" "$T/sent"
    timeout 60 "$NBD_PY" -c '
import os, sys, time, nbd
h = nbd.NBD()
h.connect_uri(sys.argv[1])
r, d = int(sys.argv[2]), sys.argv[3]
open(d + "/connected", "w").close()
for _ in range(200):                    # steadyblk is being stopped
    if os.path.exists(d + "/go"):
        break
    time.sleep(0.05)
bufs = [nbd.Buffer.from_bytearray(bytearray([0x10 * r + i]) * 4096) for i in range(4)]
cookies = [h.aio_pwrite(b, (r * 4 + i) * 65536) for i, b in enumerate(bufs)]
while h.aio_get_direction() & nbd.AIO_DIRECTION_WRITE:
    h.poll(100)                         # every byte in the socket
open(d + "/sent", "w").close()
while h.aio_in_flight() > 0:
    h.poll(1000)
for c in cookies:
    h.aio_command_completed(c)          # raises if the write failed
h.shutdown()' "$uri" "$round" "$T" >"$T/client.log" 2>&1 &
    client=$!
    wait_for 10 test -e "$T/connected" || fail "the client did not connect"
    kill -STOP "$SB_PID_sb"
    touch "$T/go"
    wait_for 10 test -e "$T/sent" || fail "the client did not send its writes"
    restart_server be KILL 0
    kill -CONT "$SB_PID_sb"
    wait "$client" || { cat "$T/client.log" >&2; tail -20 "$T/sb.log" >&2;
                        fail "round $round: a write failed"; }
done
grep -q "failed with EINVAL" "$T/sb.log" && fail "a write failed with EINVAL"
stop_steadyblk sb
for round in 1 2 3; do
    for i in 0 1 2 3; do
        want=$(printf '%02x' $((0x10 * round + i)))
        got=$(od -An -tx1 -N1 -j $(((round * 4 + i) * 65536)) "$img" | tr -d ' ')
        [[ $got == "$want" ]] || fail "round $round write $i is not on the file ($got)"
    done
done
echo "PASS"
