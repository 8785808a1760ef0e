#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# NBD_CMD_DISC during an outage (invariant 4): a client writes a block while
# the backend fails, sends DISC and hangs up.  Its held write is dropped at
# once, never re-issued: another client's newer, smaller write to the same
# block is what the block holds after the outage, and nothing of the first
# write lands around it.  Over TCP (DISC then close: the daemon only sees a
# FIN) and over a unix socket (DISC then shutdown(SHUT_WR)).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
. "$here/nbd-export.sh"
requires qemu-io python3

make_image "$T/disk.img" 16M
unix_uri=$(sb_uri "$T/s.sock")
start_steadyblk sb --werror retry --retry-interval 100ms --retry-max-interval 200ms \
    --fault-file "$T/fault" --export 'nbd://127.0.0.1:0/' --export "$unix_uri" "$T/disk.img"
tcp_uri=$(served_uri sb 'nbd://127')
port=${tcp_uri#nbd://127.0.0.1:}
port=${port%/}

# gone_writer HOW OFFSET : a raw client writes 64 KiB of 0xaa at OFFSET,
# waits until the write is held, sends DISC and goes: HOW is "tcp-close"
# or "unix-shutwr" (half-close, then wait for the daemon to close).
gone_writer() {
    raw_py "$1" "$2" "$port" "$T/s.sock" "$T/sb.log" <<'PY'
import socket, sys, time
from nbdraw import *
how, offset, port, path, log = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
if how == "tcp-close":
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
else:
    s = connect(path)
greet(s)
go(s)
held_before = open(log).read().count("holding requests")
request(s, CMD_WRITE, offset, 65536, cookie=7, data=b"\xaa" * 65536)
deadline = time.monotonic() + 10
while open(log).read().count("holding requests") == held_before and time.monotonic() < deadline:
    time.sleep(0.05)
time.sleep(0.3)
request(s, CMD_DISC, 0, 0, cookie=8)
if how == "tcp-close":
    s.close()
else:
    s.shutdown(socket.SHUT_WR)
    assert closed_by_peer(s), "the daemon kept the half-closed client"
    s.close()
PY
}

# scenario HOW OFFSET URI : the whole story for one transport.
scenario() {
    local how=$1 off=$2 u=$3 dropped
    dropped=$(grep -c 'held requests dropped' "$T/sb.log" || true)
    fault_on "$T/fault" "write EIO"
    gone_writer "$how" "$off"
    # The daemon fences the held write as soon as the client is gone.
    wait_for 5 sb_log_has 'held requests dropped' $((dropped + 1)) ||
        info "$how: no 'held requests dropped' within 5 s of the hang-up"
    # B writes 4 KiB of 0xbb over the start of the block; held too.
    qemu_io_bg "$T/b-$how.out" "$u" "write -P 0xbb $off 4k"
    b=$QEMU_IO_PID
    sleep 0.5
    fault_off "$T/fault"
    wait_for 20 pid_gone "$b" || fail "$how: B's write was not acknowledged after the outage"
    wait "$b" || { cat "$T/b-$how.out" >&2; fail "$how: B's write failed"; }
    sleep 0.5  # time for a (wrong) re-issue of A's write to land
    qemu_io_ok "$u" "read -P 0xbb $off 4k" "read -P 0 $((off + 4096)) 60k"
    sb_log_has 'held requests dropped' $((dropped + 1)) ||
        fail "$how: the log does not say that A's held write was dropped"
    sb_log_show 'held requests dropped' 2>&1 | tail -1 >&2
}

scenario tcp-close 0 "$tcp_uri"
scenario unix-shutwr $((1024 * 1024)) "$unix_uri"
stop_steadyblk sb
qemu_io_ok "$T/disk.img" 'read -P 0xbb 0 4k' 'read -P 0 4k 60k' \
    'read -P 0xbb 1M 4k' 'read -P 0 1028k 60k'
