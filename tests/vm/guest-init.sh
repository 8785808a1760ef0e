#!/bin/sh
# guest-init.sh - /init of the tests/vm guest (busybox ash, baked into the
# initramfs by build-guest.sh).  Mounts /dev/vda (ext4, formatted on the host),
# writes files with write+sync for sbtest.duration seconds while timing each,
# then verifies everything it was told was durable and prints, on the serial
# console:
#   SBSTART                       workload starts (t=0 of all SBLAT times)
#   SBLAT <t_ms> <lat_ms> ok|err  one per write+sync
#   SBDMESG <line>                interesting kernel messages
#   SBRESULT key=value ...        the verdict, always the last SB line
# and powers off.  Kernel command line parameters (all optional):
#   sbtest.duration=S   seconds of writing (default 25)
#   sbtest.filekb=K     size of each file in KiB (default 64)
#   sbtest.mountopts=O  ext4 mount options (default errors=remount-ro, as the
#                       Debian installer writes into fstab)
#   sbtest.mode=reset   no filesystem: the two boots of a device reset
#                       (scenario-vhost-user-reset.sh; see reset_mode below)
#   sbtest.reader=1     while the files are written, a second task reads the
#                       whole disk round and round, 4 MiB at a time in 1 MiB
#                       reads, out of the page cache, so that reads land in
#                       guest memory throughout (the migration scenarios:
#                       data the device writes must be in the dirty log)
# Never `exit`: init exiting panics the kernel.  No `set -e` for the same reason.

export PATH=/bin
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox mount -t devtmpfs dev /dev
# The kernel may have had no /dev/console to give us (initramfs built as non-root).
exec 0</dev/console 1>/dev/console 2>&1
/bin/busybox --install -s /bin

# Kernel messages would interleave with our lines on the serial console and
# break the host's parsing: keep them in the ring buffer, report them at the end.
dmesg -n 1

duration=25
filekb=64
mountopts=errors=remount-ro
mode=files
reader=0
read -r cmdline < /proc/cmdline
# shellcheck disable=SC2086 # split into words on purpose
for a in $cmdline; do
    case $a in
        sbtest.duration=*)  duration=${a#*=} ;;
        sbtest.filekb=*)    filekb=${a#*=} ;;
        sbtest.mountopts=*) mountopts=${a#*=} ;;
        sbtest.mode=*)      mode=${a#*=} ;;
        sbtest.reader=*)    reader=${a#*=} ;;
    esac
done

# NOW = milliseconds since boot, 10 ms resolution (/proc/uptime has
# centiseconds; busybox date has no %N).  Reads a file with a builtin: no fork,
# so it does not add to what it measures.  "1${cs} - 100" avoids ash reading
# a fraction like "08" as octal.
now_ms() {
    read -r up _ < /proc/uptime
    NOW=$(( ${up%.*} * 1000 + (1${up#*.} - 100) * 10 ))
}

finish() { # prints the verdict and powers off; $1 = extra key=value text
    echo "SBRESULT $1"
    # Unmount so the host can fsck a clean image afterwards.
    umount /mnt 2>/dev/null
    sync
    poweroff -f
    while :; do sleep 1; done
}

# A reset's second boot may find the disk's first reads held (insmod
# virtio_blk waits for its partition scan): it says it started before that.
[ "$mode" = reset ] && { now_ms; echo "SBBOOTING uptime_ms=$NOW"; }
while read -r m; do
    insmod "/lib/modules/$m.ko" || echo "SBERROR insmod $m failed"
done < /etc/modules.order

# virtio_blk probes asynchronously; devtmpfs creates the node when it is done.
n=0
while [ ! -b /dev/vda ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
[ -b /dev/vda ] || finish "status=no_disk"

# ---- sbtest.mode=reset ----------------------------------------------------
# /dev/vda is raw (no filesystem); every access is O_DIRECT, so what the guest
# reads is what the device returns.  Every boot prints "SBBOOTING" before it
# loads the drivers.  The kernel command line is the same at every boot of a
# system_reset: a marker in the disk's first 4 KiB says which boot this is.
# The region: 64 KiB at 1 MiB; patterns A, B, C are 64 KiB of
# "SBPATTERN-A\n"... (the host makes the same to compare the image with).
#   boot 1 (no marker): marker "SBBOOT1"; A over the region, with a flush,
#     read back; "SBPHASE 1 a_written", 2 s for the host to start the outage
#     (every write fails; or the backend slow to write the region), then B
#     over the region (held by steadyblk; or at the backend);
#     "SBPHASE 1 b_issued"; the host resets the VM while B is out.
#   boot 2 ("SBBOOT1"): "SBBOOT 2"; the region read (A: B never landed;
#     or B, once the write B still at the backend completed, in the
#     scenario's slow variant), then C over it with a flush, in the
#     background (held: the outage lasts), "SBPHASE 2 c_issued"; once C
#     completes (the host ends the outage), 3 s for any write from before
#     the reset to land, the region read again (C), marker "SBBOOT2";
#     SBRESULT and poweroff.
#   boot 3 or later ("SBBOOT2"): SBRESULT status=extra_boot.
R_BS=65536 R_SEEK=16

region_is() { # prints A, B, C, zero or other: what the region holds now
    dd if=/dev/vda of=/tmp/region bs=$R_BS skip=$R_SEEK count=1 iflag=direct 2>/dev/null ||
        { echo read_error; return; }
    rs=$(sha256sum /tmp/region); rs=${rs%% *}
    for p in A B C zero; do
        [ "$rs" = "$(cat /tmp/$p.sum)" ] && { echo $p; return; }
    done
    echo other
}

set_marker() {
    printf '%s' "$1" | dd of=/dev/vda bs=4096 count=1 conv=sync,fsync oflag=direct 2>/dev/null
}

reset_mode() {
    for p in A B C; do yes "SBPATTERN-$p" | head -c $R_BS > /tmp/$p; done
    head -c $R_BS /dev/zero > /tmp/zero
    for p in A B C zero; do s=$(sha256sum /tmp/$p); echo "${s%% *}" > /tmp/$p.sum; done
    now_ms; boot_ms=$NOW
    marker=$(dd if=/dev/vda bs=4096 count=1 iflag=direct 2>/dev/null | tr -d '\000' | head -c 16)
    case $marker in
    SBBOOT2) finish "status=extra_boot boot_ms=$boot_ms" ;;
    SBBOOT1)
        echo "SBBOOT 2 boot_ms=$boot_ms"
        now_ms; t0=$NOW
        before=$(region_is)
        now_ms; read_ms=$((NOW - t0))
        echo "SBPHASE 2 region=$before read_ms=$read_ms"
        now_ms; t0=$NOW
        dd if=/tmp/C of=/dev/vda bs=$R_BS seek=$R_SEEK count=1 oflag=direct conv=fsync 2>/dev/null &
        cpid=$!
        echo "SBPHASE 2 c_issued"
        c_write=ok
        wait $cpid || c_write=err
        now_ms; c_lat=$((NOW - t0))
        echo "SBPHASE 2 c_done $c_write latency_ms=$c_lat"
        sleep 3
        after=$(region_is)
        set_marker SBBOOT2 || echo "SBERROR marker write failed"
        finish "status=done boot=2 region_before_c=$before region_read_ms=$read_ms c_write=$c_write c_latency_ms=$c_lat region_after=$after boot_ms=$boot_ms"
        ;;
    esac
    # Boot 1.
    echo "SBSTART mode=reset boot_ms=$boot_ms"
    set_marker SBBOOT1 || finish "status=marker_failed"
    dd if=/tmp/A of=/dev/vda bs=$R_BS seek=$R_SEEK count=1 oflag=direct conv=fsync 2>/dev/null ||
        finish "status=a_failed"
    got=$(region_is)
    [ "$got" = A ] || finish "status=a_not_read region=$got"
    echo "SBPHASE 1 a_written"
    sleep 2
    dd if=/tmp/B of=/dev/vda bs=$R_BS seek=$R_SEEK count=1 oflag=direct 2>/dev/null &
    bpid=$!
    echo "SBPHASE 1 b_issued"
    # The host resets the VM while B is held; B completing means it was not.
    n=0
    while kill -0 $bpid 2>/dev/null && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
    finish "status=b_not_held boot=1"
}

[ "$mode" = reset ] && reset_mode

if ! mount -t ext4 -o "$mountopts" /dev/vda /mnt; then
    finish "status=mount_failed"
fi
mkdir -p /mnt/sb

# Without RDRAND (run-guest.sh gives the vCPU one) the first /dev/urandom read
# waits ~1 s for jitter entropy: get that over with before the clock starts.
dd if=/dev/urandom of=/dev/null bs=16 count=1 2>/dev/null

now_ms; start=$NOW; boot_ms=$NOW
t_end=$((start + duration * 1000))
: > /tmp/lat
: > /tmp/manifest
writes=0; errors=0; maxlat=0
echo "SBSTART duration=$duration filekb=$filekb boot_ms=$boot_ms"
reader_pid=""
if [ "$reader" = 1 ]; then
    # Errors are the writer's to count: a read held in an outage just waits.
    # Another 4 MiB each time, round the whole disk: the page cache's pages
    # are used again for other data, so a page the device wrote and the
    # dirty log missed shows as a difference.
    disk_mb=$(($(cat /sys/block/vda/size) / 2048))
    (
        i=0
        while :; do
            echo 1 > /proc/sys/vm/drop_caches
            dd if=/dev/vda of=/dev/null bs=1M count=4 skip=$(((i * 4) % disk_mb)) 2>/dev/null
            i=$((i + 1))
        done
    ) &
    reader_pid=$!
fi

while :; do
    now_ms
    [ "$NOW" -ge "$t_end" ] && break
    writes=$((writes + 1))
    f=/mnt/sb/f$writes
    # Fresh random data per file, prepared in RAM outside the timed section;
    # its checksum goes into a manifest in RAM (not on the disk under test).
    dd if=/dev/urandom of=/tmp/buf bs="${filekb}k" count=1 2>/dev/null
    sum=$(sha256sum /tmp/buf); sum=${sum%% *}
    now_ms; t0=$NOW
    # conv=fsync reports the fsync's error (busybox sync(1) cannot: sync(2)
    # returns nothing); the sync that follows flushes the rest as well.
    if dd if=/tmp/buf of="$f" bs="${filekb}k" conv=fsync 2>/dev/null && sync; then
        res=ok
    else
        res=err
    fi
    now_ms; lat=$((NOW - t0))
    echo "$((t0 - start)) $lat $res" >> /tmp/lat
    [ "$lat" -gt "$maxlat" ] && maxlat=$lat
    if [ $res = ok ]; then
        # Only what the guest was told is durable is checked later.
        echo "$sum  $f" >> /tmp/manifest
    else
        errors=$((errors + 1))
        # A read-only fs fails at once: do not spin and flood the log.
        sleep 0.2
    fi
done
now_ms; workload_ms=$((NOW - start))
if [ -n "$reader_pid" ]; then
    kill "$reader_pid"
    wait "$reader_pid" 2>/dev/null
fi

# Read everything back from the disk, not from the page cache.
sync
echo 3 > /proc/sys/vm/drop_caches
checked=$(wc -l < /tmp/manifest)
good=$(sha256sum -c /tmp/manifest 2>/dev/null | grep -c ': OK$')
checksum_bad=$((checked - good))

# Probe: can the filesystem still take a durable write, and read it back?
probe=fail
dd if=/dev/urandom of=/tmp/probe bs="${filekb}k" count=1 2>/dev/null
psum=$(sha256sum /tmp/probe); psum=${psum%% *}
if dd if=/tmp/probe of=/mnt/sb/probe bs="${filekb}k" conv=fsync 2>/dev/null && sync; then
    echo 3 > /proc/sys/vm/drop_caches
    got=$(sha256sum /mnt/sb/probe 2>/dev/null); got=${got%% *}
    [ "$got" = "$psum" ] && probe=ok
fi

# /proc/mounts can still say rw after ext4 aborted: the kernel log is the truth.
dmesg > /tmp/dmesg
io_errors=$(grep -c 'I/O error' /tmp/dmesg)
journal_aborted=0; grep -q 'Aborting journal' /tmp/dmesg && journal_aborted=1
remount_ro=0; grep -q 'Remounting filesystem read-only' /tmp/dmesg && remount_ro=1
ext4_errors=$(grep -c 'EXT4-fs error' /tmp/dmesg)
hung_tasks=$(grep -c 'blocked for more than' /tmp/dmesg)
now_ms; total_ms=$((NOW - start))

sed 's/^/SBLAT /' /tmp/lat
grep -E 'I/O error|Aborting journal|Remounting filesystem|EXT4-fs (error|warning)|blocked for more than|Buffer I/O' /tmp/dmesg |
    head -n 40 | sed 's/^/SBDMESG /'
finish "status=done writes=$writes write_errors=$errors max_latency_ms=$maxlat checked=$checked checksum_bad=$checksum_bad probe=$probe dmesg_io_errors=$io_errors journal_aborted=$journal_aborted remount_ro=$remount_ro ext4_errors=$ext4_errors hung_tasks=$hung_tasks boot_ms=$boot_ms workload_ms=$workload_ms total_ms=$total_ms"
