#!/usr/bin/env bash
# Build a minimal busybox root filesystem at DIR, for rt's demo and tests.
#
#   scripts/mkrootfs.sh DIR
#
# Idempotent and atomic: if DIR/bin/busybox already exists nothing is done;
# otherwise the tree is built in DIR.tmp.$$ and renamed into place, so a
# half-built rootfs is never seen at DIR (several runs may race safely).
# Needs root (chroot, file ownership). Installs Debian's busybox-static when
# /bin/busybox is missing or not statically linked.
set -euo pipefail

die() { echo "mkrootfs: $*" >&2; exit 1; }

[[ $# -eq 1 && -n $1 ]] || die "usage: $0 DIR"
dest=${1%/}
[[ -n $dest ]] || die "refusing to build a rootfs at /"

if [[ -e $dest/bin/busybox ]]; then
    exit 0
fi
[[ $(id -u) -eq 0 ]] || die "must run as root (needs chroot and chown)"

# True when /bin/busybox exists and is statically linked.
static_busybox() {
    [[ -x /bin/busybox ]] || return 1
    local out
    out=$(LC_ALL=C ldd /bin/busybox 2>&1) || true # ldd exits 1 on static binaries
    [[ $out == *'not a dynamic executable'* || $out == *'statically linked'* ]]
}

if ! static_busybox; then
    echo "mkrootfs: installing busybox-static" >&2
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q busybox-static >/dev/null; then
        apt-get update -q >/dev/null
        apt-get install -y -q busybox-static >/dev/null
    fi
    static_busybox || die "/bin/busybox is still not a static binary"
fi

umask 022
mkdir -p "$(dirname "$dest")"
tmp=$dest.tmp.$$
cleanup() { rm -rf -- "$tmp"; }
trap cleanup EXIT
rm -rf -- "$tmp"
mkdir -- "$tmp"

mkdir -p "$tmp/bin"
cp /bin/busybox "$tmp/bin/busybox"
chmod 0755 "$tmp/bin/busybox"
# argv[0] is absolute, so busybox needs no /proc inside the chroot.
chroot "$tmp" /bin/busybox --install -s /bin

mkdir -p "$tmp"/{proc,sys,dev,tmp,etc,root,home/user,run,mnt,var/tmp}
chmod 1777 "$tmp/tmp" "$tmp/var/tmp"
chmod 0700 "$tmp/root"
chown 1000:1000 "$tmp/home/user"

cat >"$tmp/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:user:/home/user:/bin/sh
PASSWD
cat >"$tmp/etc/group" <<'GROUP'
root:x:0:
user:x:1000:
extra:x:2000:user
GROUP
echo rt >"$tmp/etc/hostname"
: >"$tmp/etc/resolv.conf"

# Rename into place. An empty DIR is replaced; if another run won the race,
# its rootfs is kept and ours is discarded.
if ! mv -T -- "$tmp" "$dest" 2>/dev/null; then
    [[ -e $dest/bin/busybox ]] || die "$dest exists and is not a busybox rootfs; remove it first"
fi
