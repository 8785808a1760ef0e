#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Structured replies (NBD_OPT_STRUCTURED_REPLY): once negotiated, every read
# is answered by one chunk marked done: its data, a hole when it reads as
# zeroes, or an error (a read past the end, a read the backend fails under
# rerror=report); other commands keep simple replies; DF is advertised and
# accepted only then; a client that did not negotiate gets simple replies
# and has DF refused.  Raw, then with real clients: libnbd (chunk types
# through pread_structured, DF), qemu-io and nbdcopy reading back
# what they wrote.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
. "$here/nbd-export.sh"
requires python3 qemu-io nbdcopy

make_image "$T/disk.img" 16M
printf 'steadyblk' | dd of="$T/disk.img" bs=1 seek=$((1 << 20)) conv=notrunc status=none
sock=$T/s.sock
fault=$T/fault
start_steadyblk sb --rerror report --werror report --fault-file "$fault" \
    --export "$(sb_uri "$sock")" "$T/disk.img"

raw_py "$sock" <<'PY'
import struct, sys
from nbdraw import *
path = sys.argv[1]

s = connect(path); greet(s)
option(s, OPT_STRUCTURED_REPLY)
assert option_reply(s)[:2] == (OPT_STRUCTURED_REPLY, REP_ACK)
option(s, OPT_STRUCTURED_REPLY)  # again: still on
assert option_reply(s)[:2] == (OPT_STRUCTURED_REPLY, REP_ACK)
size, flags = go(s)
assert flags & FLAG_SEND_DF, "DF not advertised with structured replies"

request(s, CMD_READ, 1 << 20, 4096, cookie=5)
f, t, c, p = chunk(s)
assert (f, t, c) == (REPLY_FLAG_DONE, REPLY_TYPE_OFFSET_DATA, 5), (f, t, c)
off, = struct.unpack(">Q", p[:8])
assert off == 1 << 20 and p[8:17] == b"steadyblk" and len(p) == 8 + 4096, (off, len(p))
print("ok: a read of data is one data chunk, done")

request(s, CMD_READ, 8 << 20, 65536, flags=CMD_FLAG_DF, cookie=6)
f, t, c, p = chunk(s)
assert (f, t, c) == (REPLY_FLAG_DONE, REPLY_TYPE_OFFSET_HOLE, 6), (f, t, c)
assert struct.unpack(">QI", p) == (8 << 20, 65536), struct.unpack(">QI", p)
print("ok: a read of zeroes (with DF) is one hole chunk, done")

request(s, CMD_READ, size - 512, 4096, cookie=7)
f, t, c, p = chunk(s)
assert (f, t, c) == (REPLY_FLAG_DONE, REPLY_TYPE_ERROR, 7), (f, t, c)
err, mlen = struct.unpack(">IH", p[:6])
assert err == 22 and mlen == len(p) - 6, (err, mlen, p)
print("ok: a read past the end is one error chunk (EINVAL)")

request(s, CMD_WRITE, 0, 512, cookie=8, data=b"w" * 512)
assert reply(s) == (0, 8)
print("ok: a write keeps its simple reply")

# Without structured replies: simple replies, and DF refused.
s = connect(path); greet(s)
size, flags = go(s)
assert not flags & FLAG_SEND_DF, "DF advertised without structured replies"
request(s, CMD_READ, 1 << 20, 512, cookie=9)
assert reply(s) == (0, 9) and recvn(s, 512)[:9] == b"steadyblk"
request(s, CMD_READ, 1 << 20, 512, flags=CMD_FLAG_DF, cookie=10)
assert reply(s) == (22, 10)
print("ok: without them, simple replies and DF refused")
PY

# libnbd negotiates structured replies; it sees the chunk types.
nbd_py "$(sb_uri "$sock")" <<'PY'
import sys
import nbd
h = nbd.NBD()
h.connect_uri(sys.argv[1])
assert h.get_structured_replies_negotiated()
assert h.can_df()
seen = []
def chunk(buf, offset, status, err):
    seen.append((status, offset, len(buf)))
    return 0
buf = h.pread_structured(8192, (1 << 20) - 4096, chunk, nbd.CMD_FLAG_DF)
assert buf[4096:4105] == b"steadyblk", buf[4096:4110]
assert seen == [(nbd.READ_DATA, (1 << 20) - 4096, 8192)], seen
seen.clear()
assert h.pread_structured(4096, 12 << 20, chunk) == bytearray(4096)
assert seen == [(nbd.READ_HOLE, 12 << 20, 4096)], seen
h.pwrite(b"\x5a" * 65536, 4 << 20)
assert h.pread(65536, 4 << 20) == b"\x5a" * 65536
print("ok: libnbd: data and hole chunks, DF, a write read back")
PY

# A read the backend fails, under rerror=report: an error chunk, EIO.
fault_on "$fault" "read EIO"
nbd_py "$(sb_uri "$sock")" <<'PY'
import sys
import nbd
from nbdraw import expect_error
h = nbd.NBD()
h.connect_uri(sys.argv[1])
expect_error(lambda: h.pread(4096, 0), "EIO")
print("ok: libnbd: a failed read is EIO")
PY
fault_off "$fault"

qemu_io_ok "$(sb_uri "$sock")" 'write -P 0x33 2M 1M' 'read -P 0x33 2M 1M' 'read -P 0 10M 1M'
timeout 60 nbdcopy "$(sb_uri "$sock")" "$T/copy.img" || fail "nbdcopy failed"
cmp "$T/disk.img" "$T/copy.img" || fail "nbdcopy's copy differs from the disk"
stop_steadyblk sb
echo "PASS"
