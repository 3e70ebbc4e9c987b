#!/usr/bin/env bash
# Run CMD in a cgroup-v2-only view of this hybrid host (most hosts are v2 only):
#   unshare --mount --propagation private bench/v2view.sh CMD [ARGS...]
# Must already be in a private mount namespace: every cgroup mount under
# /sys/fs/cgroup is unmounted and the cgroup2 hierarchy (the host's
# /sys/fs/cgroup/unified: only hugetlb is free for it) is mounted at
# /sys/fs/cgroup there only; the host is not touched.
set -euo pipefail
if [[ $(readlink /proc/self/ns/mnt) == $(readlink /proc/1/ns/mnt) ]]; then
    echo "v2view: refusing to run in the host mount namespace" >&2
    exit 1
fi
umount -R /sys/fs/cgroup
mount -t cgroup2 cgroup2 /sys/fs/cgroup
exec "$@"
