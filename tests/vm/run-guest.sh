#!/bin/bash
# run-guest.sh - boot the tests/vm guest (TCG) with its disk on an NBD server
# reached over a unix socket, let its workload run, and collect the verdict.
#
# usage: run-guest.sh --out DIR [--socket PATH] [--duration S] [--reconnect N]
#                     [--timeout S] [--builddir DIR] [--drive-opts OPTS]
#                     [--append ARGS] [--qmp PATH] [--incoming URI] [--paused]
#                     [--vhost-user] [--reboot]
#   --out DIR         results: serial.log, qemu.log, result.txt (key=value),
#                     lat.dat ("t_ms lat_ms ok|err"), dmesg.txt, sbstart.time
#   --socket PATH     NBD server socket (default $SB_NBD_SOCKET); made absolute
#   --duration S      guest write phase in seconds (default 25)
#   --reconnect N     use QEMU's NBD client with reconnect-delay=N instead of
#                     the plain nbd:unix: form (default $SB_RECONNECT, empty = off);
#                     with --vhost-user, the chardev's reconnect=N: QEMU connects
#                     again every N s to a vhost-user back end that went away
#   --timeout S       hard limit for QEMU (default duration + 40)
#   --builddir DIR    where build-guest.sh put vm/ (default $SB_BUILDDIR or
#                     <repo>/build); the guest is (re)built there if needed
#   --drive-opts OPTS extra -drive options, e.g. werror=stop,rerror=stop; with
#                     --vhost-user, extra -device vhost-user-blk-pci options,
#                     e.g. queue-size=256
#   --append ARGS     extra kernel command line
#   --qmp PATH        QEMU's QMP monitor on the unix socket PATH
#   --incoming URI    the destination of a live migration: QEMU waits for the
#                     guest on URI (e.g. unix:/path); its serial log then holds
#                     what the guest prints after the switch-over
#   --paused          QEMU starts stopped (-S): a destination stays stopped
#                     after the switch-over until QMP `cont` (its memory can
#                     be compared with the source's first)
#   --vhost-user      the socket is steadyblk's vhost-user-blk export: the
#                     guest's virtio-blk device is steadyblk itself (guest
#                     memory shared as a memfd), not QEMU's NBD client
#   --reboot          a reset (QMP system_reset, the guest rebooting) boots
#                     the guest again instead of ending QEMU (the default is
#                     -no-reboot); the serial log holds every boot, and the
#                     result is the last SBRESULT.  A panic reboots too
#                     (panic=-1): --timeout bounds it
#
# While QEMU runs, the host time at which the guest printed SBSTART is written
# to DIR/sbstart.time (seconds since the epoch), so scenario scripts can time
# their faults from the guest's t=0 instead of from QEMU's launch.
# Exit status: 0 if the guest printed its SBRESULT line, 1 otherwise.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

out=""
sock=${SB_NBD_SOCKET:-}
duration=25
reconnect=${SB_RECONNECT:-}
tmo=""
builddir=${SB_BUILDDIR:-$repo/build}
drive_opts=""
append=""
vhost_user=""
qmp=""
incoming=""
paused=""
noreboot=-no-reboot

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
    case $1 in
        --out) out=$2; shift 2 ;;
        --socket) sock=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --reconnect) reconnect=$2; shift 2 ;;
        --timeout) tmo=$2; shift 2 ;;
        --builddir) builddir=$2; shift 2 ;;
        --drive-opts) drive_opts=$2; shift 2 ;;
        --append) append=$2; shift 2 ;;
        --vhost-user) vhost_user=1; shift ;;
        --qmp) qmp=$2; shift 2 ;;
        --incoming) incoming=$2; shift 2 ;;
        --paused) paused=-S; shift ;;
        --reboot) noreboot=""; shift ;;
        -h|--help) usage ;;
        *) echo "run-guest: unknown argument $1" >&2; usage ;;
    esac
done
[ -n "$out" ] || usage
[ -n "$sock" ] || { echo "run-guest: no --socket and no SB_NBD_SOCKET" >&2; exit 2; }
[ -n "$tmo" ] || tmo=$((duration + 40))

mkdir -p "$out"
out=$(cd "$out" && pwd)
# QEMU's nbd client wants an absolute socket path.
case $sock in /*) ;; *) sock=$PWD/$sock ;; esac
[ -S "$sock" ] || { echo "run-guest: $sock is not a socket" >&2; exit 1; }

vmdir=$("$here/build-guest.sh" "$builddir")

# The two ways QEMU can reach an NBD export; the second keeps the guest's
# requests across a lost connection for up to N seconds.
if [ -n "$reconnect" ]; then
    drive="driver=raw,file.driver=nbd,file.server.type=unix,file.server.path=$sock,file.reconnect-delay=$reconnect"
else
    drive="file=nbd:unix:$sock,format=raw"
fi
drive="$drive,if=virtio,cache=none${drive_opts:+,$drive_opts}"
disk=(-drive "$drive")
ram=512M
if [ -n "$vhost_user" ]; then
    # The device reads and writes guest memory itself: it must be shared.
    # 512 MiB and 8 KiB: QEMU before 9.0 (Debian 12 has 7.2) loses guest
    # stores during a TCG live migration when a RAM block's size is a whole
    # number of 256 KiB (one word of its dirty bitmap): that fast path of the
    # bitmap sync clears dirty bits without making the TCG TLB trap the next
    # store to those pages, so pages the guest writes afterwards are never
    # sent again (QEMU's "physmem: Fix migration dirty bitmap coherency with
    # TCG memory access").  Seen here as a destination kernel that oopses,
    # its memory differing from the source's in pages steadyblk never wrote;
    # a size off that grain takes the per-page sync, which is correct.
    ram=524296K
    disk=(-object memory-backend-memfd,id=mem,size=$ram,share=on -numa node,memdev=mem
          -chardev "socket,id=vu0,path=$sock${reconnect:+,reconnect=$reconnect}"
          -device "vhost-user-blk-pci,chardev=vu0${drive_opts:+,$drive_opts}")
fi

rm -f "$out"/{serial.log,qemu.log,result.txt,lat.dat,dmesg.txt,sbstart.time}
: > "$out/serial.log"

# TCG: KVM is present here but cannot run this guest.  The serial console goes
# to a file (written unbuffered by QEMU) so it can be watched while it runs.
# +rdrand: the guest's RNG is ready at once instead of spending ~1 s of boot
# gathering jitter entropy before the first /dev/urandom read.
qemu=(qemu-system-x86_64 -accel tcg -cpu "qemu64,+rdrand" -machine q35 -m "$ram" -smp 1
      -display none -monitor none -nodefaults ${noreboot:+"$noreboot"}
      -serial "file:$out/serial.log"
      -kernel "$vmdir/vmlinux" -initrd "$vmdir/initramfs.cpio.gz"
      -append "console=ttyS0 quiet panic=-1 rdinit=/init sbtest.duration=$duration${append:+ $append}"
      "${disk[@]}" ${qmp:+-qmp "unix:$qmp,server=on,wait=off"}
      ${incoming:+-incoming "$incoming"} $paused)
printf '%q ' "${qemu[@]}" > "$out/qemu.cmd"; echo >> "$out/qemu.cmd"

t_launch=$(date +%s.%N)
timeout --kill-after=5 "$tmo" "${qemu[@]}" < /dev/null > "$out/qemu.log" 2>&1 &
qpid=$!
# If we are stopped (scenario cleanup, ^C), take QEMU down with us.
trap 'kill "$qpid" 2>/dev/null || true' EXIT
trap 'exit 130' INT TERM

# Note when the guest starts its workload.  Polling a small file 20 times a
# second costs nothing next to the emulated CPU.
while kill -0 "$qpid" 2>/dev/null; do
    if grep -q '^SBSTART' "$out/serial.log"; then
        date +%s.%N > "$out/sbstart.time.tmp"
        mv "$out/sbstart.time.tmp" "$out/sbstart.time"
        break
    fi
    sleep 0.05
done
qrc=0
wait "$qpid" || qrc=$?
trap - EXIT
t_end=$(date +%s.%N)

# The serial console ends lines with CRLF.
tr -d '\r' < "$out/serial.log" > "$out/serial.txt"
sed -n 's/^SBLAT //p' "$out/serial.txt" > "$out/lat.dat"
sed -n 's/^SBDMESG //p' "$out/serial.txt" > "$out/dmesg.txt"
resline=$(grep '^SBRESULT ' "$out/serial.txt" | tail -n1 || true)

{
    if [ -n "$resline" ]; then
        # key=value per line; values never contain spaces.
        printf '%s\n' "${resline#SBRESULT }" | tr ' ' '\n' | sed '/^$/d'
    else
        echo "status=no_result"
    fi
    echo "qemu_exit=$qrc"
    if [ -s "$out/sbstart.time" ]; then
        echo "host_boot_s=$(echo "$(cat "$out/sbstart.time") $t_launch" | awk '{printf "%.2f", $1 - $2}')"
    fi
    echo "host_wall_s=$(echo "$t_end $t_launch" | awk '{printf "%.2f", $1 - $2}')"
} > "$out/result.txt"

if [ -z "$resline" ]; then
    echo "run-guest: no SBRESULT from the guest (qemu exit $qrc); serial log tail:" >&2
    tail -n 20 "$out/serial.txt" >&2 || true
    echo "run-guest: qemu output:" >&2
    tail -n 10 "$out/qemu.log" >&2 || true
    exit 1
fi
exit 0
