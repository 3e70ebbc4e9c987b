#!/usr/bin/env bash
# Run integration test binaries inside the cgroup-v2-only VM, then (with --conformance) the OCI
# runtime-tools validation suite against rt there, then fail if any test cgroup is left behind
# (the host's leak check cannot see the VM).
#
#   scripts/vm/run.sh -- scripts/vm/v2-tests.sh [--conformance RT_BIN] TEST_BINARY... [-- TEST_ARGS...]
#
# scripts/test.sh boots the VM once and calls it with the cgroups and exec test binaries and
# --conformance target/<host tuple>/debug/rt, after `scripts/conformance.sh --build-only` on the
# host: the VM has no network and no ../shared, so it runs the Go toolchain and the suite built
# there (scripts/conformance.sh --no-build). Failures are judged against
# integration/conformance/expected-failures-v2.txt (not the host's list); the results go to
# target/conformance/results/rt-v2/ on the shared work tree, to be read on the host afterwards.
# The run's own temp dir and bundles are under the VM's /tmp (a tmpfs: FIFOs, sockets and
# device nodes cannot be made on the 9p share). flock on the share (the suite's
# target/conformance/.lock) works in the VM, but only within the VM: QEMU's 9p server grants
# locks without taking them on the host, so a conformance run on the host does not block this
# one (nor need to: the VM's cgroups are its own).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

conf_rt=
if [[ ${1:-} == --conformance ]]; then
    (($# >= 2)) || { echo "v2-tests: --conformance wants the rt binary" >&2; exit 2; }
    conf_rt=$(readlink -f "$2")
    shift 2
fi
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

if [[ -n $conf_rt ]]; then
    echo "==> OCI runtime-tools validation suite (cgroup v2 VM, scripts/conformance.sh --no-build)"
    start=$SECONDS
    RT_BIN=$conf_rt \
        CONF_EXPECTED=$repo/integration/conformance/expected-failures-v2.txt \
        CONF_RESULTS=$repo/target/conformance/results/rt-v2 \
        "$repo/scripts/conformance.sh" --no-build || status=$?
    echo "v2-tests: the validation suite took $((SECONDS - start))s in the VM"
fi

for d in /sys/fs/cgroup/rt-test/*/ /sys/fs/cgroup/cgrouptest/ /sys/fs/cgroup/testdir/; do
    [[ -d $d ]] || continue
    echo "v2-tests: leaked cgroup $d" >&2
    status=1
done
[[ -d /sys/fs/cgroup/rt-test ]] && rmdir /sys/fs/cgroup/rt-test
exit "$status"
