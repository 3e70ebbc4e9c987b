#!/usr/bin/env python3
"""Per-phase breakdown of `run /bin/true`: rt, crun and runc next to the floor (bench/floor.c).

Used by bench.py (--phases N). Each run is recorded with the kernel's own tracepoints (tracefs:
sched_process_exec, sched_process_fork, sched_process_exit and sys_enter_pivot_root), which
cost a few hundred nanoseconds each and do not stop the process, unlike strace, whose ptrace
stops multiplied the time of a clone into new namespaces. The events split the run into:
  prepare   exec of the runtime -> fork of the process that pivots (parse, state, cgroup)
  mounts    that fork -> pivot_root (namespaces made, mounts, devices)
  finish    pivot_root -> exec of /bin/true (masks, read-only paths, credentials, handshakes)
  process   exec of /bin/true -> its exit
  teardown  its exit -> the runtime's exit (wait, delete, cgroup removal)
Medians over the iterations.
"""
import os
import re
import statistics
import subprocess

PHASES = ["prepare", "mounts", "finish", "process", "teardown"]
TRACING = "/sys/kernel/tracing"
EVENTS = ["sched/sched_process_exec", "sched/sched_process_fork", "sched/sched_process_exit",
          "syscalls/sys_enter_pivot_root"]
# "<comm>-<pid> [cpu] <flags> <seconds>: <event>: <fields>"; a syscall event prints as
# "sys_pivot_root(new_root: ..., put_old: ...)".
LINE = re.compile(r"^\s*.+?-(\d+)\s+\[\d+\]\s+\S+\s+([\d.]+):\s+(\w+)[:(]\s*(.*)$")


class Tracer:
    """The tracepoints above, enabled for the benchmark and put back as they were after."""

    def __init__(self):
        self.mounted = False
        if not os.path.exists(os.path.join(TRACING, "trace")):
            subprocess.run(["mount", "-t", "tracefs", "tracefs", TRACING], check=True)
            self.mounted = True
        self.before = {e: self.read(f"events/{e}/enable") for e in EVENTS}
        self.write("tracing_on", "0")
        for e in EVENTS:
            self.write(f"events/{e}/enable", "1")

    def read(self, f):
        with open(os.path.join(TRACING, f)) as fh:
            return fh.read().strip()

    def write(self, f, v):
        with open(os.path.join(TRACING, f), "w") as fh:
            fh.write(v)

    def record(self, argv, timeout=60):
        """Run argv with tracing on; its events as (pid, seconds, event, fields)."""
        self.write("trace", "")
        self.write("tracing_on", "1")
        try:
            r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, timeout=timeout)
        finally:
            self.write("tracing_on", "0")
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: exit {r.returncode}: {r.stderr.decode()[-500:]}")
        events = []
        for line in self.read("trace").splitlines():
            m = LINE.match(line)
            if m:
                events.append((int(m.group(1)), float(m.group(2)) * 1000, m.group(3), m.group(4)))
        return events

    def close(self):
        self.write("tracing_on", "0")
        for e, v in self.before.items():
            self.write(f"events/{e}/enable", v)
        self.write("trace", "")
        if self.mounted:
            subprocess.run(["umount", TRACING], check=False)


def field(fields, name):
    m = re.search(r"\b%s=(\S+)" % name, fields)
    return m.group(1) if m else None


def parse(events, binary, true_path="/bin/true"):
    """Phase durations (ms) of one run, or None if a marker is missing."""
    main = t_start = None
    family = set()
    forked_at = {}
    t_pivot = pivoter = t_exec = execd = t_exit = t_end = None
    for pid, t, ev, f in events:
        if ev == "sched_process_exec" and main is None and field(f, "filename") == binary:
            main, t_start = pid, t
            family.add(pid)
        elif main is None:
            continue
        elif ev == "sched_process_fork" and int(field(f, "pid")) in family:
            child = int(field(f, "child_pid"))
            family.add(child)
            forked_at[child] = t
        elif ev == "sys_pivot_root" and pid in family and t_pivot is None:
            t_pivot, pivoter = t, pid
        elif ev == "sched_process_exec" and pid in family and field(f, "filename") == true_path:
            t_exec, execd = t, pid
        elif ev == "sched_process_exit" and pid == execd and t_exit is None:
            t_exit = t
        elif ev == "sched_process_exit" and pid == main:
            t_end = t
    t_clone = forked_at.get(pivoter)
    marks = [t_start, t_clone, t_pivot, t_exec, t_exit, t_end]
    if any(x is None for x in marks):
        return None
    return {p: marks[i + 1] - marks[i] for i, p in enumerate(PHASES)}


def summary(runs):
    """Medians per phase (and of the totals) of each runtime's parsed runs."""
    out = {}
    for name, rs in runs.items():
        if rs:
            out[name] = {ph: statistics.median(r[ph] for r in rs) for ph in PHASES}
            out[name]["total"] = statistics.median(sum(r.values()) for r in rs)
            out[name]["n"] = len(rs)
    return out
