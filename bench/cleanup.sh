#!/usr/bin/env bash
# Remove everything a benchmark run left behind:  bench/cleanup.sh TMPDIR
# Containers in TMPDIR/state/<view>/<runtime> are deleted with that runtime's
# `delete --force` (in a private mount namespace with the view the run used:
# cgroup-v1-only or cgroup-v2-only); processes still in /sys/fs/cgroup/*/rt-bench
# (only containers this benchmark started) are killed by pid; the rt-bench
# cgroups are removed leaves first; mounts under TMPDIR are unmounted; TMPDIR
# is removed. Never touches any other cgroup.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tmp=${1:?usage: cleanup.sh TMPDIR}
[[ $tmp == /tmp/rt-bench.* && -d $tmp ]] || { echo "cleanup: refusing $tmp" >&2; exit 1; }

declare -A bin=([rt]=$tmp/bin/rt [crun]=$(command -v crun) [runc]=$(command -v runc))
for view in private v2 host; do
    for r in rt crun runc; do
        root=$tmp/state/$view/$r
        [[ -d $root ]] || continue
        for d in "$root"/*/; do
            [[ -d $d ]] || continue
            id=$(basename "$d")
            b=${bin[$r]}
            [[ -x $b ]] || continue
            if [[ $view == private || $view == v2 ]]; then
                view_sh=$HERE/privview.sh
                [[ $view == v2 ]] && view_sh=$HERE/v2view.sh
                unshare --mount --propagation private "$view_sh" \
                    "$b" --root "$root" delete --force "$id" >/dev/null 2>&1
            else
                "$b" --root "$root" delete --force "$id" >/dev/null 2>&1
            fi
        done
    done
done

# Leftover processes in our cgroups, then the cgroups themselves.
shopt -s nullglob
for try in 1 2 3 4 5; do
    left=0
    for procs in /sys/fs/cgroup/*/rt-bench/*/cgroup.procs /sys/fs/cgroup/*/rt-bench/cgroup.procs; do
        while read -r pid; do
            [[ -n $pid ]] && { kill -KILL "$pid" 2>/dev/null; left=1; }
        done <"$procs"
    done
    for top in /sys/fs/cgroup/*/rt-bench; do
        find "$top" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
    dirs=(/sys/fs/cgroup/*/rt-bench)
    ((${#dirs[@]} == 0)) && break
    sleep 0.2
done
dirs=(/sys/fs/cgroup/*/rt-bench)
((${#dirs[@]} == 0)) || echo "cleanup: could not remove ${dirs[*]}" >&2

# Anything mounted under the temp dir (deepest first), then the dir.
awk -v t="$tmp" '$5 == t || index($5, t "/") == 1 { print $5 }' /proc/self/mountinfo |
    sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
rm -rf -- "$tmp"
