#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# NBD_OPT_STARTTLS against a raw client (python's ssl over the same socket):
# what plaintext options negotiated is forgotten once TLS is on (nbdkit's
# CVE-2021-3716: a man in the middle plants STRUCTURED_REPLY), so requests
# get simple replies and block status is refused; bytes pipelined after
# STARTTLS are the TLS stream's, never options answered in plaintext;
# STARTTLS with data or twice is refused; a client that stops in the TLS
# handshake is dropped at the handshake deadline; none of it disturbs
# another client.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
. "$here/nbd-export.sh"
. "$here/tls.sh"
requires nbdinfo
tls_make_certs "$T/pki"
make_image "$T/disk.img" 4M
printf 'steadyblk' | dd of="$T/disk.img" conv=notrunc status=none
sock=$T/s.sock
start_steadyblk sb --tls on --tls-certificates "$T/pki/server" --export "$(sb_uri "$sock")" \
    "$T/disk.img"

raw_py "$sock" "$T/pki/ca-cert.pem" <<'PY'
import ssl, sys, time
from nbdraw import *
path, ca = sys.argv[1:3]
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False  # a unix socket: the CA is what is checked

# A client that stops in the TLS handshake: the deadline (10 s) drops it.
idle = connect(path, timeout=20); greet(idle)
option(idle, OPT_STARTTLS)
assert option_reply(idle)[1] == REP_ACK
idle_since = time.monotonic()

# STARTTLS with data is refused, and the connection goes on in plaintext.
s = connect(path); greet(s)
option(s, OPT_STARTTLS, b"x")
assert option_reply(s)[1] == REP_ERR_INVALID, "STARTTLS with data accepted"
# Plaintext state a man in the middle could have planted ...
option(s, OPT_STRUCTURED_REPLY)
assert option_reply(s)[1] == REP_ACK
found, typ = meta_context(s, OPT_SET_META_CONTEXT, [b"base:allocation"])
assert typ == REP_ACK and len(found) == 1, (found, typ)
option(s, OPT_STARTTLS)
assert option_reply(s)[1] == REP_ACK
t = ctx.wrap_socket(s)
# ... is gone once TLS is on.
option(t, OPT_STARTTLS)
assert option_reply(t)[1] == REP_ERR_INVALID, "STARTTLS twice accepted"
size, flags = go(t)
assert size == 4 << 20, size
assert not flags & FLAG_SEND_DF, "DF offered: structured replies kept across STARTTLS"
request(t, CMD_READ, 0, 9, cookie=5)
assert reply(t) == (0, 5), "a read over TLS did not get a simple reply"
assert recvn(t, 9) == b"steadyblk"
request(t, CMD_BLOCK_STATUS, 0, 4096, cookie=6)
err, cookie = reply(t)
assert cookie == 6 and err == 22, "block status allowed without a context over TLS: %d" % err
request(t, CMD_DISC, 0, 0)
t.close()

# Pipelined after STARTTLS, a plaintext GO is the start of the TLS stream:
# it fails the TLS handshake and is never answered as an option.
s = connect(path); greet(s)
s.sendall(struct.pack(">QII", IHAVEOPT, OPT_STARTTLS, 0) +
          struct.pack(">QII", IHAVEOPT, OPT_GO, 6) + struct.pack(">IH", 0, 0))
assert option_reply(s)[1] == REP_ACK
rest = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    rest += d
assert struct.pack(">Q", REP_MAGIC) not in rest, "an option answered in plaintext after STARTTLS"

# The idle one is dropped at the deadline, not before 9 s nor after 15 s.
assert closed_by_peer(idle), "a client stopped in the TLS handshake was kept"
waited = time.monotonic() - idle_since
assert 8 <= waited <= 15, "dropped after %.1f s" % waited
PY
size=$(timeout 20 nbdinfo --size "$(tls_uri "$sock" "$T/pki/client")") ||
    fail "the daemon stopped serving TLS clients"
((size == 4 << 20)) || fail "size $size"
stop_steadyblk sb
