#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Block status from an iSCSI LUN: on a thin tgtd LUN (LBPME, GET LBA
# STATUS), nbdinfo --map and qemu-img map over NBD show the holes of the
# LUN's sparse file, as qemu-img map of the file itself does; REQ_ONE gets
# one descriptor, a range inside is clipped, a write over a hole is data at
# once and an UNMAP of it a hole again.  A block status at the LUN when tgtd
# is frozen and then killed fails with the session and is asked again of
# the restarted target, which answers the right extents.  A fully
# provisioned LUN (no thin_provisioning) is all data: steadyblk does not ask
# it, although tgtd would answer.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
. "$here/iscsi-target.sh"
. "$here/nbd-export.sh"
requires nbdinfo qemu-img

# 64 MiB with two runs of data: 2 MiB at 10 MiB, 64 KiB at 50 MiB.
img=$T/lun.img
truncate -s 64M "$img"
dd if=/dev/urandom of="$img" bs=1M count=2 seek=10 conv=notrunc status=none
dd if=/dev/urandom of="$img" bs=64k count=1 seek=800 conv=notrunc status=none
if [[ $(qemu-img map --output=json -f raw "$img" | grep -c '"data": false') -lt 2 ]]; then
    skip "the file system under $T keeps no holes"
fi
uri=$(sb_uri "$T/s.sock")

tgt_serve "$img" thin
start_steadyblk sb --rerror retry --werror retry --retry-interval 100ms --backend-timeout 5s \
    --export "$uri" "$(tgt_url)"
sb_log_has 'get lba status' || fail "a thin tgtd LUN did not get block status"

# Real clients: the map over NBD is the file's own.
want=$(qemu-img map --output=json -f raw "$img")
got=$(timeout 30 qemu-img map --output=json -f raw "$uri") || fail "qemu-img map over NBD failed"
[[ $got == "$want" ]] || fail "qemu-img map over NBD differs from the file's: $got"
info "ok: qemu-img map through the LUN is the file's"
map=$(timeout 30 nbdinfo --map "$uri") || fail "nbdinfo --map failed"
[[ $(grep -c 'hole,zero' <<<"$map") == 3 && $(grep -c ' data$' <<<"$map") == 2 ]] ||
    fail "nbdinfo --map: $map"
info "ok: nbdinfo --map: 3 holes, 2 runs of data"

nbd_py "$uri" <<'PY'
import sys
import nbd
from nbdmap import client, Extents
MiB = 1 << 20
h = client(sys.argv[1])
assert h.can_meta_context(nbd.CONTEXT_BASE_ALLOCATION)
def extents(off, n, flags=0):
    got = Extents()
    h.block_status(n, off, got, flags)
    return got
got = extents(0, 64 * MiB, nbd.CMD_FLAG_REQ_ONE)
assert got == [(10 * MiB, 3)], got
got = extents(9 * MiB, 4 * MiB)
assert got == [(MiB, 3), (2 * MiB, 0), (MiB, 3)], got
print("ok: REQ_ONE gets one descriptor; a range inside is clipped")
assert extents(32 * MiB, MiB) == [(MiB, 3)]
h.pwrite(b"\x77" * 65536, 32 * MiB)
got = extents(32 * MiB, MiB)
assert got == [(65536, 0), (MiB - 65536, 3)], got
h.trim(65536, 32 * MiB)
got = extents(32 * MiB, MiB)
assert got == [(MiB, 3)], got
print("ok: a hole written is data at once, and a hole again once unmapped")
PY

# tgtd frozen: a block status goes to the LUN and waits; tgtd then killed:
# it fails with the session and the core asks the restarted target.
tgt_signal STOP
nbd_py "$uri" "$T/asked" <<'PY' &
import sys, time
from nbdmap import client, Extents
MiB = 1 << 20
h = client(sys.argv[1])
got = Extents()
c = h.aio_block_status(4 * MiB, 8 * MiB, got)
deadline = time.monotonic() + 1.0
while time.monotonic() < deadline:
    h.poll(50)
assert not h.aio_command_completed(c), "answered by a frozen target"
open(sys.argv[2], "w").close()
deadline = time.monotonic() + 30
while not h.aio_command_completed(c):
    assert time.monotonic() < deadline, "not answered after the target came back"
    h.poll(100)
assert got == [(2 * MiB, 3), (2 * MiB, 0)], got
print("ok: held through the loss of the target, answered by the new one")
PY
py=$!
wait_for 20 test -e "$T/asked" || fail "the block status was not sent"
tgt_crash
sleep 1
tgt_serve "$img" thin
wait "$py" || fail "the block status was not held and answered"
sb_log_has 'session lost: .*1 requests in flight fail with ENOTCONN' ||
    fail "the block status was not in flight when the session was lost: $(tail -5 "$T/sb.log")"
tgt_log_events
stop_steadyblk sb
tgt_stop

# A fully provisioned LUN: not asked, all data.
tgt_serve "$img"
start_steadyblk sb2 --export "$uri" "$(tgt_url)"
! grep -q 'get lba status' "$T/sb2.log" || fail "block status on a fully provisioned LUN"
map=$(timeout 30 nbdinfo --map "$uri") || fail "nbdinfo --map (fully provisioned) failed"
[[ $(wc -l <<<"$map") == 1 && $map == *"67108864    0  data"* ]] ||
    fail "fully provisioned LUN map: $map"
info "ok: a fully provisioned LUN is all data"
stop_steadyblk sb2
tgt_stop
