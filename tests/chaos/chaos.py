# SPDX-License-Identifier: BSD-3-Clause
"""steadyblk under chaos: a verifying writer against a schedule of faults.

    chaos.py --steadyblk BIN --dir DIR [--seconds N] [--seed N]
             [--backend nbdkit|qemu-nbd|mixed] [--rss-slack MIB]

steadyblk serves DIR/disk.img through an NBD server (nbdkit with its cache
filter in write-back mode, so a SIGKILL loses every unflushed write, or
qemu-nbd, or either at each restart), with --werror/--rerror retry and no
retry timeout: no client should ever see an error.  Several libnbd clients
write, write zeroes, read and flush at a queue depth each, while a schedule
(random, from --seed) flips steadyblk's fault filter (all EIO at random rates,
or a total outage), SIGKILLs, SIGTERMs and SIGSTOPs the backend server, and
kills clients with requests in flight (an abrupt close, or NBD_CMD_DISC
first).

The model: every 4 KiB block holds the generation of the write that put it
there (0 = zeroes), stamped with its block number all over, so a torn, stale
or misplaced block is told apart.  For each block the checker knows the set of
generations a read may return: exactly one, the last acknowledged write,
unless a killed client had a write in flight there (then that one too, until
the next acknowledged write or read decides).  No two live requests overlap,
and a killed client's blocks are left alone until steadyblk has closed its
session, so the model needs no guess about ordering steadyblk promises:

  - every read returns a generation in its block's set (no acknowledged write
    lost, even across backend restarts that lost its cache: invariant 2, 3);
  - once a write is acknowledged, a killed client's older write never shows
    (no stale write lands: invariants 4, 5);
  - no live client sees an error (the retry policy);
  - at each checkpoint (every ~10 s) and at the end: all quiet, a flush
    succeeds, and the backend's own file holds, block by block, what the model
    allows (a successful flush covers every acknowledged write);
  - at the end, the whole disk is read back through steadyblk, the daemon's
    peak RSS is within --max-held-bytes + --max-unflushed-bytes + slack, and
    it stops cleanly on SIGTERM.

It prints what it did and what it checked; it exits 1 on the first violation
(with the block, what was read and what was allowed), 0 otherwise.
"""

import argparse
import faulthandler
import json
import os
import random
import resource
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

import nbd

BLOCK = 4096
MIB = 1 << 20


class Violation(Exception):
    pass


def now():
    return time.monotonic()


def wait_until(secs, pred, what):
    deadline = now() + secs
    while not pred():
        if now() > deadline:
            raise Violation("timed out after %ds waiting for %s" % (secs, what))
        time.sleep(0.02)


# ---- blocks ----

def block_bytes(gen, blk):
    """The content of block BLK as written by generation GEN (0: zeroes)."""
    if gen == 0:
        return bytes(BLOCK)
    return struct.pack("<QQ", gen, blk) * (BLOCK // 16)


def block_gen(data, blk):
    """The generation a block's content says it holds, or a description of
    why it is not a block any generation wrote there."""
    gen, where = struct.unpack_from("<QQ", data, 0)
    if gen == 0 and where == 0 and data == bytes(BLOCK):
        return 0
    if where != blk:
        return "a block stamped for block %d (generation %d)" % (where, gen)
    if data != block_bytes(gen, blk):
        return "a torn block (starts as generation %d)" % gen
    return gen


class Model:
    """What each block may hold, and which blocks a request may touch now."""

    def __init__(self, nblocks):
        self.nblocks = nblocks
        self.allowed = [{0} for _ in range(nblocks)]
        self.busy = bytearray(nblocks)      # 1: a live request or a quarantine
        self.checked_blocks = 0

    def free_run(self, rng, maxlen):
        """A random run of free blocks (start, count), or None."""
        for _ in range(8):
            start = rng.randrange(self.nblocks)
            count = 0
            limit = min(maxlen, self.nblocks - start)
            while count < limit and not self.busy[start + count]:
                count += 1
            if count:
                # A power of two: the buffers come from a pool by size.
                return start, 1 << (rng.randint(1, count).bit_length() - 1)
        return None

    def take(self, start, count):
        for b in range(start, start + count):
            assert not self.busy[b]
            self.busy[b] = 1

    def release(self, start, count):
        for b in range(start, start + count):
            self.busy[b] = 0

    def acked_write(self, start, count, gen):
        for b in range(start, start + count):
            self.allowed[b] = {gen}

    def abandoned_write(self, start, count, gen):
        for b in range(start, start + count):
            self.allowed[b].add(gen)

    def check(self, start, data, where, decide):
        """Checks blocks read at START; DECIDE narrows each to what it held."""
        for i in range(len(data) // BLOCK):
            b = start + i
            got = block_gen(data[i * BLOCK:(i + 1) * BLOCK], b)
            if got not in self.allowed[b]:
                raise Violation("%s: block %d (offset %d) holds %s; allowed: %s" %
                                (where, b, b * BLOCK,
                                 got if isinstance(got, str) else "generation %d" % got,
                                 sorted(self.allowed[b])))
            if decide:
                self.allowed[b] = {got}
            self.checked_blocks += 1


class BufferPool:
    """Request buffers, reused.  libnbd's Python binding (1.14) keeps a
    reference to every buffer an aio_pread or aio_pwrite was given, so a
    new bytearray per request would never be freed; a pool by size keeps
    the checker's memory bounded."""

    def __init__(self):
        self.free = {}

    def get(self, size):
        pool = self.free.setdefault(size, [])
        return pool.pop() if pool else bytearray(size)

    def put(self, ba):
        if ba is not None:
            self.free[len(ba)].append(ba)


# ---- processes ----

class Backend:
    """The NBD server behind steadyblk, started and stopped by PID."""

    def __init__(self, d, img, kind, rng):
        self.dir, self.img, self.kind, self.rng = d, img, kind, rng
        self.sock = os.path.join(d, "be.sock")
        self.pidfile = os.path.join(d, "be.pid")
        self.log = open(os.path.join(d, "backend.log"), "ab")
        self.proc = None
        self.stopped = False
        self.starts = {"nbdkit": 0, "qemu-nbd": 0}
        self.term_timeouts = 0

    def start(self):
        kind = self.kind if self.kind != "mixed" else self.rng.choice(["nbdkit", "qemu-nbd"])
        for p in (self.sock, self.pidfile):
            if os.path.exists(p):
                os.unlink(p)
        if kind == "nbdkit":
            argv = ["nbdkit", "-f", "-U", self.sock, "-P", self.pidfile,
                    "--filter=cache", "file", self.img, "cache=writeback"]
        else:
            argv = ["qemu-nbd", "-t", "-f", "raw", "--cache=writeback", "-k", self.sock,
                    "--pid-file", self.pidfile, self.img]
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=self.log,
                                     stdin=subprocess.DEVNULL)
        wait_until(10, lambda: os.path.exists(self.pidfile) and os.path.getsize(self.pidfile),
                   "%s to start" % kind)
        self.starts[kind] += 1
        self.stopped = False

    def signal(self, sig):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def down(self, sig):
        """Sends SIG (a SIGSTOPped server gets SIGCONT too) and waits, bounded."""
        if not self.proc:
            return
        self.signal(sig)
        if self.stopped:
            self.signal(signal.SIGCONT)
        try:
            # A SIGTERMed nbdkit waits for its idle clients to go: give it
            # 2 s, then it is a SIGKILL after all.
            self.proc.wait(timeout=2 if sig == signal.SIGTERM else 10)
        except subprocess.TimeoutExpired:
            if sig != signal.SIGTERM:
                raise Violation("the backend survived %s for 10 s" % signal.Signals(sig).name)
            self.term_timeouts += 1
            return self.down(signal.SIGKILL)
        self.proc = None
        self.stopped = False


class Qmp:
    """A blocking QMP client with a timeout: enough for queries."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.settimeout(10)
        self.s.connect(path)
        self.buf = b""
        self.line()                                   # the greeting
        self.call("qmp_capabilities")

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise Violation("steadyblk closed the QMP connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def call(self, cmd):
        self.s.sendall(json.dumps({"execute": cmd}).encode() + b"\n")
        while True:
            r = self.line()
            if "return" in r:
                return r["return"]
            if "error" in r:
                raise Violation("QMP %s: %s" % (cmd, r["error"]))

    def disk(self):
        return self.call("query-disks")[0]


# ---- clients ----

class Client:
    n = 0

    def __init__(self, uri):
        Client.n += 1
        self.name = "client%d" % Client.n
        self.h = nbd.NBD()
        self.h.connect_uri(uri)
        self.ops = {}                     # cookie -> (kind, start, count, gen, buf)

    def fd(self):
        return self.h.aio_get_fd()


class Chaos:
    def __init__(self, a):
        self.a = a
        self.rng = random.Random(a.seed)
        self.dir = a.dir
        self.img = os.path.join(a.dir, "disk.img")
        self.size = a.size_mib * MIB
        with open(self.img, "wb") as f:
            f.truncate(self.size)
        self.model = Model(self.size // BLOCK)
        self.buffers = BufferPool()
        self.gen = 0
        self.backend = Backend(a.dir, self.img, a.backend, self.rng)
        self.fault = os.path.join(a.dir, "fault")
        self.sb_sock = os.path.join(a.dir, "sb.sock")
        self.uri = "nbd+unix:///?socket=" + self.sb_sock
        self.clients = []
        self.quarantine = []              # (poll generation, [(start, count)])
        self.counts = {k: 0 for k in ("write", "fua-write", "zero", "read", "flush",
                                      "flaky", "outage", "backend-kill", "backend-term",
                                      "backend-stop", "client-close", "client-disc",
                                      "abandoned-writes", "checkpoints", "flush-droughts")}
        self.busy_until = {"fault": 0.0, "backend": 0.0}
        self.pending = []                 # (time, callable, description)
        self.next_action = now() + 1.0
        self.next_checkpoint = now() + 10.0
        self.quiescing = False
        self.checkpoint_flush = None
        self.qmp_polls = 0
        self.flushing = True              # off for a while: the log fills

    def say(self, msg):
        print("# %6.2fs %s" % (now() - self.t0, msg), flush=True)

    # -- steadyblk --

    def start_steadyblk(self):
        self.held_bytes = 32 * MIB
        self.unflushed_bytes = self.a.unflushed_mib * MIB
        pidfile = os.path.join(self.dir, "sb.pid")
        qmp = os.path.join(self.dir, "qmp.sock")
        argv = self.a.wrapper + [self.a.steadyblk, "--foreground", "--pidfile", pidfile,
                                 "--werror", "retry", "--rerror", "retry",
                                 "--retry-interval", "50ms", "--retry-max-interval", "400ms",
                                 "--max-held-bytes", "%dM" % (self.held_bytes // MIB),
                                 "--max-unflushed-bytes", "%dM" % self.a.unflushed_mib,
                                 "--fault-file", self.fault, "--qmp", qmp,
                                 "--export", self.uri,
                                 "nbd+unix:///?socket=" + self.backend.sock]
        self.sb_log = open(os.path.join(self.dir, "steadyblk.log"), "wb")
        self.sb = subprocess.Popen(argv, stdout=self.sb_log, stderr=self.sb_log,
                                   stdin=subprocess.DEVNULL)
        wait_until(30, lambda: os.path.exists(pidfile) and os.path.getsize(pidfile),
                   "steadyblk to become ready")
        self.qmp = Qmp(qmp)

    def sb_alive(self):
        if self.sb.poll() is not None:
            raise Violation("steadyblk exited (status %d); see steadyblk.log" % self.sb.returncode)

    # -- the schedule --

    def later(self, delay, fn, what):
        self.pending.append((now() + delay, fn, what))

    def set_fault(self, rule):
        tmp = self.fault + ".tmp"
        with open(tmp, "w") as f:
            f.write(rule + "\n")
        os.rename(tmp, self.fault)

    def clear_fault(self):
        if os.path.exists(self.fault):
            os.unlink(self.fault)

    def act(self):
        t = now()
        choice = self.rng.choices(
            ["flaky", "outage", "backend-kill", "backend-term", "backend-stop", "client",
             "flush-habit"],
            weights=[3, 2, 3, 1, 2, 3, 2])[0]
        if choice == "flush-habit":
            self.flushing = not self.flushing
            self.counts["flush-droughts"] += not self.flushing
            self.say("clients %s" % ("flush again" if self.flushing else "stop flushing"))
            return
        if choice in ("flaky", "outage"):
            if t < self.busy_until["fault"]:
                return
            d = self.rng.uniform(0.5, 4.0 if choice == "flaky" else 2.5)
            if choice == "flaky":
                rate = self.rng.choice([1, 5, 20, 33])
                self.set_fault("all EIO %d%%" % rate)
                self.say("fault filter: all EIO %d%% for %.1fs" % (rate, d))
            else:
                self.set_fault("all EIO")
                self.say("fault filter: outage (all EIO) for %.1fs" % d)
            self.counts[choice] += 1
            self.busy_until["fault"] = t + d
            self.later(d, self.clear_fault, "fault filter off")
        elif choice.startswith("backend"):
            if t < self.busy_until["backend"]:
                return
            d = self.rng.uniform(0.1, 2.0 if choice != "backend-stop" else 3.0)
            self.counts[choice] += 1
            self.busy_until["backend"] = t + d + 0.5
            if choice == "backend-stop":
                self.backend.signal(signal.SIGSTOP)
                self.backend.stopped = True
                self.say("backend: SIGSTOP for %.1fs" % d)
                self.later(d, self.backend_cont, "backend SIGCONT")
            else:
                sig = signal.SIGKILL if choice == "backend-kill" else signal.SIGTERM
                self.backend.down(sig)
                self.say("backend: %s, back in %.1fs" % (signal.Signals(sig).name, d))
                self.later(d, self.backend.start, "backend restarted")
        else:
            self.kill_client()

    def backend_cont(self):
        self.backend.signal(signal.SIGCONT)
        self.backend.stopped = False

    # -- clients --

    def kill_client(self):
        if not self.clients:
            return
        c = self.rng.choice(self.clients)
        disc = self.rng.random() < 0.5
        abandoned = []
        for kind, start, count, gen, _ in c.ops.values():
            if kind in ("write", "fua-write", "zero"):
                self.model.abandoned_write(start, count, gen)
                self.counts["abandoned-writes"] += 1
            abandoned.append((start, count))
        if disc:
            # NBD_CMD_DISC without waiting for steadyblk to answer (its
            # requests may sit at a stopped backend): out, then the close.
            try:
                c.h.aio_disconnect(0)
                deadline = now() + 0.2
                while c.h.aio_get_direction() & nbd.AIO_DIRECTION_WRITE and now() < deadline:
                    c.h.poll(20)
            except nbd.Error:
                pass
        self.clients.remove(c)
        # An abrupt close, or (after DISC) the close that follows it.
        del c.h
        for op in c.ops.values():
            self.buffers.put(op[4])
        self.counts["client-disc" if disc else "client-close"] += 1
        self.say("%s %s with %d requests in flight" %
                 (c.name, "sent DISC and closed" if disc else "closed", len(abandoned)))
        # Its blocks stay untouched until steadyblk has closed its session:
        # a request still in the socket may be read until then.
        self.quarantine.append((self.qmp_polls + 1, abandoned))
        self.later(self.rng.uniform(0.05, 1.0), self.add_client, "client reconnected")

    def add_client(self):
        self.clients.append(Client(self.uri))

    def poll_sessions(self):
        """Frees the blocks of killed clients once steadyblk closed them."""
        self.qmp_polls += 1
        n = self.qmp.disk()["clients"]
        if n <= len(self.clients):
            keep = []
            for poll, runs in self.quarantine:
                if poll <= self.qmp_polls:
                    for start, count in runs:
                        self.model.release(start, count)
                else:
                    keep.append((poll, runs))
            self.quarantine = keep

    def issue(self, c):
        a, rng, m = self.a, self.rng, self.model
        kind = rng.choices(["write", "fua-write", "zero", "read", "flush"],
                           weights=[50, 5, 5, 35, 5 if self.flushing else 0])[0]
        if kind == "flush":
            cookie = c.h.aio_flush()
            c.ops[cookie] = ("flush", 0, 0, 0, None)
            return
        run = m.free_run(rng, rng.choice([1, 1, 2, 4, 16, 64]))
        if not run:
            return
        start, count = run
        m.take(start, count)
        off, length = start * BLOCK, count * BLOCK
        gen = 0
        ba = None
        if kind == "read":
            ba = self.buffers.get(length)
            cookie = c.h.aio_pread(nbd.Buffer.from_buffer(ba), off)
        elif kind == "zero":
            cookie = c.h.aio_zero(length, off)
        else:
            self.gen += 1
            gen = self.gen
            ba = self.buffers.get(length)
            for i, b in enumerate(range(start, start + count)):
                ba[i * BLOCK:(i + 1) * BLOCK] = block_bytes(gen, b)
            cookie = c.h.aio_pwrite(nbd.Buffer.from_buffer(ba), off,
                                    flags=nbd.CMD_FLAG_FUA if kind == "fua-write" else 0)
        c.ops[cookie] = (kind, start, count, gen, ba)

    def retire(self, c):
        # aio_command_completed per cookie: it answers False for one still
        # in flight (aio_peek_command_completed raises then, and libnbd's
        # Python binding leaks on every such raise).
        for cookie in list(c.ops):
            try:
                if not c.h.aio_command_completed(cookie):
                    continue
                err = None
            except nbd.Error as e:
                err = e
            kind, start, count, gen, buf = c.ops.pop(cookie)
            if err is not None:
                raise Violation("%s: a %s at offset %d (%d bytes) failed: %s" %
                                (c.name, kind, start * BLOCK, count * BLOCK, err))
            self.counts[kind] += 1
            if kind == "read":
                self.model.check(start, buf, "%s read" % c.name, True)
            elif kind in ("write", "fua-write", "zero"):
                self.model.acked_write(start, count, gen)
            if kind == "flush" and cookie == self.checkpoint_flush:
                self.checkpoint_flush = None
                self.check_file("checkpoint %d" % self.counts["checkpoints"])
                self.quiescing = False
                self.next_checkpoint = now() + 10.0
            if count:
                self.model.release(start, count)
            self.buffers.put(buf)

    def pump(self, timeout):
        """One pass of the clients' event loop."""
        p = select.poll()
        byfd = {}
        for c in self.clients:
            d = c.h.aio_get_direction()
            ev = (select.POLLIN if d & nbd.AIO_DIRECTION_READ else 0) | \
                 (select.POLLOUT if d & nbd.AIO_DIRECTION_WRITE else 0)
            if ev:
                p.register(c.fd(), ev)
                byfd[c.fd()] = c
        for fd, ev in p.poll(timeout * 1000):
            c = byfd[fd]
            if ev & (select.POLLIN | select.POLLHUP | select.POLLERR):
                c.h.aio_notify_read()
            if ev & select.POLLOUT:
                c.h.aio_notify_write()
        for c in self.clients:
            if c.h.aio_is_dead():
                raise Violation("%s: the connection died: %s" % (c.name, nbd.get_error()))
            self.retire(c)

    def quiet(self):
        return all(not c.ops for c in self.clients) and not self.quarantine

    # -- checks of the backend's own file --

    def check_file(self, where):
        with open(self.img, "rb") as f:
            for start in range(0, self.model.nblocks, 256):
                data = os.pread(f.fileno(), 256 * BLOCK, start * BLOCK)
                self.model.check(start, data, "%s: the backend's file" % where, False)
        self.say("%s: the backend's file holds every acknowledged write (%d blocks)" %
                 (where, self.model.nblocks))

    def checkpoint_step(self):
        if self.checkpoint_flush is None and self.quiet():
            self.counts["checkpoints"] += 1
            self.checkpoint_flush = self.clients[0].h.aio_flush()
            self.clients[0].ops[self.checkpoint_flush] = ("flush", 0, 0, 0, None)

    # -- the run --

    def run(self):
        self.t0 = now()
        self.backend.start()
        self.start_steadyblk()
        for _ in range(self.a.clients):
            self.add_client()
        self.say("seed %d, %d MiB, backend %s, %d clients at depth %d, %ds" %
                 (self.a.seed, self.a.size_mib, self.a.backend, self.a.clients,
                  self.a.depth, self.a.seconds))
        end = self.t0 + self.a.seconds
        last_poll = 0.0
        while True:
            t = now()
            self.sb_alive()
            for item in [x for x in self.pending if x[0] <= t]:
                self.pending.remove(item)
                item[1]()
            if t >= end and not self.quiescing:
                break
            if t >= self.next_action:
                self.act()
                self.next_action = t + self.rng.uniform(0.3, 2.0)
            if t >= self.next_checkpoint:
                self.quiescing = True
            if self.quarantine and t - last_poll > 0.1:
                self.poll_sessions()
                last_poll = t
            if self.quiescing:
                self.checkpoint_step()
            else:
                for c in self.clients:
                    while len(c.ops) < self.a.depth:
                        before = len(c.ops)
                        self.issue(c)
                        if len(c.ops) == before:
                            break
            self.pump(0.05)
        self.finish()

    def finish(self):
        self.say("time is up: faults off, backend up, waiting for every request")
        self.clear_fault()
        for when, fn, what in sorted(self.pending, key=lambda x: x[0]):
            if fn != self.clear_fault:
                fn()
        self.pending = []
        if self.backend.stopped:
            self.backend_cont()
        if not self.backend.proc:
            self.backend.start()
        deadline = now() + 60
        while not self.quiet():
            if now() > deadline:
                raise Violation("requests still outstanding 60 s after the faults ended")
            self.sb_alive()
            if self.quarantine:
                self.poll_sessions()
            self.pump(0.05)
        for c in self.clients:
            c.h.flush()
        self.check_file("end")
        for start in range(0, self.model.nblocks, 256):
            data = self.clients[0].h.pread(256 * BLOCK, start * BLOCK)
            self.model.check(start, data, "final read through steadyblk", True)
        disk = self.qmp.disk()
        with open("/proc/%d/status" % self.sb.pid) as f:
            hwm = next(int(l.split()[1]) for l in f if l.startswith("VmHWM:")) // 1024
        bound = (self.held_bytes + self.unflushed_bytes) // MIB + self.a.rss_slack
        for c in self.clients:
            c.h.shutdown()
        self.clients = []
        self.sb.send_signal(signal.SIGTERM)
        try:
            rc = self.sb.wait(timeout=20)
        except subprocess.TimeoutExpired:
            raise Violation("steadyblk did not stop within 20 s of SIGTERM")
        if rc != 0:
            raise Violation("steadyblk exited with status %d on SIGTERM" % rc)
        self.backend.down(signal.SIGTERM)

        k = self.counts
        cn = disk["counters"]
        print("# did: %d writes (%d FUA), %d write-zeroes, %d reads, %d flushes" %
              (k["write"] + k["fua-write"], k["fua-write"], k["zero"], k["read"], k["flush"]))
        print("# did: fault filter %d flaky spells and %d outages; backend %d SIGKILLs, "
              "%d SIGTERMs (%d of them still up after 2 s, then SIGKILLed), %d SIGSTOPs "
              "(%d nbdkit and %d qemu-nbd starts)" %
              (k["flaky"], k["outage"], k["backend-kill"], k["backend-term"],
               self.backend.term_timeouts, k["backend-stop"], self.backend.starts["nbdkit"],
               self.backend.starts["qemu-nbd"]))
        print("# did: %d clients closed and %d disconnected with requests in flight "
              "(%d writes abandoned); %d spells without client flushes" %
              (k["client-close"], k["client-disc"], k["abandoned-writes"],
               k["flush-droughts"]))
        print("# steadyblk: %d retries, %d hangs, %d replays (%d writes, %d bytes), "
              "%d own flushes, %d parked writes" %
              (cn["retries"], cn["hangs"], cn["replays"], cn["replayed-writes"],
               cn["replayed-bytes"], cn["own-flushes"], cn["parked-writes"]))
        print("# checked: %d blocks read against the model, %d checkpoints of the "
              "backend's file, no client error, peak RSS %d MiB (bound %d MiB), clean stop "
              "(the checker's own peak RSS: %d MiB)" %
              (self.model.checked_blocks, k["checkpoints"] + 1, hwm, bound,
               resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024))
        if hwm > bound:
            raise Violation("steadyblk's peak RSS %d MiB is over its bound %d MiB" % (hwm, bound))


def own_memory_watch(limit_mib=1024):
    """The checker's own memory, bounded: past LIMIT_MIB it says where it
    is and exits, rather than grow until the machine runs out."""
    page = os.sysconf("SC_PAGE_SIZE")
    while True:
        with open("/proc/self/statm") as f:
            rss = int(f.read().split()[1]) * page // MIB
        if rss > limit_mib:
            print("FAIL: the checker itself uses %d MiB; where it is:" % rss, flush=True)
            faulthandler.dump_traceback(all_threads=True)
            os._exit(3)
        time.sleep(0.5)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steadyblk", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--seconds", type=int, default=60)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--backend", choices=["nbdkit", "qemu-nbd", "mixed"], default="mixed")
    p.add_argument("--clients", type=int, default=3)
    p.add_argument("--depth", type=int, default=8)
    p.add_argument("--size-mib", type=int, default=64)
    p.add_argument("--unflushed-mib", type=int, default=8,
                   help="steadyblk's --max-unflushed-bytes (0: off, which loses writes)")
    p.add_argument("--rss-slack", type=int, default=64, help="MiB over the bounds")
    p.add_argument("--wrapper", default="", help="command to run steadyblk under")
    a = p.parse_args()
    a.wrapper = a.wrapper.split()
    if a.seed is None:
        a.seed = random.SystemRandom().randrange(1 << 31)
    # Stuck (a blocking call that steadyblk never answers): say where.
    faulthandler.dump_traceback_later(a.seconds + 180, exit=True)
    threading.Thread(target=own_memory_watch, daemon=True).start()
    ch = Chaos(a)
    try:
        ch.run()
    except Violation as e:
        print("FAIL: seed %d: %s" % (a.seed, e), flush=True)
        return 1
    finally:
        for proc in (getattr(ch, "sb", None), ch.backend.proc):
            if proc and proc.poll() is None:
                proc.kill()
    print("PASS: seed %d" % a.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
