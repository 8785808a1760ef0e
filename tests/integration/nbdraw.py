# SPDX-License-Identifier: BSD-3-Clause
# A raw NBD client for the tests that send what real clients never would:
# bad magic, unknown flags, oversized options, garbage.  Imported by the
# test-nbd-*.sh scripts (PYTHONPATH is their folder); standard library only.
import socket
import struct

IHAVEOPT = 0x49484156454F5054
REP_MAGIC = 0x3E889045565A9
REQUEST_MAGIC = 0x25609513
SIMPLE_REPLY_MAGIC = 0x67446698
STRUCTURED_REPLY_MAGIC = 0x668E33EF
REPLY_FLAG_DONE = 1
REPLY_TYPE_NONE, REPLY_TYPE_OFFSET_DATA, REPLY_TYPE_OFFSET_HOLE = 0, 1, 2
REPLY_TYPE_ERROR, REPLY_TYPE_ERROR_OFFSET = 2**15 + 1, 2**15 + 2
FLAG_SEND_DF = 1 << 7
FLAG_SEND_FUA = 1 << 3
FLAG_SEND_CACHE = 1 << 10
CMD_FLAG_DF = 1 << 2

OPT_EXPORT_NAME, OPT_ABORT, OPT_LIST, OPT_STARTTLS = 1, 2, 3, 5
OPT_INFO, OPT_GO, OPT_STRUCTURED_REPLY = 6, 7, 8
OPT_LIST_META_CONTEXT, OPT_SET_META_CONTEXT = 9, 10
REP_ACK, REP_SERVER, REP_INFO, REP_META_CONTEXT = 1, 2, 3, 4
REP_ERR_UNSUP, REP_ERR_INVALID = 2**31 + 1, 2**31 + 3
REP_ERR_UNKNOWN, REP_ERR_TOO_BIG = 2**31 + 6, 2**31 + 9
CMD_READ, CMD_WRITE, CMD_DISC, CMD_FLUSH, CMD_TRIM = 0, 1, 2, 3, 4
CMD_CACHE, CMD_WRITE_ZEROES, CMD_BLOCK_STATUS = 5, 6, 7
CMD_FLAG_FUA = 1 << 0
INFO_EXPORT, INFO_NAME = 0, 1
FLAG_SEND_TRIM, FLAG_SEND_WRITE_ZEROES = 1 << 5, 1 << 6
EINVAL, ENOSPC = 22, 28
CMD_FLAG_REQ_ONE = 1 << 3
REPLY_TYPE_BLOCK_STATUS = 5


def connect(path, timeout=10):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def recvn(s, n):
    buf = b""
    while len(buf) < n:
        d = s.recv(n - len(buf))
        if not d:
            raise EOFError("connection closed after %d of %d bytes" % (len(buf), n))
        buf += d
    return buf


def greet(s, client_flags=1):
    """Reads the greeting, sends the client flags (1 = fixed newstyle)."""
    g = recvn(s, 18)
    assert g[:16] == b"NBDMAGICIHAVEOPT", g
    s.sendall(struct.pack(">I", client_flags))


def option_bytes(opt, data=b"", length=None):
    """An option as sent; @length overrides the length field (a liar)."""
    return struct.pack(">QII", IHAVEOPT, opt, len(data) if length is None else length) + data


def option(s, opt, data=b"", length=None):
    s.sendall(option_bytes(opt, data, length))


def info_go_data(name=b"", infos=(), nreq=None, name_len=None):
    """The data of an INFO or GO: name, then the information requests.
    @nreq and @name_len override the counts (for lying clients)."""
    return (struct.pack(">I", len(name) if name_len is None else name_len) + name +
            struct.pack(">H", len(infos) if nreq is None else nreq) +
            b"".join(struct.pack(">H", i) for i in infos))


def option_reply(s):
    """Returns (option, reply type, data)."""
    magic, opt, typ, length = struct.unpack(">QIII", recvn(s, 20))
    assert magic == REP_MAGIC, hex(magic)
    return opt, typ, recvn(s, length)


def option_replies(s, typ):
    """The replies to one option: ([data of each reply of type @typ], final
    reply type, final reply data)."""
    found = []
    while True:
        _, t, data = option_reply(s)
        if t != typ:
            return found, t, data
        found.append(data)


def info_replies(s):
    """The replies to an INFO or GO: ({info type: payload}, final reply type,
    final reply data)."""
    found, typ, data = option_replies(s, REP_INFO)
    return {struct.unpack(">H", d[:2])[0]: d[2:] for d in found}, typ, data


def list_exports(s):
    """NBD_OPT_LIST; returns the export names, in the order replied."""
    option(s, OPT_LIST)
    found, typ, data = option_replies(s, REP_SERVER)
    assert typ == REP_ACK, "LIST refused: %#x %r" % (typ, data)
    return [d[4:4 + struct.unpack(">I", d[:4])[0]] for d in found]


def structured(s):
    """NBD_OPT_STRUCTURED_REPLY, which must be acknowledged."""
    option(s, OPT_STRUCTURED_REPLY)
    assert option_reply(s)[:2] == (OPT_STRUCTURED_REPLY, REP_ACK)


def go(s, name=b"", opt=OPT_GO, infos=()):
    """NBD_OPT_GO (or INFO); returns (size, transmission flags)."""
    option(s, opt, info_go_data(name, infos))
    got, typ, data = info_replies(s)
    assert typ == REP_ACK, "%d refused: %#x %r" % (opt, typ, data)
    return struct.unpack(">QH", got[INFO_EXPORT])


def meta_context_data(name=b"", queries=()):
    """The data of a LIST_META_CONTEXT or SET_META_CONTEXT."""
    return (struct.pack(">I", len(name)) + name + struct.pack(">I", len(queries)) +
            b"".join(struct.pack(">I", len(q)) + q for q in queries))


def meta_context(s, opt, queries, name=b""):
    """LIST_META_CONTEXT or SET_META_CONTEXT for export @name; returns the
    [(context id, name)] replied and the final reply type."""
    option(s, opt, meta_context_data(name, queries))
    found, typ, _ = option_replies(s, REP_META_CONTEXT)
    return [(struct.unpack(">I", d[:4])[0], d[4:]) for d in found], typ


def request_bytes(cmd, offset, length, flags=0, cookie=1, data=b""):
    return struct.pack(">IHHQQI", REQUEST_MAGIC, flags, cmd, cookie, offset, length) + data


def request(s, cmd, offset, length, flags=0, cookie=1, data=b""):
    s.sendall(request_bytes(cmd, offset, length, flags, cookie, data))


def reply(s):
    """Returns (error, cookie) of a simple reply."""
    magic, error, cookie = struct.unpack(">IIQ", recvn(s, 16))
    assert magic == SIMPLE_REPLY_MAGIC, hex(magic)
    return error, cookie


def chunk(s):
    """Returns (flags, type, cookie, payload) of a structured reply chunk."""
    magic, flags, typ, cookie, length = struct.unpack(">IHHQI", recvn(s, 20))
    assert magic == STRUCTURED_REPLY_MAGIC, hex(magic)
    return flags, typ, cookie, recvn(s, length)


def closed_by_peer(s):
    """True once the server has closed the connection (unread data skipped)."""
    try:
        while True:
            if not s.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def closed_silently(s):
    """True if the server closes the connection without sending anything
    more (a reset included)."""
    try:
        return s.recv(1) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True


def expect_error(fn, name):
    """For nbdsh scripts: fn() must fail with errno @name ("EINVAL")."""
    import errno
    import nbd
    try:
        fn()
    except nbd.Error as e:
        got = e.errno if isinstance(e.errno, str) else errno.errorcode.get(e.errno)
        assert got == name, "expected %s, got %s (%s)" % (name, got, e.string)
        return
    raise AssertionError("expected %s, the command succeeded" % name)


def fresh_client_reads(uri, offset, want, pid=None):
    """For nbdsh scripts: a new, well-behaved libnbd client connects to
    @uri and reads @want at @offset; the daemon @pid is alive."""
    import os
    import nbd
    if pid is not None:
        os.kill(pid, 0)
    h = nbd.NBD()
    h.connect_uri(uri)
    got = h.pread(len(want), offset)
    h.shutdown()
    assert got == want, "a fresh client read other data at %d" % offset
