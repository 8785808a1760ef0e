#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# --stall-timeout: a client that holds the memory budget other clients wait
# for and stops moving it is disconnected, and the waiting clients are
# served; a client that moves its data slowly, and reads held in an
# outage, keep their connections.  With --stall-timeout 0 the stalled
# clients keep the others waiting (what the option is for).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
. "$here/nbd-export.sh"
requires python3

make_image "$T/disk.img" 64M
python3 -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(32 << 20); f.write(b"\x5a" * (16 << 20))' \
    "$T/disk.img"

# The python side of every case: clients as threads, timings in seconds.
stall_py() {
    { cat <<'PY'
import sys, threading, time
from nbdraw import *
path = sys.argv[1]
MIB = 1 << 20

def opened(timeout=20):
    s = connect(path, timeout=timeout); greet(s); go(s); return s

def write_stalls(cookie):
    """A 16 MiB write whose payload stops after 1 MiB."""
    s = opened()
    request(s, CMD_WRITE, 0, 16 * MIB, cookie=cookie)
    s.sendall(b"\x11" * MIB)
    return s

def timed_read(length, offset=32 * MIB, want=b"\x5a"):
    """Reads @length bytes; returns the seconds it took."""
    s = opened()
    t0 = time.monotonic()
    request(s, CMD_READ, offset, length, cookie=7)
    err, cookie = reply(s)
    data = recvn(s, length)
    took = time.monotonic() - t0
    assert (err, cookie) == (0, 7), (err, cookie)
    assert data == want * length, "read other data"
    request(s, CMD_DISC, 0, 0)
    s.close()
    return took
PY
      cat; } | raw_py "$T/s.sock" "$@"
}

start() {
    start_steadyblk sb -v --fault-file "$T/fault" --export "$(sb_uri "$T/s.sock")" "$@" "$T/disk.img"
}

# ---- A. two writes stall mid-payload, pinning 32 of 40 MiB ----
start --max-held-bytes 40M --stall-timeout 2s
stall_py <<'PY'
a, b = write_stalls(1), write_stalls(2)
time.sleep(0.3)
took = timed_read(16 * MIB)
# Disconnected after 2-2.5 s of no progress, counted from their stall.
assert 1.4 < took < 5, "the read took %.2f s" % took
# One is enough to make room: once nobody waits, the other may stay.
for s in (a, b):
    s.settimeout(0.5)
gone = [closed_by_peer(s) for s in (a, b)]
assert gone.count(True) == 1, "stalled writers disconnected: %r" % gone
print("ok: of two writes stalled mid-payload one is disconnected, and a 16 MiB "
      "read that waited %.2f s is served; the other stays while nobody waits" % took)
PY
sb_log_has "disconnected: it holds 16777216 bytes of the memory budget" ||
    { sb_log_show "disconnected|stall"; fail "the log does not say why the writers went"; }
stop_steadyblk sb

# ---- B. a client pipelines 16 MiB reads and reads none of the replies ----
start --max-held-bytes 40M --stall-timeout 2s
stall_py <<'PY'
s = opened()
for i in range(4):
    request(s, CMD_READ, 32 * MIB, 16 * MIB, cookie=i)
time.sleep(0.5)
took = timed_read(16 * MIB)
assert 1 < took < 5, "the read took %.2f s" % took
s.settimeout(2)
assert closed_by_peer(s), "the client that reads nothing is still connected"
print("ok: a client that does not read its replies is disconnected; the "
      "read waited %.2f s" % took)
PY
sb_log_has "disconnected: it holds" || fail "no line for the client that read nothing"
stop_steadyblk sb

# ---- C. a slow writer that keeps moving is not a stall ----
start --max-held-bytes 8M --stall-timeout 2s
stall_py <<'PY'
s = opened()
t0 = time.monotonic()
request(s, CMD_WRITE, 0, 4 * MIB, cookie=3)
result = {}
def reader():
    result["took"] = timed_read(8 * MIB)       # waits: 4 of 8 MiB are the writer's
th = threading.Thread(target=reader); th.start()
for _ in range(16):                            # 4 MiB in 4 s: 128 KiB a tick
    s.sendall(b"\x22" * (256 << 10))
    time.sleep(0.25)
assert reply(s) == (0, 3), "the slow writer's write failed"
slow = time.monotonic() - t0
th.join(20)
assert "took" in result, "the waiting read did not complete"
assert slow > 3.5, "the write took %.2f s" % slow
print("ok: a writer sending 1 MiB/s for %.1f s, past --stall-timeout, is "
      "served; the waiting read then too" % slow)
PY
sb_log_has "disconnected: it holds" && fail "a client that moved its data was disconnected"
stop_steadyblk sb

# ---- D. reads held in an outage wait on the storage, not on the client ----
start --max-held-bytes 20M --stall-timeout 2s --rerror retry --werror retry \
    --retry-interval 100ms --retry-max-interval 200ms
fault_on "$T/fault" "read EIO"
stall_py "$T/fault" <<'PY'
import os
fault = sys.argv[2]
h = opened()
request(h, CMD_READ, 32 * MIB, 16 * MIB, cookie=5)   # held: 16 of 20 MiB
time.sleep(0.3)
w = opened()
request(w, CMD_WRITE, 0, 16 * MIB, cookie=6)          # waits for the budget
done = {}
def payload():
    w.sendall(b"\x33" * (16 * MIB)); done["sent"] = True
th = threading.Thread(target=payload); th.start()
time.sleep(3.5)                                        # past 2 s x 1.25
os.unlink(fault)
assert reply(h) == (0, 5) and recvn(h, 16 * MIB) == b"\x5a" * (16 * MIB), "the held read"
th.join(20)
assert reply(w) == (0, 6), "the waiting write"
print("ok: a read held 3.5 s in an outage keeps its connection; the write "
      "that waited for its budget lands after it")
PY
sb_log_has "disconnected: it holds" && fail "a client with a held read was disconnected"
stop_steadyblk sb

# ---- E. --stall-timeout 0: the stalled writers keep everyone waiting ----
start --max-held-bytes 40M --stall-timeout 0
stall_py <<'PY'
a, b = write_stalls(1), write_stalls(2)
time.sleep(0.3)
s = opened()
request(s, CMD_READ, 32 * MIB, 16 * MIB, cookie=7)
s.settimeout(4)
try:
    s.recv(1)
    raise AssertionError("the read was served although the budget is pinned")
except socket.timeout:
    pass
print("ok: with --stall-timeout 0 a read still waits after 4 s")
PY
stop_steadyblk sb
echo "PASS"
