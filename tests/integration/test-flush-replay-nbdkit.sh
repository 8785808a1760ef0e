#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Invariant 2: a flush that succeeds covers every acknowledged write, even
# when the backend server restarted in between and lost its write-back cache.
#
# nbdkit serves a file through its cache filter in write-back mode (writes
# stay in nbdkit's own cache until a flush).  A client writes 64 KiB through
# steadyblk, unflushed; nbdkit is SIGKILLed and started again; the client's
# flush then succeeds.  With the unflushed-write log (the default) the data
# is on the file and steadyblk reported a DISK_REPLAYED; with the log off
# (--max-unflushed-bytes 0) the same run loses the data, which shows the test
# can tell the two apart.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/nbd-backend.sh"
. "$(dirname "$0")/nbd-export.sh"
requires nbdkit socat jq
nbd_python

img=$T/disk.img

export SB_HOOK="kill -KILL \$(cat $T/be.pid); sleep 0.3; touch $T/restart"

# The restart is done by this shell (nbdkit exits with its parent): the
# client signals through a file.
restart_when_asked() {
    wait_for 20 test -e "$T/restart" || fail "the client never asked for the restart"
    rm -f "$T/restart"
    wait_for 10 bash -c "! kill -0 \$(cat $T/be.pid 2>/dev/null) 2>/dev/null" || true
    start_nbdkit be "$T/be.sock" --filter=cache file "$img" cache=writeback
}

on_disk() { # on_disk : the 64 KiB at 1 MiB, as the file holds them, in hex
    od -An -tx1 -v -j $((1 << 20)) -N 8 "$img" | tr -d ' \n'
}

for log in 64M 0; do
    rm -f "$T/restart" "$T/qmp-ev.out"
    rm -f "$img"; make_image "$img" 16M
    start_nbdkit be "$T/be.sock" --filter=cache file "$img" cache=writeback
    start_sb_nbd --werror retry --rerror retry --retry-interval 50ms \
        --retry-max-interval 200ms --max-unflushed-bytes "$log" --qmp "$T/qmp-$log.sock"
    qmp_open "ev$log" "$T/qmp-$log.sock"
    timeout 60 "$NBD_PY" -c '
import os, subprocess, sys, nbd
h = nbd.NBD()
h.connect_uri(sys.argv[1])
h.pwrite(b"\x5a" * 65536, 1 << 20)
subprocess.run(["bash", "-c", os.environ["SB_HOOK"]], check=True)
h.flush()
h.shutdown()' "$uri" >"$T/client-$log.log" 2>&1 &
    client=$!
    restart_when_asked
    wait "$client" || { cat "$T/client-$log.log" >&2; fail "the client failed (log $log)"; }
    stop_steadyblk sb
    kill -TERM "$(cat "$T/be.pid")"
    wait_for 10 bash -c "! kill -0 $(cat "$T/be.pid") 2>/dev/null" || fail "nbdkit did not stop"
    got=$(on_disk)
    if [[ $log == 0 ]]; then
        [[ $got == 0000000000000000 ]] ||
            fail "with the log off the write survived the restart: the test cannot tell"
        info "log off: the flush succeeded and the write was lost (as expected without the log)"
    else
        [[ $got == 5a5a5a5a5a5a5a5a ]] ||
            fail "the flush succeeded but the acknowledged write is not on the file ($got)"
        qmp_wait "ev$log" '.event == "DISK_REPLAYED" and .data.writes >= 1 and .data.bytes >= 65536' 5 \
            >/dev/null || fail "no DISK_REPLAYED event"
        grep -q "written again" "$T/sb.log" || fail "no replay line in the log"
        info "log on: replayed, the flushed write is on the file"
    fi
done
echo "PASS"
