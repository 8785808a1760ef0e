#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# One memory bound for the whole daemon (invariant 6): 24 clients each write
# 32 MiB into an outage with --max-held-bytes 64M.  The daemon reads a
# payload only once its bytes fit in the daemon-wide budget, so its peak RSS
# stays within the bound plus a constant (not 24 x 32 MiB); once the outage
# ends every write lands.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
. "$here/nbd-export.sh"
requires qemu-io python3

N=24
MIB=$((1024 * 1024))
# The constant on top of the budget: the daemon's own baseline (~6 MiB:
# code, io_uring rings, the 64 KiB input buffer and slots of each client,
# 24 x ~110 KiB), the idle-buffer cache (16 MiB at most) and the
# allocator's slack.  Measured peak with the bound: ~75 MiB; without it
# ~780 MiB.
BOUND_KB=$(((64 + 48) * 1024))
# Once the outage ends, the writes that land are also kept in the log of
# writes since the backend's last flush, which has its own bound (64M by
# default): off here, so that what is measured is the export's budget.
log_args=(--max-unflushed-bytes 0)

start_sb_faulty $((N * 32))M --werror retry --retry-interval 200ms \
    --retry-max-interval 500ms --max-held-bytes 64M "${log_args[@]}"
pid=$SB_PID_sb

fault_on "$T/fault" "write EIO"
# N writers in one process (threads): each sends one 32 MiB write of its
# own byte, from a 1 MiB chunk, and waits for the reply.
raw_py "$T/s.sock" "$N" <<'PY' >"$T/clients.out" 2>&1 &
import sys, threading
from nbdraw import *
path, n = sys.argv[1], int(sys.argv[2])
MIB = 1 << 20
errors = []

def writer(i):
    try:
        s = connect(path, timeout=100)
        greet(s)
        go(s)
        request(s, CMD_WRITE, i * 32 * MIB, 32 * MIB, cookie=i)
        chunk = bytes([i + 1]) * MIB
        for _ in range(32):
            s.sendall(chunk)
        err, cookie = reply(s)
        assert (err, cookie) == (0, i), "client %d: reply %d for %d" % (i, err, cookie)
        request(s, CMD_DISC, 0, 0)
        s.close()
    except Exception as e:  # noqa: BLE001 - reported below
        errors.append("client %d: %r" % (i, e))

threads = [threading.Thread(target=writer, args=(i,)) for i in range(n)]
for t in threads:
    t.start()
for t in threads:
    t.join()
assert not errors, errors
print("all %d writes acknowledged" % n)
PY
py=$!
cleanup_add "kill $py"

# While the outage lasts, sample the daemon's memory.
peak=0
for _ in $(seq 60); do
    r=$(rss_kb "$pid")
    ((r > peak)) && peak=$r
    sleep 0.1
done
hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")
info "during the outage: RSS peak sampled ${peak} KiB, VmHWM ${hwm} KiB (bound ${BOUND_KB} KiB)"
sb_log_has 'holding requests' || fail "nothing was held"

fault_off "$T/fault"
wait_for 100 pid_gone "$py" || fail "the writers did not finish within 100 s of the outage"
wait "$py" || { cat "$T/clients.out" >&2; fail "a writer failed"; }
hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")
info "after the outage: VmHWM ${hwm} KiB"

for ((i = 0; i < N; i++)); do
    qemu_io_ok "$uri" "read -P $((i + 1)) $((i * 32))M 32M"
done

# Sanitizers keep freed memory in quarantine and map shadow memory: there
# RSS says nothing about our bound.
if ldd "$STEADYBLK" 2>/dev/null | grep -q 'libasan'; then
    info "sanitizer build: RSS bound not checked"
else
    ((hwm <= BOUND_KB)) || fail "peak RSS ${hwm} KiB is above the bound ${BOUND_KB} KiB"
fi
stop_steadyblk sb
