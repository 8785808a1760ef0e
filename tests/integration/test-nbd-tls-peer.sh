#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Who may connect: --tls-verify-peer serves a client whose certificate the
# CA signed and refuses one without a certificate or with one another CA
# signed; --tls-psk serves the identity whose key matches (qemu-io's
# tls-creds-psk, libnbd's tls-psk-file) and refuses a wrong key, and with
# --tls on a plain client is still served.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
. "$here/nbd-export.sh"
. "$here/tls.sh"
requires nbdinfo qemu-io
tls_make_certs "$T/pki"
make_image "$T/disk.img" 8M
sock=$T/s.sock

start_steadyblk sb -v --tls require --tls-certificates "$T/pki/server" --tls-verify-peer \
    --export "$(sb_uri "$sock")" "$T/disk.img"
size=$(timeout 20 nbdinfo --size "$(tls_uri "$sock" "$T/pki/client")") ||
    fail "a client with a certificate the CA signed was refused"
((size == 8 << 20)) || fail "size $size"
! timeout 20 nbdinfo --size "$(tls_uri "$sock" "$T/pki/nocert")" >/dev/null 2>&1 ||
    fail "a client without a certificate was served"
! timeout 20 nbdinfo --size "$(tls_uri "$sock" "$T/pki/wrongca")" >/dev/null 2>&1 ||
    fail "a client with a certificate another CA signed was served"
qemu_x509 "$T/pki/client" "$sock"
out=$(timeout 60 qemu-io "${QEMU_TLS[@]}" -c 'write -P 0x11 0 1M' -c 'read -P 0x11 0 1M' 2>&1) ||
    fail "qemu-io with a client certificate failed: $out"
grep -qiE 'error|fail|mismatch' <<<"$out" && fail "qemu-io: $out"
sb_log_has 'TLS handshake failed' 2 || fail "the refusals were not logged"
stop_steadyblk sb

start_steadyblk sb --tls on --tls-psk "$T/pki/psk/keys.psk" --export "$(sb_uri "$sock")" \
    "$T/disk.img"
psk_uri() { echo "nbds+unix://$1@/?socket=$sock&tls-psk-file=$2"; }
size=$(timeout 20 nbdinfo --size "$(psk_uri alice "$T/pki/psk/keys.psk")") ||
    fail "the PSK identity alice was refused"
((size == 8 << 20)) || fail "size $size"
! timeout 20 nbdinfo --size "$(psk_uri alice "$T/pki/bad.psk")" >/dev/null 2>&1 ||
    fail "a wrong key was served"
out=$(timeout 60 qemu-io --object "tls-creds-psk,id=tls0,dir=$T/pki/psk,username=alice,endpoint=client" \
    --image-opts "driver=nbd,server.type=unix,server.path=$sock,tls-creds=tls0" \
    -c 'write -P 0x22 1M 1M' -c 'read -P 0x22 1M 1M' -c 'read -P 0x11 0 1M' 2>&1) ||
    fail "qemu-io with PSK failed: $out"
grep -qiE 'error|fail|mismatch' <<<"$out" && fail "qemu-io with PSK: $out"
# --tls on: a plain client chooses plaintext.
qemu_io_ok "$(sb_uri "$sock")" 'read -P 0x22 1M 1M'
stop_steadyblk sb
