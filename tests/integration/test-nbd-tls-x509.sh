#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# --tls require with X.509 certificates made now by certtool: qemu-img,
# qemu-io, nbdcopy and nbdinfo (nbds:// URIs) move verified data over TLS,
# on a unix socket and on TCP; a plain client is refused (NBD_REP_ERR_TLS_REQD
# for GO and LIST, a hang-up for EXPORT_NAME) and a client that does not
# trust the server's CA gives up; the daemon serves everyone else throughout.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
. "$here/nbd-export.sh"
. "$here/tls.sh"
requires nbdinfo nbdcopy qemu-img qemu-io cmp
tls_make_certs "$T/pki"

make_image "$T/disk.img" 32M
sock=$T/s.sock
start_steadyblk sb --tls require --tls-certificates "$T/pki/server" \
    --export "$(sb_uri "$sock")" --export 'nbd://127.0.0.1:0/' "$T/disk.img"
uri=$(tls_uri "$sock" "$T/pki/client")

# Verified data both ways: 12 MiB of random data with a hole between.
head -c 6M /dev/urandom >"$T/src.img"
truncate -s 10M "$T/src.img"
head -c 6M /dev/urandom >>"$T/src.img"
truncate -s 32M "$T/src.img"
qemu_x509 "$T/pki/client" "$sock"
timeout 120 qemu-img convert -n -f raw "$T/src.img" --target-image-opts "${QEMU_TLS[@]:0:2}" \
    "${QEMU_TLS[3]}" || fail "qemu-img convert over TLS failed"
timeout 120 nbdcopy "$uri" "$T/back.img" || fail "nbdcopy over TLS failed"
cmp "$T/src.img" "$T/back.img" || fail "the data read back over TLS differs"
cmp "$T/src.img" "$T/disk.img" || fail "the data written over TLS did not reach the disk"
out=$(timeout 60 qemu-io "${QEMU_TLS[@]}" -c 'write -P 0x5a 1M 3M' -c 'read -P 0x5a 1M 3M' \
    -c 'read -P 0 20M 1M' 2>&1) || fail "qemu-io over TLS failed: $out"
grep -qiE 'error|fail|mismatch' <<<"$out" && fail "qemu-io over TLS: $out"

# Many replies at once, of every size from 1 byte to 1 MiB, short ones
# sharing a TLS record: 64 reads in flight, each checked against the file,
# with block status (structured replies) among them.
nbd_py "$uri" "$T/disk.img" <<'PY'
import random, sys
import nbd
uri, path = sys.argv[1], sys.argv[2]
want = open(path, "rb").read()
h = nbd.NBD()
h.set_uri_allow_local_file(True)
h.add_meta_context("base:allocation")
h.connect_uri(uri)
rnd = random.Random(7)
pending = []
for i in range(2000):
    n = rnd.choice((1, 17, 512, 4096, 4097, 16384, 16400, 65536, 1 << 20))
    off = rnd.randrange(0, len(want) - n)
    buf = nbd.Buffer(n)
    pending.append((h.aio_pread(buf, off), buf, off, n))
    if i % 50 == 0:
        h.aio_block_status(1 << 20, rnd.randrange(0, 31) << 20,
                           lambda *a: 0)
    while h.aio_in_flight() >= 64:
        h.poll(-1)
    done = [p for p in pending if h.aio_command_completed(p[0])]
    for c, buf, off, n in done:
        assert buf.to_bytearray() == want[off:off + n], "read of %d at %d differs" % (n, off)
    pending = [p for p in pending if p not in done]
while h.aio_in_flight() > 0:
    h.poll(-1)
for c, buf, off, n in pending:
    assert h.aio_command_completed(c)
    assert buf.to_bytearray() == want[off:off + n], "read of %d at %d differs" % (n, off)
h.shutdown()
PY

json=$(timeout 20 nbdinfo --json "$uri") || fail "nbdinfo over TLS failed"
[[ $(jq -r '.TLS' <<<"$json") == true ]] || fail "nbdinfo did not negotiate TLS: $json"
grep -q "served at nbds+unix:///?socket=$sock" "$T/sb.log" || fail "the URI announced is not nbds"
tcp=$(served_uri sb 'nbds://127')
port=${tcp#nbds://127.0.0.1:}; port=${port%/}
size=$(timeout 20 nbdinfo --size "nbds://127.0.0.1:$port/?tls-certificates=$T/pki/client") ||
    fail "nbdinfo over TLS on TCP failed"
((size == 32 << 20)) || fail "TCP over TLS: size $size"

# A plain client is refused, politely where the protocol allows it.
! timeout 20 nbdinfo "$(sb_uri "$sock")" >/dev/null 2>&1 || fail "a plain client was served"
raw_py "$sock" <<'PY'
import sys
from nbdraw import *
REP_ERR_TLS_REQD = 2**31 + 5
path = sys.argv[1]
s = connect(path); greet(s)
option(s, OPT_GO, struct.pack(">IH", 0, 0))
assert option_reply(s)[1] == REP_ERR_TLS_REQD, "GO in plaintext not refused"
option(s, OPT_LIST)
assert option_reply(s)[1] == REP_ERR_TLS_REQD, "LIST in plaintext not refused"
option(s, OPT_STRUCTURED_REPLY)
assert option_reply(s)[1] == REP_ERR_TLS_REQD
option(s, OPT_EXPORT_NAME, b"")
assert closed_by_peer(s), "EXPORT_NAME in plaintext was served"
s = connect(path); greet(s)
option(s, OPT_ABORT)
assert option_reply(s)[1] == REP_ACK, "ABORT refused"
PY

# Clients that cannot trust the server, or that it cannot trust.
# (libnbd checks the server's certificate only where it has a host name
# to check it against: TCP.)
! timeout 20 nbdinfo --size "nbds://127.0.0.1:$port/?tls-certificates=$T/pki/stranger" \
    2>/dev/null || fail "a client trusting another CA accepted the server"
qemu_x509 "$T/pki/stranger" "$sock"
! timeout 20 qemu-io "${QEMU_TLS[@]}" -c 'read 0 4k' >/dev/null 2>&1 ||
    fail "qemu-io trusting another CA accepted the server"

qemu_x509 "$T/pki/client" "$sock"
out=$(timeout 60 qemu-io "${QEMU_TLS[@]}" -c 'read -P 0x5a 1M 3M' 2>&1) ||
    fail "the daemon stopped serving after the refusals: $out"
stop_steadyblk sb
