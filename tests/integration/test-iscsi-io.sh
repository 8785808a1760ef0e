#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The iSCSI backend's data path on a thin-provisioned tgtd LUN: the geometry
# and capabilities the export advertises, reads and writes (FUA too), write
# zeroes (WRITE SAME), trim (UNMAP), flush; a request that is not a multiple
# of the LUN's block is refused and never reaches the LUN.  Checked through
# steadyblk and on the LUN's own file.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/functions.sh"
. "$here/iscsi-target.sh"
requires qemu-io nbdinfo jq
# python3-libnbd lives in the system's interpreter, which a python3 earlier
# in PATH (a virtualenv, pyenv) may hide.
for py in python3 /usr/bin/python3 ""; do
    [[ -n $py ]] || skip "python3-libnbd is not installed"
    "$py" -c 'import nbd' 2>/dev/null && break
done

start_sb_tgt 64M thin

info_json=$(timeout 20 nbdinfo --json "$uri") || fail "nbdinfo failed"
check() {
    local got
    got=$(jq -r ".exports[0].$1" <<<"$info_json")
    [[ $got == "$2" ]] || fail "$1 is '$got', expected '$2'"
}
check '"export-size"' 67108864
check '"block_size_minimum"' 512
check '"block_size_preferred"' 4096
check '"can_flush"' true
check '"can_fua"' true
check '"can_trim"' true
check '"can_zero"' true

qemu_io_ok "$uri" 'write -P 0x11 0 1M' 'write -f -P 0x22 1M 4k' 'write -P 0x33 2M 2M' \
    'write -z 2M 1M' 'discard 3M 1M' 'flush' \
    'read -P 0x11 0 1M' 'read -P 0x22 1M 4k' 'read -P 0 2M 1M' 'read -P 0 3M 1M'

# 100 bytes at offset 3, with libnbd's own alignment checks off.
cat >"$T/unaligned.py" <<PY
import nbd, sys
h = nbd.NBD()
h.set_strict_mode(0)
h.connect_uri("$uri")
try:
    h.pwrite(b"x" * 100, 3)
except nbd.Error as e:
    print("refused:", e.string)
    sys.exit(0)
sys.exit("an unaligned write was accepted")
PY
out=$(timeout 20 "$py" "$T/unaligned.py" 2>&1) || fail "$out"
info "unaligned write $out"

stop_steadyblk sb
tgt_stop
# On the LUN's own file: the same data, and the refused write left no trace.
qemu_io_ok "$T/lun.img" 'read -P 0x11 0 1M' 'read -P 0x22 1M 4k' 'read -P 0 2M 2M'
