#!/usr/bin/env bash
# Check the test VM of scripts/vm/run.sh: cgroup v2 with the controllers the
# tests need, the mounts, FIFOs and unix sockets in target/tmp, and a real
# container by Debian's runc (apt-get install runc) with memory and pids limits
# in an absolute cgroupsPath, whose cgroup files are checked from outside.
#
#   sudo scripts/vm/selftest.sh     (from the host: boots the VM and runs itself there)
#
# Prints one line per check; exits non-zero at the first failure.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)

# In the VM, the kernel command line names the run (see scripts/vm/run.sh).
if [[ $(cat /proc/cmdline) != *" rtvm_run="* ]]; then
    command -v runc >/dev/null || { echo "selftest: runc is missing: apt-get install -y runc" >&2; exit 1; }
    cd "$repo"
    exec "$repo/scripts/vm/run.sh" --timeout 300 -- "$repo/scripts/vm/selftest.sh"
fi

ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
fstype() { findmnt -no FSTYPE --mountpoint "$1" || true; }

# --- The VM itself ---
ctrls=$(cat /sys/fs/cgroup/cgroup.controllers)
for c in cpu cpuset io memory pids; do
    [[ " $ctrls " == *" $c "* ]] || fail "controller $c missing from cgroup.controllers ($ctrls)"
    [[ " $(cat /sys/fs/cgroup/cgroup.subtree_control) " == *" $c "* ]] || fail "controller $c not in the root's subtree_control"
done
[[ ! -e /proc/self/cgroup || $(cat /proc/self/cgroup) == 0::/* ]] || fail "cgroup v1 hierarchies present: $(cat /proc/self/cgroup)"
ok "cgroup v2 only, controllers: $ctrls"

for m in /:tmpfs /tmp:tmpfs /run:tmpfs /dev:devtmpfs /dev/pts:devpts /dev/shm:tmpfs /proc:proc \
    /sys:sysfs /sys/fs/cgroup:cgroup2 /usr:9p /etc:9p "$repo:9p" "$repo/target/tmp:tmpfs"; do
    [[ $(fstype "${m%:*}") == "${m##*:}" ]] || fail "${m%:*} is '$(fstype "${m%:*}")', not ${m##*:}"
done
ok "mounts: / /tmp /run /dev/shm $repo/target/tmp tmpfs; /usr /etc $repo 9p; devpts cgroup2"
# The tests' CARGO_TARGET_TMPDIR when .cargo/config.toml names a target.
for t in "$repo"/target/*-*-*/tmp; do
    [[ -d $t ]] || continue
    [[ $(fstype "$t") == tmpfs ]] || fail "$t is '$(fstype "$t")', not tmpfs"
    ok "mounts: $t tmpfs"
done
[[ $(id -u) == 0 && $HOME == /root && $(pwd -P) == "$repo" ]] || fail "uid $(id -u), HOME $HOME, cwd $(pwd -P)"
ok "root, HOME=$HOME, cwd $(pwd -P)"

dir=$repo/target/tmp/vm-selftest
rm -rf "$dir"
mkdir -p "$dir"
cleanup() {
    runc --root "$dir/runc" delete --force vmtest >/dev/null 2>&1 || true
    rmdir /sys/fs/cgroup/rt-vmtest/x /sys/fs/cgroup/rt-vmtest 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

# FIFOs and unix sockets: the test harness makes both under target/tmp.
mkfifo "$dir/fifo"
{ echo through-fifo >"$dir/fifo" & } 2>/dev/null
read -r got <"$dir/fifo"
wait
[[ $got == through-fifo ]] || fail "FIFO read '$got'"
if command -v python3 >/dev/null; then
    python3 - "$dir/sock" <<'PY' || fail "unix socket in target/tmp"
import socket, sys
l = socket.socket(socket.AF_UNIX); l.bind(sys.argv[1]); l.listen(1)
c = socket.socket(socket.AF_UNIX); c.connect(sys.argv[1]); a, _ = l.accept()
c.sendall(b"x"); assert a.recv(1) == b"x"
PY
    ok "FIFO and unix socket in $repo/target/tmp"
else
    ok "FIFO in $repo/target/tmp (no python3: unix socket not checked)"
fi

# --- A runc container with memory and pids limits ---
command -v runc >/dev/null || fail "runc missing (apt-get install -y runc on the host)"
"$repo/scripts/mkrootfs.sh" "$dir/bundle/rootfs"
cat >"$dir/bundle/config.json" <<'JSON'
{
  "ociVersion": "1.0.2",
  "process": {
    "terminal": false,
    "user": {"uid": 0, "gid": 0},
    "args": ["sh", "-c", "echo cgroup=$(cat /proc/self/cgroup); for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 2 & done 2>/dev/null; wait"],
    "env": ["PATH=/bin"],
    "cwd": "/",
    "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]},
    "noNewPrivileges": true
  },
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "vmtest",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "ro"]}
  ],
  "linux": {
    "cgroupsPath": "/rt-vmtest/x",
    "resources": {
      "memory": {"limit": 67108864},
      "pids": {"limit": 8}
    },
    "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}]
  }
}
JSON

state=$dir/runc
runc --root "$state" create --bundle "$dir/bundle" vmtest >"$dir/out" 2>&1 </dev/null ||
    fail "runc create: $(cat "$dir/out")"
cg=/sys/fs/cgroup/rt-vmtest/x
[[ -d $cg ]] || fail "no cgroup $cg"
mem=$(cat $cg/memory.max)
pids=$(cat $cg/pids.max)
[[ $mem == 67108864 && $pids == 8 ]] || fail "$cg: memory.max=$mem pids.max=$pids"
pid=$(runc --root "$state" state vmtest | sed -n 's/^ *"pid": \([0-9]*\),*/\1/p')
grep -qx "$pid" $cg/cgroup.procs || fail "init $pid not in $cg/cgroup.procs"
ok "runc create: $cg memory.max=$mem pids.max=$pids, init (pid $pid) in it"

runc --root "$state" start vmtest
for _ in $(seq 300); do
    [[ $(runc --root "$state" state vmtest 2>/dev/null) == *'"stopped"'* ]] && break
    sleep 0.1
done
events=$(cat $cg/pids.events)
runc --root "$state" delete vmtest
out=$(cat "$dir/out")
[[ $out == *"cgroup=0::/"* ]] || fail "container output: '$out'"
ok "runc start (pivot_root into $dir/bundle/rootfs), output '$out'"
[[ $events =~ max\ [1-9] ]] || fail "pids.max not enforced: pids.events '$events'"
ok "pids.max enforced: pids.events '$events' (a fork beyond 8 tasks refused)"
[[ ! -e $cg ]] || fail "$cg left behind by runc delete"
echo "selftest: all passed"
