#!/usr/bin/env python3
"""Turn bench.py's JSON into the markdown report (see bench/run.sh)."""
import argparse
import json
import os
import platform
import statistics
import time


def load(path):
    if path and os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    return None


def fmt(v, digits=1):
    if v is None:
        return "–"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}" if digits else f"{v:.0f}"
    return f"{v:.{max(digits, 1) + (1 if v < 1 else 0)}f}"


def cell(xs):
    if not xs:
        return None, "–"
    m = statistics.median(xs)
    if len(xs) == 1:
        return m, fmt(m)
    return m, f"{fmt(m)} ({fmt(min(xs))}–{fmt(max(xs))})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--private")
    ap.add_argument("--v2")
    ap.add_argument("--host")
    ap.add_argument("--sizes")
    ap.add_argument("--versions", default="")
    ap.add_argument("--elapsed", default="?")
    a = ap.parse_args()
    P = load(a.private) or {"samples": {}, "failures": {}, "na": {}, "notes": [], "extra": {}, "runtimes": []}
    V = load(a.v2) or {"samples": {}, "failures": {}, "na": {}, "notes": [], "extra": {}, "runtimes": []}
    H = load(a.host) or {"samples": {}, "failures": {}, "na": {}, "notes": [], "extra": {}, "runtimes": []}
    rts = ["rt", "crun", "runc"]

    sizes = {}
    if a.sizes and os.path.exists(a.sizes):
        for line in open(a.sizes):
            n, stripped, full, libs = line.split()
            sizes[n] = (int(stripped), int(full), int(libs))

    def scale_vals(D, r, key):
        vals = []
        for s in D["extra"].get("scale", {}).get(r, []):
            if key == "create_start" and s.get("create_start_s"):
                vals.append(s["n"] / s["create_start_s"])
            elif key == "delete" and s.get("delete_s"):
                vals.append(s["n"] / s["delete_s"])
            elif key == "list":
                vals.extend(s.get("list_ms", []))
        return vals

    def scale_failed(D, r):
        return sum(s.get("fail_create", 0) + s.get("fail_delete", 0)
                   for s in D["extra"].get("scale", {}).get(r, []))

    n = next((s["n"] for D in (P, H) for ss in D["extra"].get("scale", {}).values() for s in ss), 100)
    rounds = max((len(ss) for ss in P["extra"].get("scale", {}).values()), default=0)
    rows = [
        ("`run /bin/true`", "ms", "run"),
        ("`run /bin/true`, Docker-like seccomp", "ms", "run_seccomp"),
        ("`create` alone", "ms", "create"),
        ("`start` alone", "ms", "start"),
        ("`delete --force` alone (created container)", "ms", "delete_created"),
        ("`delete` alone (stopped container)", "ms", "delete_stopped"),
        ("`delete --force` (running container)", "ms", "delete_force"),
        ("`exec /bin/true`", "ms", "exec"),
        (f"{n} × create+start (`sleep 1000`), one after another", "containers/s", ("scale", "create_start")),
        (f"`list` of {n} running", "ms", ("scale", "list")),
        (f"{n} × `delete --force`", "containers/s", ("scale", "delete")),
        ("peak RSS of `run` (`time -v`)", "MiB", "run_rss"),
        ("RSS of a parked created container (init VmRSS)", "MiB", "parked_rss"),
    ]

    def values(D, r, key):
        if isinstance(key, tuple):
            return scale_vals(D, r, key[1])
        return D["samples"].get(key, {}).get(r, [])

    def row_meds(D, key):
        meds, cells = {}, {}
        for r in rts:
            na = D.get("na", {}).get(r, {})
            if key in na:
                meds[r], cells[r] = None, "n/a"
                continue
            vals = values(D, r, key)
            nfail = len(D.get("failures", {}).get(key if isinstance(key, str) else "scale", {}).get(r, []))
            meds[r], cells[r] = cell(vals)
            if not isinstance(key, str):
                nfail = scale_failed(D, r)
            if nfail:
                cells[r] += f" ⚠{nfail} failed"
        return meds, cells

    def ratio(meds, r):
        if meds.get(r) is None or not meds.get("crun"):
            return "–"
        return f"{meds[r] / meds['crun']:.2f}"

    s = {r: sizes.get(r) for r in rts}

    def sz(r):
        v = s.get(r)
        if not v:
            return "–"
        return f"{v[0] / 1e6:.2f}" + (f" (dynamic, {v[2]} libs)" if v[2] else " (static)")

    def sr(r):
        return f"{s[r][0] / s['crun'][0]:.2f}" if s.get(r) and s.get("crun") else "–"

    def table(D, host):
        t = []
        head = "| workload | unit | rt | crun | runc | rt / crun | runc / crun |"
        rule = "|---|---|---|---|---|---|---|"
        if host:
            head += " rt, host layout |"
            rule += "---|"
        t += [head, rule]
        for label, unit, key in rows:
            meds, cells = row_meds(D, key)
            line = (f"| {label} | {unit} | {cells['rt']} | {cells['crun']} | {cells['runc']} | "
                    f"{ratio(meds, 'rt')} | {ratio(meds, 'runc')} |")
            if host:
                if key in H.get("na", {}).get("rt", {}):
                    hc = "n/a"
                else:
                    _, hc = cell(values(H, "rt", key))
                line += f" {hc} |"
            t.append(line)
        if sizes:
            t.append(f"| binary size, stripped | MB | {sz('rt')} | {sz('crun')} | {sz('runc')} | {sr('rt')} | "
                     f"{sr('runc')} |" + (" same |" if host else ""))
        return t

    # The targets of issue 21, as ratios rt / crun in the same view (higher is better for /s).
    targets = [
        ("`run`", "run", 0.6, False),
        ("`create`", "create", 0.6, False),
        ("`exec`", "exec", 0.7, False),
        ("100 × create+start", ("scale", "create_start"), 1.6, True),
        ("peak RSS of `run`", "run_rss", 1.0, False),
    ]

    out = []
    mach = f"{platform.node()}, Linux {platform.release()}, {os.cpu_count()} CPUs"
    out.append(f"### Benchmark results, {time.strftime('%Y-%m-%d %H:%M %Z')}")
    out.append("")
    out.append(f"Machine: {mach}, hybrid cgroup v1 host. {a.versions}.")
    out.append(f"{P.get('iterations', '?')} measured iterations after {P.get('warmup', '?')} warm-ups, "
               f"interleaved (runtime order rotates every iteration); median (min–max). "
               f"rt, crun and runc ran in the same private view: first cgroup v1 only, then cgroup v2 only "
               f"(/sys/fs/cgroup is the cgroup2 hierarchy, as on a v2-only host). "
               f"The v1 table's last column is rt alone on "
               f"the host's hybrid layout ({H.get('iterations', '?')} iterations, run afterwards, not interleaved). "
               f"Scale rows: {rounds} rounds per runtime (median, min–max). "
               f"Whole benchmark: {a.elapsed} s. Spawn overhead of the harness (`/bin/true` on the host): "
               f"{fmt(P['extra'].get('spawn_overhead_ms'))} ms, included in every time.")
    out.append("")
    if V["runtimes"]:
        out.append("Targets (rt / crun in the same view; for containers/s rt must be at least the target):")
        out.append("")
        out.append("| | target | cgroup v1 view | cgroup v2 view |")
        out.append("|---|---|---|---|")
        for label, key, goal, higher in targets:
            cols = []
            for D in (P, V):
                meds, _ = row_meds(D, key)
                if meds.get("rt") is None or not meds.get("crun"):
                    cols.append("–")
                    continue
                r = meds["rt"] / meds["crun"]
                ok = r >= goal if higher else r <= goal
                cols.append(f"{r:.2f} {'met' if ok else 'MISSED'}")
            out.append(f"| {label} | {'≥' if higher else '≤'} {goal} | {cols[0]} | {cols[1]} |")
        cols = []
        for D in (P, V):
            rt = D["samples"].get("run", {}).get("rt")
            fl = D["samples"].get("run", {}).get("floor")
            if not rt or not fl:
                cols.append("–")
                continue
            r = statistics.median(rt) / statistics.median(fl)
            cols.append(f"{r:.2f} {'met' if r <= 1.5 else 'MISSED'} "
                        f"({fmt(statistics.median(rt))} / {fmt(statistics.median(fl))} ms)")
        out.append(f"| `run`, rt / floor (bench/floor.c) | ≤ 1.5 | {cols[0]} | {cols[1]} |")
        out.append("")
    out.append("#### cgroup v1 view")
    out.append("")
    out.extend(table(P, True))
    if V["runtimes"]:
        out.append("")
        out.append("#### cgroup v2-only view")
        out.append("")
        out.append("No `linux.resources` in these bundles: with device rules crun raises RLIMIT_MEMLOCK, "
                   "which root without CAP_SYS_RESOURCE cannot, and fails. Without them crun installs no "
                   "device filter; rt and runc still install their default one.")
        out.append("")
        out.extend(table(V, False))
    out.append("")
    out.append("Ratios are runtime / crun of the medians: lower is better for ms and MiB, higher for containers/s.")

    phase_names = ["prepare", "mounts", "finish", "process", "teardown", "total"]
    for D, name in ((P, "cgroup v1 view"), (V, "cgroup v2 view")):
        ph = D["extra"].get("phases")
        if not ph:
            continue
        out.append("")
        out.append(f"#### Phases of `run /bin/true`, {name} (ms, medians of {ph.get('rt', {}).get('n', '?')} "
                   f"runs; bench/phases.py)")
        out.append("")
        out.append("| | " + " | ".join(phase_names) + " |")
        out.append("|---|" + "---|" * len(phase_names))
        for r in ["floor", *rts]:
            if r in ph:
                out.append(f"| {r} | " + " | ".join(fmt(ph[r][k], 2) for k in phase_names) + " |")
        if "rt" in ph and "floor" in ph:
            out.append("| rt − floor | " + " | ".join(fmt(max(ph["rt"][k] - ph["floor"][k], 0), 2)
                                                   for k in phase_names) + " |")
    if P["extra"].get("phases") or V["extra"].get("phases"):
        out.append("")
        out.append("prepare: exec of the runtime to the fork of the process that pivots; mounts: to its "
                   "pivot_root; finish: to the exec of /bin/true; process: to its exit; teardown: to the "
                   "runtime's exit. Recorded with the kernel's tracepoints (sched_process_exec/fork/exit, "
                   "sys_enter_pivot_root), which do not stop the processes. The floor is bench/floor.c: the "
                   "same namespaces, mounts, devices, pivot_root, masked and read-only paths, capabilities "
                   "and cgroup as the bundle, with no parsing, state or checks.")

    # Scale details.
    for D, name in ((P, "v1 view"), (V, "v2 view"), (H, "host layout")):
        for r, ss in D["extra"].get("scale", {}).items():
            for s in ss:
                if s.get("fail_create") or s.get("fail_delete") or s.get("still_alive") or \
                        s.get("list_seen", s["n"]) != s["n"]:
                    out.append(f"- scale, {name}, {r}: {s['fail_create']} create/start failures, "
                               f"{s['fail_delete']} delete failures, `list` showed {s.get('list_seen')} "
                               f"of {s['n']} ({s.get('list_running')} running), "
                               f"{s.get('still_alive')} inits alive after delete")

    fails = []
    for D, name in ((P, "v1 view"), (V, "v2 view"), (H, "host layout")):
        for w, per in D.get("failures", {}).items():
            for r, msgs in per.items():
                uniq = []
                for m in msgs:
                    if m not in uniq:
                        uniq.append(m)
                fails.append(f"- {name}, {r}, {w}: {len(msgs)} failure(s); first: `{uniq[0][:400]}`"
                             + (f" (and {len(uniq) - 1} other distinct message(s))" if len(uniq) > 1 else ""))
        for r, per in D.get("na", {}).items():
            for w, why in per.items():
                fails.append(f"- {name}, {r}, {w}: n/a — `{why[:300]}`")
        for n in D.get("notes", []):
            fails.append(f"- {name}: {n}")
    if fails:
        out.append("")
        out.append("Failures and notes:")
        out.extend(fails)
    print("\n".join(out))


if __name__ == "__main__":
    main()
