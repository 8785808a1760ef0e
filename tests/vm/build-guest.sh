#!/bin/bash
# build-guest.sh BUILDDIR - build the test guest for tests/vm/ under BUILDDIR/vm/:
#   vmlinux          uncompressed kernel extracted from Debian's /boot/vmlinuz-*
#                    (TCG boots it in ~4 s; the compressed bzImage takes ~8 s)
#   initramfs.cpio.gz busybox-static + the virtio/ext4 modules + guest-init.sh as /init
#   kernel-version   the guest kernel's version string
# Cached: each output is rebuilt only when a stamp of its inputs changes, so a
# second run costs a few stat calls.
#
# Environment:
#   SB_GUEST_KVER   guest kernel version (default: newest /boot/vmlinuz-* that
#                   has a /lib/modules/<ver>/ tree)
#   SB_BUSYBOX      busybox binary to use (default: the busybox-static one)
# Needs the Debian packages in tests/vm/deps.txt (installed by the top-level Makefile).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Modules the guest needs for a virtio disk with ext4, in load order (no
# modprobe/depmod in the guest: insmod needs dependencies first).
MODULES=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci
         virtio_blk crc16 mbcache jbd2 crc32c_generic ext4)

die() { echo "build-guest: $*" >&2; exit 1; }
log() { echo "build-guest: $*" >&2; }

[ $# -eq 1 ] || die "usage: $0 BUILDDIR"
out=$(mkdir -p "$1/vm" && cd "$1/vm" && pwd)

# --- pick the guest kernel -------------------------------------------------
# The host may run a kernel that is not Debian's (no /lib/modules for it), so
# we never use `uname -r`: we take a kernel for which both the image and the
# modules are installed.
pick_kver() {
    local f v best=""
    for f in /boot/vmlinuz-*; do
        [ -e "$f" ] || continue
        v=${f#/boot/vmlinuz-}
        [ -d "/lib/modules/$v/kernel" ] || continue
        best=$(printf '%s\n%s\n' "$best" "$v" | sed '/^$/d' | sort -V | tail -n1)
    done
    [ -n "$best" ] || die "no /boot/vmlinuz-* with matching /lib/modules/ (apt-get install linux-image-amd64)"
    echo "$best"
}
kver=${SB_GUEST_KVER:-$(pick_kver)}
vmlinuz=/boot/vmlinuz-$kver
moddir=/lib/modules/$kver
[ -r "$vmlinuz" ] || die "cannot read $vmlinuz"
[ -d "$moddir" ] || die "no $moddir"

busybox=${SB_BUSYBOX:-}
if [ -z "$busybox" ]; then
    for b in /bin/busybox /usr/bin/busybox; do [ -x "$b" ] && { busybox=$b; break; }; done
fi
[ -n "$busybox" ] || die "busybox not found (apt-get install busybox-static)"
# A dynamic busybox would not run in an initramfs without its libc: refuse an
# ELF64 with a PT_INTERP program header (read with od: binutils not needed).
has_interp() {
    local f=$1 phoff phentsize phnum i type
    rd() { od -An -t "u$2" -j "$1" -N "$2" "$f" | tr -d ' '; }
    phoff=$(rd 32 8); phentsize=$(rd 54 2); phnum=$(rd 56 2)
    for ((i = 0; i < phnum; i++)); do
        type=$(rd $((phoff + i * phentsize)) 4)
        [ "$type" = 3 ] && return 0
    done
    return 1
}
if has_interp "$busybox"; then
    die "$busybox is dynamically linked; install busybox-static"
fi

# stamp FILE... : a fingerprint of the inputs (path, size, mtime) plus this script.
stamp() { stat -L -c '%n %s %Y' "$@" "$here/build-guest.sh" | sha256sum | cut -d' ' -f1; }

# --- vmlinux ---------------------------------------------------------------
# Same idea as the kernel's scripts/extract-vmlinux: the bzImage carries the
# compressed vmlinux somewhere after its setup code; find each candidate magic,
# try to decompress from there and keep the first output that is an ELF file.
# Decompressors complain about the trailing bytes after the stream, so their
# exit status is ignored and the ELF magic decides.
try_decompress() { # IMAGE MAGIC_REGEX DECOMPRESSOR... -> writes $tmp on success
    local img=$1 re=$2 off; shift 2
    command -v "$1" >/dev/null || return 1
    while read -r off; do
        tail -c +"$((off + 1))" "$img" | "$@" > "$tmp" 2>/dev/null || true
        if [ "$(head -c 4 "$tmp" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; then
            return 0
        fi
    done < <(LC_ALL=C grep -obUaP "$re" "$img" | cut -d: -f1)
    return 1
}

extract_vmlinux() {
    local img=$1 dst=$2
    tmp=$(mktemp "$dst.tmp.XXXXXX")
    # Debian 12 uses xz (CONFIG_KERNEL_XZ); the others are there for other kernels.
    if try_decompress "$img" '\xfd\x37\x7a\x58\x5a\x00' xz -dc ||
       try_decompress "$img" '\x28\xb5\x2f\xfd' zstd -dc ||
       try_decompress "$img" '\x1f\x8b\x08' gzip -dc ||
       try_decompress "$img" '\x5d\x00\x00\x00' xz -dc --format=lzma ||
       try_decompress "$img" 'BZh' bzip2 -dc; then
        chmod 644 "$tmp"
        mv "$tmp" "$dst"
    else
        rm -f "$tmp"
        die "could not extract an ELF vmlinux from $img"
    fi
}

vm_stamp=$(stamp "$vmlinuz")
if [ -s "$out/vmlinux" ] && [ "$(cat "$out/vmlinux.stamp" 2>/dev/null)" = "$vm_stamp" ]; then
    :
else
    log "extracting vmlinux from $vmlinuz"
    extract_vmlinux "$vmlinuz" "$out/vmlinux"
    echo "$vm_stamp" > "$out/vmlinux.stamp"
fi

# --- initramfs -------------------------------------------------------------
# find_module NAME: path of NAME.ko[.xz|.zst|.gz] in the guest's module tree
# (module file names may use '-' where the module name has '_').
find_module() {
    local n=$1 alt=${1//_/-} f
    f=$(find "$moddir/kernel" \( -name "$n.ko" -o -name "$n.ko.*" -o -name "$alt.ko" -o -name "$alt.ko.*" \) -print -quit)
    echo "$f"
}

mod_paths=()
mods_listed=()
for m in "${MODULES[@]}"; do
    p=$(find_module "$m")
    if [ -z "$p" ]; then
        # Built into this kernel: nothing to load.
        if grep -qE "/${m//_/[-_]}\.ko$" "$moddir/modules.builtin" 2>/dev/null; then
            continue
        fi
        die "module $m not found under $moddir"
    fi
    mod_paths+=("$p")
    mods_listed+=("$m")
done

init_src=$here/guest-init.sh
[ -r "$init_src" ] || die "missing $init_src"
ir_stamp=$(stamp "$busybox" "$init_src" "${mod_paths[@]}")
if [ -s "$out/initramfs.cpio.gz" ] && [ "$(cat "$out/initramfs.stamp" 2>/dev/null)" = "$ir_stamp" ]; then
    :
else
    log "building initramfs for $kver"
    stage=$(mktemp -d "$out/stage.XXXXXX")
    trap 'rm -rf "$stage" "$stage.cpio.gz"' EXIT
    mkdir -p "$stage"/{bin,dev,proc,sys,mnt,tmp,etc,lib/modules}
    cp "$busybox" "$stage/bin/busybox"
    ln -s busybox "$stage/bin/sh"
    cp "$init_src" "$stage/init"
    chmod 755 "$stage/init" "$stage/bin/busybox"
    # The kernel opens /dev/console for init before anything is mounted; the
    # node can only be made as root, so /init also re-opens it after mounting
    # devtmpfs (works either way).
    mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || true
    i=0
    for p in "${mod_paths[@]}"; do
        m=${mods_listed[$i]}
        # Load order is kept in a list file; names are the module names.
        case $p in
            *.ko.xz)  xz -dc "$p"   > "$stage/lib/modules/$m.ko" ;;
            *.ko.zst) zstd -qdc "$p" > "$stage/lib/modules/$m.ko" ;;
            *.ko.gz)  gzip -dc "$p" > "$stage/lib/modules/$m.ko" ;;
            *.ko)     cp "$p" "$stage/lib/modules/$m.ko" ;;
            *) die "unknown module format: $p" ;;
        esac
        echo "$m" >> "$stage/etc/modules.order"
        i=$((i + 1))
    done
    echo "$kver" > "$stage/etc/kernel-version"
    # gzip -1: the kernel unpacks it in well under a second even under TCG.
    (cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
        cpio --quiet -o -H newc --owner=0:0 --reproducible) | gzip -1 -n > "$stage.cpio.gz"
    mv "$stage.cpio.gz" "$out/initramfs.cpio.gz"
    echo "$ir_stamp" > "$out/initramfs.stamp"
    rm -rf "$stage"
    trap - EXIT
fi

# A temporary name of our own: two scenarios' guests (a migration's source
# and destination) build at once.
if [ "$(cat "$out/kernel-version" 2>/dev/null)" != "$kver" ]; then
    kv_tmp=$(mktemp "$out/kernel-version.XXXXXX")
    echo "$kver" > "$kv_tmp"
    chmod 644 "$kv_tmp"
    mv "$kv_tmp" "$out/kernel-version"
fi
echo "$out"
