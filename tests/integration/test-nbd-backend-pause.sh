#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The NBD backend: nbdkit's pause filter holds every request for 3 s (less
# than --backend-timeout) under a fio writer.  The requests simply wait: no
# error, no reconnect, and every block verifies through steadyblk and on the
# backend's own file.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/nbd-backend.sh"
requires socat jq

make_image "$T/disk.img" 64M
start_nbdkit nk "$T/be.sock" --filter=pause file "$T/disk.img" pause-control="$T/ctl.sock"
start_sb_nbd --werror retry --rerror retry --retry-interval 200ms --backend-timeout 10s

fio_writer "$uri" 16M 8
sleep 1.5
pause_for "$T/ctl.sock" 3
writer_wait
sb_log_has 'connection lost' && fail "a paused server within the timeout must keep its connection"
# The writer really waited for the paused server.
max_ms=$(fio_max_write_ms)
info "slowest write: ${max_ms} ms"
((max_ms >= 2500)) || fail "no write waited for the pause: the test proved nothing"
stop_steadyblk sb
fio_verify_file "$T/disk.img" 16M
