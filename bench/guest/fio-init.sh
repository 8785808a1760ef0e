#!/bin/sh
# fio-init.sh - /bench-init of the benchmark guest (busybox ash): runs fio
# on each virtio disk in turn and prints, on the serial console,
#   SBDISK <name> <bytes>                   each disk found, at start
#   SBBENCH begin <round> <job> <disk>      just before fio starts
#   SBRES <round> <job> <disk> <read IOPS> <write IOPS> <read B/s>
#         <write B/s> <read I/Os> <write I/Os>    from fio's JSON
#   SBBENCH end <round> <job> <disk>        once fio is done
#   SBDONE                                  the last line
# then powers off.  The host samples each server's CPU time at begin and
# end.  Only the numbers cross the serial console: the emulated UART
# moves a few hundred bytes a second under TCG, and fio's whole JSON took
# ~40 s a job.  Kernel command line (all optional):
#   sbbench.runtime=S   seconds per fio job (default 8)
#   sbbench.rounds=N    rounds over every job and disk (default 1); the
#                       disks' order rotates each round
#   sbbench.jobs=A,B    of randread-qd1 randread-qd32 randwrite-qd1
#                       randwrite-qd32 seqread-1m seqwrite-1m (default all)
# Never `exit`: init exiting panics the kernel.
export PATH=/bin
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox mount -t devtmpfs dev /dev
exec 0</dev/console 1>/dev/console 2>&1
/bin/busybox --install -s /bin
dmesg -n 1
echo 1 > /proc/sys/kernel/sysrq # every sysrq key, for a stall's diagnosis
while read -r m; do
    insmod "/lib/modules/$m.ko" || echo "SBERROR insmod $m failed"
done < /etc/modules.order

runtime=8 rounds=1
jobs=randread-qd1,randread-qd32,randwrite-qd1,randwrite-qd32,seqread-1m,seqwrite-1m
read -r cmdline < /proc/cmdline
for a in $cmdline; do
    case $a in
        sbbench.runtime=*) runtime=${a#*=} ;;
        sbbench.rounds=*)  rounds=${a#*=} ;;
        sbbench.jobs=*)    jobs=${a#*=} ;;
    esac
done

job_args() { # the fio options of job $1
    case $1 in
        randread-qd1)   echo "--rw=randread --bs=4k --iodepth=1" ;;
        randread-qd32)  echo "--rw=randread --bs=4k --iodepth=32" ;;
        randwrite-qd1)  echo "--rw=randwrite --bs=4k --iodepth=1" ;;
        randwrite-qd32) echo "--rw=randwrite --bs=4k --iodepth=32" ;;
        seqread-1m)     echo "--rw=read --bs=1M --iodepth=8" ;;
        seqwrite-1m)    echo "--rw=write --bs=1M --iodepth=8" ;;
        *) return 1 ;;
    esac
}

disks=
for d in /sys/block/vd*; do
    [ -e "$d" ] || continue
    n=${d##*/}
    read -r sectors < "$d/size"
    echo "SBDISK $n $((sectors * 512))"
    disks="$disks $n"
done

r=1
while [ "$r" -le "$rounds" ]; do
    for job in $(echo "$jobs" | tr ',' ' '); do
        args=$(job_args "$job") || { echo "SBERROR unknown job $job"; continue; }
        for disk in $disks; do
            echo "SBBENCH begin $r $job $disk"
            # shellcheck disable=SC2086 # the job's options, split on purpose
            fio --name="$job" --filename="/dev/$disk" --direct=1 --ioengine=libaio \
                --thread --time_based --runtime="$runtime" --output-format=json \
                $args > /tmp/fio.json 2>&1
            echo "SBBENCH end $r $job $disk"
            # The first bw_bytes, iops and total_ios of the read and write
            # sections of the job.
            awk -v head="SBRES $r $job $disk" '
                /"read" : \{/ { s = "r" } /"write" : \{/ { s = "w" } /"trim" : \{/ { s = "" }
                s != "" && $1 ~ /^"(bw_bytes|iops|total_ios)"$/ && !((s $1) in v) {
                    x = $3; sub(/,$/, "", x); v[s $1] = x }
                END { printf "%s %s %s %s %s %s %s\n", head, v["r\"iops\""], v["w\"iops\""],
                      v["r\"bw_bytes\""], v["w\"bw_bytes\""], v["r\"total_ios\""],
                      v["w\"total_ios\""] }' /tmp/fio.json
        done
    done
    # The next round starts with the next disk.
    # shellcheck disable=SC2086 # the list, split on purpose
    set -- $disks
    first=$1
    shift
    disks="$* $first"
    r=$((r + 1))
done
echo "SBDONE"
sync
poweroff -f
while :; do sleep 1; done
