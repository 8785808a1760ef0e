#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# build-initramfs.sh BUILDDIR : the benchmark guest's initramfs, printed as
# a path: the tests/vm guest's (busybox, the virtio and ext4 modules) with a
# second archive after it holding fio, every library it links, and
# bench/guest/fio-init.sh as /bench-init (the kernel unpacks concatenated
# archives in order).  Boot it with rdinit=/bench-init.  Cached by a stamp
# of its inputs.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
die() { echo "build-initramfs: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $0 BUILDDIR"
command -v fio > /dev/null || die "fio not found (apt-get install fio)"
vmdir=$("$top/tests/vm/build-guest.sh" "$1")
fio=$(command -v fio)
out=$vmdir/bench-initramfs.cpio.gz

# The dynamic loader and the libraries, by the paths ldd names them: the
# guest's loader searches /lib/x86_64-linux-gnu as the host's does.
mapfile -t libs < <(ldd "$fio" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
[ "${#libs[@]}" -gt 0 ] || die "ldd found no libraries for $fio"

stamp=$(stat -L -c '%n %s %Y' "$fio" "${libs[@]}" "$here/fio-init.sh" "$0" \
            "$vmdir/initramfs.cpio.gz" | sha256sum | cut -d' ' -f1)
if [ -s "$out" ] && [ "$(cat "$out.stamp" 2>/dev/null)" = "$stamp" ]; then
    echo "$out"
    exit 0
fi

stage=$(mktemp -d "$vmdir/bench-stage.XXXXXX")
trap 'rm -rf "$stage" "$stage.cpio.gz"' EXIT
mkdir -p "$stage/bin"
cp -L "$fio" "$stage/bin/fio"
for l in "${libs[@]}"; do
    mkdir -p "$stage$(dirname "$l")"
    cp -L "$l" "$stage$l"
done
cp "$here/fio-init.sh" "$stage/bench-init"
chmod 755 "$stage/bench-init" "$stage/bin/fio"
cp "$vmdir/initramfs.cpio.gz" "$stage.cpio.gz"
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
    cpio --quiet -o -H newc --owner=0:0 --reproducible) | gzip -1 -n >> "$stage.cpio.gz"
mv "$stage.cpio.gz" "$out"
echo "$stamp" > "$out.stamp"
echo "$out"
