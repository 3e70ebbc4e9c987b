#!/usr/bin/env bash
# Run rt's whole test suite (unit tests and the root-only integration tests).
#
#   sudo ./scripts/test.sh [ARGS...]
#
# ARGS are passed to the test binaries, after `--` (e.g. a test name filter).
# Everything is built with the cargo feature `test-pause` (the pause points of the crash-safety
# tests, src/testpoint.rs), which the binary users run does not have.
# The layer check (scripts/layers.sh) runs first; with RT_LINT=1 (CI sets it), `cargo fmt --check`
# and `cargo clippy --all-targets -- -D warnings` run next.
# After the tests, config.json loading is fuzzed for RT_FUZZ_SECONDS (default 30) with
# scripts/fuzz.sh (cargo-fuzz, installed when missing); RT_SKIP_FUZZ=1 skips it.
# Then the OCI runtime-tools validation suite runs on this (hybrid v1) host (scripts/conformance.sh,
# judged by integration/conformance/expected-failures.txt). Last, one boot of a cgroup-v2-only VM
# (scripts/vm/run.sh) runs the cgroups and exec integration tests again, then the same suite against
# the same debug rt (judged by integration/conformance/expected-failures-v2.txt; results in
# target/conformance/results/rt-v2/). RT_SKIP_CONFORMANCE=1 skips the suite on the host and in the
# VM; RT_SKIP_VM=1 skips the VM.
# Exits with cargo test's status.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

say() { printf '\n==> %s\n' "$*"; }
die() { echo "test: $*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root (the integration tests create containers): sudo ./scripts/test.sh"

# Install the Debian packages that are not installed yet; leading options go to apt-get
# (ensure_pkgs --no-install-recommends PKG...).
ensure_pkgs() {
    local opts=() missing=() p
    while [[ ${1:-} == -* ]]; do
        opts+=("$1")
        shift
    done
    for p in "$@"; do
        [[ $(dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null) == *"ok installed"* ]] || missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    say "Installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    local apt=(apt-get -y -q -o DPkg::Lock::Timeout=300)
    "${apt[@]}" install "${opts[@]}" "${missing[@]}" ||
        { "${apt[@]}" update && "${apt[@]}" install "${opts[@]}" "${missing[@]}"; }
}

# Find cargo: on PATH, in root's ~/.cargo/bin, or (under sudo) the invoking
# user's rustup installation, used in place.
find_cargo() {
    local home
    PATH=$PATH:${HOME:-/root}/.cargo/bin
    command -v cargo >/dev/null && return 0
    if [[ -n ${SUDO_USER:-} ]]; then
        home=$(getent passwd "$SUDO_USER" | cut -d: -f6)
        if [[ -x $home/.cargo/bin/cargo ]]; then
            PATH=$PATH:$home/.cargo/bin
            [[ -d $home/.rustup ]] && export RUSTUP_HOME=${RUSTUP_HOME:-$home/.rustup}
            return 0
        fi
    fi
    die "cargo not found: install a Rust toolchain (https://rustup.rs) first"
}

ensure_pkgs busybox-static libseccomp-dev pkg-config gcc libc6-dev iproute2 util-linux uidmap passwd procps
# runc: the control of integration/rootfs.rs's propagation test (and of the cri test).
ensure_pkgs runc
# criu: integration/checkpoint.rs (run in the VM; skipped on a host kernel CRIU 3.17 cannot dump).
ensure_pkgs --no-install-recommends criu
# The managers tests drive real podman (with conmon), containerd (with ctr) and dockerd 20.10
# (docker.io, on Debian's containerd and runc; without its recommends: apparmor, needrestart...);
# the cri test drives containerd's CRI plugin (the CNI loopback plugin, a Python client in a
# venv under target/, its packages from PyPI).
if [[ -z ${RT_SKIP_MANAGERS:-} ]]; then
    ensure_pkgs podman containerd containernetworking-plugins python3-venv
    ensure_pkgs --no-install-recommends docker.io
fi
find_cargo

# The layers of docs/design.md: no module imports one above it (cheap, so always).
say "Layer check (scripts/layers.sh)"
scripts/layers.sh

if [[ ${RT_LINT:-0} == 1 ]]; then
    say "cargo fmt --check"
    cargo fmt --check
    say "cargo clippy --all-targets -- -D warnings (without and with the test-pause feature)"
    cargo clippy --all-targets -- -D warnings
    cargo clippy --all-targets --features test-pause -- -D warnings
fi

# After the run: nothing of the tests may be left on the host. Leaks fail the
# run; the shared cgroup prefix the harness made is removed either way.
check_leaks() {
    local leaks=0 d
    for d in /sys/fs/cgroup/*/rt-test/*/ /sys/fs/cgroup/rt-test/*/; do
        [[ -d $d && $d != */process_api/* ]] || continue
        echo "test: leaked cgroup $d" >&2
        leaks=1
    done
    local new
    new=$(comm -13 <(printf '%s\n' "$mounts_before") <(mount_points))
    if [[ -n $new ]]; then
        printf 'test: leaked mount %s\n' $new >&2
        leaks=1
    fi
    # The tests' CARGO_TARGET_TMPDIR (.cargo/config.toml names the target).
    local state
    state=target/$(rustc --print host-tuple)/tmp/rt-state
    # (The compiled seccomp filters kept there are a cache, not state.)
    if [[ -d $state ]] && [[ -n $(ls -A -I '.rt-cache:seccomp' "$state") ]]; then
        echo "test: leaked container state: $(ls -A -I '.rt-cache:seccomp' "$state")" >&2
        leaks=1
    fi
    # podman's tests use rt's default root.
    new=$(comm -13 <(printf '%s\n' "$run_rt_before") <(ls -A /run/rt 2>/dev/null))
    if [[ -n $new ]]; then
        printf 'test: left in /run/rt: %s\n' $new >&2
        leaks=1
    fi
    # The rootless tests' users (rtrl<pid>x<n>) and their directories under /tmp.
    local u
    for u in $(cut -d: -f1 /etc/passwd | grep '^rtrl[0-9]*x[0-9]*$'); do
        echo "test: leaked user $u" >&2
        leaks=1
    done
    for d in /tmp/rtrl*; do
        [[ -e $d ]] || continue
        echo "test: leaked rootless test directory $d" >&2
        leaks=1
    done
    for d in /sys/fs/cgroup/*/rt-test /sys/fs/cgroup/rt-test; do
        [[ -d $d ]] && rmdir "$d" 2>/dev/null
    done
    restore_subtree_control
    return "$leaks"
}

# rt enables the v2 controllers a config uses in the ancestors of its cgroup; on a
# hybrid host that includes the unified root. Give the host back what it had.
unified=/sys/fs/cgroup/unified
[[ -f $unified/cgroup.subtree_control ]] && subtree_before=$(<"$unified/cgroup.subtree_control")
restore_subtree_control() {
    [[ -f $unified/cgroup.subtree_control ]] || return 0
    local c
    for c in $(<"$unified/cgroup.subtree_control"); do
        [[ " $subtree_before " == *" $c "* ]] || echo "-$c" >"$unified/cgroup.subtree_control" ||
            echo "test: could not disable $c in $unified/cgroup.subtree_control" >&2
    done
}

mount_points() { cut -d' ' -f5 /proc/self/mountinfo | sort; }
mounts_before=$(mount_points)
run_rt_before=$(ls -A /run/rt 2>/dev/null || true)

say "cargo test --features test-pause -- --test-threads=4 $*"
status=0
cargo test --features test-pause -- --test-threads=4 "$@" || status=$?
say "Checking for leaked cgroups, mounts, state and test users"
check_leaks || { ((status)) || status=1; }

# The config fuzzer, bounded in time; its log is long, so only its end is shown.
if [[ ${RT_SKIP_FUZZ:-0} != 1 ]]; then
    secs=${RT_FUZZ_SECONDS:-30}
    say "Fuzzing config.json loading for $secs s (scripts/fuzz.sh)"
    mkdir -p target
    if scripts/fuzz.sh "$secs" >target/fuzz-config.log 2>&1; then
        grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' target/fuzz-config.log || true
    else
        tail -n 60 target/fuzz-config.log
        echo "test: the fuzzer failed (full log: target/fuzz-config.log; input in fuzz/artifacts/config/)" >&2
        ((status)) || status=1
    fi
fi

# The OCI runtime-tools validation suite against the rt the tests used: every executable not in
# integration/conformance/expected-failures.txt must pass. After the leak check, which restored
# the unified hierarchy's controllers (the run mounts hugetlb as a v1 hierarchy for itself).
# RT_SKIP_CONFORMANCE=1 skips it.
host_tuple=$(rustc --print host-tuple)
if [[ ${RT_SKIP_CONFORMANCE:-0} != 1 ]]; then
    say "OCI runtime-tools validation suite (scripts/conformance.sh)"
    RT_BIN=target/$host_tuple/debug/rt scripts/conformance.sh || { ((status)) || status=1; }
fi

# The cgroup tests again, in a cgroup-v2-only VM (this host is hybrid v1), then the validation
# suite in the same boot (scripts/vm/v2-tests.sh --conformance). The VM has no network and no
# ../shared: the suite and its Go toolchain are built here first (a no-op when the host run above
# built them), and the VM runs that build (scripts/conformance.sh --no-build). Under emulation the
# suite takes about 4–5 minutes there (the VM step about 5 in all, boot and tests included).
# RT_SKIP_VM=1 skips it for a quick local run; CI never sets it.
if [[ ${RT_SKIP_VM:-0} != 1 ]]; then
    vm_conf=()
    if [[ ${RT_SKIP_CONFORMANCE:-0} != 1 ]]; then
        if scripts/conformance.sh --build-only; then
            vm_conf=(--conformance "target/$host_tuple/debug/rt")
        else
            echo "test: cannot build the validation suite; the VM runs without it" >&2
            ((status)) || status=1
        fi
    fi
    say "cgroup v2 tests${vm_conf:+ and the validation suite} in a VM (scripts/vm/run.sh)"
    # exec too: on v2 its process is born in the cgroup (CLONE_INTO_CGROUP); checkpoint: CRIU
    # works on the VM's 6.1 kernel, not on the host's (RT_REQUIRE_CRIU=1: no skipping there).
    bins=()
    for t in cgroups exec checkpoint; do
        bin=$(cargo test --features test-pause --no-run --test $t --message-format=json 2>/dev/null |
            grep '"kind":\["test"\]' | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)
        [[ -x $bin ]] || die "cannot find the $t test binary"
        bins+=("$bin")
    done
    scripts/vm/run.sh --timeout 1800 --env RUST_BACKTRACE=1 --env RT_REQUIRE_CRIU=1 -- \
        scripts/vm/v2-tests.sh "${vm_conf[@]}" "${bins[@]}" -- "$@" ||
        { ((status)) || status=1; }
fi
exit "$status"
