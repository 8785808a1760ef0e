#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Captive mode: --run CMD serves while CMD runs, gives it $uri, and exits with
# its status; the pidfile is written only once the export listens.
. "$(dirname "$0")/functions.sh"
requires qemu-io

make_image "$T/disk.img" 16M
"$STEADYBLK" --run 'qemu-io -f raw "$uri" -c "write -P 0x5a 0 4k" -c "read -P 0x5a 0 4k"' \
    "$T/disk.img" >"$T/out" 2>&1 || fail "captive qemu-io failed: $(cat "$T/out")"
qemu_io_ok "$T/disk.img" 'read -P 0x5a 0 4k'

rc=0
"$STEADYBLK" --run 'exit 7' "$T/disk.img" >/dev/null 2>&1 || rc=$?
((rc == 7)) || fail "captive mode exited with $rc, not the command's 7"

# The daemonised default: the parent returns once the export is ready.
sock=$T/d.sock
"$STEADYBLK" --pidfile "$T/d.pid" --export "$(sb_uri "$sock")" "$T/disk.img" ||
    fail "daemon start failed"
pid=$(cat "$T/d.pid")
cleanup_add "kill -9 $pid"
qemu_io_ok "$(sb_uri "$sock")" 'read -P 0x5a 0 4k'
kill -TERM "$pid"
wait_for 10 eval "! kill -0 $pid" || fail "the daemon did not stop on SIGTERM"
