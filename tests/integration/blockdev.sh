# SPDX-License-Identifier: BSD-3-Clause
# Block devices for the tests: sourced after functions.sh, never run.
#
# loop_attach FILE : a loop device over FILE; sets LOOP_DEV, detached at exit.
# slow_storage SIZE SECONDS : a file, $T/fuse/disk, whose every read and write
#     reaches nbdkit's delay filter and waits SECONDS there: nbdkit (memory
#     plugin) behind nbdfuse.  A loop device over it is a slow block device.
#
# Both need root (loop devices, FUSE mounts); the tests that use them skip
# without it.

requires_blockdev() {
    ((EUID == 0)) || skip "loop devices need root"
    requires losetup
    [[ -e /dev/loop-control ]] || skip "no loop device support"
}

loop_attach() {
    LOOP_DEV=$(timeout 10 losetup --find --show "$1") || fail "losetup: cannot attach $1"
    # At exit, detach only what is still backed by this test's file: the
    # device's number may belong to someone else by then.
    cleanup_add "loop_detach_file $1"
}

loop_detach_file() {
    local dev
    for dev in $(losetup --noheadings --output NAME --associated "$1"); do
        timeout 10 losetup -d "$dev"
    done
}

# loop_detach : detach LOOP_DEV now (its writes reach the file first).
loop_detach() { timeout 10 losetup -d "$LOOP_DEV" || fail "losetup: cannot detach $LOOP_DEV"; }

slow_storage() {
    local size=$1 secs=$2
    requires nbdkit nbdfuse umount
    [[ -c /dev/fuse ]] || skip "no FUSE support"
    nbdkit -U "$T/slow.sock" -P "$T/slow-nbdkit.pid" --filter=delay memory "$size" \
        delay-read="$secs" delay-write="$secs" ||
        fail "nbdkit (delay filter) did not start"
    cleanup_add "kill \$(cat $T/slow-nbdkit.pid)"
    mkdir -p "$T/fuse"
    # Cleanups run last-added first: unmount, then nbdfuse, then nbdkit.
    timeout 600 nbdfuse -P "$T/fuse.pid" "$T/fuse/disk" --unix "$T/slow.sock" \
        >"$T/nbdfuse.log" 2>&1 &
    cleanup_add "kill $!"
    cleanup_add "timeout 10 umount -l $T/fuse"
    wait_for 10 test -s "$T/fuse.pid" || { cat "$T/nbdfuse.log" >&2; fail "nbdfuse did not mount"; }
    wait_for 10 test -f "$T/fuse/disk" || fail "nbdfuse: no $T/fuse/disk"
}
