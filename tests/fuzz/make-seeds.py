#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Description: writes the seed corpora of the fuzz harnesses into
# tests/fuzz/corpus/<harness>/ (README.md).  Run it again after changing a
# seed here; the files it writes are checked in.  Constants as in
# src/exports/nbd/proto.h and src/exports/vhost-user/proto.h.
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

# ---- NBD (big endian on the wire) ----
IHAVEOPT = 0x49484156454F5054
REQUEST_MAGIC = 0x25609513
OPT_EXPORT_NAME, OPT_ABORT, OPT_LIST, OPT_STARTTLS, OPT_INFO, OPT_GO = 1, 2, 3, 5, 6, 7
OPT_STRUCTURED_REPLY, OPT_LIST_META_CONTEXT, OPT_SET_META_CONTEXT = 8, 9, 10
INFO_NAME, INFO_DESCRIPTION, INFO_BLOCK_SIZE = 1, 2, 3
CMD_READ, CMD_WRITE, CMD_DISC, CMD_FLUSH, CMD_TRIM, CMD_CACHE, CMD_WRITE_ZEROES = \
    0, 1, 2, 3, 4, 5, 6
CMD_BLOCK_STATUS = 7
FLAG_FUA, FLAG_NO_HOLE, FLAG_DF, FLAG_REQ_ONE, FLAG_FAST_ZERO = 1, 2, 4, 8, 16


def client_flags(no_zeroes=True):
    return struct.pack(">I", 1 | (2 if no_zeroes else 0))


def option(opt, data=b""):
    return struct.pack(">QII", IHAVEOPT, opt, len(data)) + data


def name_field(name):
    n = name.encode()
    return struct.pack(">I", len(n)) + n


def go(name="", infos=(), opt=OPT_GO):
    return option(opt, name_field(name) + struct.pack(">H", len(infos)) +
                  b"".join(struct.pack(">H", i) for i in infos))


def meta(opt, name="", queries=("base:allocation",)):
    q = b"".join(struct.pack(">I", len(x)) + x.encode() for x in queries)
    return option(opt, name_field(name) + struct.pack(">I", len(queries)) + q)


def request(cmd, offset=0, length=0, flags=0, cookie=1, payload=b""):
    return struct.pack(">IHHQQI", REQUEST_MAGIC, flags, cmd, cookie, offset, length) + payload


def newstyle_handshake(name=""):
    return (client_flags() + option(OPT_STRUCTURED_REPLY) +
            meta(OPT_SET_META_CONTEXT, name) + go(name, (INFO_BLOCK_SIZE,)))


NBD = {
    # The brief's seed: a structured, block-status-capable client.
    "handshake-go-transmission": newstyle_handshake() +
        request(CMD_READ, 0, 4096, cookie=1) +
        request(CMD_WRITE, 4096, 512, cookie=2, payload=b"\xab" * 512) +
        request(CMD_FLUSH, cookie=3) +
        request(CMD_BLOCK_STATUS, 0, 65536, cookie=4) +
        request(CMD_CACHE, 0, 65536, cookie=6) +
        request(CMD_DISC, cookie=5),
    "structured-read-df-req-one": newstyle_handshake() +
        request(CMD_READ, 8192, 8192, FLAG_DF, cookie=7) +
        request(CMD_BLOCK_STATUS, 0, 1 << 20, FLAG_REQ_ONE, cookie=8) +
        request(CMD_TRIM, 0, 4096, cookie=9) +
        request(CMD_WRITE_ZEROES, 4096, 4096, FLAG_NO_HOLE | FLAG_FAST_ZERO, cookie=10) +
        request(CMD_DISC, cookie=11),
    "simple-replies-fua": client_flags(False) + go("", (INFO_NAME, INFO_DESCRIPTION)) +
        request(CMD_WRITE, 0, 1024, FLAG_FUA, cookie=1, payload=bytes(range(256)) * 4) +
        request(CMD_READ, 0, 1024, cookie=2) +
        request(CMD_READ, (1 << 20) - 512, 1024, cookie=3) +  # past the end: EINVAL
        request(CMD_BLOCK_STATUS, 0, 4096, cookie=4) +          # not negotiated
        request(CMD_CACHE, 0, 64 << 20, FLAG_FUA, cookie=6) +  # longer than the maximum
        request(CMD_CACHE, 0, 4096, 1 << 5, cookie=7) +        # unknown flag: EINVAL
        request(CMD_DISC, cookie=5),
    "export-name-read-only": client_flags(False) + option(OPT_EXPORT_NAME, b"ro") +
        request(CMD_WRITE, 0, 16, cookie=1, payload=b"x" * 16) +  # EPERM
        request(CMD_READ, 0, 16, cookie=2) +
        request(CMD_DISC, cookie=3),
    "options-list-info-abort": client_flags() + option(OPT_LIST) +
        go("ro", (INFO_NAME,), opt=OPT_INFO) +
        meta(OPT_LIST_META_CONTEXT, "", ()) +
        meta(OPT_LIST_META_CONTEXT, "ro", ("base:",)) +
        option(OPT_ABORT),
    "options-refused-then-go": client_flags() + option(OPT_STARTTLS) + option(99, b"zz") +
        meta(OPT_SET_META_CONTEXT) +            # before STRUCTURED_REPLY: refused
        go("nosuch") + option(OPT_STRUCTURED_REPLY, b"x") +
        option(OPT_INFO, b"\x00\x00") +         # too short
        go("ro") + request(CMD_FLUSH, cookie=1) + request(CMD_DISC, cookie=2),
    "big-option-and-bad-request": client_flags() +
        struct.pack(">QII", IHAVEOPT, OPT_GO, 5000) + b"\0" * 5000 +
        go() + request(CMD_READ, 0, 64 << 20, cookie=1) +  # larger than the maximum
        request(42, cookie=2) +
        struct.pack(">IHHQQI", 0xdeadbeef, 0, 0, 0, 0, 0),  # bad magic: dropped
}

# ---- QMP ----
def qmp(*cmds):
    out = []
    for c in cmds:
        out.append(c if isinstance(c, str) else json.dumps(c))
    return ("\r\n".join(out) + "\r\n").encode()


CAPS = {"execute": "qmp_capabilities"}
QMP = {
    "queries": qmp(CAPS, {"execute": "query-version", "id": 1},
                   {"execute": "query-commands", "id": "two"},
                   {"execute": "query-disks"}, {"execute": "query-faults",
                                                "arguments": {"disk": "d0"}},
                   {"execute": "quit"}),
    "policy": qmp(CAPS, {"execute": "set-error-policy", "arguments": {
        "disk": "d0", "werror": "retry", "rerror": "report", "retry-interval": "200ms",
        "retry-max-interval": 2000, "retry-timeout": "5m", "retry-then": "stop",
        "retry-errors": ["EIO", "ETIMEDOUT"], "max-held-requests": 128,
        "max-held-bytes": "64M"}},
        {"execute": "cont", "arguments": {"disk": "d1"}},
        {"execute": "fail-held", "arguments": {"disk": "d0"}},
        {"execute": "retry-now", "arguments": {"disk": "d0"}},
        {"execute": "query-disks", "id": [1, {"a": None}]}),
    "faults": qmp(CAPS, {"execute": "fault-set", "arguments": {
        "disk": "d0", "op": "write", "errno": "ENOSPC", "rate": 50.5,
        "offset-start": 0, "offset-end": 1073741824, "enabled": True}},
        {"execute": "fault-set", "arguments": {"disk": "d0", "op": "all"}},
        {"execute": "query-faults", "arguments": {"disk": "d0"}},
        {"execute": "fault-set", "arguments": {"disk": "d1", "op": "read"}},
        {"execute": "fault-clear", "arguments": {"disk": "d0"}}),
    "protocol-errors": qmp({"execute": "query-disks"},            # before negotiation
                           {"execute": "qmp_capabilities", "arguments": {"enable": ["oob"]}},
                           CAPS, CAPS, '{"execute": "nosuch"}', '[1, 2]', '"text"',
                           '{"execute": "query-disks", "arguments": 5}',
                           '{"execute": ', '}', '{"id": 3}',
                           '{"execute": "set-error-policy", "arguments": {"werror": "bogus"}}') +
        b"\xff" + b'{"execute": "query-version"}\r\n' +
        b'{\n  "execute" : "query-status",\n  "id" : "\\u00e9\\"}"\n}\n',
}

JSON_STREAM = {
    "texts": b"\x02\x07" + QMP["queries"] + b'[1, [2, {"a": "}"}]] 3 "x\\"y" nul',
    "oversized": b"\x00\x05" + b'{"a": "' + b"x" * 300 + b'"} {"n": 1}' + b"\x01{}",
}

# ---- URIs ----
URI = {
    "unix-default": b"nbd+unix:///?socket=/run/sb.sock",
    "unix-named-escaped": b"nbd+unix:///my%20disk?socket=/tmp/a%26b.sock",
    "tcp-v4": b"nbd://127.0.0.1:10809/disk0",
    "tcp-v6-default-port": b"nbd://[::1]/",
    "tcp-plus": b"nbd+tcp://127.0.0.1:0",
    "backend-host": b"nbd://storage.example:10810/vol%2F1",
    "backend-relative-socket": b"nbd+unix:///export?socket=run/nbd.sock",
    "tls-refused": b"nbds://127.0.0.1/x",
}

# ---- fault files ----
FAULT = {
    "examples": b"# Every operation\nall EIO\nwrite ENOSPC\nzero ENOSPC\n"
                b"read ETIMEDOUT 1%\nall EIO 1G-2G\nall ESHUTDOWN\n",
    "ranges-and-rates": b"  write-zeroes eshutdown 0.25% 4096-\nflush EIO 0%\n"
                        b"block-status EROFS 100% 0-1M\ntrim ENOTCONN 12.3456% 1k-2T\n"
                        b"cache EIO 50% 0-64k\n",
    "bad-lines": b"write EFOO\nread\nall EIO 200%\nwrite EIO 5-4\n\n# only a comment\n"
                 b"nosuchop EIO\r\nall EIO 1x-2\n",
    "empty": b"",
}

# ---- vhost-user messages (host byte order = little endian here) ----
def vu_write(payload, nfds=0):
    return struct.pack("<BH", nfds, len(payload)) + payload


def vu_msg(req, payload=b"", flags=1, size=None):
    return struct.pack("<III", req, flags, len(payload) if size is None else size) + payload


GET_FEATURES, SET_FEATURES, SET_OWNER, SET_MEM_TABLE = 1, 2, 3, 5
SET_VRING_NUM, SET_VRING_ADDR, SET_VRING_BASE, SET_VRING_KICK, SET_VRING_CALL = 8, 9, 10, 12, 13
GET_PROTOCOL_FEATURES, GET_CONFIG, ADD_MEM_REG, GET_STATUS = 15, 24, 37, 40
region = struct.pack("<QQQQ", 0, 1 << 20, 0x7f0000000000, 0)
VHOST_MSG = {
    "start-sequence":
        vu_write(vu_msg(GET_FEATURES)) + vu_write(vu_msg(GET_PROTOCOL_FEATURES)) +
        vu_write(vu_msg(SET_OWNER)) +
        vu_write(vu_msg(SET_FEATURES, struct.pack("<Q", 1 << 32))) +
        vu_write(vu_msg(SET_MEM_TABLE, struct.pack("<II", 1, 0) + region), 1) +
        vu_write(vu_msg(SET_VRING_NUM, struct.pack("<II", 0, 256))) +
        vu_write(vu_msg(SET_VRING_ADDR, struct.pack("<IIQQQQ", 0, 0, 0x7f0000001000,
                                                    0x7f0000002000, 0x7f0000003000, 0))) +
        vu_write(vu_msg(SET_VRING_BASE, struct.pack("<II", 0, 0))) +
        vu_write(vu_msg(SET_VRING_CALL, struct.pack("<Q", 0)), 1) +
        vu_write(vu_msg(SET_VRING_KICK, struct.pack("<Q", 0)), 1) +
        vu_write(vu_msg(GET_CONFIG, struct.pack("<III", 0, 60, 0) + bytes(60))) +
        vu_write(vu_msg(ADD_MEM_REG, struct.pack("<Q", 0) + region), 1) +
        vu_write(vu_msg(GET_STATUS)),
    # One message over three writes, its descriptor on the first.
    "split-message": (lambda m: vu_write(m[:5], 1) + vu_write(m[5:13]) + vu_write(m[13:]))(
        vu_msg(SET_VRING_KICK, struct.pack("<Q", 1))) + vu_write(vu_msg(GET_FEATURES)),
    "too-many-fds": vu_write(vu_msg(SET_MEM_TABLE, struct.pack("<II", 1, 0) + region), 9),
    "wrong-fds": vu_write(vu_msg(SET_VRING_NUM, struct.pack("<II", 0, 8)), 2),
    "reply-flag": vu_write(vu_msg(GET_FEATURES, flags=5)),
    "oversized": vu_write(vu_msg(SET_FEATURES, size=0xffff)),
}

# ---- vrings (little endian; layout in fuzz-vhost-vring.c) ----
QSIZE_LOG2, DESC, AVAIL, USED = 3, 0x1000, 0x2000, 0x3000
F_NEXT, F_WRITE, F_INDIRECT = 1, 2, 4


def vring_input(descs, heads, flags=3, base=0, room=16, chain_head=0, indirect=None,
                queries=((0x100, 16), (0x7ff8, 16), (0xfff8, 16), (2**64 - 4, 16))):
    hdr = struct.pack("<BBHBBHIII", QSIZE_LOG2, flags, base, room - 1, 0, chain_head,
                      DESC, AVAIL, USED)
    hdr += b"".join(struct.pack("<QI", g, n) for g, n in queries)
    mem = bytearray(0x10000)
    for i, (addr, ln, fl, nxt) in enumerate(descs):
        struct.pack_into("<QIHH", mem, DESC + 16 * i, addr, ln, fl, nxt)
    for i, (addr, ln, fl, nxt) in enumerate(indirect or ()):
        struct.pack_into("<QIHH", mem, 0x4000 + 16 * i, addr, ln, fl, nxt)
    struct.pack_into("<HH", mem, AVAIL, 0, (base + len(heads)) & 0xffff)
    for i, h in enumerate(heads):
        struct.pack_into("<H", mem, AVAIL + 4 + 2 * ((base + i) % (1 << QSIZE_LOG2)), h)
    # Trailing zeroes are the harness's default: leave them out.
    return hdr + bytes(mem).rstrip(b"\0")


VHOST_VRING = {
    # A virtio-blk request: header, data, status; then one across the regions.
    "blk-chains": vring_input(
        [(0x8000, 16, F_NEXT, 1), (0x9000, 512, F_NEXT | F_WRITE, 2),
         (0x9200, 1, F_WRITE, 0), (0x7ff0, 32, 0, 0)], [0, 3]),
    "indirect": vring_input([(0x4000, 48, F_INDIRECT, 0)], [0],
                            indirect=[(0x8000, 16, F_NEXT, 1), (0x8100, 512, F_NEXT, 2),
                                      (0x8400, 1, F_WRITE, 0)]),
    "loop": vring_input([(0x8000, 16, F_NEXT, 1), (0x8100, 16, F_NEXT, 0)], [0], chain_head=1),
    "outside-and-order": vring_input([(0x8000, 16, F_WRITE | F_NEXT, 1), (0x8100, 16, 0, 0),
                                      (0xfff0, 64, 0, 0)], [2, 0], base=65534, room=1),
}

# ---- vhost-user sessions (records of fuzz-vhost-device.c) ----
GET_VRING_BASE, SET_LOG_BASE, SET_VRING_ERR = 11, 6, 14
SET_PROTOCOL_FEATURES, GET_QUEUE_NUM, SET_VRING_ENABLE, SET_CONFIG = 16, 17, 18, 25
GET_INFLIGHT_FD, SET_INFLIGHT_FD, RESET_DEVICE = 31, 32, 34
GET_MAX_MEM_SLOTS, REM_MEM_REG, RESET_OWNER, SET_LOG_FD = 36, 38, 4, 7
NEED_REPLY = 8
UVA = 0x7f0000000000
F_PROTOCOL, F_LOG_ALL, F_INDIRECT, F_EVENT_IDX, F_VERSION_1 = 30, 26, 28, 29, 32
FEATURES = (1 << F_VERSION_1) | (1 << F_PROTOCOL) | (1 << F_INDIRECT) | (1 << F_EVENT_IDX) | \
    (1 << 2) | (1 << 6) | (1 << 9) | (1 << 12)  # SEG_MAX, BLK_SIZE, FLUSH, MQ
P_MQ, P_LOG_SHMFD, P_REPLY_ACK, P_CONFIG, P_INFLIGHT, P_MEM_SLOTS = 0, 1, 3, 9, 12, 15
PROTOCOL = sum(1 << b for b in (P_MQ, P_LOG_SHMFD, P_REPLY_ACK, P_CONFIG, P_INFLIGHT, P_MEM_SLOTS))
NATURAL = 0x0f  # fds: what the request takes
BLK_IN, BLK_OUT, BLK_FLUSH, BLK_GET_ID, BLK_DISCARD = 0, 1, 4, 8, 11


def r_msg(req, payload=b"", fds=NATURAL, flags=1, size=None):
    return bytes([0, fds]) + vu_msg(req, payload, flags, size)


def r_turns(n=3):
    return bytes([1, n])


def r_guest(gpa, data):
    return bytes([2]) + struct.pack("<IH", gpa, len(data)) + data


def r_inflight(off, data):
    return bytes([3]) + struct.pack("<IH", off, len(data)) + data


def r_kick(q=0):
    return bytes([4, q])


def r_backend(mode):  # 0 completes on the next turn, 1 parks, 2 completes, 3 fails
    return bytes([5, mode])


HANG_UP = bytes([6])


def u64(v):
    return struct.pack("<Q", v)


def state(index, num):
    return struct.pack("<II", index, num)


def mem_region(gpa, size, offset):
    return struct.pack("<QQQQ", gpa, size, UVA + gpa, offset)


def mem_table(*regions):
    return struct.pack("<II", len(regions), 0) + b"".join(mem_region(*r) for r in regions)


def inflight(num_queues, queue_size, size=0, offset=0):
    return struct.pack("<QQHH4x", size, offset, num_queues, queue_size)


def inflight_size(queue_size):  # sb_vu_inflight_queue_size
    return (16 + 16 * queue_size + 63) & ~63


class Ring:
    """A split ring in guest memory and the requests a guest puts in it."""

    def __init__(self, index=0, num=16, desc=0x1000, avail=0x2000, used=0x3000):
        self.index, self.num, self.desc, self.avail, self.used = index, num, desc, avail, used
        self.next_desc = self.avail_idx = 0

    def addr(self, flags=0, log=0):
        return struct.pack("<IIQQQQ", self.index, flags, UVA + self.desc, UVA + self.used,
                           UVA + self.avail, log)

    def setup(self, base=0, ack=False):
        f = 1 | (NEED_REPLY if ack else 0)
        return (r_msg(SET_VRING_NUM, state(self.index, self.num), flags=f) +
                r_msg(SET_VRING_BASE, state(self.index, base), flags=f) +
                r_msg(SET_VRING_ADDR, self.addr(), flags=f) +
                r_msg(SET_VRING_KICK, u64(self.index)) +
                r_msg(SET_VRING_CALL, u64(self.index)) +
                r_msg(SET_VRING_ENABLE, state(self.index, 1), flags=f))

    def request(self, kind, sector=0, length=512, at=0x8000, head=None):
        """A header, data and status chain; the guest writes it and makes it available."""
        head = self.next_desc if head is None else head
        hdr, data, status = at, at + 0x1000, at + 0x800
        out = r_guest(hdr, struct.pack("<IIQ", kind, 0, sector))
        write = kind in (BLK_IN, BLK_GET_ID)  # the device writes the data
        descs = [(hdr, 16, 1, head + 1)]
        if length:
            descs.append((data, length, 1 | (2 if write else 0), head + 2))
        descs.append((status, 1, 2, 0))
        descs[-2] = descs[-2][:3] + (head + len(descs) - 1,)
        table = b"".join(struct.pack("<QIHH", a, n, fl, nx) for a, n, fl, nx in descs)
        out += r_guest(self.desc + 16 * head, table)
        out += r_guest(self.avail + 4 + 2 * (self.avail_idx % self.num), struct.pack("<H", head))
        self.avail_idx += 1
        out += r_guest(self.avail, struct.pack("<HH", 0, self.avail_idx & 0xffff))
        self.next_desc = head + len(descs)
        return out


def qemu_connect(protocol=PROTOCOL):
    return (r_msg(GET_FEATURES) + r_msg(GET_PROTOCOL_FEATURES) +
            r_msg(SET_PROTOCOL_FEATURES, u64(protocol)) + r_msg(GET_QUEUE_NUM) +
            r_msg(SET_OWNER) + r_msg(GET_CONFIG, struct.pack("<III", 0, 60, 0) + bytes(60)))


GUEST = ((0, 0x40000, 0),)
GUEST_SPLIT = ((0, 0x20000, 0), (0x100000, 0x20000, 0x20000))


def qemu_start(ring, table=GUEST, features=FEATURES, get_inflight=True, queues=1):
    out = b""
    if get_inflight:
        out += r_msg(GET_INFLIGHT_FD, inflight(queues, ring.num))
    out += r_msg(SET_INFLIGHT_FD, inflight(queues, ring.num, queues * inflight_size(ring.num)))
    return (out + r_msg(SET_FEATURES, u64(features)) +
            r_msg(SET_MEM_TABLE, mem_table(*table), flags=1 | NEED_REPLY) + ring.setup(ack=True))


def vhost_qemu_start():
    q = Ring()
    out = qemu_connect() + qemu_start(q)
    out += q.request(BLK_OUT, 8, 512) + q.request(BLK_IN, 8, 512, at=0xa000)
    out += q.request(BLK_GET_ID, 0, 20, at=0xc000) + q.request(BLK_FLUSH, 0, 0, at=0xe000)
    out += r_kick() + r_turns(4)
    # stop / cont: the same table and region again, the ring where it stopped
    out += r_msg(GET_VRING_BASE, state(0, 0)) + r_msg(SET_INFLIGHT_FD, inflight(1, 16, inflight_size(16)))
    out += r_msg(SET_MEM_TABLE, mem_table(*GUEST)) + q.setup(base=4)
    out += q.request(BLK_IN, 0, 4096, at=0x10000) + r_kick() + r_turns(2)
    return out


def vhost_reset():
    q = Ring()
    out = r_backend(1) + qemu_connect() + qemu_start(q)
    out += q.request(BLK_IN, 0, 512) + q.request(BLK_OUT, 16, 512, at=0xa000) + r_kick()
    out += r_turns(2)
    # the guest resets its device with two requests at the backend
    out += r_msg(GET_VRING_BASE, state(0, 0)) + r_msg(RESET_DEVICE)
    out += r_msg(GET_INFLIGHT_FD, inflight(1, 8))
    q2 = Ring(num=8, desc=0x4000, avail=0x5000, used=0x6000)
    out += qemu_start(q2, get_inflight=False) + q2.request(BLK_IN, 32, 512, at=0x20000)
    out += r_kick() + r_turns(2) + r_backend(2) + r_turns(2) + r_backend(0)
    out += r_msg(RESET_OWNER) + r_turns(1)
    return out


def vhost_migration():
    q = Ring()
    out = qemu_connect() + qemu_start(q, table=GUEST_SPLIT)
    out += r_backend(1) + q.request(BLK_IN, 0, 512) + r_kick() + r_turns(2)
    # dirty logging on, the log shared, then the stop drains for real
    out += r_msg(SET_FEATURES, u64(FEATURES | 1 << F_LOG_ALL))
    out += r_msg(SET_LOG_BASE, struct.pack("<QQ", 4096, 0))
    out += r_msg(SET_VRING_ADDR, q.addr(flags=1, log=0x3000))
    out += r_msg(GET_VRING_BASE, state(0, 0))
    out += r_msg(GET_FEATURES)  # sent while it drains: waits in the socket
    out += r_backend(2) + r_turns(2) + r_backend(0)
    out += r_msg(SET_LOG_FD, u64(0)) + r_msg(GET_VRING_BASE, state(0, 0))
    return out


def vhost_stop_without_region():
    q = Ring()
    out = qemu_connect(PROTOCOL & ~(1 << P_INFLIGHT))
    out += r_msg(SET_FEATURES, u64(FEATURES & ~(1 << 9)))  # no cache: no FLUSH
    out += r_msg(SET_MEM_TABLE, mem_table(*GUEST)) + q.setup()
    out += r_backend(1) + q.request(BLK_OUT, 0, 512) + q.request(BLK_IN, 0, 512, at=0xa000)
    out += r_kick() + r_turns(2) + r_msg(GET_VRING_BASE, state(0, 0))
    out += r_msg(SET_MEM_TABLE, mem_table(*GUEST_SPLIT)) + r_msg(GET_VRING_BASE, state(0, 0))
    out += r_backend(2) + r_turns(3)
    # and the front end goes while the device drains
    out += q.setup(base=2) + q.request(BLK_IN, 8, 512, at=0xc000) + r_kick() + r_turns(2)
    out += r_msg(GET_VRING_BASE, state(0, 0)) + HANG_UP + r_turns(2) + r_backend(2)
    return out


def vhost_reconnect():
    q = Ring()
    out = r_backend(1) + qemu_connect() + qemu_start(q)
    out += q.request(BLK_OUT, 0, 512) + q.request(BLK_IN, 8, 512, at=0xa000) + r_kick()
    out += r_turns(2) + HANG_UP + r_turns(1)
    # QEMU reconnects and hands back the region the last back end filled
    q.next_desc = 0
    out += r_backend(0) + qemu_connect() + qemu_start(q, get_inflight=False)
    out += r_kick() + r_turns(4)
    return out


def vhost_mem_slots():
    out = qemu_connect() + r_msg(GET_MAX_MEM_SLOTS) + r_msg(SET_FEATURES, u64(FEATURES))
    out += r_msg(ADD_MEM_REG, u64(0) + mem_region(0, 0x10000, 0))
    out += r_msg(ADD_MEM_REG, u64(0) + mem_region(0x10000, 0x10000, 0x10000))
    q = Ring()
    out += q.setup() + q.request(BLK_IN, 0, 512) + r_kick() + r_turns(2)
    out += r_msg(REM_MEM_REG, u64(0) + mem_region(0, 0x10000, 0))
    out += r_msg(SET_MEM_TABLE, mem_table(*[(i << 15, 0x8000, i << 15) for i in range(8)]))
    out += r_msg(REM_MEM_REG, u64(0) + mem_region(0x8000, 0x8000, 0x8000), fds=0)
    return out


def vhost_ring_resized():
    # stopped with a request out, it completes, the ring comes back smaller
    q = Ring(num=1024, desc=0x10000, avail=0x14000, used=0x15000)
    out = r_backend(1) + qemu_connect() + r_msg(SET_FEATURES, u64(FEATURES))
    out += r_msg(SET_MEM_TABLE, mem_table(*GUEST)) + q.setup()
    out += q.request(BLK_IN, 0, 512, at=0x20000, head=600) + r_kick() + r_turns(2)
    out += r_msg(GET_VRING_BASE, state(0, 0)) + r_backend(2) + r_turns(1)
    small = Ring(num=16)
    out += r_msg(SET_INFLIGHT_FD, inflight(1, 16, inflight_size(16)), fds=0x61)
    out += small.setup() + r_turns(2)
    return out


def vhost_tables_replaced():
    # a request stuck at the backend, the table replaced again and again:
    # each replaced region stays mapped until it is done (32 were kept, the
    # rest leaked with their fds)
    q = Ring()
    out = r_backend(1) + qemu_connect() + r_msg(SET_FEATURES, u64(FEATURES))
    out += r_msg(SET_MEM_TABLE, mem_table(*GUEST)) + q.setup()
    out += q.request(BLK_IN, 0, 512) + r_kick() + r_turns(2)
    for t in range(6):
        out += r_msg(SET_MEM_TABLE,
                     mem_table(*[(i << 15, 0x4000 + 0x400 * t, i << 15) for i in range(8)]))
    return out + r_backend(2) + r_turns(2)


def vhost_used_over_avail(kind=99):
    # the used ring over the avail ring: each request that completes (at
    # once: an unsupported type; or at the backend: a flush) moves the avail
    # index on again (queue_run spun; then queue_run and the completions)
    q = Ring(used=0x2000)
    out = qemu_connect() + r_msg(SET_FEATURES, u64(FEATURES & ~(1 << F_EVENT_IDX)))
    out += r_guest(0x30000, struct.pack("<IIQ", kind, 0, 0))
    out += r_guest(0x1000, struct.pack("<QIHH", 0x30000, 16, 1, 2) +
                   struct.pack("<QIHH", 0x30000, 16, 1, 3) +
                   struct.pack("<QIHH", 0x32000, 1, 2, 0) + struct.pack("<QIHH", 0x32001, 1, 2, 0))
    out += r_guest(0x2000, struct.pack("<HH", 0, 1))
    out += r_msg(SET_MEM_TABLE, mem_table(*GUEST)) + q.setup() + r_kick() + r_turns(3)
    return out + HANG_UP


def vhost_malformed():
    q = Ring()
    # REPLY_ACK: each refusal is acknowledged, not the end of the front end
    out = qemu_connect() + r_msg(SET_FEATURES, u64(FEATURES))
    out += r_msg(SET_VRING_NUM, state(0, 3), flags=9) + r_msg(SET_VRING_NUM, state(200, 8), flags=9)
    out += r_msg(SET_VRING_ADDR, Ring(desc=0x3fff0).addr(), flags=9)
    out += r_msg(SET_LOG_BASE, struct.pack("<QQ", 1 << 40, 0), flags=9)
    out += r_msg(GET_INFLIGHT_FD, inflight(1, 0), flags=9)
    out += r_msg(SET_INFLIGHT_FD, inflight(1, 16, 4096, 100), fds=0x61, flags=9)
    out += r_msg(GET_CONFIG, struct.pack("<III", 50, 20, 0) + bytes(20))
    out += r_msg(GET_CONFIG, struct.pack("<III", 0x7fffffff, 8, 0) + bytes(8))
    out += r_msg(SET_CONFIG, struct.pack("<III", 0, 4, 0) + bytes(4), flags=9)
    out += r_msg(SET_VRING_KICK, u64(0x100), flags=9)                           # polling
    out += r_msg(SET_VRING_CALL, u64(5), flags=9)
    out += r_msg(SET_VRING_ERR, u64(0), fds=0x31, flags=9)
    out += r_msg(SET_MEM_TABLE, mem_table(*GUEST)) + q.setup()
    # a chain that loops: the queue stops until the device is reset
    out += r_guest(0x1000, struct.pack("<QIHH", 0x8000, 16, 1, 1) * 2)
    out += r_guest(0x2000, struct.pack("<HHH", 0, 1, 0)) + r_kick() + r_turns(1)
    out += r_msg(GET_STATUS, flags=9) + r_msg(GET_FEATURES)
    # memory tables that cannot be mapped close the front end, acked or not
    out += r_msg(SET_MEM_TABLE, mem_table((0, 0x1000, 0)), fds=0x41)  # a short file
    out += qemu_connect() + r_msg(SET_MEM_TABLE, mem_table((0, 0x40000, 0x1000)))  # past it
    out += r_msg(SET_MEM_TABLE, mem_table((0, 0x20000, 0), (0x10000, 0x20000, 0)))  # overlap
    out += r_msg(99)
    return out


VHOST_DEVICE = {
    "qemu-start": b"\x08" + vhost_qemu_start(),
    "reset": b"\x00" + vhost_reset(),
    "migration": b"\x01" + vhost_migration(),
    "stop-without-region": b"\x10" + vhost_stop_without_region(),
    "reconnect-resubmit": b"\x00" + vhost_reconnect(),
    "mem-slots": b"\x04" + vhost_mem_slots(),
    "ring-resized-while-stopped": b"\x00" + vhost_ring_resized(),
    "tables-replaced-with-request-out": b"\x00" + vhost_tables_replaced(),
    "used-ring-over-avail-ring": b"\x00" + vhost_used_over_avail(),
    "used-ring-over-avail-ring-backend": b"\x00" + vhost_used_over_avail(BLK_FLUSH),
    "malformed": b"\x00" + vhost_malformed(),
    "oversized": b"\x00" + qemu_connect() + r_msg(SET_FEATURES, size=0xffff),
}

CORPORA = {"nbd": NBD, "qmp": QMP, "json-stream": JSON_STREAM, "uri": URI, "fault": FAULT,
           "vhost-msg": VHOST_MSG, "vhost-vring": VHOST_VRING, "vhost-device": VHOST_DEVICE}

for harness, seeds in CORPORA.items():
    d = os.path.join(HERE, "corpus", harness)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    print(f"{d}: {len(seeds)} seeds")
