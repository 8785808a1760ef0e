#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# `make run`: serve a disk image with the retry policy and say how to use it.
# DISK=path (default build/disk.img, created sparse, SIZE default 1G) and
# SOCKET=path may be set in the environment.
set -euo pipefail

steadyblk=$1
top=$(cd "$(dirname "$0")/.." && pwd)
disk=${DISK:-$top/build/disk.img}
size=${SIZE:-1G}
sock=${SOCKET:-$top/build/steadyblk.sock}
qmp=${QMP:-$top/build/steadyblk.qmp}

if [[ ! -e $disk ]]; then
    truncate -s "$size" "$disk"
    echo "Created a sparse $size image: $disk"
fi
uri="nbd+unix:///?socket=$sock"
ctl=$(cd "$(dirname "$steadyblk")/../ctl" && pwd)/steadyblkctl
qmp_do() { echo "echo '{\"execute\":\"qmp_capabilities\"}$1' | socat - UNIX-CONNECT:$qmp"; }
cat <<MSG

steadyblk serves $disk with werror=retry, rerror=retry.
  URI:         $uri
  management:  $qmp  (QMP; e.g. echo '{"execute":"qmp_capabilities"}{"execute":"query-disks"}' | socat - UNIX-CONNECT:$qmp)
  try:         qemu-io -f raw '$uri' -c 'write -P 0xab 0 64k' -c 'read -P 0xab 0 64k'
               nbdinfo '$uri'
  watch:       $ctl --socket $qmp status --watch
  an outage:   $(qmp_do '{"execute":"fault-set","arguments":{"op":"write","errno":"EIO"}}')
               (a writer now waits instead of failing; end it with:)
               $(qmp_do '{"execute":"fault-clear"}')
Press Ctrl-C to stop.

MSG
exec "$steadyblk" --foreground --werror retry --rerror retry \
    --export "$uri" --qmp "$qmp" --fault-injection "$disk"
