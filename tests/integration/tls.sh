# SPDX-License-Identifier: BSD-3-Clause
# Helpers for the TLS tests (test-nbd-tls-*.sh): sourced after functions.sh.

# tls_make_certs DIR : a test CA and, signed by it, certificates made now
# with certtool, in the layouts the clients and steadyblk read:
#   DIR/server/  ca-cert.pem server-cert.pem server-key.pem  (steadyblk)
#   DIR/client/  ca-cert.pem client-cert.pem client-key.pem  (QEMU, libnbd)
#   DIR/nocert/  ca-cert.pem only: trusts the server, shows no certificate
#   DIR/wrongca/ trusts the server, shows a certificate another CA signed
#   DIR/stranger/ trusts only that other CA: the server is a stranger to it
#   DIR/psk/keys.psk  PSK identity "alice" (QEMU reads dir/keys.psk)
#   DIR/bad.psk       identity "alice" with another key
tls_make_certs() {
    local d=$1
    requires certtool psktool
    mkdir -p "$d/server" "$d/client" "$d/nocert" "$d/wrongca" "$d/stranger" "$d/psk"
    _tls_ca "$d" ca
    _tls_ca "$d" other
    _tls_cert "$d" ca server "$d/server" \
        'cn = localhost
dns_name = localhost
ip_address = 127.0.0.1
tls_www_server'
    _tls_cert "$d" ca client "$d/client" 'cn = steadyblk test client
tls_www_client'
    _tls_cert "$d" other client "$d/wrongca" 'cn = another client
tls_www_client'
    cp "$d/ca-cert.pem" "$d/server/"
    cp "$d/ca-cert.pem" "$d/client/"
    cp "$d/ca-cert.pem" "$d/nocert/"
    cp "$d/ca-cert.pem" "$d/wrongca/"
    cp "$d/other-cert.pem" "$d/stranger/ca-cert.pem"
    psktool -u alice -p "$d/psk/keys.psk" >/dev/null 2>&1 || fail "psktool failed"
    psktool -u alice -p "$d/bad.psk" >/dev/null 2>&1 || fail "psktool failed"
}

# _tls_ca DIR NAME : a self-signed CA, DIR/NAME-cert.pem and DIR/NAME-key.pem.
_tls_ca() {
    printf 'cn = steadyblk test %s\nca\ncert_signing_key\nexpiration_days = 2\n' "$2" \
        >"$1/$2.info"
    certtool --generate-privkey --outfile "$1/$2-key.pem" >/dev/null 2>&1 &&
        certtool --generate-self-signed --load-privkey "$1/$2-key.pem" \
            --template "$1/$2.info" --outfile "$1/$2-cert.pem" >/dev/null 2>&1 ||
        fail "certtool could not make the $2 CA"
}

# _tls_cert DIR CA ROLE OUTDIR TEMPLATE : OUTDIR/ROLE-cert.pem and
# OUTDIR/ROLE-key.pem, signed by CA.
_tls_cert() {
    local d=$1 ca=$2 role=$3 out=$4
    printf '%s\norganization = steadyblk test\nencryption_key\nsigning_key\nexpiration_days = 2\n' \
        "$5" >"$out/$role.info"
    certtool --generate-privkey --outfile "$out/$role-key.pem" >/dev/null 2>&1 &&
        certtool --generate-certificate --load-ca-certificate "$d/$ca-cert.pem" \
            --load-ca-privkey "$d/$ca-key.pem" --load-privkey "$out/$role-key.pem" \
            --template "$out/$role.info" --outfile "$out/$role-cert.pem" >/dev/null 2>&1 ||
        fail "certtool could not make the $role certificate"
    rm -f "$out/$role.info"
}

# tls_uri SOCKET CLIENTDIR : libnbd's URI of the default export over TLS.
tls_uri() { echo "nbds+unix:///?socket=$1&tls-certificates=$2"; }

# qemu_x509 CLIENTDIR SOCKET : qemu-io/qemu-img arguments for the default
# export over TLS with X.509 credentials.
qemu_x509() {
    QEMU_TLS=(--object "tls-creds-x509,id=tls0,dir=$1,endpoint=client" --image-opts
              "driver=nbd,server.type=unix,server.path=$2,tls-creds=tls0,tls-hostname=localhost")
}
