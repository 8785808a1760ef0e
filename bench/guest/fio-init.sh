#!/bin/sh
# fio-init.sh - /bench-init of the benchmark guest (busybox ash): runs fio
# on each virtio disk in turn and prints, on the serial console,
#   SBDISK <name> <bytes>                   each disk found, at start
#   SBBENCH begin <round> <job> <disk>      just before fio starts
#   SBJSON <round> <job> <disk> <json>      fio's JSON output, on one line
#   SBBENCH end <round> <job> <disk>        once fio is done
#   SBDONE                                  the last line
# then powers off.  The host samples each server's CPU time at begin and
# end.  Kernel command line (all optional):
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
            json=$(fio --name="$job" --filename="/dev/$disk" --direct=1 --ioengine=libaio \
                       --thread --time_based --runtime="$runtime" --output-format=json \
                       $args 2>&1 | tr -d '\n\r')
            echo "SBBENCH end $r $job $disk"
            echo "SBJSON $r $job $disk $json"
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
