#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# TLS to NBD backends (nbds+unix:// URIs): to nbdkit --tls=require with a
# PSK, data written through steadyblk lands on nbdkit's file, and a SIGKILL
# of nbdkit under a verifying fio writer is ridden out over a new TLS
# session; to X.509 servers (nbdkit, and steadyblk's own export) only where
# the URI accepts an unverified server; a wrong key or plain URI to a server
# that requires TLS fails at start with the reason.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
. "$here/nbd-backend.sh"
. "$here/tls.sh"
tls_make_certs "$T/pki"
psk=$T/pki/psk/keys.psk

make_image "$T/disk.img" 64M
start_nbdkit nk "$T/be.sock" --tls=require --tls-psk="$psk" file "$T/disk.img"
uri=$(sb_uri "$T/s.sock")
start_steadyblk sb --werror retry --rerror retry --retry-interval 200ms --export "$uri" \
    "nbds+unix://alice@/?socket=$T/be.sock&tls-psk-file=$psk"
sb_log_has 'bytes, block sizes .*, TLS$' || fail "the backend's log line does not say TLS"
qemu_io_ok "$uri" 'write -P 0x7c 60M 1M' 'read -P 0x7c 60M 1M'
cmp <(head -c 61M "$T/disk.img" | tail -c 1M) <(head -c 1M /dev/zero | tr '\0' '\174') ||
    fail "the write through TLS did not reach nbdkit's file"

fio_writer "$uri" 16M 8
sleep 1.5
restart_server nk KILL 3
t_up=$(now_ms)
writer_wait_since "$t_up" "nbdkit came back"
sb_log_has 'reconnected' || fail "steadyblk did not reconnect over TLS"
stop_steadyblk sb
fio_verify_file "$T/disk.img" 16M

# start_fails BACKEND TEXT : steadyblk refuses BACKEND at start-up, saying TEXT.
start_fails() {
    local rc=0 out
    out=$(timeout 30 "$STEADYBLK" --foreground --backend-timeout 2s --export "$uri" "$1" 2>&1) ||
        rc=$?
    info "$1: $out"
    ((rc == 1)) || fail "$1: exit status $rc, expected 1"
    [[ $out == *"$2"* ]] || fail "$1: expected '$2' in: $out"
}
start_fails "nbds+unix://alice@/?socket=$T/be.sock&tls-psk-file=$T/pki/bad.psk" "TLS"
start_fails "nbd+unix:///?socket=$T/be.sock" "TLS"
kill_server nk TERM

# X.509: nbdkit's certificates directory has the same layout as ours.
start_nbdkit nk "$T/be.sock" --tls=require --tls-certificates="$T/pki/server" file "$T/disk.img"
start_fails "nbds+unix:///?socket=$T/be.sock&tls-certificates=$T/pki/client" \
    "tls-verify-peer=false to accept an unverified server"
start_steadyblk sb --export "$uri" \
    "nbds+unix:///?socket=$T/be.sock&tls-certificates=$T/pki/client&tls-verify-peer=false"
sb_log_has 'TLS \(server certificate not verified\)' || fail "the log hides that the server is unverified"
qemu_io_ok "$uri" 'read -P 0x7c 60M 1M'
stop_steadyblk sb
kill_server nk TERM

# steadyblk in front of steadyblk, both ends TLS.
start_steadyblk be --tls require --tls-psk "$psk" --export "$(sb_uri "$T/be.sock")" "$T/disk.img"
start_steadyblk sb --export "$uri" "nbds+unix://alice@/?socket=$T/be.sock&tls-psk-file=$psk"
qemu_io_ok "$uri" 'write -P 0x5d 0 1M' 'read -P 0x5d 0 1M' 'read -P 0x7c 60M 1M'
stop_steadyblk sb
stop_steadyblk be
