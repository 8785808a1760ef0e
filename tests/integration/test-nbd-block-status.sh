#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Block status (the base:allocation meta context): LIST_META_CONTEXT lists
# it, SET_META_CONTEXT chooses it once structured replies are on, and
# NBD_CMD_BLOCK_STATUS then answers with the holes of a file as the file
# system maps them (SEEK_DATA/SEEK_HOLE): nbdinfo --map and qemu-img map
# over NBD agree with qemu-img map of the file itself; REQ_ONE gets one
# descriptor; a write over a hole is data at once.  During an outage a
# block status query is held like a read and answered once the storage is
# back, after the writes held before it; its client vanishing drops it.  An
# NBD backend passes its server's answer on (nbdkit, qemu-nbd, across a
# restart of the server); one whose server cannot say answers "all data".
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
. "$here/nbd-export.sh"
. "$here/nbd-backend.sh"
requires python3 nbdinfo qemu-img nbdkit

# 64 MiB with two runs of data: 2 MiB at 10 MiB, 64 KiB at 50 MiB.
img=$T/disk.img
truncate -s 64M "$img"
dd if=/dev/urandom of="$img" bs=1M count=2 seek=10 conv=notrunc status=none
dd if=/dev/urandom of="$img" bs=64k count=1 seek=800 conv=notrunc status=none
if [[ $(qemu-img map --output=json -f raw "$img" | grep -c '"data": false') -lt 2 ]]; then
    skip "the file system under $T keeps no holes"
fi
sock=$T/s.sock
fault=$T/fault
start_steadyblk sb --rerror retry --werror retry --retry-interval 100ms --fault-file "$fault" \
    --export "$(sb_uri "$sock")" "$img"

raw_py "$sock" <<'PY'
import struct, sys
from nbdraw import *
path = sys.argv[1]
BA = b"base:allocation"

s = connect(path); greet(s)
found, typ = meta_context(s, OPT_LIST_META_CONTEXT, [])
assert typ == REP_ACK and [n for _, n in found] == [BA], (found, typ)
found, typ = meta_context(s, OPT_LIST_META_CONTEXT, [b"base:"])
assert typ == REP_ACK and [n for _, n in found] == [BA], (found, typ)
found, typ = meta_context(s, OPT_LIST_META_CONTEXT, [b"qemu:dirty-bitmap:x", b"other:"])
assert typ == REP_ACK and found == [], (found, typ)
print("ok: LIST_META_CONTEXT lists base:allocation, for no query and for base:, not others")
found, typ = meta_context(s, OPT_SET_META_CONTEXT, [BA])
assert typ == REP_ERR_INVALID and found == [], (found, typ)
print("ok: SET_META_CONTEXT before structured replies is refused")
found, typ = meta_context(s, OPT_LIST_META_CONTEXT, [BA], name=b"nope")
assert typ == REP_ERR_UNKNOWN, typ
option(s, OPT_LIST_META_CONTEXT, struct.pack(">II", 0, 2) + struct.pack(">I", 99) + b"x")
assert option_reply(s)[1] == REP_ERR_INVALID
print("ok: an unknown export and a query longer than the option are refused")
option(s, OPT_STRUCTURED_REPLY)
assert option_reply(s)[1] == REP_ACK
found, typ = meta_context(s, OPT_SET_META_CONTEXT, [b"other:thing", BA])
assert typ == REP_ACK and len(found) == 1 and found[0][1] == BA, (found, typ)
ctx = found[0][0]
go(s)
request(s, CMD_BLOCK_STATUS, 8 << 20, 8 << 20, cookie=3)
f, t, c, p = chunk(s)
assert (f, t, c) == (REPLY_FLAG_DONE, REPLY_TYPE_BLOCK_STATUS, 3), (f, t, c)
assert struct.unpack(">I", p[:4])[0] == ctx
desc = [struct.unpack(">II", p[i:i + 8]) for i in range(4, len(p), 8)]
assert desc == [(2 << 20, 3), (2 << 20, 0), (4 << 20, 3)], desc
print("ok: block status over 8 MiB: hole, 2 MiB of data, hole, in one chunk")
request(s, CMD_BLOCK_STATUS, 8 << 20, 8 << 20, flags=CMD_FLAG_REQ_ONE, cookie=4)
f, t, c, p = chunk(s)
assert t == REPLY_TYPE_BLOCK_STATUS and struct.unpack(">III", p) == (ctx, 2 << 20, 3), p
print("ok: with REQ_ONE, one descriptor")
request(s, CMD_BLOCK_STATUS, 63 << 20, 2 << 20, cookie=5)
f, t, c, p = chunk(s)
assert t == REPLY_TYPE_ERROR and struct.unpack(">I", p[:4])[0] == 22, (t, p)
print("ok: past the end, EINVAL")

s = connect(path); greet(s)
option(s, OPT_STRUCTURED_REPLY)
assert option_reply(s)[1] == REP_ACK
go(s)
request(s, CMD_BLOCK_STATUS, 0, 4096, cookie=6)
f, t, c, p = chunk(s)
assert t == REPLY_TYPE_ERROR and struct.unpack(">I", p[:4])[0] == 22, (t, p)
print("ok: block status without the context chosen, EINVAL")
PY

# Real clients: the map over NBD is the file's own.
uri=$(sb_uri "$sock")
want=$(qemu-img map --output=json -f raw "$img")
got=$(timeout 30 qemu-img map --output=json -f raw "$uri") || fail "qemu-img map over NBD failed"
[[ $got == "$want" ]] || fail "qemu-img map over NBD differs from the file's: $got"
info "ok: qemu-img map over NBD is the file's"
map=$(timeout 30 nbdinfo --map "$uri") || fail "nbdinfo --map failed"
[[ $(grep -c 'hole,zero' <<<"$map") == 3 && $(grep -c ' data$' <<<"$map") == 2 ]] ||
    fail "nbdinfo --map: $map"
info "ok: nbdinfo --map: 3 holes, 2 runs of data"

# A write over a hole is data for the block status that follows it.
nbd_py "$uri" <<'PY'
import sys
import nbd
from nbdmap import client, Extents
h = client(sys.argv[1])
assert h.can_meta_context(nbd.CONTEXT_BASE_ALLOCATION)
def extents(off, n):
    got = Extents()
    h.block_status(n, off, got)
    return got
assert extents(32 << 20, 1 << 20) == [(1 << 20, 3)]
h.pwrite(b"\x77" * 65536, 32 << 20)
got = extents(32 << 20, 1 << 20)
assert got[0] == (65536, 0), got
print("ok: libnbd: a hole, written, reads as data at once")
PY

# During an outage: held like a read, answered once the storage is back.
fault_on "$fault" "block-status EIO"
nbd_py "$uri" "$fault" <<'PY'
import sys
from nbdmap import client, Extents, held_then_answered
h = client(sys.argv[1])
got = Extents()
held_then_answered(h, h.aio_block_status(4 << 20, 8 << 20, got), sys.argv[2])
assert got == [(2 << 20, 3), (2 << 20, 0)], got
print("ok: held during the outage, answered after it")
PY
sb_log_has "holding requests" || fail "steadyblk held nothing"

# An outage of everything: a write over a hole and then a block status over
# it are held together and released in their order, so the block status
# says data; a client that vanishes with its block status held has it
# dropped, never answered.
fault_on "$fault" "all EIO"
nbd_py "$uri" "$fault" <<'PY'
import os, sys, time
from nbdmap import client, Extents
def wait(h, secs):
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        h.poll(50)
gone = client(sys.argv[1])
gone.aio_block_status(40 << 20, 1 << 20, lambda *a: 0)
wait(gone, 0.3)
del gone  # nbd_close: the socket goes, the request still held
h = client(sys.argv[1])
got = Extents()
w = h.aio_pwrite(b"\x42" * 65536, 36 << 20)
b = h.aio_block_status(1 << 20, 36 << 20, got)
wait(h, 1.0)
assert not h.aio_command_completed(w) and not h.aio_command_completed(b), "answered in the outage"
os.unlink(sys.argv[2])
deadline = time.monotonic() + 10
pending = {w, b}
while pending:  # a completed command is retired by the first look at it
    assert time.monotonic() < deadline, "not answered after the outage"
    h.poll(100)
    pending = {c for c in pending if not h.aio_command_completed(c)}
assert got[0] == (65536, 0), got
print("ok: a write and a block status held together: it says data; a vanished client's was dropped")
PY
sb_log_has "disconnected, 1 held requests dropped" || fail "the vanished client's block status was not dropped"
stop_steadyblk sb

# An NBD backend passes its server's block status on: the map through
# steadyblk is the file's (as the writes above left it), from nbdkit and
# from qemu-nbd alike.
want=$(qemu-img map --output=json -f raw "$img")
start_nbdkit be "$T/be.sock" file "$img"
start_steadyblk sb2 --rerror retry --retry-interval 100ms --export "$(sb_uri "$T/s2.sock")" \
    "nbd+unix:///?socket=$T/be.sock"
got=$(timeout 30 qemu-img map --output=json -f raw "$(sb_uri "$T/s2.sock")") ||
    fail "qemu-img map through an NBD backend failed"
[[ $got == "$want" ]] || fail "qemu-img map through nbdkit differs from the file's: $got"
map=$(timeout 30 nbdinfo --map "$(sb_uri "$T/s2.sock")") || fail "nbdinfo --map (NBD backend) failed"
[[ $(grep -c 'hole,zero' <<<"$map") == 5 && $(grep -c ' data$' <<<"$map") == 4 ]] ||
    fail "nbdinfo --map through nbdkit: $map"
info "ok: through an NBD backend (nbdkit), the map is the file's"

# The backend's server restarts while a block status is asked: held, then
# answered by the new connection.
kill_server be KILL
nbd_py "$(sb_uri "$T/s2.sock")" <<'PY' &
import sys, time
from nbdmap import client, Extents
h = client(sys.argv[1])
got = Extents()
t0 = time.monotonic()
h.block_status(8 << 20, 8 << 20, got)
assert time.monotonic() - t0 > 0.5, "answered while the server was down"
assert got == [(2 << 20, 3), (2 << 20, 0), (4 << 20, 3)], got
print("ok: held while the backend's server was down, then its answer")
PY
client=$!
sleep 1
start_nbdkit be "$T/be.sock" file "$img"
wait "$client" || fail "block status across the backend's restart"
stop_steadyblk sb2

start_qemu_nbd qn "$T/qn.sock" "$img" -f raw
start_steadyblk sb3 --export "$(sb_uri "$T/s3.sock")" "nbd+unix:///?socket=$T/qn.sock"
got=$(timeout 30 qemu-img map --output=json -f raw "$(sb_uri "$T/s3.sock")") ||
    fail "qemu-img map through qemu-nbd failed"
[[ $got == "$want" ]] || fail "qemu-img map through qemu-nbd differs from the file's: $got"
info "ok: through an NBD backend (qemu-nbd), the map is the file's"
stop_steadyblk sb3

# A server without structured replies cannot say: all data.
start_nbdkit old "$T/old.sock" --no-sr file "$img"
start_steadyblk sb4 --export "$(sb_uri "$T/s4.sock")" "nbd+unix:///?socket=$T/old.sock"
map=$(timeout 30 nbdinfo --map "$(sb_uri "$T/s4.sock")") || fail "nbdinfo --map (no-sr backend) failed"
[[ $(wc -l <<<"$map") == 1 && $map == *"67108864    0  data"* ]] || fail "no-sr backend map: $map"
info "ok: an NBD backend whose server has no block status: all data"
echo "PASS"
