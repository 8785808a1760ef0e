#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The NBD backend: the server comes back after a crash serving an export of
# another size.  steadyblk refuses that connection (it would shift every
# client's idea of the disk), logs it loudly and keeps the writer held; once
# the right export is back, the writer completes without an error and its
# blocks read back from the backend's own file.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/nbd-backend.sh"

make_image "$T/disk.img" 64M
make_image "$T/other.img" 32M
start_nbdkit nk "$T/be.sock" file "$T/disk.img"
start_sb_nbd --werror retry --rerror retry --retry-interval 200ms

qemu_io_writer "$uri" 60
sleep 1
kill_server nk KILL
start_nbdkit nk "$T/be.sock" file "$T/other.img"
wait_for 10 sb_log_has 'CHANGED SIZE from 67108864 to 33554432' ||
    fail "steadyblk did not refuse the export of another size"
sleep 2
sb_log_has 'reconnected' && fail "steadyblk used an export of another size"
kill_server nk KILL
start_nbdkit nk "$T/be.sock" file "$T/disk.img"
writer_wait
sb_log_has 'reconnected' || fail "steadyblk did not reconnect to the right export"
stop_steadyblk sb
qemu_io_verify_file "$T/disk.img" 60
cmp -s "$T/other.img" <(head -c 32M /dev/zero) || fail "a write landed on the wrong export"
