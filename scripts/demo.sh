#!/usr/bin/env bash
# Build rt and run one demo container from a busybox bundle.
#
#   sudo ./scripts/demo.sh
#
# Works on a fresh Debian machine: installs the few packages it needs, builds
# target/<host tuple>/release/rt (static, see .cargo/config.toml), prepares ./demo/bundle (busybox rootfs + config.json made
# by `rt spec`), runs the container in the foreground and exits with its
# status. The container's state (./demo/state) is removed on exit; the bundle
# is kept and reused by the next run.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

say() { printf '\n==> %s\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root: sudo ./scripts/demo.sh"

# Install the Debian packages that are not installed yet.
ensure_pkgs() {
    local missing=() p
    for p in "$@"; do
        [[ $(dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null) == *"ok installed"* ]] || missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    say "Installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    local apt=(apt-get -y -q -o DPkg::Lock::Timeout=300)
    "${apt[@]}" install "${missing[@]}" || { "${apt[@]}" update && "${apt[@]}" install "${missing[@]}"; }
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

ensure_pkgs busybox-static libseccomp-dev pkg-config gcc python3
find_cargo

say "Building rt (cargo build --release)"
cargo build --release
rt=${CARGO_TARGET_DIR:-$repo/target}/$(rustc --print host-tuple)/release/rt
[[ -x $rt ]] || die "$rt was not built"

bundle=$repo/demo/bundle
state=$repo/demo/state
id=rt-demo-$$

say "Preparing the bundle at ./demo/bundle"
mkdir -p "$bundle"
"$repo/scripts/mkrootfs.sh" "$bundle/rootfs"
rm -f "$bundle/config.json"
"$rt" spec --bundle "$bundle"
python3 - "$bundle/config.json" "/rt-demo/demo-$$" <<'PY'
import json, sys
path, cgroups_path = sys.argv[1], sys.argv[2]
with open(path) as f:
    config = json.load(f)
config["process"]["terminal"] = False
config["process"]["args"] = [
    "sh", "-c",
    "echo hello from rt; hostname; id; cat /proc/self/cgroup | head -3; ls /",
]
config["hostname"] = "rt-demo"
config.setdefault("linux", {})["cgroupsPath"] = cgroups_path
with open(path, "w") as f:
    json.dump(config, f, indent=2)
    f.write("\n")
PY

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    "$rt" --root "$state" delete --force "$id" >/dev/null 2>&1 || true
    rm -rf -- "$state"
    # rt removes the container's cgroup; drop the empty /rt-demo parents too
    # (rmdir only ever removes empty directories).
    local d
    for d in /sys/fs/cgroup/rt-demo /sys/fs/cgroup/*/rt-demo; do
        if [[ -d $d ]]; then
            rmdir -- "$d/demo-$$" "$d" 2>/dev/null || true
        fi
    done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "Running: rt --root ./demo/state run --bundle ./demo/bundle $id"
status=0
"$rt" --root "$state" run --bundle "$bundle" "$id" || status=$?
say "Container $id exited with status $status"
exit "$status"
