#!/usr/bin/env bash
# Run a command as root inside a small cgroup-v2-only VM (QEMU, software
# emulation), with the work tree shared at its host path.
#
#   sudo scripts/vm/run.sh [--timeout SECS] [--env NAME=VALUE]... -- CMD [ARGS...]
#
# CMD runs with the caller's cwd (which must lie in this work tree), stdin
# /dev/null, a clean environment (PATH, HOME=/root, then each --env), and its
# stdout and stderr go to ours. Exits with CMD's exit status; 124 if the VM did
# not finish within SECS (default 900); 125 if it ended without reporting a
# status (its console log is shown then).
#
# In the VM (see scripts/vm/init): Debian's stock kernel (6.1 for bookworm) with
# cgroup v1 disabled and cgroup2 at /sys/fs/cgroup (all controllers enabled for
# children), AppArmor off (as on the host); the host's /usr and /etc (read-only)
# and this work tree (read-write) shared over 9p at their host paths, cached: do
# not edit the tree on the host during a run. FIFOs, sockets and device nodes
# cannot be made on these shares; target/tmp (the tests' CARGO_TARGET_TMPDIR) is
# a fresh tmpfs in the VM, which can, and which vanishes with the VM. tmpfs on /,
# /tmp, /run, /dev/shm too; 2 CPUs, 2 GiB; no network but lo.
#
# The kernel and the initramfs are cached in target/vm/ (made on first use; the
# initramfs is rebuilt when scripts/vm/init or this script change). Remove
# target/vm/ to fetch the current Debian kernel again. Installs
# qemu-system-x86, cpio and busybox-static when missing.
#
# RTVM_DEBUG=1: kernel messages and a trace of the init on the VM console, whose
# log is kept (target/vm/run.*/console.log).
set -euo pipefail

vm_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo=$(cd "$vm_dir/../.." && pwd -P)
cache=$repo/target/vm

die() { echo "vm: $*" >&2; exit 125; }
usage() { die "usage: $0 [--timeout SECS] [--env NAME=VALUE]... -- CMD [ARGS...]"; }

timeout_s=900
envs=()
while (($#)); do
    case $1 in
    --timeout) (($# >= 2)) || usage; timeout_s=$2; shift 2 ;;
    --timeout=*) timeout_s=${1#*=}; shift ;;
    --env) (($# >= 2)) || usage; envs+=("$2"); shift 2 ;;
    --env=*) envs+=("${1#*=}"); shift ;;
    --) shift; break ;;
    *) usage ;;
    esac
done
(($#)) || usage
[[ $timeout_s =~ ^[1-9][0-9]*$ ]] || die "--timeout wants a number of seconds, not '$timeout_s'"
for e in "${envs[@]}"; do
    [[ $e =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "--env wants NAME=VALUE, not '$e'"
done

[[ $(id -u) -eq 0 ]] || die "must run as root (QEMU shares the work tree as root)"
cwd=$(pwd -P)
[[ $cwd == "$repo" || $cwd == "$repo"/* ]] || die "the cwd ($cwd) must be inside the work tree $repo (only that is shared with the VM)"
[[ $repo != *[[:space:]]* ]] || die "the work tree path must not contain white space (it goes on the kernel command line)"
case $repo/ in /usr/* | /etc/* | /proc/* | /sys/* | /dev/*) die "cannot share a work tree under /usr, /etc, /proc, /sys or /dev" ;; esac
[[ -L /bin && $(readlink /bin) == usr/bin ]] || die "the host must have a merged /usr (/bin -> usr/bin): the VM sees only the host's /usr and /etc"

# --- Cache: kernel and initramfs --------------------------------------------

# Modules to load at boot, in dependency order: virtio PCI transport, 9p over
# virtio, overlayfs, and virtio-console (the job's stdout/stderr ports); then what
# CRIU needs (`criu check` passes with them, integration/checkpoint.rs): the sock_diag
# families it dumps sockets with, tun and veth, and netfilter (nf_tables + the
# xtables compat layer, conntrack) for its network lock with iptables.
modules=(
    kernel/drivers/virtio/virtio_ring
    kernel/drivers/virtio/virtio
    kernel/drivers/virtio/virtio_pci_legacy_dev
    kernel/drivers/virtio/virtio_pci_modern_dev
    kernel/drivers/virtio/virtio_pci
    kernel/fs/netfs/netfs
    kernel/fs/fscache/fscache
    kernel/net/9p/9pnet
    kernel/net/9p/9pnet_virtio
    kernel/fs/9p/9p
    kernel/fs/overlayfs/overlay
    kernel/drivers/char/virtio_console
    kernel/net/unix/unix_diag
    kernel/net/ipv4/inet_diag
    kernel/net/ipv4/tcp_diag
    kernel/net/ipv4/udp_diag
    kernel/net/ipv4/raw_diag
    kernel/net/netlink/netlink_diag
    kernel/net/packet/af_packet_diag
    kernel/drivers/net/tun
    kernel/drivers/net/veth
    kernel/net/netfilter/nfnetlink
    kernel/crypto/crc32c_generic
    kernel/lib/libcrc32c
    kernel/net/netfilter/nf_tables
    kernel/net/netfilter/x_tables
    kernel/net/netfilter/nft_compat
    kernel/net/netfilter/xt_mark
    kernel/net/ipv4/netfilter/ip_tables
    kernel/net/ipv4/netfilter/iptable_filter
    kernel/net/ipv6/netfilter/ip6_tables
    kernel/net/ipv6/netfilter/ip6table_filter
    kernel/net/ipv4/netfilter/nf_defrag_ipv4
    kernel/net/ipv6/netfilter/nf_defrag_ipv6
    kernel/net/netfilter/nf_conntrack
    kernel/net/netfilter/nf_conntrack_netlink
)

ensure_tools() {
    local need=()
    command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
    command -v cpio >/dev/null || need+=(cpio)
    local ldd
    ldd=$(LC_ALL=C ldd /bin/busybox 2>&1) || true # exits 1 on a static binary
    [[ -x /bin/busybox && $ldd == *'not a dynamic'* ]] || need+=(busybox-static)
    ((${#need[@]})) || return 0
    echo "vm: installing ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    local apt=(apt-get -y -q -o DPkg::Lock::Timeout=300)
    "${apt[@]}" install --no-install-recommends "${need[@]}" >&2 ||
        { "${apt[@]}" update >&2 && "${apt[@]}" install --no-install-recommends "${need[@]}" >&2; }
}

# Uncompressed vmlinux from a bzImage: QEMU boots it directly (PVH entry), which
# is faster than having the emulated CPU decompress the bzImage.
extract_vmlinux() {
    local img=$1 out=$2 off magic tool
    for magic in xz zstd gzip; do
        case $magic in
        xz) tool=(xz -dc); off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$img" | head -1 | cut -d: -f1) ;;
        zstd) tool=(zstd -dcq); off=$(LC_ALL=C grep -obUaP '\x28\xb5\x2f\xfd' "$img" | head -1 | cut -d: -f1) ;;
        gzip) tool=(gzip -dc); off=$(LC_ALL=C grep -obUaP '\x1f\x8b\x08' "$img" | head -1 | cut -d: -f1) ;;
        esac
        [[ -n $off ]] || continue
        # The stream is followed by the rest of the bzImage: ignore the decompressor's complaint.
        tail -c +$((off + 1)) "$img" | "${tool[@]}" >"$out" 2>/dev/null || true
        [[ $(head -c 4 "$out" | od -An -c | tr -d ' ') == 177ELF ]] && return 0
    done
    return 1
}

# target/vm/kernel/{vmlinux,version,modules.list,modules/NN-name.ko}: from the
# linux-image package that linux-image-amd64 depends on, unpacked (never
# installed). Fetched again when the module list above changes.
prepare_kernel() {
    [[ -s $cache/kernel/vmlinux && $(cat "$cache/kernel/modules.list" 2>/dev/null) == "${modules[*]}" ]] && return 0
    local pkg tmp deb ver i m f
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -1)
    if [[ -z $pkg ]]; then
        apt-get -q update >&2
        pkg=$(apt-cache depends linux-image-amd64 | sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -1)
    fi
    [[ -n $pkg ]] || die "cannot tell which package linux-image-amd64 depends on"
    echo "vm: fetching $pkg (once, into $cache/kernel)" >&2
    tmp=$cache/kernel.tmp
    rm -rf "$tmp"
    mkdir -p "$tmp/deb"
    (cd "$tmp/deb" && apt-get -qq -o APT::Sandbox::User=root download "$pkg" >&2) || die "apt-get download $pkg failed"
    deb=$(echo "$tmp"/deb/*.deb)
    dpkg -x "$deb" "$tmp/x"
    ver=$(basename "$(echo "$tmp"/x/lib/modules/*)")
    extract_vmlinux "$tmp/x/boot/vmlinuz-$ver" "$tmp/vmlinux" || die "no vmlinux in $tmp/x/boot/vmlinuz-$ver"
    mkdir "$tmp/modules"
    i=10
    for m in "${modules[@]}"; do
        f=$(echo "$tmp/x/lib/modules/$ver/$m".ko*)
        case $f in
        *.ko) cp "$f" "$tmp/modules/$i-${m##*/}.ko" ;;
        *.ko.xz) xz -dc "$f" >"$tmp/modules/$i-${m##*/}.ko" ;;
        *.ko.zst) zstd -dcq "$f" >"$tmp/modules/$i-${m##*/}.ko" ;;
        *) die "module $m not in $pkg" ;;
        esac
        i=$((i + 1))
    done
    echo "$pkg $(basename "$deb") $ver" >"$tmp/version"
    echo "${modules[*]}" >"$tmp/modules.list"
    # Keep only what boots (the unpacked package is ~400 MB).
    rm -rf "$tmp/x" "$tmp/deb"
    rm -rf "$cache/kernel"
    mv "$tmp" "$cache/kernel"
}

# target/vm/initrd.gz: busybox-static as /init's shell, scripts/vm/init, the
# modules. Keyed by the hash of all its inputs and of this script.
prepare_initrd() {
    local key tmp
    key=$(cat "$vm_dir/init" "${BASH_SOURCE[0]}" /bin/busybox "$cache/kernel/version" \
        "$cache/kernel/modules.list" "$cache"/kernel/modules/*.ko | sha256sum | cut -d' ' -f1)
    [[ -s $cache/initrd.gz && $(cat "$cache/initrd.key" 2>/dev/null) == "$key" ]] && return 0
    tmp=$cache/initrd.tmp
    rm -rf "$tmp"
    mkdir -p "$tmp"/{bin,dev,proc,sys,newroot,modules}
    cp /bin/busybox "$tmp/bin/busybox"
    cp "$vm_dir/init" "$tmp/init"
    chmod 0755 "$tmp/init" "$tmp/bin/busybox"
    cp "$cache"/kernel/modules/*.ko "$tmp/modules/"
    # The kernel opens /dev/console for init before anything is mounted.
    mknod -m 0600 "$tmp/dev/console" c 5 1
    (cd "$tmp" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -1 >"$cache/initrd.gz.tmp"
    mv "$cache/initrd.gz.tmp" "$cache/initrd.gz"
    echo "$key" >"$cache/initrd.key"
    rm -rf "$tmp"
}

prepare() {
    mkdir -p "$cache"
    exec 9>"$cache/.lock"
    flock 9 # one preparer at a time; the others then find the cache ready
    ensure_tools
    prepare_kernel
    prepare_initrd
    exec 9>&-
}

# --- One run -------------------------------------------------------------------

prepare

run=$(mktemp -d "$cache/run.XXXXXX")
qemu_pid=
out_pids=()
# shellcheck disable=SC2317 # (called by the EXIT trap)
cleanup() {
    [[ -n $qemu_pid ]] && kill "$qemu_pid" 2>/dev/null
    # Close the output FIFOs for any `cat` still waiting in open(): a writer that
    # comes and goes wakes it with end-of-file.
    local f
    for f in "$run"/stdout.fifo "$run"/stderr.fifo; do
        [[ -p $f ]] && { exec {w}<>"$f"; exec {w}>&-; }
    done
    ((${#out_pids[@]})) && wait "${out_pids[@]}" 2>/dev/null
    if [[ -n ${RTVM_DEBUG:-} ]]; then
        echo "vm: console log kept in $run/console.log" >&2
        rm -f "$run"/*.fifo
    else
        rm -rf "$run"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The job, run by the VM's /bin/sh: quote every word.
q() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
{
    printf 'cd -- %s || exit 125\n' "$(q "$cwd")"
    for e in "${envs[@]}"; do printf 'export %s\n' "$(q "$e")"; done
    printf 'exec'
    for a in "$@"; do printf ' %s' "$(q "$a")"; done
    printf '\n'
} >"$run/job"

# The job's stdout/stderr reach ours through FIFOs read by `cat`, which write to
# our very file descriptors (so appending to a log file, a pipe or a terminal
# all behave as for a local command).
mkfifo "$run/stdout.fifo" "$run/stderr.fifo"
cat <"$run/stdout.fifo" &
out_pids+=($!)
cat <"$run/stderr.fifo" >&2 &
out_pids+=($!)

virtfs() { # TAG PATH [readonly]
    printf 'local,path=%s,mount_tag=%s,security_model=none,multidevs=remap%s' "$2" "$1" "${3:+,readonly=on}"
}

qemu=(
    qemu-system-x86_64 -accel tcg -cpu max -m 2048 -smp 2
    -nodefaults -no-user-config -display none -no-reboot
    -kernel "$cache/kernel/vmlinux" -initrd "$cache/initrd.gz"
    -append "console=ttyS0 ${RTVM_DEBUG:+rtvm_debug=1 ignore_loglevel }quiet panic=-1 cgroup_no_v1=all apparmor=0 mitigations=off rtvm_work=$repo rtvm_run=$run"
    -chardev "file,id=con,path=$run/console.log"
    -serial chardev:con
    -virtfs "$(virtfs usr /usr ro)"
    -virtfs "$(virtfs etc /etc ro)"
    -virtfs "$(virtfs work "$repo")"
    -device virtio-serial-pci
    -chardev "file,id=out,path=$run/stdout.fifo"
    -device "virtserialport,chardev=out,name=rtvm.stdout"
    -chardev "file,id=err,path=$run/stderr.fifo"
    -device "virtserialport,chardev=err,name=rtvm.stderr"
)

start=$SECONDS
qemu_status=0
timeout -k 10 "$timeout_s" "${qemu[@]}" </dev/null >"$run/qemu.log" 2>&1 &
qemu_pid=$!
wait "$qemu_pid" || qemu_status=$?
qemu_pid=

status=$(cat "$run/status" 2>/dev/null || true)
if [[ ! $status =~ ^[0-9]+$ ]]; then
    status=$(sed -n 's/^RTVM-EXIT \([0-9][0-9]*\)\r*$/\1/p' "$run/console.log" 2>/dev/null | tail -1) || true
fi
if [[ $status =~ ^[0-9]+$ ]]; then
    exit "$status"
fi
{
    if ((qemu_status == 124)); then
        echo "vm: timed out after ${timeout_s}s; end of the VM console:"
    else
        echo "vm: the VM ended after $((SECONDS - start))s without reporting an exit status (QEMU status $qemu_status); QEMU said:"
        sed 's/^/  /' "$run/qemu.log"
        echo "vm: end of the VM console:"
    fi
    [[ ! -f $run/console.log ]] || tail -n 40 "$run/console.log" | sed 's/^/  /'
} >&2
((qemu_status == 124)) && exit 124
exit 125
