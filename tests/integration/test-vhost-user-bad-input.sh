#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The vhost-user-blk export against a hostile front end (a small driver of
# our own, tests/integration/vhost-user-driver.py): malformed messages, a
# payload larger than any message, a memory table or region without its
# fds, memory and in-flight regions in files shorter than they are, a
# second front end while one is connected, and a descriptor chain that
# loops each close that front end or stop its queue only; memory slots
# (CONFIGURE_MEM_SLOTS): regions added and removed one by one, an
# overlapping or unknown one refused with the front end kept; a well-formed
# virtio-blk read returns the disk's data; the daemon and its NBD export of
# the same disk go on serving (qemu-io), and it stops cleanly.
. "$(dirname "$0")/functions.sh"
requires qemu-io python3

make_image "$T/disk.img" 4M
printf 'steadyblk sector zero' | dd of="$T/disk.img" conv=notrunc status=none
start_steadyblk sb --export "vhost-user-blk://$T/vu.sock" --export "$(sb_uri "$T/nbd.sock")" \
    "$T/disk.img"

PYTHONPATH=$(dirname "$0") timeout 60 python3 - "$T/vu.sock" <<'PY' || fail "driver checks failed"
import struct, sys, time
from importlib import import_module
d = import_module('vhost-user-driver')
path = sys.argv[1]

def expect_closed(what, f):
    assert f.closed(), f'{what}: the front end was not disconnected'
    print(f'ok: {what}: disconnected')

f = d.Frontend(path); f.send(999); expect_closed('an unknown request', f)
f = d.Frontend(path); f.send(d.GET_FEATURES, flags=2); expect_closed('version 2', f)
f = d.Frontend(path); f.send(d.SET_FEATURES, b'\0' * 4); expect_closed('a short payload', f)
f = d.Frontend(path); f.send(d.SET_MEM_TABLE, size=1 << 30)
expect_closed('a payload larger than any message', f)
f = d.Frontend(path)
f.send(d.SET_MEM_TABLE, struct.pack('<II', 1, 0) + struct.pack('<QQQQ', 0, d.MEM, d.UVA, 0))
expect_closed('a memory table without its fd', f)
# Files shorter than what they are to map would fault when touched.
import os
short = os.memfd_create('short')
os.ftruncate(short, 4096)
f = d.Frontend(path)
f.send(d.SET_MEM_TABLE, struct.pack('<II', 1, 0) + struct.pack('<QQQQ', 0, d.MEM, d.UVA, 0),
       [short])
expect_closed('guest memory in a file shorter than the region', f)
f = d.Frontend(path)
f.send(d.SET_INFLIGHT_FD, struct.pack('<QQHHxxxx', 1 << 16, 0, 1, d.QSIZE), [short])
expect_closed('an in-flight region in a file shorter than it', f)
os.close(short)

f = d.Frontend(path)
feat = f.features()
assert feat & d.VERSION_1 and feat & (1 << 30), hex(feat)
print(f'ok: features 0x{feat:x}')
g = d.Frontend(path)
expect_closed('a second front end while one is connected', g)
f.start()
st, data = f.read_sector(0)
assert st == 0, f'status {st}'
assert data.startswith(b'steadyblk sector zero'), data[:32]
print('ok: a virtio-blk read returned the disk\'s first sector')
# A chain that loops: the queue stops, nothing else does.
f.desc(4, d.DATA, 16, d.F_NEXT, 5)
f.desc(5, d.DATA, 16, d.F_NEXT, 4)
f.offer(4)
time.sleep(0.5)
assert f.used_idx() == 1, 'the looping chain was used'
assert f.features() & d.VERSION_1, 'the device stopped answering messages'
print('ok: a looping chain stopped the queue; the device still answers')
f.sock.close()
time.sleep(0.3)
f = d.Frontend(path)
assert f.features() & d.VERSION_1
print('ok: the next front end is served')
# Memory slots (CONFIGURE_MEM_SLOTS): regions added and removed one by one.
f.send(d.GET_MAX_MEM_SLOTS)
slots = struct.unpack('<Q', f.recv()[2])[0]
assert slots == 32, slots
f.start(protocol=True, slots=True)
half = d.MEM // 2
st, data = f.read_sector(0, at=half + d.DATA)
assert st == 0 and data.startswith(b'steadyblk sector zero'), (st, data[:32])
print(f'ok: {slots} memory slots; a read into the second of two added regions')
assert f.mem_reg(d.ADD_MEM_REG, 4096, 4096) != 0, 'an overlapping region was added'
assert f.mem_reg(d.REM_MEM_REG, 3 * d.MEM, 4096, []) != 0, 'an unknown region was removed'
print('ok: an overlapping region and an unknown one refused, the front end kept')
assert f.mem_reg(d.REM_MEM_REG, half, half, []) == 0, 'REM_MEM_REG refused'
f.desc(4, half + d.DATA, 16, 0)
f.offer(4)
time.sleep(0.5)
assert f.used_idx() == 1, 'a chain into removed memory was used'
assert f.features() & d.VERSION_1, 'the device stopped answering messages'
print('ok: a removed region is gone (a chain into it stops the queue)')
f.send(d.ADD_MEM_REG, struct.pack('<QQQQQ', 0, d.MEM, 4096, d.UVA + d.MEM, 0))
expect_closed('a region added without its fd', f)
PY

wait_for 5 grep -q "a descriptor chain that loops" "$T/sb.log" ||
    fail "the looping chain was not logged"
out=$(qemu-io -f raw -r -c 'read -v 0 21' "$(sb_uri "$T/nbd.sock")") || fail "qemu-io read failed"
grep -q 'steadyblk.sector' <<<"$out" || fail "the NBD export returned the wrong data: $out"
stop_steadyblk sb
echo "PASS"
