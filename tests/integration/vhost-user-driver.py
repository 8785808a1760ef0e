# SPDX-License-Identifier: BSD-3-Clause
"""A minimal vhost-user front end for tests: it shares a memfd as guest
memory, sets up one split ring and puts virtio-blk requests on it, or the
malformed messages and descriptor chains a hostile front end would send.
Not a device model: just enough to drive steadyblk's parsers."""
import mmap
import os
import socket
import struct
import time

HDR = struct.Struct('<III')
VERSION = 1
UVA = 0x7f0000000000
MEM = 1 << 20
DESC, AVAIL, USED, DATA = 0x1000, 0x2000, 0x3000, 0x10000
QSIZE = 8

GET_FEATURES, SET_FEATURES, SET_OWNER, SET_LOG_BASE = 1, 2, 3, 6
SET_MEM_TABLE, SET_VRING_NUM, SET_VRING_ADDR, SET_VRING_BASE = 5, 8, 9, 10
GET_VRING_BASE, SET_VRING_KICK, SET_VRING_CALL = 11, 12, 13
GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES, SET_VRING_ENABLE = 15, 16, 18
GET_INFLIGHT_FD, SET_INFLIGHT_FD = 31, 32
GET_MAX_MEM_SLOTS, ADD_MEM_REG, REM_MEM_REG = 36, 37, 38
NEED_REPLY = 1 << 3
F_PROTOCOL_FEATURES = 1 << 30
F_LOG_ALL = 1 << 26
PROTOCOL_F_LOG_SHMFD = 1 << 1
PROTOCOL_F_REPLY_ACK = 1 << 3
PROTOCOL_F_INFLIGHT_SHMFD = 1 << 12
PROTOCOL_F_CONFIGURE_MEM_SLOTS = 1 << 15
F_NEXT, F_WRITE = 1, 2
VERSION_1 = 1 << 32


class Frontend:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(5)
        self.sock.connect(path)
        self.memfd = os.memfd_create('guest')
        os.ftruncate(self.memfd, MEM)
        self.mem = mmap.mmap(self.memfd, MEM)
        self.avail_idx = 0
        self.kick = self.call = None
        self.inflight = None  # the region's message and fd, as QEMU keeps them
        self.acked = 0        # the features of the last SET_FEATURES
        self.log = None       # the dirty log, once start_logging shared it

    def reconnect(self, path):
        """A new connection to a (restarted) daemon, as QEMU's
        reconnect=1 makes: the same guest memory and in-flight region."""
        self.sock.close()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(5)
        self.sock.connect(path)

    def send(self, request, payload=b'', fds=(), flags=VERSION, size=None):
        data = HDR.pack(request, flags, len(payload) if size is None else size) + payload
        socket.send_fds(self.sock, [data], list(fds))

    def recv(self):
        hdr, fds, _, _ = socket.recv_fds(self.sock, HDR.size, 4, socket.MSG_WAITALL)
        if len(hdr) < HDR.size:
            return None
        request, flags, size = HDR.unpack(hdr)
        self.fds = fds
        return request, flags, self.sock.recv(size, socket.MSG_WAITALL)

    def inflight_region(self, queues, size):
        """GET_INFLIGHT_FD then SET_INFLIGHT_FD, as QEMU does at a start
        after a reset."""
        self.send(GET_INFLIGHT_FD, struct.pack('<QQHHxxxx', 0, 0, queues, size))
        r = self.recv()
        assert r and len(self.fds) == 1, r
        if self.inflight:
            os.close(self.inflight[1])
        self.inflight = (r[2], self.fds[0])
        self.send(SET_INFLIGHT_FD, *self.inflight_msg())

    def inflight_msg(self):
        return self.inflight[0], [self.inflight[1]]

    def get_vring_base(self, index=0):
        self.send(GET_VRING_BASE, struct.pack('<II', index, 0))
        r = self.recv()
        return struct.unpack('<II', r[2])[1]

    def closed(self, secs=3):
        """True once the daemon has closed this connection."""
        self.sock.settimeout(secs)
        try:
            while True:
                b = self.sock.recv(4096)
                if not b:
                    return True
        except (socket.timeout, ConnectionResetError):
            return False

    def features(self):
        self.send(GET_FEATURES)
        r = self.recv()
        return struct.unpack('<Q', r[2])[0]

    def mem_reg(self, request, gpa, size, fds=None):
        """ADD_MEM_REG or REM_MEM_REG of guest memory [@gpa, @gpa +
        @size) (at the same offset of the memfd), with REPLY_ACK: the
        ack's value, 0 for done."""
        region = struct.pack('<QQQQQ', 0, gpa, size, UVA + gpa, gpa)
        self.send(request, region, [self.memfd] if fds is None else fds,
                  flags=VERSION | NEED_REPLY)
        return struct.unpack('<Q', self.recv()[2])[0]

    def start(self, protocol=False, base=0, keep_region=False, slots=False):
        """Memory, one ring, kick and call eventfds; the ring is running.
        With @protocol the protocol features are acked, and with them the
        in-flight region (the one kept, with @keep_region, as QEMU hands
        it to a back end it reconnected to); the ring then runs once
        enabled.  With @slots (and @protocol) the memory goes in two
        halves by ADD_MEM_REG, as QEMU does with CONFIGURE_MEM_SLOTS."""
        self.acked = VERSION_1 | (F_PROTOCOL_FEATURES if protocol else 0)
        self.send(SET_FEATURES, struct.pack('<Q', self.acked))
        if protocol:
            pf = PROTOCOL_F_INFLIGHT_SHMFD | PROTOCOL_F_LOG_SHMFD
            if slots:
                pf |= PROTOCOL_F_REPLY_ACK | PROTOCOL_F_CONFIGURE_MEM_SLOTS
            self.send(SET_PROTOCOL_FEATURES, struct.pack('<Q', pf))
            if keep_region:
                self.send(SET_INFLIGHT_FD, *self.inflight_msg())
            else:
                self.inflight_region(1, QSIZE)
        self.send(SET_OWNER)
        if slots:
            for gpa in (0, MEM // 2):
                assert self.mem_reg(ADD_MEM_REG, gpa, MEM // 2) == 0, 'ADD_MEM_REG refused'
        else:
            region = struct.pack('<QQQQ', 0, MEM, UVA, 0)
            self.send(SET_MEM_TABLE, struct.pack('<II', 1, 0) + region, [self.memfd])
        self.send(SET_VRING_NUM, struct.pack('<II', 0, QSIZE))
        self.send(SET_VRING_BASE, struct.pack('<II', 0, base))
        self.send(SET_VRING_ADDR, struct.pack('<IIQQQQ', 0, 0, UVA + DESC, UVA + USED,
                                              UVA + AVAIL, 0))
        self.call = os.eventfd(0, os.EFD_NONBLOCK)
        self.kick = os.eventfd(0, os.EFD_NONBLOCK)
        self.send(SET_VRING_CALL, struct.pack('<Q', 0), [self.call])
        self.send(SET_VRING_KICK, struct.pack('<Q', 0), [self.kick])
        if protocol:
            self.send(SET_VRING_ENABLE, struct.pack('<II', 0, 1))

    def start_logging(self):
        """What QEMU does when a migration starts: the dirty log shared
        (SET_LOG_BASE, one bit per 4 KiB page of guest memory), LOG_ALL
        acked, and the running ring's addresses sent again with the used
        ring's guest address to log."""
        fd = os.memfd_create('log')
        os.ftruncate(fd, MEM // 4096 // 8)
        self.log = mmap.mmap(fd, MEM // 4096 // 8)
        self.send(SET_LOG_BASE, struct.pack('<QQ', MEM // 4096 // 8, 0), [fd])
        os.close(fd)
        assert self.recv()[0] == SET_LOG_BASE, 'no reply to SET_LOG_BASE'
        self.acked |= F_LOG_ALL
        self.send(SET_FEATURES, struct.pack('<Q', self.acked))
        self.send(SET_VRING_ADDR, struct.pack('<IIQQQQ', 0, 1, UVA + DESC, UVA + USED,
                                              UVA + AVAIL, USED))

    def logged_pages(self, clear=True):
        """The guest pages marked in the dirty log (then cleared, as QEMU
        does when it syncs)."""
        pages = {i * 8 + b for i, byte in enumerate(bytes(self.log)) for b in range(8)
                 if byte & (1 << b)}
        if clear:
            self.log[:] = bytes(len(self.log))
        return pages

    def desc(self, i, addr, length, flags, nxt=0):
        struct.pack_into('<QIHH', self.mem, DESC + 16 * i, addr, length, flags, nxt)

    def offer(self, head):
        struct.pack_into('<H', self.mem, AVAIL + 4 + 2 * (self.avail_idx % QSIZE), head)
        self.avail_idx += 1
        struct.pack_into('<H', self.mem, AVAIL + 2, self.avail_idx & 0xffff)
        os.eventfd_write(self.kick, 1)

    def used_idx(self):
        return struct.unpack_from('<H', self.mem, USED + 2)[0]

    def wait_used(self, n, secs=5):
        deadline = time.monotonic() + secs
        while self.used_idx() < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f'used index {self.used_idx()}, waited for {n}')
            time.sleep(0.01)

    def write_sector(self, sector, data, head=0, wait=True, at=DATA):
        """A virtio-blk OUT request for one sector, its header, data and
        status at guest address @at; its status if @wait."""
        self.mem[at:at + 16] = struct.pack('<IIQ', 1, 0, sector)
        self.mem[at + 0x200:at + 0x400] = data
        self.mem[at + 0x1000] = 0xff
        self.desc(head, at, 16, F_NEXT, head + 1)
        self.desc(head + 1, at + 0x200, 512, F_NEXT, head + 2)
        self.desc(head + 2, at + 0x1000, 1, F_WRITE)
        done = self.used_idx()
        self.offer(head)
        if wait:
            self.wait_used(done + 1)
            return self.mem[at + 0x1000]
        return None

    def read_sector(self, sector, head=0, wait=True, at=DATA):
        """A virtio-blk IN request for one sector: (status, data) if @wait."""
        self.mem[at:at + 16] = struct.pack('<IIQ', 0, 0, sector)
        self.mem[at + 0x200:at + 0x400] = b'\xee' * 512
        self.mem[at + 0x1000] = 0xff
        self.desc(head, at, 16, F_NEXT, head + 1)
        self.desc(head + 1, at + 0x200, 512, F_NEXT | F_WRITE, head + 2)
        self.desc(head + 2, at + 0x1000, 1, F_WRITE)
        done = self.used_idx()
        self.offer(head)
        if not wait:
            return None
        self.wait_used(done + 1)
        return self.request_result(at)

    def scattered(self, write, sector, lens, data=None, at=DATA, misalign=0):
        """A virtio-blk OUT (@write) or IN request whose data is several
        buffers of @lens bytes, each starting on a page of its own at
        @misalign bytes into it; the header at @at, the status byte on the
        page after the buffers.
        Waits; returns the status and, for a read, the data."""
        assert len(lens) <= QSIZE - 2
        bufs, page = [], at + 0x1000
        for n in lens:
            bufs.append(page + misalign)
            page += (misalign + n + 0xfff) & ~0xfff
        status = page
        self.mem[at:at + 16] = struct.pack('<IIQ', 1 if write else 0, 0, sector)
        pos = 0
        for i, (addr, n) in enumerate(zip(bufs, lens)):
            self.mem[addr:addr + n] = data[pos:pos + n] if write else b'\xee' * n
            pos += n
            self.desc(i + 1, addr, n, F_NEXT | (0 if write else F_WRITE), i + 2)
        self.desc(0, at, 16, F_NEXT, 1)
        self.desc(len(lens) + 1, status, 1, F_WRITE)
        self.mem[status] = 0xff
        done = self.used_idx()
        self.offer(0)
        self.wait_used(done + 1)
        got = b''.join(bytes(self.mem[a:a + n]) for a, n in zip(bufs, lens))
        return self.mem[status], None if write else got

    def request_result(self, at=DATA):
        """(status, data) of the one-sector request at guest address @at."""
        return self.mem[at + 0x1000], bytes(self.mem[at + 0x200:at + 0x400])
