#!/usr/bin/env bash
# Syscall profile of one `run /bin/true` per runtime (strace -c -f), in the
# same private cgroup-v1 view as the benchmark:   sudo ./bench/strace.sh [rt|crun|runc ...]
# Prints strace's summary table and counts of mount/clone/... calls per runtime.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
[[ $(id -u) -eq 0 ]] || { echo "strace.sh: must run as root" >&2; exit 1; }
command -v strace >/dev/null || apt-get install -y -q strace >/dev/null
RT_BIN=${RT_BIN:-$REPO/target/$(rustc --print host-tuple)/release/rt}
(($#)) || set -- rt crun runc
TMP=$(mktemp -d /tmp/rt-bench.XXXXXX)
trap '"$HERE/cleanup.sh" "$TMP"' EXIT
trap 'exit 130' INT TERM HUP
"$REPO/scripts/mkrootfs.sh" "$TMP/rootfs"
runc spec --bundle "$TMP"
python3 - "$TMP" <<'PY'
import json, sys, os
t = sys.argv[1]
c = json.load(open(f"{t}/config.json"))
c["ociVersion"] = "1.0.2"
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
c["process"]["capabilities"].pop("ambient", None)
c["root"] = {"path": f"{t}/rootfs", "readonly": True}
for r in ("rt", "crun", "runc"):
    os.makedirs(f"{t}/b/{r}", exist_ok=True)
    c["linux"]["cgroupsPath"] = f"/rt-bench/p-{r}-strace"
    json.dump(c, open(f"{t}/b/{r}/config.json", "w"))
PY
declare -A bin=([rt]=$RT_BIN [crun]=$(command -v crun) [runc]=$(command -v runc))
for r in "$@"; do
    mkdir -p "$TMP/state/private/$r"
    unshare --mount --propagation private "$HERE/privview.sh" \
        python3 "$HERE/reaper.py" strace -f -c -S time -o "$TMP/$r.summary" \
        "${bin[$r]}" --root "$TMP/state/private/$r" run --bundle "$TMP/b/$r" "p-$r-strace" </dev/null
    unshare --mount --propagation private "$HERE/privview.sh" \
        python3 "$HERE/reaper.py" strace -f -qq -T -o "$TMP/$r.trace" \
        "${bin[$r]}" --root "$TMP/state/private/$r" run --bundle "$TMP/b/$r" "p-$r-strace2" </dev/null
    echo "== $r: strace -c -f (sorted by time)"
    head -25 "$TMP/$r.summary"
    tail -1 "$TMP/$r.summary"
    echo "== $r: counts from strace -f"
    for s in clone clone3 fork vfork execve mount umount2 open_tree move_mount mount_setattr pivot_root \
        unshare setns openat write read mkdir mkdirat seccomp prctl wait4 waitid; do
        n=$(grep -cE "^[0-9]+ +$s\(" "$TMP/$r.trace" || true)
        ((n)) && printf '%s=%s ' "$s" "$n"
    done
    echo; echo "processes: $(awk '{print $1}' "$TMP/$r.trace" | sort -u | wc -l)"
    [[ -n ${KEEP_TRACE:-} ]] && cp "$TMP/$r.trace" "$KEEP_TRACE.$r"
done
