# SPDX-License-Identifier: BSD-3-Clause
# Helpers for the iSCSI backend tests (test-iscsi-*.sh): tgtd, the userspace
# iSCSI target, as the IP-SAN steadyblk sits in front of.  Sourced after
# functions.sh, never run.
#
# Each test gets its own tgtd: a free port on 127.0.0.1 and a private IPC
# socket in $T, so tests never meet each other or a system tgtd.  tgtd keeps
# its configuration in memory only: after SIGKILL the target must be created
# again, which is what a restarted SAN controller looks like to steadyblk.
# It brings writers.sh (the writers and their checks) along.

requires tgtd tgtadm
. "$(dirname "${BASH_SOURCE[0]}")/writers.sh"

TGT_IQN=iqn.2026-01.org.steadyblk.test:disk1
TGT_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
export TGT_IPC_SOCKET=$T/tgt-ipc.sock
TGT_PID=
TGT_SERVED=()
# Evaluated at exit: whichever tgtd runs then.
cleanup_add 'test -n "$TGT_PID" && kill -9 $TGT_PID'

tgt_adm() { timeout 10 tgtadm --lld iscsi "$@" >>"$T/tgtd.log" 2>&1; }

# tgt_url : the LUN's URL for steadyblk.
tgt_url() { echo "iscsi://127.0.0.1:$TGT_PORT/$TGT_IQN/1"; }

# tgt_start : starts tgtd and waits (bounded) until it takes commands.
tgt_start() {
    tgtd -f --iscsi "portal=127.0.0.1:$TGT_PORT" >>"$T/tgtd.log" 2>&1 &
    TGT_PID=$!
    if ! wait_for 10 tgt_adm --op show --mode system; then
        cat "$T/tgtd.log" >&2
        fail "tgtd did not start"
    fi
}

# tgt_export FILE [thin] : target 1 with LUN 1 on FILE, open to every
# initiator; "thin" makes the LUN thin-provisioned (UNMAP, WRITE SAME with
# UNMAP).  The order is tgtadm's: until the last step a login fails or finds
# no LUN, which steadyblk must ride out too.
tgt_export() {
    tgt_adm --op new --mode target --tid 1 -T "$TGT_IQN" || fail "tgtadm: new target"
    tgt_adm --op new --mode logicalunit --tid 1 --lun 1 -b "$1" || fail "tgtadm: new LUN"
    if [[ ${2:-} == thin ]]; then
        tgt_adm --op update --mode logicalunit --tid 1 --lun 1 \
            --params thin_provisioning=1 || fail "tgtadm: thin provisioning"
    fi
    tgt_adm --op bind --mode target --tid 1 -I ALL || fail "tgtadm: bind"
}

# tgt_serve FILE [thin] : a new tgtd (tgt_start) exporting FILE (tgt_export),
# which is also how the target comes back after tgt_crash.
tgt_serve() {
    TGT_SERVED=("$@")
    tgt_start
    tgt_export "$@"
}

# start_sb_tgt SIZE [thin] SB_ARGS... : a fresh SIZE image $T/lun.img served
# by tgtd (tgt_serve), and steadyblk (start_steadyblk sb) with SB_ARGS in
# front of that LUN, its export on $T/s.sock.  Sets uri to that export's URI.
start_sb_tgt() {
    local size=$1 lun=("$T/lun.img"); shift
    if [[ ${1:-} == thin ]]; then lun+=(thin); shift; fi
    make_image "$T/lun.img" "$size"
    tgt_serve "${lun[@]}"
    uri=$(sb_uri "$T/s.sock")
    start_steadyblk sb "$@" --export "$uri" "$(tgt_url)"
}

# tgt_signal SIGNAL : sends SIGNAL to tgtd.
tgt_signal() { kill "-$1" "$TGT_PID"; }

# tgt_crash : SIGKILL, and waits (bounded) until tgtd is gone.
tgt_crash() {
    kill -9 "$TGT_PID" 2>/dev/null || true
    wait_for 10 pid_gone "$TGT_PID" || fail "tgtd survived SIGKILL for 10 s"
    wait "$TGT_PID" 2>/dev/null || true
    TGT_PID=
}

# tgt_restart SECONDS : the SAN crashes (tgt_crash) and comes back SECONDS
# later, serving what it served before (tgt_serve).
tgt_restart() {
    tgt_crash
    sleep "$1"
    tgt_serve "${TGT_SERVED[@]}"
    info "target back at $(date +%T.%3N)"
}

# tgt_log_events : steadyblk's log lines about the session, its reconnects and
# the held requests, as comments: the outage as steadyblk saw it.
tgt_log_events() { sb_log_show 'iscsi .*(session|reconnect)|disk .*(hold|recovered)'; }

# tgt_stop : the orderly way (tgtd ignores SIGTERM while it has targets).
tgt_stop() {
    tgt_adm --op delete --force --mode target --tid 1 || true
    tgt_adm --op delete --mode system || true
    wait_for 10 pid_gone "$TGT_PID" || { tgt_crash; return; }
    wait "$TGT_PID" 2>/dev/null || true
    TGT_PID=
}
