#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# NBD_CMD_CACHE: every export advertises NBD_FLAG_SEND_CACHE, and a cache
# is validated like a read (past the end, wrapping, length 0, unknown flags:
# EINVAL; longer than the maximum payload is fine, it has none) and gets a
# reply without payload.  Over a buffered file it warms the page cache over
# the range (fincore sees the pages); with O_DIRECT there is nothing to warm
# and steadyblk answers it itself, even in an outage.  During an outage a
# cache is held like a read under --rerror retry and answered once the
# storage is back; under report it fails with EIO.  An NBD backend passes
# it on to a server that can cache (nbdkit's log shows it, clipped to the
# 32 MiB every server takes), holds it while the server is down, and
# answers it itself on a connection whose server cannot cache; a server
# that cannot is never asked, and the client still succeeds.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
. "$here/nbd-export.sh"
. "$here/nbd-backend.sh"
requires python3 fincore nbdkit
nbd_python

# The page cache test needs a real file system: on tmpfs every page is
# always resident.
dir=$T
if [[ $(stat -f -c %T "$dir") == tmpfs || $(stat -f -c %T "$dir") == ramfs ]]; then
    dir=$(mktemp -d /var/tmp/sbtest-cache.XXXXXX)
    cleanup_add "rm -rf $dir"
    [[ $(stat -f -c %T "$dir") != tmpfs ]] || skip "no file system here keeps pages out of memory"
fi
img=$dir/disk.img
dd if=/dev/urandom of="$img" bs=1M count=16 status=none
truncate -s 96M "$img"

# resident FILE : bytes of FILE in the page cache.
resident() { fincore --bytes --noheadings --output RES "$1" | tr -d ' '; }
# drop_pages FILE : write FILE back and drop it from the page cache.
drop_pages() {
    "$NBD_PY" -c 'import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)' "$1"
    [[ $(resident "$1") == 0 ]] || skip "the file system under $dir keeps its pages"
}
at_least() { (($(resident "$1") >= $2)); }

sock=$T/s.sock
uri=$(sb_uri "$sock")
fault=$T/fault
start_steadyblk sb --rerror retry --retry-interval 100ms --fault-file "$fault" \
    --qmp "$T/qmp.sock" --export "$uri" "$img"

# The protocol, raw: the flag, the checks, the reply.
raw_py "$sock" <<'PY'
import struct, sys
from nbdraw import *
s = connect(sys.argv[1]); greet(s)
size, flags = go(s)
assert flags & FLAG_SEND_CACHE and flags & FLAG_SEND_FUA, hex(flags)
print("ok: NBD_FLAG_SEND_CACHE advertised")
def cache(offset, length, flags=0, cookie=9):
    request(s, CMD_CACHE, offset, length, flags=flags, cookie=cookie)
    err, c = reply(s)
    assert c == cookie, c
    return err
assert cache(0, 64 << 20) == 0
print("ok: a cache longer than the 32 MiB maximum payload is taken (it has no payload)")
assert cache(4096, 4096, CMD_FLAG_FUA) == 0
print("ok: FUA (advertised) is accepted on a cache")
assert cache(0, 4096, 1 << 5) == 22 and cache(0, 4096, CMD_FLAG_DF) == 22
print("ok: an unknown flag, or one not for a cache, EINVAL")
assert cache(0, 0) == 22
assert cache(size - 4096, 8192) == 22 and cache(size, 1) == 22
assert cache(2**64 - 4096, 8192) == 22
print("ok: length 0, past the end, offset+length wrapping: EINVAL")
request(s, CMD_CACHE, 0, 4096, cookie=10)
request(s, CMD_READ, 0, 512, cookie=11)
got = []
for _ in range(2):  # in either order: the read's payload follows its reply
    err, c = reply(s)
    got.append((err, c))
    if c == 11:
        assert len(recvn(s, 512)) == 512
assert sorted(got) == [(0, 10), (0, 11)], got
print("ok: the reply to a cache carries no payload")

s = connect(sys.argv[1]); greet(s)
option(s, OPT_STRUCTURED_REPLY)
assert option_reply(s)[1] == REP_ACK
go(s)
request(s, CMD_CACHE, 0, 4096, cookie=12)
request(s, CMD_CACHE, size, 4096, cookie=13)
assert sorted([reply(s), reply(s)]) == [(0, 12), (22, 13)]
print("ok: with structured replies, a simple reply (no payload) either way")
PY

# A real client: libnbd sees the flag, its cache succeeds and warms the
# page cache over the range; its checks turned off, it gets EINVAL too.
drop_pages "$img"
nbd_py "$uri" <<'PY'
import sys
import nbd
from nbdraw import expect_error
h = nbd.NBD()
h.connect_uri(sys.argv[1])
assert h.can_cache()
h.cache(4 << 20, 8 << 20)
h.set_strict_mode(0)
expect_error(lambda: h.cache(8192, h.get_size() - 4096), "EINVAL")
expect_error(lambda: h.cache(4096, 0, 1 << 7), "EINVAL")
print("ok: libnbd: can_cache, cache; out of bounds and an unknown flag: EINVAL")
PY
wait_for 5 at_least "$img" $((4 << 20)) || fail "after a cache of 4 MiB, $(resident "$img") bytes resident"
(($(resident "$img") <= 5 << 20)) || fail "a cache of 4 MiB left $(resident "$img") bytes resident"
info "ok: a cache of 4 MiB made 4 MiB of the file resident ($(resident "$img") bytes)"

d=$(qmp_reply "$T/qmp.sock" '{"execute":"query-disks"}' | jq -c '.return[0].counters')
json_ok "$d" '.requests.cache == 5 and .bytes.cache == 0'
info "ok: caches are counted as requests, with no bytes"

# An outage: held like a read, answered once the storage is back.
fault_on "$fault" "cache EIO"
nbd_py "$uri" "$fault" <<'PY'
import sys
import nbd
from nbdmap import held_then_answered
h = nbd.NBD()
h.connect_uri(sys.argv[1])
held_then_answered(h, h.aio_cache(1 << 20, 0), sys.argv[2])
print("ok: a cache held during the outage, answered after it")
PY
sb_log_has "holding requests" || fail "steadyblk held nothing"

# Under --rerror report it fails with the backend's error.
r=$(qmp_reply "$T/qmp.sock" '{"execute":"set-error-policy","arguments":{"disk":"disk0","rerror":"report"}}')
json_ok "$r" '.return == {}'
fault_on "$fault" "cache EIO"
nbd_py "$uri" <<'PY'
import sys
import nbd
from nbdraw import expect_error
h = nbd.NBD()
h.connect_uri(sys.argv[1])
expect_error(lambda: h.cache(1 << 20, 0), "EIO")
print("ok: under --rerror report, EIO")
PY
fault_off "$fault"
stop_steadyblk sb

# O_DIRECT: nothing to warm.  steadyblk answers the cache itself, at once,
# even while everything else fails.
start_steadyblk sbd --cache none --rerror retry --fault-file "$fault" \
    --export "$(sb_uri "$T/d.sock")" "$img"
drop_pages "$img"
fault_on "$fault" "all EIO"
nbd_py "$(sb_uri "$T/d.sock")" <<'PY'
import sys, time
import nbd
h = nbd.NBD()
h.connect_uri(sys.argv[1])
assert h.can_cache()
t0 = time.monotonic()
h.cache(4 << 20, 0)
assert time.monotonic() - t0 < 0.5
print("ok: cache=none: a cache answered at once, in an outage")
PY
sleep 0.3
[[ $(resident "$img") == 0 ]] || fail "cache=none: $(resident "$img") bytes resident"
fault_off "$fault"
stop_steadyblk sbd

# An NBD backend whose server can cache gets the cache; at most 32 MiB of
# it (qemu-nbd refuses more with EINVAL).
start_nbdkit be "$T/be.sock" --filter=log file "$img" logfile="$T/be-log"
start_steadyblk sbn --rerror retry --retry-interval 100ms --export "$(sb_uri "$T/n.sock")" "nbd+unix:///?socket=$T/be.sock"
nbd_py "$(sb_uri "$T/n.sock")" <<'PY'
import sys
import nbd
h = nbd.NBD()
h.connect_uri(sys.argv[1])
assert h.can_cache()
h.cache(1 << 20, 4 << 20)
h.cache(64 << 20, 0)
print("ok: caches through an NBD backend")
PY
grep -q 'Cache id=[0-9]* offset=0x400000 count=0x100000 ' "$T/be-log" ||
    fail "nbdkit saw no cache of 1 MiB at 4 MiB: $(grep Cache "$T/be-log")"
grep -q 'Cache id=[0-9]* offset=0x0 count=0x2000000 ' "$T/be-log" ||
    fail "nbdkit saw no cache of 32 MiB at 0: $(grep Cache "$T/be-log")"
info "ok: nbdkit's log shows the caches (the second clipped to 32 MiB)"

# The server is killed and comes back unable to cache: a cache asked
# meanwhile is held, and the new connection answers it without asking.
kill_server be KILL
nbd_py "$(sb_uri "$T/n.sock")" <<'PY' &
import sys, time
import nbd
h = nbd.NBD()
h.connect_uri(sys.argv[1])
t0 = time.monotonic()
h.cache(1 << 20, 0)
assert time.monotonic() - t0 > 0.5, "answered while the server was down"
print("ok: a cache held while the backend's server was down, answered after")
PY
client=$!
sleep 1
start_nbdkit be "$T/be.sock" --filter=log --filter=nocache file "$img" logfile="$T/be-log2"
wait "$client" || fail "a cache across the backend's restart"
! grep -q 'Cache id=' "$T/be-log2" || fail "a connection that cannot cache was sent one"
info "ok: a connection whose server cannot cache answers the cache itself"
stop_steadyblk sbn
kill_server be TERM

# A server that cannot cache is never asked; the client's cache succeeds.
start_nbdkit nc "$T/nc.sock" --filter=log --filter=nocache memory 64M logfile="$T/nc-log"
start_steadyblk sbc --export "$(sb_uri "$T/c.sock")" "nbd+unix:///?socket=$T/nc.sock"
grep -q 'Connect .* cache=0 ' "$T/nc-log" || fail "nbdkit --filter=nocache offers a cache: $(cat "$T/nc-log")"
nbd_py "$(sb_uri "$T/c.sock")" <<'PY'
import sys
import nbd
h = nbd.NBD()
h.connect_uri(sys.argv[1])
assert h.can_cache()
h.cache(1 << 20, 0)
print("ok: a cache answered by steadyblk for a server that cannot cache")
PY
! grep -q 'Cache id=' "$T/nc-log" || fail "a server that cannot cache was sent one"
stop_steadyblk sbc
echo "PASS"
