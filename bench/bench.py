#!/usr/bin/env python3
"""Interleaved side-by-side benchmark of OCI runtimes (rt, crun, runc).

Called by bench/run.sh (under bench/reaper.py); writes raw samples as JSON:

    bench.py --view private|v2|host --tmp DIR --rootfs DIR --runtime NAME=BIN ... --out FILE

Every iteration runs each workload once for every runtime, the runtime order
rotating from one iteration to the next, so that drift of the (shared, noisy)
machine hits all runtimes alike. Each runtime has its own --root state
directory under DIR/state/VIEW/. Every container gets its own bundle (a
config.json only; root.path points to the one shared, read-only busybox
rootfs) with an absolute linux.cgroupsPath /rt-bench/<id>.

Whatever happens (errors, SIGINT/SIGTERM/SIGHUP), every container it created
is deleted with its runtime's `delete --force` before it exits.
"""
import argparse
import copy
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))


class Interrupted(Exception):
    pass


def on_signal(sig, _frame):
    # First signal aborts the run; later ones are ignored so cleanup finishes.
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, signal.SIG_IGN)
    raise Interrupted(signal.Signals(sig).name)


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Bench:
    def __init__(self, a):
        self.view = a.view
        self.p = a.view[0]  # id prefix: p-... (private v1 view), v-... (v2 view), h-... (host)
        self.tmp = a.tmp
        self.rootfs = a.rootfs
        self.iters = a.iterations
        self.warmup = a.warmup
        self.scale_n = a.scale
        self.scale_rounds = a.scale_rounds
        self.rss_n = a.rss_samples
        self.bins = dict(kv.split("=", 1) for kv in a.runtime)
        self.names = list(self.bins)
        self.roots = {}
        state = os.path.join(a.tmp, "state", a.view)
        os.makedirs(state, exist_ok=True)
        if a.state_tmpfs:
            # As /run (the runtimes' default roots) is on hosts; it is the root ext4 here.
            # run.sh starts every view in a private mount namespace (cleanup.sh unmounts
            # whatever is left under the temp dir otherwise).
            subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=700", "tmpfs", state], check=True)
        for r in self.names:
            d = os.path.join(state, r)
            os.makedirs(d, exist_ok=True)
            self.roots[r] = d
        self.bundle_dir = os.path.join(a.tmp, "bundles", a.view)
        os.makedirs(self.bundle_dir, exist_ok=True)
        self.log_dir = os.path.join(a.tmp, "logs", a.view)
        os.makedirs(self.log_dir, exist_ok=True)
        self.err_path = os.path.join(self.log_dir, "stderr")
        self.out_path = os.path.join(self.log_dir, "stdout")
        self.base = self.base_config()
        with open(os.path.join(HERE, "seccomp-docker.json")) as f:
            self.seccomp = json.load(f)
        self.samples = {}  # workload -> runtime -> [ms]
        self.failures = {}  # workload -> runtime -> [str]
        self.na = {}  # workload -> runtime -> reason
        self.notes = []
        self.extra = {}
        self.live = {r: set() for r in self.names}  # ids that may exist
        self.floor = a.floor
        self.phases_n = a.phases

    # ----------------------------------------------------------------- config
    def base_config(self):
        d = os.path.join(self.tmp, "spec")
        os.makedirs(d, exist_ok=True)
        cfg = os.path.join(d, "config.json")
        if not os.path.exists(cfg):
            subprocess.run(["runc", "spec", "--bundle", d], check=True)
        with open(cfg) as f:
            c = json.load(f)
        c["ociVersion"] = "1.0.2"  # crun 1.8.1 refuses 1.3.0
        c["process"]["terminal"] = False
        c["process"]["args"] = ["/bin/true"]
        c["root"] = {"path": self.rootfs, "readonly": True}
        c["hostname"] = "bench"
        c["linux"].pop("seccomp", None)
        # runc spec (1.1) lists ambient capabilities but no inheritable set, so
        # raising them fails in the kernel; runc and crun ignore that, rt
        # refuses (see the README). Drop them for every runtime alike.
        c["process"].get("capabilities", {}).pop("ambient", None)
        if self.view == "v2":
            # crun loads a v2 device filter only for device rules, and first raises
            # RLIMIT_MEMLOCK to infinity, which root without CAP_SYS_RESOURCE (this machine)
            # cannot: with rules, every crun command fails. Without them crun installs no
            # filter at all; rt and runc still install their default one (more work).
            c["linux"].pop("resources", None)
        return c

    def bundle(self, cid, args=("/bin/true",), seccomp=False):
        b = os.path.join(self.bundle_dir, cid)
        cfgp = os.path.join(b, "config.json")
        if os.path.exists(cfgp):
            return b
        c = copy.deepcopy(self.base)
        c["process"]["args"] = list(args)
        c["linux"]["cgroupsPath"] = "/rt-bench/" + cid
        if seccomp:
            c["linux"]["seccomp"] = self.seccomp
        os.makedirs(b, exist_ok=True)
        with open(cfgp + ".tmp", "w") as f:
            json.dump(c, f)
        os.rename(cfgp + ".tmp", cfgp)
        return b

    # -------------------------------------------------------------- commands
    def cmd(self, r, *args):
        return [self.bins[r], "--root", self.roots[r], *args]

    def sh(self, r, *args, capture=False, timeout=30):
        """Run a runtime command; return (rc, ms, stdout, stderr)."""
        return self.spawn(self.cmd(r, *args), capture=capture, timeout=timeout)

    def spawn(self, argv, capture=False, timeout=30):
        # Output goes to files, not pipes: a detached container inherits the
        # runtime's stdio and would hold a pipe open until it exits. The wait
        # is a blocking waitpid (Popen.wait with a timeout polls with growing
        # sleeps, which would quantise the times); a timer kills a hung command.
        with open(self.err_path, "w+b") as errf, open(self.out_path, "w+b") as outf:
            t0 = time.perf_counter_ns()
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                 stdout=outf if capture else subprocess.DEVNULL, stderr=errf)
            timer = threading.Timer(timeout, p.kill)
            timer.daemon = True
            timer.start()
            rc = p.wait()
            ms = (time.perf_counter_ns() - t0) / 1e6
            timer.cancel()
            errf.seek(0)
            err = errf.read(4096).decode(errors="replace").strip()
            out = ""
            if capture:
                outf.seek(0)
                out = outf.read().decode(errors="replace")
        if rc == -signal.SIGKILL and ms >= timeout * 1000:
            return 124, ms, out, f"timeout after {timeout}s: {' '.join(argv)}"
        return rc, ms, out, err

    def record(self, w, r, ms):
        if self.measuring:
            self.samples.setdefault(w, {}).setdefault(r, []).append(ms)

    def fail(self, w, r, what, rc, err):
        msg = f"{what}: exit {rc}: {err}"
        lst = self.failures.setdefault(w, {}).setdefault(r, [])
        lst.append(msg)
        if len(lst) <= 2:
            log(f"FAIL {self.view} {r} {w}: {msg}")

    def timed(self, w, r, *args, label=None, timeout=30):
        rc, ms, _, err = self.sh(r, *args, timeout=timeout)
        if rc == 0:
            self.record(w, r, ms)
            return True
        self.fail(w, r, label or args[0], rc, err)
        return False

    def state_pid(self, r, cid):
        rc, _, out, err = self.sh(r, "state", cid, capture=True)
        if rc != 0:
            return None, f"state: exit {rc}: {err}"
        try:
            st = json.loads(out)
            return int(st["pid"]), st.get("status")
        except (ValueError, KeyError, TypeError) as e:
            return None, f"state: bad output ({e}): {out[:200]!r}"

    def force_delete(self, r, cid):
        self.sh(r, "delete", "--force", cid, timeout=60)
        if not os.path.exists(os.path.join(self.roots[r], cid)):
            self.live[r].discard(cid)

    def exists(self, r, cid):
        return os.path.exists(os.path.join(self.roots[r], cid))

    @staticmethod
    def wait_gone(pid, timeout=10.0):
        """Wait until pid has exited (gone, or a zombie)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    st = f.read()
            except (FileNotFoundError, ProcessLookupError):
                return True
            if st[st.rfind(")") + 2] in "ZX":
                return True
            time.sleep(0.0005)
        return False

    @staticmethod
    def vmrss_kib(pid):
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except FileNotFoundError:
            return None
        return None

    # ------------------------------------------------------------- workloads
    def w_run(self, r, seccomp=False):
        w = "run_seccomp" if seccomp else "run"
        cid = f"{self.p}-{r}-run" + ("-sc" if seccomp else "")
        b = self.bundle(cid, seccomp=seccomp)
        self.live[r].add(cid)
        ok = self.timed(w, r, "run", "--bundle", b, cid)
        if self.exists(r, cid):
            if ok and not self.extra.get(f"leftover_{r}"):
                self.extra[f"leftover_{r}"] = True
                self.notes.append(f"{r}: `run` returned 0 but left the container's state behind ({cid})")
            self.force_delete(r, cid)
        else:
            self.live[r].discard(cid)

    def w_lifecycle(self, r):
        cid = f"{self.p}-{r}-life"
        b = self.bundle(cid)
        self.live[r].add(cid)
        if not self.timed("create", r, "create", "--bundle", b, cid):
            return self.force_delete(r, cid)
        pid, st = self.state_pid(r, cid)
        if pid is None:
            self.fail("create", r, "state after create", 1, st)
        if not self.timed("start", r, "start", cid):
            return self.force_delete(r, cid)
        if pid and not self.wait_gone(pid):
            self.fail("start", r, "container /bin/true", 1, f"pid {pid} still running 10 s after start")
        if not self.timed("delete_stopped", r, "delete", cid):
            return self.force_delete(r, cid)
        self.live[r].discard(cid)

    def w_delete_created(self, r):
        cid = f"{self.p}-{r}-cdel"
        b = self.bundle(cid)
        self.live[r].add(cid)
        rc, _, _, err = self.sh(r, "create", "--bundle", b, cid)
        if rc != 0:
            self.fail("delete_created", r, "create", rc, err)
            return self.force_delete(r, cid)
        pid, st = self.state_pid(r, cid)
        if pid:
            kib = self.vmrss_kib(pid)
            if kib is not None:
                self.record("parked_rss", r, kib / 1024.0)
        # --force: runtime.md says deleting a container that is not stopped (created included)
        # MUST fail, as rt does; runc and crun delete a created one either way.
        if not self.timed("delete_created", r, "delete", "--force", cid):
            return self.force_delete(r, cid)
        if pid and not self.wait_gone(pid, 5):
            self.fail("delete_created", r, "parked init", 1, f"pid {pid} still alive 5 s after delete")
        self.live[r].discard(cid)

    def w_running(self, r):
        cid = f"{self.p}-{r}-sleep"
        b = self.bundle(cid, args=("/bin/sleep", "1000"))
        self.live[r].add(cid)
        rc, _, _, err = self.sh(r, "create", "--bundle", b, cid)
        if rc == 0:
            rc, _, _, err = self.sh(r, "start", cid)
        if rc != 0:
            self.fail("delete_force", r, "create/start", rc, err)
            return self.force_delete(r, cid)
        pid, _ = self.state_pid(r, cid)
        if "exec" not in self.na.get(r, {}):
            rc, ms, _, err = self.sh(r, "exec", cid, "/bin/true")
            if rc == 0:
                self.record("exec", r, ms)
            elif "not implemented" in err:
                self.na.setdefault(r, {})["exec"] = f"exit {rc}: {err}"
                log(f"{r}: exec is n/a: {err}")
            else:
                self.fail("exec", r, "exec", rc, err)
        ok = self.timed("delete_force", r, "delete", "--force", cid, label="delete --force")
        if pid and not self.wait_gone(pid, 5):
            self.fail("delete_force", r, "container init", 1, f"pid {pid} still alive 5 s after delete --force")
        if ok and not self.exists(r, cid):
            self.live[r].discard(cid)
        else:
            self.force_delete(r, cid)

    def scale(self, r):
        n = self.scale_n
        ids = [f"{self.p}-{r}-s{i:03d}" for i in range(n)]
        bundles = [self.bundle(c, args=("/bin/sleep", "1000")) for c in ids]
        res = {"n": n, "fail_create": 0, "fail_delete": 0}
        t0 = time.perf_counter()
        for c, b in zip(ids, bundles):
            self.live[r].add(c)
            rc, _, _, err = self.sh(r, "create", "--bundle", b, c)
            if rc == 0:
                rc, _, _, err = self.sh(r, "start", c)
            if rc != 0:
                res["fail_create"] += 1
                self.fail("scale", r, f"create/start {c}", rc, err)
        res["create_start_s"] = time.perf_counter() - t0
        pids = []
        for c in ids:
            pid, _ = self.state_pid(r, c)
            if pid:
                pids.append(pid)
        lts = []
        for _ in range(5):
            rc, ms, out, err = self.sh(r, "list", capture=True)
            if rc != 0:
                self.fail("scale", r, "list", rc, err)
                break
            lts.append(ms)
            seen = sum(1 for c in ids if re.search(r"(?m)^" + re.escape(c) + r"\s", out))
            res["list_seen"] = seen
            res["list_running"] = len(re.findall(r"\brunning\b", out))
        res["list_ms"] = lts
        t0 = time.perf_counter()
        for c in ids:
            rc, _, _, err = self.sh(r, "delete", "--force", c, timeout=60)
            if rc != 0:
                res["fail_delete"] += 1
                self.fail("scale", r, f"delete --force {c}", rc, err)
            elif not self.exists(r, c):
                self.live[r].discard(c)
        res["delete_s"] = time.perf_counter() - t0
        res["still_alive"] = sum(0 if self.wait_gone(p, 2) else 1 for p in pids)
        for c in ids:
            if c in self.live[r]:
                self.force_delete(r, c)
        return res

    def rss_run(self, r):
        cid = f"{self.p}-{r}-rss"
        b = self.bundle(cid)
        out = os.path.join(self.log_dir, f"time-{r}.txt")
        self.live[r].add(cid)
        rc, _, _, err = self.spawn(["/usr/bin/time", "-v", "-o", out, *self.cmd(r, "run", "--bundle", b, cid)],
                                   timeout=60)
        if rc != 0:
            self.fail("run_rss", r, "run", rc, err)
        else:
            with open(out) as f:
                m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", f.read())
            if m:
                self.record("run_rss", r, int(m.group(1)) / 1024.0)
        if self.exists(r, cid):
            self.force_delete(r, cid)
        else:
            self.live[r].discard(cid)

    def w_floor(self):
        """bench/floor.c: the kernel work of `run /bin/true` and nothing else."""
        cid = f"{self.p}-floor-run"
        rc, ms, _, err = self.spawn([self.floor, self.rootfs, f"/rt-bench/{cid}"])
        if rc != 0:
            self.fail("run", "floor", "floor", rc, err)
        elif self.measuring:
            self.record("run", "floor", ms)

    def phases(self):
        """Per-phase breakdown of `run` (bench/phases.py) for every runtime and the floor."""
        import phases
        runs = {r: [] for r in ["floor", *self.names]}
        try:
            tracer = phases.Tracer()
        except (OSError, subprocess.CalledProcessError) as e:
            self.notes.append(f"phases: no tracefs: {e}")
            return
        try:
            for i in range(self.phases_n):
                for r in ["floor", *self.order(i)]:
                    cid = f"{self.p}-{r}-phases"
                    if r == "floor":
                        argv = [self.floor, self.rootfs, f"/rt-bench/{cid}"]
                    else:
                        argv = self.cmd(r, "run", "--bundle", self.bundle(cid), cid)
                        self.live[r].add(cid)
                    try:
                        p = phases.parse(tracer.record(argv), argv[0])
                    except (RuntimeError, subprocess.TimeoutExpired) as e:
                        self.notes.append(f"phases: {r}: {e}")
                        p = None
                    if p:
                        runs[r].append(p)
                    elif not any(n.startswith(f"phases: {r}:") for n in self.notes):
                        self.notes.append(f"phases: {r}: a marker is missing from the events")
        finally:
            tracer.close()
        self.extra["phases"] = phases.summary(runs)

    # -------------------------------------------------------------- the run
    def baseline(self):
        ts = []
        for _ in range(30):
            ts.append(self.spawn(["/bin/true"])[1])
        self.extra["spawn_overhead_ms"] = statistics.median(ts)

    def order(self, i):
        k = i % len(self.names)
        return self.names[k:] + self.names[:k]

    def main_loop(self, with_exec=True):
        total = self.warmup + self.iters
        for i in range(total):
            self.measuring = i >= self.warmup
            if i == 0 or (i + 1) % 10 == 0:
                log(f"{self.view}: iteration {i + 1}/{total} ({'warm-up' if not self.measuring else 'measured'})")
            for wl in (lambda r: self.w_run(r), lambda r: self.w_run(r, seccomp=True),
                       self.w_lifecycle, self.w_delete_created, self.w_running):
                for r in self.order(i):
                    wl(r)
            if self.floor:
                self.w_floor()

    def run(self):
        self.measuring = True
        self.baseline()
        self.main_loop()
        self.measuring = True
        log(f"{self.view}: peak RSS of run ({self.rss_n} samples each)")
        for i in range(self.rss_n):
            for r in self.order(i):
                self.rss_run(r)
        if self.floor and self.phases_n:
            log(f"{self.view}: per-phase breakdown of run ({self.phases_n} runs each, kernel tracepoints)")
            self.phases()
        self.extra["scale"] = {r: [] for r in self.names}
        for k in range(self.scale_rounds):
            for r in self.order(k):
                log(f"{self.view}: scale {self.scale_n} x {r} (round {k + 1}/{self.scale_rounds})")
                self.extra["scale"][r].append(self.scale(r))

    def cleanup(self):
        for r in self.names:
            ids = set(self.live[r])
            try:
                # Dot-entries are the runtime's own (rt's seccomp cache), not containers.
                ids |= {d for d in os.listdir(self.roots[r])
                        if not d.startswith(".")
                        and os.path.isdir(os.path.join(self.roots[r], d))}
            except FileNotFoundError:
                pass
            for c in sorted(ids):
                rc, _, _, err = self.sh(r, "delete", "--force", c, timeout=60)
                if rc != 0 and self.exists(r, c):
                    log(f"cleanup: {r} delete --force {c}: exit {rc}: {err}")

    def dump(self, path):
        with open(path, "w") as f:
            json.dump({"view": self.view, "runtimes": self.names, "bins": self.bins,
                       "iterations": self.iters, "warmup": self.warmup,
                       "samples": self.samples, "failures": self.failures, "na": self.na,
                       "notes": self.notes, "extra": self.extra}, f, indent=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--view", required=True, choices=["private", "v2", "host"])
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--rootfs", required=True)
    ap.add_argument("--runtime", action="append", required=True, help="NAME=BIN")
    ap.add_argument("--iterations", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--scale", type=int, default=100)
    ap.add_argument("--scale-rounds", type=int, default=3)
    ap.add_argument("--rss-samples", type=int, default=10)
    ap.add_argument("--floor", help="bench/floor.c's binary: the floor of run")
    ap.add_argument("--phases", type=int, default=0, help="runs per runtime for the phases of run (phases.py)")
    ap.add_argument("--state-tmpfs", action="store_true",
                    help="the runtimes' --root dirs on a tmpfs of this (private) mount namespace")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    b = Bench(a)
    rc = 0
    try:
        b.run()
    except Interrupted as e:
        log(f"interrupted by {e}; cleaning up")
        rc = 130
    except Exception:
        import traceback
        traceback.print_exc()
        rc = 1
    finally:
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)
        b.cleanup()
        b.dump(a.out)
    sys.exit(rc)


if __name__ == "__main__":
    main()
