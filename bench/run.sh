#!/usr/bin/env bash
# Side-by-side benchmark of rt vs crun vs runc (issues 9 and 21).
#
#   sudo ./bench/run.sh            # full run (~10 minutes)
#   ITERATIONS=5 SCALE=10 SCALE_ROUNDS=1 RSS_SAMPLES=3 PHASES=3 sudo -E ./bench/run.sh   # quick check
#
# Installs crun, runc, time and gcc from Debian, builds rt (cargo build --release) and
# the floor (bench/floor.c: the kernel work of `run /bin/true` alone), builds a busybox rootfs
# with scripts/mkrootfs.sh, then:
#  1. in a private mount namespace with the cgroup-v1-only view crun 1.8.1
#     needs (see /work/shared/docs/testing.md), runs rt, crun and runc
#     interleaved on the same bundles, the floor with them, and PHASES runs of
#     each recorded with tracepoints for the per-phase breakdown (bench/phases.py);
#  2. the same in a private mount namespace where /sys/fs/cgroup is the
#     cgroup2 hierarchy alone (bench/v2view.sh: the view of a v2-only host);
#  3. runs rt alone on the host cgroup layout as it is (hybrid).
# The cgroup-v2 VM (scripts/vm/) is not a column: it runs under QEMU's software emulation
# (TCG: no usable KVM here), where a container lifecycle takes 1-3 s, so its times say nothing
# about a real v2 host.
# Prints a markdown table (also saved as bench/results/latest.md) with medians,
# min-max and ratios to crun. Everything it creates (containers, cgroups
# /sys/fs/cgroup/*/rt-bench, the temp dir) is removed on exit, even when
# interrupted.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
ITERATIONS=${ITERATIONS:-50}
WARMUP=${WARMUP:-3}
SCALE=${SCALE:-100}
RSS_SAMPLES=${RSS_SAMPLES:-10}
SCALE_ROUNDS=${SCALE_ROUNDS:-3}
HOST_ITERATIONS=${HOST_ITERATIONS:-$ITERATIONS}
PHASES=${PHASES:-20}

die() { echo "bench: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "must run as root (sudo ./bench/run.sh)"

# --- tools ------------------------------------------------------------------
need=()
command -v crun >/dev/null || need+=(crun)
command -v runc >/dev/null || need+=(runc)
[[ -x /usr/bin/time ]] || need+=(time)
command -v strip >/dev/null || need+=(binutils)
command -v unshare >/dev/null || need+=(util-linux)
command -v gcc >/dev/null || need+=(gcc)
if ((${#need[@]})); then
    echo "bench: installing ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "${need[@]}" >/dev/null ||
        { apt-get update -q >/dev/null && apt-get install -y -q "${need[@]}" >/dev/null; }
fi

if [[ -z ${RT_BIN:-} ]]; then
    (cd "$REPO" && cargo build --release -q) || die "cargo build --release failed"
    RT_BIN=$REPO/target/$(rustc --print host-tuple)/release/rt
fi
[[ -x $RT_BIN ]] || die "no rt binary at $RT_BIN"

# --- temp dir and cleanup ----------------------------------------------------
unified=/sys/fs/cgroup/unified
subtree_before=$(cat "$unified/cgroup.subtree_control" 2>/dev/null || true)
TMP=$(mktemp -d /tmp/rt-bench.XXXXXX)
child=
cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM HUP
    if [[ -n $child ]]; then kill -TERM "$child" 2>/dev/null; wait "$child" 2>/dev/null; fi
    "$HERE/cleanup.sh" "$TMP" || true
    # The runtimes enable the controllers a bundle uses in the ancestors of its cgroup: in the
    # v2 view that is the host's unified root. Give it back what it had.
    local c
    for c in $(cat "$unified/cgroup.subtree_control" 2>/dev/null); do
        [[ " $subtree_before " == *" $c "* ]] || echo "-$c" >"$unified/cgroup.subtree_control" ||
            echo "bench: could not disable $c in $unified/cgroup.subtree_control" >&2
    done
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# Run a command in the background and wait for it, so that a signal to this
# script reaches the trap at once (and is forwarded to the command).
run_bg() {
    "$@" &
    child=$!
    local rc=0
    wait "$child" || rc=$?
    child=
    return "$rc"
}

[[ -z $(ls -d /sys/fs/cgroup/*/rt-bench 2>/dev/null) ]] ||
    die "/sys/fs/cgroup/*/rt-bench exists: another benchmark running? (remove it if not)"

mkdir -p "$TMP/bin"
cp "$RT_BIN" "$TMP/bin/rt" # a snapshot: the tree may be rebuilt meanwhile
gcc -O2 -Wall -o "$TMP/bin/floor" "$HERE/floor.c" || die "cannot build bench/floor.c"
CRUN=$(command -v crun)
RUNC=$(command -v runc)
"$REPO/scripts/mkrootfs.sh" "$TMP/rootfs"

# Binary sizes (stripped copies).
for r in rt crun runc; do
    case $r in rt) b=$TMP/bin/rt ;; crun) b=$CRUN ;; runc) b=$RUNC ;; esac
    strip -o "$TMP/bin/$r.stripped" "$b"
    echo "$r $(stat -c %s "$TMP/bin/$r.stripped") $(stat -c %s "$b") $( (ldd "$b" 2>&1 || true) | grep -c '=>')" 
done >"$TMP/sizes.txt"

versions="rt $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$REPO" diff --quiet HEAD -- src Cargo.toml 2>/dev/null || echo '+dirty'); $(crun --version | head -1); $(runc --version | head -1)"

common=(--state-tmpfs --tmp "$TMP" --rootfs "$TMP/rootfs" --warmup "$WARMUP" --scale "$SCALE" --scale-rounds "$SCALE_ROUNDS" --rss-samples "$RSS_SAMPLES")
views=(--floor "$TMP/bin/floor" --phases "$PHASES")
start=$(date +%s)
all=(--runtime rt="$TMP/bin/rt" --runtime crun="$CRUN" --runtime runc="$RUNC")
echo "bench: 1/3 rt, crun, runc interleaved, private cgroup-v1 view ($ITERATIONS iterations)" >&2
run_bg unshare --mount --propagation private "$HERE/privview.sh" \
    python3 "$HERE/reaper.py" python3 "$HERE/bench.py" --view private "${common[@]}" \
    --iterations "$ITERATIONS" "${all[@]}" "${views[@]}" \
    --out "$TMP/private.json" || echo "bench: private-view run exited $?" >&2
echo "bench: 2/3 rt, crun, runc interleaved, private cgroup-v2-only view ($ITERATIONS iterations)" >&2
run_bg unshare --mount --propagation private "$HERE/v2view.sh" \
    python3 "$HERE/reaper.py" python3 "$HERE/bench.py" --view v2 "${common[@]}" \
    --iterations "$ITERATIONS" "${all[@]}" "${views[@]}" \
    --out "$TMP/v2.json" || echo "bench: v2-view run exited $?" >&2
echo "bench: 3/3 rt on the host cgroup layout ($HOST_ITERATIONS iterations)" >&2
run_bg unshare --mount --propagation private \
    python3 "$HERE/reaper.py" python3 "$HERE/bench.py" --view host "${common[@]}" \
    --iterations "$HOST_ITERATIONS" --runtime rt="$TMP/bin/rt" \
    --out "$TMP/host.json" || echo "bench: host run exited $?" >&2
elapsed=$(($(date +%s) - start))

mkdir -p "$HERE/results"
python3 "$HERE/report.py" --private "$TMP/private.json" --v2 "$TMP/v2.json" --host "$TMP/host.json" --sizes "$TMP/sizes.txt" \
    --versions "$versions" --elapsed "$elapsed" | tee "$HERE/results/latest.md"
