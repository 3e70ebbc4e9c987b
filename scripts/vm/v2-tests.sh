#!/usr/bin/env bash
# Run integration test binaries inside the cgroup-v2-only VM, then fail if any
# test cgroup is left behind there (the host's leak check cannot see the VM).
#
#   scripts/vm/run.sh -- scripts/vm/v2-tests.sh TEST_BINARY... [-- TEST_ARGS...]
#
# scripts/test.sh calls it with the cgroups and exec test binaries.
set -euo pipefail

bins=()
while (($#)) && [[ $1 != -- ]]; do
    bins+=("$1")
    shift
done
(($#)) && shift

status=0
for b in "${bins[@]}"; do
    echo "==> $(basename "$b") (cgroup v2 VM)"
    "$b" --test-threads=2 "$@" || status=$?
done

for d in /sys/fs/cgroup/rt-test/*/; do
    [[ -d $d ]] || continue
    echo "v2-tests: leaked cgroup $d" >&2
    status=1
done
[[ -d /sys/fs/cgroup/rt-test ]] && rmdir /sys/fs/cgroup/rt-test
exit "$status"
