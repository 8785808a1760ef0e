#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The NBD backend: a silent network cut.  steadyblk and nbdkit talk over TCP
# on 127.0.0.1 inside a private network namespace; `ip link set lo down`
# drops every packet (no RST, no error: TCP just retransmits) for 5 s, longer
# than --backend-timeout 3s.  steadyblk declares the connection dead after
# 3 s (ETIMEDOUT), reconnects once the link is back, and the qemu-io writer
# sees no error; every block reads back from the backend's own file.  A
# second cut while nothing is in flight is noticed too (keepalive and
# TCP_USER_TIMEOUT), so the first request after it does not wait for a
# dead connection.
if [[ -z ${SB_NETNS:-} ]]; then
    # Re-run this script inside a new network namespace (root or not).
    userns=()
    ((EUID == 0)) || userns=(--map-root-user)
    if ! unshare --net "${userns[@]}" true 2>/dev/null; then
        echo "SKIP: cannot create a network namespace" >&2
        exit 77
    fi
    SB_NETNS=1 exec unshare --net "${userns[@]}" bash "$0" "$@"
fi
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/nbd-backend.sh"
requires ip

ip link set lo up
make_image "$T/disk.img" 64M
start_nbdkit_tcp nk 10809 file "$T/disk.img"
uri=$(sb_uri "$T/s.sock")
start_steadyblk sb --werror retry --rerror retry --retry-interval 200ms \
    --backend-timeout 3s --export "$uri" nbd://127.0.0.1:10809/

qemu_io_writer "$uri" 80
sleep 1
ip link set lo down
t_cut=$(now_ms)
sleep 5
ip link set lo up
writer_wait
sb_log_has 'connection lost \(ETIMEDOUT\)' || fail "the cut was not detected by the backend timeout"
sb_log_has 'reconnected' || fail "steadyblk did not log its reconnect"
lost_at=$(grep -m1 'connection lost' "$T/sb.log" | cut -d' ' -f2)
info "cut at $(date -d "@$((t_cut / 1000)).$((t_cut % 1000))" +%T.%3N), declared dead at $lost_at"

# The idle cut: no request to time out, the socket's own timers notice.
ip link set lo down
t_cut=$(now_ms)
wait_for 8 sb_log_has 'connection lost' 2 ||
    fail "an idle connection survived 8 s of a cut with --backend-timeout 3s"
info "idle connection declared dead after $(($(now_ms) - t_cut)) ms: $(grep 'connection lost' "$T/sb.log" | tail -1 | cut -d' ' -f5-)"
ip link set lo up
wait_for 10 sb_log_has 'reconnected' 2 || fail "no reconnect after the idle cut"
qemu_io_ok "$uri" 'read -P 0x02 0 64k'
stop_steadyblk sb
qemu_io_verify_file "$T/disk.img" 80
