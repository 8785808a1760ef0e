#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The hostile-client catalogue (docs/nbd-hostile-clients.md), the items no
# other script checks: what the known CVEs of nbd-server, nbdkit and
# qemu-nbd sent, each answered with the exact NBD error or a disconnect of
# that client alone.  After every item a fresh libnbd client reads the
# right data and the daemon is alive; at the end --max-connections clients
# at once are still served (no connection leaked by the abuse), and the
# log lines that echo a client's name are short and escaped.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
. "$here/nbd-export.sh"
requires python3
nbd_python

MAXC=8
make_image "$T/disk.img" 80M
# 0x5a at 1 MiB: what every fresh client checks.
python3 -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(1 << 20); f.write(b"\x5a" * 65536)' \
    "$T/disk.img"
sock=$T/s.sock
# The longest name the protocol allows (and --export accepts) is served too.
long=$(printf 'L%.0s' $(seq 4096))
# -v: the refusals are logged (debug), so the log's bound is checked too.
# --max-held-bytes 40M: a budget leaked by a client that hung up mid-reply
# would leave a 32 MiB read waiting forever.
# --rerror retry and the fault file: reads held in an outage, for a client
# that hangs up while they are.
start_steadyblk sb -v --max-connections "$MAXC" --max-held-bytes 40M \
    --rerror retry --retry-interval 100ms --retry-max-interval 200ms --fault-file "$T/fault" \
    --export "$(sb_uri "$sock")" --export "$(sb_uri "$sock" "$long")" "$T/disk.img"
pid=$SB_PID_sb
uri=$(sb_uri "$sock")

# The common part of the three python checks below: after_each() after
# every item.
hostile_py() {
    { cat <<'PY'
import os, struct, sys, time
from nbdraw import *
path, uri, pid, fault, log = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
LONG = b"L" * 4096

def after_each(item):
    fresh_client_reads(uri, 1 << 20, b"\x5a" * 65536, pid)
    print("ok:", item)

def opened():
    s = connect(path); greet(s); return s

def refused(s, opt, data, want, length=None):
    """Sends an option, expects reply type @want; returns its message."""
    option(s, opt, data, length)
    o, typ, msg = option_reply(s)
    assert (o, typ) == (opt, want), "option %d: reply %#x, wanted %#x (%r)" % (opt, typ, want, msg[:80])
    return msg
PY
      cat; } | nbd_py "$sock" "$uri" "$pid" "$T/fault" "$T/sb.log" "$@"
}

# ---- A. option and name lengths, lengths that wrap ----
hostile_py <<'PY'
# nbd-server CVE-2022-26495: a name length of 0xffffffff (allocating
# length + 1 wraps to 0), in GO, INFO and the META_CONTEXT options.
s = opened()
refused(s, OPT_GO, info_go_data(name_len=0xFFFFFFFF), REP_ERR_INVALID)
refused(s, OPT_INFO, info_go_data(b"x", name_len=0xFFFFFFFA), REP_ERR_INVALID)
refused(s, OPT_LIST_META_CONTEXT, struct.pack(">II", 0xFFFFFFFF, 0), REP_ERR_INVALID)
go(s)
after_each("a name length of 0xffffffff (or one that wraps with the rest of "
           "the option) is EINVALID, the connection goes on")

# nbd-server CVE-2022-26496: an INFO/GO whose list of information requests
# is longer (or shorter) than the option holds.
s = opened()
refused(s, OPT_INFO, info_go_data(nreq=0xFFFF), REP_ERR_INVALID)
refused(s, OPT_GO, info_go_data(infos=(INFO_NAME,), nreq=3), REP_ERR_INVALID)
refused(s, OPT_GO, info_go_data(infos=(INFO_NAME, INFO_NAME), nreq=1), REP_ERR_INVALID)
go(s)
after_each("INFO/GO request lists longer or shorter than their option are INVALID")

# qemu CVE-2017-15118-like: a META_CONTEXT query length that wraps the
# position, and more queries than the option holds.
s = opened()
refused(s, OPT_LIST_META_CONTEXT,
        struct.pack(">III", 0, 1, 0xFFFFFFFC) + b"base:allocation", REP_ERR_INVALID)
refused(s, OPT_LIST_META_CONTEXT,
        struct.pack(">III", 0, 0xFFFFFFFF, 5) + b"base:", REP_ERR_INVALID)
go(s)
after_each("a META_CONTEXT query length that wraps, and 2^32-1 queries, are INVALID")

# qemu CVE-2017-15118 (a stack smash on names over 256 bytes) and
# CVE-2020-10761 (an assertion on error messages echoing long names): the
# longest unknown names in every option that takes one are UNKNOWN, with a
# message that stays short.
s = opened()
structured(s)
name = b"\n\x01" + b"n" * 4000
for opt, data in ((OPT_INFO, info_go_data(name)), (OPT_GO, info_go_data(name)),
                  (OPT_LIST_META_CONTEXT, meta_context_data(name)),
                  (OPT_SET_META_CONTEXT, meta_context_data(name))):
    msg = refused(s, opt, data, REP_ERR_UNKNOWN)
    assert len(msg) < 100 and msg.endswith(b"...' here") and b"\\x0a\\x01" in msg, msg
go(s)
after_each("unknown 4002-byte names are UNKNOWN, echoed in 64 bytes, escaped")

# The option length bound: exactly 16 KiB is read and parsed (INVALID: its
# content is junk), one byte more is TOO_BIG and skipped unread, also when
# the length says 4 GiB.
s = opened()
refused(s, OPT_INFO, b"\xff" * 16384, REP_ERR_INVALID)
refused(s, OPT_INFO, b"\xff" * 16385, REP_ERR_TOO_BIG)
refused(s, OPT_LIST, b"\0" * 1000000, REP_ERR_TOO_BIG)
go(s)
s = opened()
# Answered before its data comes; the client cannot then send 4 GiB in
# time: the handshake deadline would end it.
refused(s, OPT_GO, b"", REP_ERR_TOO_BIG, length=0xFFFFFFFF)
s.close()
after_each("options of 16 KiB are read, longer ones TOO_BIG and skipped, "
           "a 4 GiB one answered at once")

# An export name of 4096 bytes is served: LIST and NBD_INFO_NAME give it
# whole, GO and EXPORT_NAME reach it; EXPORT_NAME of an unknown long name
# hangs up (that option cannot fail politely).
s = opened()
names = list_exports(s)
assert sorted(names) == [b"", LONG], [n[:8] for n in names]
option(s, OPT_GO, info_go_data(LONG, (INFO_NAME,)))
got, typ, _ = info_replies(s)
assert typ == REP_ACK and got[INFO_NAME] == LONG and \
    struct.unpack(">Q", got[INFO_EXPORT][:8])[0] == 80 << 20, typ
request(s, CMD_READ, 1 << 20, 4096, cookie=9)
assert reply(s) == (0, 9) and recvn(s, 4096) == b"\x5a" * 4096
s = opened()
option(s, OPT_EXPORT_NAME, LONG)
assert struct.unpack(">Q", recvn(s, 10)[:8])[0] == 80 << 20
s = opened()
option(s, OPT_EXPORT_NAME, b"\nsteadyblk 00:00:00.000 error: forged" + b"E" * 4000)
assert closed_by_peer(s), "an unknown EXPORT_NAME did not hang up"
after_each("a 4096-byte export name is listed, echoed and reached (GO, EXPORT_NAME)")
PY

# ---- B. options in an order or a rhythm real clients do not use ----
hostile_py <<'PY'
# nbdkit CVE-2019-14851: INFO then GO on one connection (the same export,
# another one, an unknown one, a failed GO first; INFO 200 times).
s = opened()
go(s, opt=OPT_INFO)
go(s, LONG, opt=OPT_INFO)
refused(s, OPT_INFO, info_go_data(b"nope"), REP_ERR_UNKNOWN)
refused(s, OPT_GO, info_go_data(b"nope"), REP_ERR_UNKNOWN)
for _ in range(200):
    go(s, opt=OPT_INFO)
size, _ = go(s)
assert size == 80 << 20
request(s, CMD_READ, 1 << 20, 4096, cookie=1)
assert reply(s) == (0, 1) and recvn(s, 4096) == b"\x5a" * 4096
after_each("INFO then GO (same, other, unknown export, after a failed GO, 200 INFOs)")

# nbdkit 20b8509a: a meta context chosen for one export does not carry
# over to a GO on another: block status is refused there.
s = opened()
structured(s)
found, typ = meta_context(s, OPT_SET_META_CONTEXT, [b"base:allocation"], name=LONG)
assert typ == REP_ACK and len(found) == 1, (found, typ)
go(s)
request(s, CMD_BLOCK_STATUS, 0, 4096, cookie=2)
f, t, c, p = chunk(s)
assert (t, c, struct.unpack(">I", p[:4])[0]) == (REPLY_TYPE_ERROR, 2, EINVAL), (t, c, p)
after_each("SET_META_CONTEXT on one export, GO on another: block status EINVAL")

# nbdkit CVE-2019-14850/14851 and qemu CVE-2017-7539: everything sent at
# once before the greeting is read -- flags, a refused option (GO of an
# unknown export), an unknown one, GO, two reads and DISC -- is answered in
# order, then closed.
s = connect(path)
s.sendall(struct.pack(">I", 1) + option_bytes(OPT_GO, info_go_data(b"nope")) +
          option_bytes(77, b"junk") +
          option_bytes(OPT_GO, info_go_data()) +
          request_bytes(CMD_READ, 1 << 20, 4096, cookie=3) +
          request_bytes(CMD_READ, 0, 4096, cookie=4) + request_bytes(CMD_DISC, 0, 0))
assert recvn(s, 18)[:16] == b"NBDMAGICIHAVEOPT"
assert option_reply(s)[:2] == (OPT_GO, REP_ERR_UNKNOWN)
assert option_reply(s)[:2] == (77, REP_ERR_UNSUP)
got, typ, _ = info_replies(s)
assert typ == REP_ACK, typ
assert reply(s) == (0, 3) and recvn(s, 4096) == b"\x5a" * 4096
assert reply(s) == (0, 4) and recvn(s, 4096) == b"\0" * 4096
assert closed_by_peer(s), "no close after the pipelined DISC"
after_each("a whole session pipelined before the greeting, after denied options")

# ABORT with a GO and requests pipelined after it: acknowledged, then
# closed; nothing after it is served.
s = opened()
s.sendall(option_bytes(OPT_ABORT) + option_bytes(OPT_GO, info_go_data()) +
          request_bytes(CMD_READ, 1 << 20, 4096, cookie=5))
assert option_reply(s)[:2] == (OPT_ABORT, REP_ACK)
assert closed_silently(s), "something was answered after ABORT"
after_each("options and requests pipelined after ABORT are not served")

# 3000 options pipelined, then the replies read: all of them, in order
# (the server stops reading while 64 KiB of replies are unread).
s = opened()
s.sendall(option_bytes(OPT_LIST) * 3000)
for i in range(3000):
    types = [option_reply(s)[1] for _ in range(3)]
    assert sorted(types) == [REP_ACK, REP_SERVER, REP_SERVER], (i, types)
    assert types[2] == REP_ACK, (i, types)
go(s)
after_each("3000 pipelined LISTs are all answered, in order")

# A client that pipelines options and never reads a reply stops being read
# (its sends block) and is dropped at the handshake deadline; one that
# pipelines and hangs up costs nothing.
s = opened()
s.settimeout(0.2)
sent = 0
try:
    while sent < 64 << 20:
        sent += s.send(option_bytes(OPT_LIST) * 4096)
except socket.timeout:
    pass
assert sent < 16 << 20, "the server read %d bytes of options nobody read replies to" % sent
start = time.monotonic()
s.settimeout(15)
assert closed_by_peer(s), "a client that reads nothing was not dropped"
took = time.monotonic() - start
assert took < 12, took
for _ in range(20):
    t = opened(); t.sendall(option_bytes(OPT_LIST) * 1000 + option_bytes(OPT_GO, info_go_data())); t.close()
after_each("pipelined options never read: reading stopped after %d KiB, dropped "
           "after %.1f s; pipelined then gone: nothing" % (sent >> 10, took))
PY

# ---- C. connections that come and go ----
hostile_py "$MAXC" <<'PY'
maxc = int(sys.argv[6])
for _ in range(200):
    connect(path).close()
for _ in range(100):
    s = connect(path); recvn(s, 18); s.close()
for _ in range(100):
    s = opened(); s.close()
for _ in range(50):
    s = opened(); s.sendall(option_bytes(OPT_GO, info_go_data())[:7]); s.close()
for _ in range(50):
    s = opened(); go(s); request(s, CMD_READ, 0, 1 << 20); s.close()
after_each("500 clients that connect and close at every step")
# None of them is still counted: --max-connections clients at once.
time.sleep(0.5)
held = []
for i in range(maxc):
    s = opened(); go(s)
    request(s, CMD_READ, 1 << 20, 4096, cookie=i)
    assert reply(s) == (0, i) and recvn(s, 4096) == b"\x5a" * 4096
    held.append(s)
for s in held:
    s.close()
time.sleep(0.3)
after_each("then %d clients at once, the --max-connections, are served" % maxc)
PY

# ---- D. requests ----
hostile_py <<'PY'
MIB = 1 << 20
s = opened()
size, flags = go(s)
# offset + length wraps past 2^64: EINVAL for a read, a trim and a block
# status, ENOSPC for a write (its payload read and dropped) and zeroes.
top = 2**64 - 4096
request(s, CMD_READ, top, 8192, cookie=1)
assert reply(s) == (EINVAL, 1)
request(s, CMD_WRITE, top, 8192, cookie=2, data=b"w" * 8192)
assert reply(s) == (ENOSPC, 2)
request(s, CMD_TRIM, top, 8192, cookie=3)
assert reply(s) == (EINVAL, 3)
request(s, CMD_WRITE_ZEROES, top, 8192, cookie=4)
assert reply(s) == ((ENOSPC if flags & FLAG_SEND_WRITE_ZEROES else EINVAL), 4)
request(s, CMD_READ, size - 4096, 2**32 - 1, cookie=5)
assert reply(s) == (EINVAL, 5)
request(s, CMD_READ, 1 << 20, 4096, cookie=6)
assert reply(s) == (0, 6) and recvn(s, 4096) == b"\x5a" * 4096
s2 = opened()
structured(s2)
assert meta_context(s2, OPT_SET_META_CONTEXT, [b"base:allocation"])[1] == REP_ACK
go(s2)
request(s2, CMD_BLOCK_STATUS, top, 8192, cookie=7)
f, t, c, p = chunk(s2)
assert (t, c, struct.unpack(">I", p[:4])[0]) == (REPLY_TYPE_ERROR, 7, EINVAL), (t, p)
s2.close()
after_each("offset + length wrapping 2^64: EINVAL / ENOSPC, the connection in step")

# Near the 32 MiB bound: 32 MiB read and written; 32 MiB + 4 KiB refused
# with EINVAL (a write's payload dropped); 4 GiB - 1 read refused without
# a buffer; a 64 MiB write (the most that is read to be dropped) EINVAL,
# one byte more hung up on.
request(s, CMD_WRITE, 40 * MIB, 32 * MIB, cookie=10, data=b"\x33" * (32 * MIB))
assert reply(s) == (0, 10)
request(s, CMD_READ, 40 * MIB, 32 * MIB, cookie=11)
assert reply(s) == (0, 11) and recvn(s, 32 * MIB) == b"\x33" * (32 * MIB)
request(s, CMD_READ, 0, 32 * MIB + 4096, cookie=12)
assert reply(s) == (EINVAL, 12)
request(s, CMD_WRITE, 0, 32 * MIB + 4096, cookie=13, data=b"\x44" * (32 * MIB + 4096))
assert reply(s) == (EINVAL, 13)
request(s, CMD_READ, 0, 2**32 - 1, cookie=14)
assert reply(s) == (EINVAL, 14)
request(s, CMD_WRITE, 0, 64 * MIB, cookie=15, data=b"\x44" * (64 * MIB))
assert reply(s) == (EINVAL, 15)
request(s, CMD_READ, 1 << 20, 4096, cookie=16)
assert reply(s) == (0, 16) and recvn(s, 4096) == b"\x5a" * 4096
request(s, CMD_WRITE, 0, 64 * MIB + 1, cookie=17)
assert closed_by_peer(s), "a write of 64 MiB + 1 was not hung up on"
after_each("reads and writes at 32 MiB, 32 MiB + 4 KiB, 4 GiB - 1, 64 MiB, 64 MiB + 1")

# Unknown commands are EINVAL (not a disconnect).
s = opened(); go(s)
request(s, 200, 0, 4096, cookie=20)
assert reply(s) == (EINVAL, 20)
after_each("an unknown command is EINVAL")

# Requests pipelined after DISC are not served; the outstanding one is.
s = opened(); go(s)
s.sendall(request_bytes(CMD_READ, 1 << 20, 4096, cookie=21) + request_bytes(CMD_DISC, 0, 0) +
          request_bytes(CMD_READ, 1 << 20, 4096, cookie=22))
assert reply(s) == (0, 21) and recvn(s, 4096) == b"\x5a" * 4096
assert closed_silently(s), "a request after DISC was answered"
after_each("requests after DISC are not served")

def budget_whole(item):
    """A 32 MiB read (of the 40 MiB budget) is served: whoever went away
    left nothing of the budget counted."""
    s = opened(); go(s)
    request(s, CMD_READ, 40 * MIB, 32 * MIB, cookie=30)
    assert reply(s) == (0, 30) and recvn(s, 32 * MIB) == b"\x33" * (32 * MIB)
    s.close()
    after_each(item)

# Many requests pipelined (past the 128 slots), part of a reply read, then
# a hang-up; twice, with a reset the second time.
for how in ("close", "reset"):
    s = opened(); go(s)
    s.sendall(b"".join(request_bytes(CMD_READ, (i % 64) * MIB, MIB, cookie=i) for i in range(300)))
    assert reply(s)[0] == 0
    recvn(s, 100000)
    if how == "reset":
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
budget_whole("300 pipelined reads, hang-up mid-reply (close, reset): the budget is whole again")

# A write header of 32 MiB and half its payload, then a hang-up.
s = opened(); go(s)
request(s, CMD_WRITE, 0, 32 * MIB, cookie=31, data=b"h" * (16 * MIB))
time.sleep(0.2)
s.close()
budget_whole("a hang-up in the middle of a 32 MiB payload: the budget is whole again")

# Reads held in an outage (rerror=retry), then a hang-up: they are dropped,
# never re-issued, and once the outage ends the budget is whole.
dropped = open(log).read().count("held requests dropped")
open(fault + ".tmp", "w").write("read EIO\n")
os.rename(fault + ".tmp", fault)
s = opened(); go(s)
s.sendall(b"".join(request_bytes(CMD_READ, i * MIB, MIB, cookie=i) for i in range(30)))
deadline = time.monotonic() + 10
while "holding requests" not in open(log).read() and time.monotonic() < deadline:
    time.sleep(0.05)
s.close()
deadline = time.monotonic() + 10
while open(log).read().count("held requests dropped") == dropped and time.monotonic() < deadline:
    time.sleep(0.05)
os.unlink(fault)
assert open(log).read().count("held requests dropped") > dropped, "the held reads were not dropped"
budget_whole("reads held in an outage, then a hang-up: dropped, the budget whole again")
PY

# The log lines echoing a client's name are bounded and escaped: no line
# longer than 600 bytes (the 4096-byte export name is ours, not echoed in
# these lines), and the forged line did not make it.
awk 'length > 600 && !index($0, "LLLLLLLLLLLLLLLL") { print NR ": " length; bad = 1 }
     END { exit bad }' \
    "$T/sb.log" || fail "log lines over 600 bytes"
sb_log_has "asked for unknown export '\\\\x0asteadyblk 00:00:00.000 error: forgedE+\\.\\.\\.'" ||
    fail "the unknown EXPORT_NAME was not logged escaped and cut"
grep -q '^steadyblk 00:00:00.000' "$T/sb.log" && fail "a client forged a log line"
sb_log_has "no export '\\\\x0a\\\\x01n+\\.\\.\\.' here" || fail "the refused INFO was not logged cut"
kill -0 "$pid" || fail "the daemon died"
stop_steadyblk sb
