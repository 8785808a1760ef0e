#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# An outage ridden out over TLS: qemu-io's writes and reads through a TLS
# session are held for 3 s of backend EIO (--werror/--rerror retry), then
# complete with the right data; nothing fails, and the session carries on.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
. "$here/nbd-export.sh"
. "$here/tls.sh"
requires qemu-io
tls_make_certs "$T/pki"
make_image "$T/disk.img" 16M
sock=$T/s.sock
start_steadyblk sb --tls require --tls-certificates "$T/pki/server" --werror retry \
    --rerror retry --retry-interval 100ms --retry-max-interval 200ms \
    --fault-file "$T/fault" --export "$(sb_uri "$sock")" "$T/disk.img"
qemu_x509 "$T/pki/client" "$sock"

timeout 60 qemu-io "${QEMU_TLS[@]}" -c 'write -P 0x33 0 2M' >/dev/null ||
    fail "qemu-io over TLS failed before the outage"
start=$(now_ms)
outage_for "$T/fault" 3 "read EIO" "write EIO"
out=$(timeout 60 qemu-io "${QEMU_TLS[@]}" -c 'aio_write -P 0x44 4M 1M' -c 'aio_read -P 0x33 0 2M' \
    -c aio_flush -c 'read -P 0x44 4M 1M' 2>&1) || fail "qemu-io over TLS failed: $out"
took=$(($(now_ms) - start))
grep -qiE 'error|fail|mismatch' <<<"$out" && fail "qemu-io saw an error over TLS: $out"
((took >= 2500)) || fail "done in $took ms: the requests were not held through the outage"
cmp -n 1M <(head -c 5M "$T/disk.img" | tail -c 1M) <(head -c 1M /dev/zero | tr '\0' '\104') ||
    fail "the held write did not reach the disk"
stop_steadyblk sb
