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

CORPORA = {"nbd": NBD, "qmp": QMP, "json-stream": JSON_STREAM, "uri": URI, "fault": FAULT,
           "vhost-msg": VHOST_MSG, "vhost-vring": VHOST_VRING}

for harness, seeds in CORPORA.items():
    d = os.path.join(HERE, "corpus", harness)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    print(f"{d}: {len(seeds)} seeds")
