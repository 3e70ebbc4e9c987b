#!/usr/bin/env bash
# Run CMD in the cgroup-v1-only view crun 1.8.1 accepts (see /work/shared/docs/testing.md):
#   unshare --mount --propagation private bench/privview.sh CMD [ARGS...]
# Must already be in a private mount namespace: /sys/fs/cgroup/unified is
# replaced by an empty tmpfs there only; the host is not touched.
set -euo pipefail
if [[ $(readlink /proc/self/ns/mnt) == $(readlink /proc/1/ns/mnt) ]]; then
    echo "privview: refusing to run in the host mount namespace" >&2
    exit 1
fi
if mountpoint -q /sys/fs/cgroup/unified; then
    umount /sys/fs/cgroup/unified
fi
mount -t tmpfs -o mode=755 tmpfs /sys/fs/cgroup/unified
exec "$@"
