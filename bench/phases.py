#!/usr/bin/env python3
"""Per-phase breakdown of `run /bin/true`: rt, crun and runc next to the floor (bench/floor.c).

Used by bench.py (--phases N); `phases.py TRACE` parses one trace. Each run is traced with
`strace -f --seccomp-bpf` on a few rare syscalls only (execve, execveat, clone, clone3, unshare,
pivot_root and exit_group), so everything else runs at full speed; the
timestamps of those events split the run into phases:
  prepare   start of the runtime -> the clone of the container's process (parse, state, cgroup)
  mounts    clone -> pivot_root (namespaces made, mounts, devices)
  finish    pivot_root -> exec of /bin/true (masks, read-only paths, credentials, handshakes)
  process   exec of /bin/true -> its exit
  teardown  its exit -> the runtime's exit (wait, delete, cgroup removal)
Medians over the iterations. Traced runs are slower than untraced ones (about 20 us per traced
event); the untraced totals come from bench.py.
"""
import json
import re
import statistics
import subprocess
import sys

PHASES = ["prepare", "mounts", "finish", "process", "teardown"]
EVENTS = "execve,execveat,clone,clone3,unshare,pivot_root,exit_group"


def parse(trace, true_path="/bin/true"):
    """Phase durations (ms) from one `strace -f -ttt` trace, or None if a marker is missing."""
    t_start = t_clone = t_pivot = t_exec = t_exit = t_end = None
    main = None
    child = None
    for line in trace.splitlines():
        m = re.match(r"(\d+)\s+(\d+\.\d+)\s+(.*)", line)
        if not m:
            continue
        pid, t, rest = int(m.group(1)), float(m.group(2)) * 1000, m.group(3)
        if main is None:
            main, t_start = pid, t
        if rest.startswith(("clone3(", "clone(", "unshare(")) and "CLONE_NEWPID" in rest:
            t_clone = t  # the last one that makes the container's PID namespace (runc: unshare)
        elif rest.startswith("pivot_root("):
            t_pivot = t
        elif rest.startswith("execve(\"%s\"" % true_path):
            t_exec, child = t, pid
        elif rest.startswith("exit_group(") and pid == child:
            t_exit = t
        elif rest.startswith("exit_group(") and pid == main:
            t_end = t
    marks = [t_start, t_clone, t_pivot, t_exec, t_exit, t_end]
    if any(x is None for x in marks):
        return None
    return {p: marks[i + 1] - marks[i] for i, p in enumerate(PHASES)}


def traced(argv, out):
    cmd = ["strace", "-f", "-qq", "-ttt", "--seccomp-bpf", "-e", "trace=" + EVENTS, "-o", out] + argv
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {r.returncode}: {r.stderr.decode()[-500:]}")
    with open(out) as f:
        return f.read()


def summary(runs):
    """Medians per phase (and of the totals) of each runtime's parsed runs."""
    out = {}
    for name, rs in runs.items():
        if rs:
            out[name] = {ph: statistics.median(r[ph] for r in rs) for ph in PHASES}
            out[name]["total"] = statistics.median(sum(r.values()) for r in rs)
            out[name]["n"] = len(rs)
    return out


if __name__ == "__main__":
    print(json.dumps(parse(open(sys.argv[1]).read()), indent=1))
