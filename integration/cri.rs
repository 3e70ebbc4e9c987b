//! rt under Kubernetes: a private containerd 1.6 with its CRI plugin, driven as kubelet drives it
//! (the CRI `runtime.v1` gRPC protocol, through the Python client in integration/cri/), with the
//! runtime handler that README.md's "rt under Kubernetes (containerd)" section configures, taken
//! from README.md as written. The same pod runs once with handler `rt` and once with `runc` (the
//! control, configured by the same snippet), and every check is made for both: a table of the
//! results is printed, and any failure fails the test.
//!
//! The pod: a sandbox from a pause-like image the test builds from the busybox rootfs (a docker
//! archive imported with `ctr -n k8s.io images import`), in a network namespace of its own (a
//! no-op CNI plugin written by the test: the namespace has only `lo`), and two containers that
//! share its network, IPC and UTS namespaces, one of them set up as a restricted pod's (and two
//! short ones: OOM-killed, and a missing command). Then a second pod in the host's namespaces,
//! with a privileged container on a tty. Everything containerd writes is under the test's
//! directory, except the runtimes' state (`/run/containerd/runc/k8s.io/<id>`, the shim's default
//! `--root`) and containerd's `/run/containerd/{fifo,s}`; cgroups are under
//! `/rt-test/<test>/<handler>/<id>` (the pod's `cgroup_parent`, absolute).
//!
//! `RT_SKIP_MANAGERS=1` skips it. It needs containerd, ctr, runc and the CNI loopback plugin
//! (Debian: containerd, runc, containernetworking-plugins), and `python3` with `venv`; the client's
//! packages (integration/cri/requirements.txt) are installed from PyPI into a venv under target/.

mod common;

use common::{run_cmd, run_cmd_within, Output, Report, CGROUP_PREFIX};
use serde_json::{json, Value};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

const PAUSE_IMAGE: &str = "localhost/rt-pause:test";
const IMAGE: &str = "localhost/rt-busybox:test";
/// The runc v2 shim's `--root` for the runtimes, in containerd's `k8s.io` namespace (CRI's).
const RUNTIME_ROOT: &str = "/run/containerd/runc/k8s.io";
/// rt keeps the seccomp filters it compiled (for RuntimeDefault) under its root: a cache, not
/// state; removed after the test unless it was there before.
const SECCOMP_CACHE: &str = ".rt-cache:seccomp";
/// The rt path README.md's snippet names; the test puts its own build there.
const README_RT: &str = "/usr/local/bin/rt";
/// The pause-like process: sleeps until SIGTERM or SIGINT, then exits 0. As the PID 1 of the
/// sandbox's PID namespace it ignores every signal it does not trap.
const PAUSE: &str = "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done";

fn wanted() -> bool {
    if std::env::var_os("RT_SKIP_MANAGERS").is_some() {
        eprintln!("RT_SKIP_MANAGERS is set: skipping");
        return false;
    }
    for tool in ["containerd", "ctr", "runc", "python3"] {
        assert!(
            which(tool).is_some(),
            "{tool} is not installed (apt-get install -y containerd runc \
             containernetworking-plugins python3-venv), or set RT_SKIP_MANAGERS=1"
        );
    }
    true
}

fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

const README_HEADING: &str = "## rt under Kubernetes (containerd)";

/// The runtime handler tables of README.md for `rt` at `binary`, and the same for runc as the
/// handler `runc` (the control).
fn handler_config(rt_binary: &str, runc_binary: &str) -> String {
    let snippet = common::readme_block(README_HEADING, "toml");
    assert!(
        snippet.contains(README_RT) && snippet.contains("runtimes.rt]"),
        "README.md's containerd snippet changed: {snippet}"
    );
    let rt = snippet.replace(README_RT, rt_binary);
    let runc = snippet
        .replace("runtimes.rt]", "runtimes.runc]")
        .replace("runtimes.rt.options]", "runtimes.runc.options]")
        .replace(README_RT, runc_binary);
    format!("{rt}{runc}")
}

/// The `handler` of README.md's RuntimeClass: what kubelet passes as `runtime_handler`.
fn readme_handler() -> String {
    let yaml = common::readme_block(README_HEADING, "yaml");
    assert!(
        yaml.contains("kind: RuntimeClass"),
        "README.md's yaml block is not a RuntimeClass: {yaml}"
    );
    yaml.lines()
        .find_map(|l| l.strip_prefix("handler:"))
        .expect("no handler in README.md's RuntimeClass")
        .trim()
        .to_string()
}

/// The client's venv under target/, made (or brought up to integration/cri/requirements.txt)
/// when needed; returns its python.
fn venv_python() -> PathBuf {
    let reqs = Path::new(env!("CARGO_MANIFEST_DIR")).join("integration/cri/requirements.txt");
    let want = fs::read_to_string(&reqs).unwrap();
    let venv = common::tmp_dir().join("cri-venv");
    let python = venv.join("bin/python");
    let stamp = venv.join("rt-requirements.txt");
    if python.exists() && fs::read_to_string(&stamp).ok().as_deref() == Some(&want) {
        return python;
    }
    let scratch = common::tmp_dir().join("scratch");
    let _ = fs::remove_dir_all(&venv);
    let out = run_cmd(
        Command::new("python3").args(["-m", "venv"]).arg(&venv),
        &scratch,
    );
    assert!(
        out.status.success(),
        "python3 -m venv failed (Debian: apt-get install -y python3-venv): {out:?}"
    );
    let out = run_cmd_within(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(&reqs),
        &scratch,
        Duration::from_secs(300),
    );
    assert!(
        out.status.success(),
        "pip install -r {}: {out:?}",
        reqs.display()
    );
    fs::write(&stamp, want).unwrap();
    python
}

/// The CRI client (integration/cri/cri_client.py): one JSON request per line in, one out.
struct Client {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: PathBuf,
}

impl Client {
    fn start(python: &Path, dir: &Path, socket: &Path) -> Self {
        let cri = Path::new(env!("CARGO_MANIFEST_DIR")).join("integration/cri");
        let stderr = dir.join("cri-client.err");
        let mut child = Command::new(python)
            .arg(cri.join("cri_client.py"))
            .arg(cri.join("api.proto"))
            .arg(dir.join("stubs"))
            .arg(socket)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("start cri_client.py");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Client {
            stdin: child.stdin.take(),
            child,
            lines,
            stderr,
        }
    }

    /// Call `method`; the response, or the gRPC error as "CODE: details".
    fn call(&mut self, method: &str, request: Value) -> Result<Value, String> {
        let line = json!({"method": method, "request": request}).to_string();
        let stdin = self.stdin.as_mut().expect("client closed");
        writeln!(stdin, "{line}")
            .and_then(|_| stdin.flush())
            .map_err(|e| format!("{method}: write to the client: {e}: {}", self.errors()))?;
        let reply = self
            .lines
            .recv_timeout(Duration::from_secs(90))
            .map_err(|e| {
                format!(
                    "{method}: no answer from the client ({e}): {}",
                    self.errors()
                )
            })?;
        let v: Value =
            serde_json::from_str(&reply).map_err(|e| format!("{method}: {e}: {reply}"))?;
        if let Some(e) = v.get("error") {
            return Err(format!(
                "{}: {}",
                e["code"].as_str().unwrap_or("?"),
                e["details"].as_str().unwrap_or("?")
            ));
        }
        Ok(v["response"].clone())
    }

    fn errors(&self) -> String {
        fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        common::kill_pid(self.child.id() as i32);
        let _ = self.child.wait();
    }
}

/// The test's containerd (CRI enabled), its directory, and what it must clean up.
struct Cri {
    name: String,
    dir: PathBuf,
    daemon: Option<Child>,
    client: Option<Client>,
    /// Runtime binary per handler name.
    handlers: Vec<(String, String)>,
    /// (handler, id) of every sandbox and container made, for the cleanup.
    ids: Vec<(String, String)>,
    /// Whether rt's seccomp cache in /run/containerd/runc/k8s.io, that directory and its parent
    /// were there before the test.
    existed: [bool; 3],
}

impl Cri {
    fn new() -> Self {
        common::rootfs(); // also makes the /rt-test cgroup prefix
        let name = format!("cri-{}", std::process::id());
        let dir = common::tmp_dir().join("managers").join(&name);
        cleanup_dir(&dir);
        fs::create_dir_all(&dir).unwrap();
        let runc = which("runc").unwrap().to_string_lossy().into_owned();
        let rt_handler = readme_handler();
        let mut c = Cri {
            name,
            dir,
            daemon: None,
            client: None,
            handlers: vec![(rt_handler, common::rt_bin().into()), ("runc".into(), runc)],
            ids: Vec::new(),
            existed: [
                Path::new(RUNTIME_ROOT).join(SECCOMP_CACHE).exists(),
                Path::new(RUNTIME_ROOT).exists(),
                Path::new(RUNTIME_ROOT).parent().unwrap().exists(),
            ],
        };
        let python = venv_python();
        c.write_cni();
        c.write_config();
        c.start_daemon();
        c.import_images();
        c.client = Some(Client::start(&python, &c.dir, &c.socket()));
        c
    }

    fn socket(&self) -> PathBuf {
        self.dir.join("containerd.sock")
    }

    /// A network of one no-op plugin: containerd makes the pod's network namespace, the loopback
    /// plugin brings its `lo` up, and this plugin reports an address without configuring
    /// anything (192.0.2.1, TEST-NET-1, exists nowhere): no interface, route or rule is made,
    /// in the pod or on the host.
    fn write_cni(&self) {
        let bin = self.dir.join("cni/bin");
        let conf = self.dir.join("cni/conf");
        fs::create_dir_all(&bin).unwrap();
        fs::create_dir_all(&conf).unwrap();
        let lo = ["/usr/lib/cni/loopback", "/opt/cni/bin/loopback"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("no CNI loopback plugin: apt-get install -y containernetworking-plugins");
        std::os::unix::fs::symlink(lo, bin.join("loopback")).unwrap();
        common::script(
            &bin.join("rt-test-noop"),
            r#"case $CNI_COMMAND in
ADD) cat >/dev/null
     printf '{"cniVersion":"0.4.0","interfaces":[{"name":"%s","sandbox":"%s"}],"ips":[{"version":"4","address":"192.0.2.1/32","interface":0}]}\n' "$CNI_IFNAME" "$CNI_NETNS" ;;
VERSION) printf '{"cniVersion":"0.4.0","supportedVersions":["0.3.0","0.3.1","0.4.0"]}\n' ;;
*) cat >/dev/null ;;
esac"#,
        );
        fs::write(
            conf.join("10-rt-test.conflist"),
            r#"{"cniVersion":"0.4.0","name":"rt-test","plugins":[{"type":"rt-test-noop"}]}"#,
        )
        .unwrap();
    }

    fn write_config(&self) {
        let d = self.dir.display();
        let handlers = handler_config(&self.handlers[0].1, &self.handlers[1].1);
        fs::write(
            self.dir.join("config.toml"),
            format!(
                r#"version = 2
root = "{d}/root"
state = "{d}/state"
[grpc]
  address = "{d}/containerd.sock"
[ttrpc]
  address = "{d}/containerd.sock.ttrpc"
[debug]
  address = "{d}/debug.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  disable_cgroup = false
  # kubelet gives sandboxes oom_score_adj -998; lowering it needs CAP_SYS_RESOURCE, which this
  # host does not give (runc and rt both fail then): keep it at containerd's own.
  restrict_oom_score_adj = true
  # The pods' network namespaces under {d}/state, not /var/run/netns.
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{d}/cni/bin"
    conf_dir = "{d}/cni/conf"
{handlers}"#
            ),
        )
        .unwrap();
    }

    fn start_daemon(&mut self) {
        let log = fs::File::create(self.dir.join("containerd.log")).unwrap();
        let daemon = Command::new("containerd")
            .arg("--config")
            .arg(self.dir.join("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start containerd");
        self.daemon = Some(daemon);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.ctr(&["version"]).status.success() {
            assert!(
                Instant::now() < deadline,
                "containerd did not start: {}",
                fs::read_to_string(self.dir.join("containerd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn ctr(&self, args: &[&str]) -> Output {
        let mut c = Command::new("ctr");
        c.arg("-a")
            .arg(self.socket())
            .args(["-n", "k8s.io"])
            .args(args);
        run_cmd(&mut c, &self.dir)
    }

    /// A docker archive of two images on one layer (the busybox rootfs): the pause-like sandbox
    /// image and a plain busybox image for the containers, imported for CRI (namespace k8s.io).
    fn import_images(&self) {
        let env = json!(["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]);
        let pause = json!({"Env": env, "Entrypoint": ["/bin/sh", "-c", PAUSE]});
        let busybox = json!({"Env": env, "Cmd": ["sh"]});
        let tar = common::image_archive(
            &self.dir.join("image"),
            &[(PAUSE_IMAGE, pause), (IMAGE, busybox)],
        );
        self.ctr(&["images", "import", tar.to_str().unwrap()]).ok();
    }

    fn call(&mut self, method: &str, request: Value) -> Result<Value, String> {
        self.client.as_mut().unwrap().call(method, request)
    }

    fn binary(&self, handler: &str) -> &str {
        &self.handlers.iter().find(|(h, _)| h == handler).unwrap().1
    }

    /// `/rt-test/<test>/<handler>`: the pod's cgroup parent.
    fn cgroup_parent(&self, handler: &str) -> String {
        format!("/{CGROUP_PREFIX}/{}/{handler}", self.name)
    }
}

impl Drop for Cri {
    fn drop(&mut self) {
        // What kubelet would do, if the daemon still answers.
        if let Some(client) = self.client.as_mut() {
            if let Ok(list) = client.call("ListPodSandbox", json!({})) {
                for p in list["items"].as_array().into_iter().flatten() {
                    let id = json!({"pod_sandbox_id": p["id"]});
                    let _ = client.call("StopPodSandbox", id.clone());
                    let _ = client.call("RemovePodSandbox", id);
                }
            }
        }
        self.client = None;
        if let Some(mut daemon) = self.daemon.take() {
            common::kill_pid(daemon.id() as i32);
            let _ = daemon.wait();
        }
        // The runtimes' state of anything left (a container the daemon could not remove).
        for (handler, id) in &self.ids {
            let st = Path::new(RUNTIME_ROOT).join(id);
            if st.exists() {
                let mut c = Command::new(self.binary(handler));
                c.args(["--root", RUNTIME_ROOT, "delete", "--force", id]);
                let _ = run_cmd(&mut c, &common::tmp_dir().join("scratch"));
                let _ = fs::remove_dir_all(&st);
            }
        }
        let root = Path::new(RUNTIME_ROOT);
        if !self.existed[0] {
            let _ = fs::remove_dir_all(root.join(SECCOMP_CACHE));
        }
        if !self.existed[1] {
            let _ = fs::remove_dir(root);
        }
        if !self.existed[2] {
            let _ = fs::remove_dir(root.parent().unwrap());
        }
        let keep = std::thread::panicking();
        if keep {
            // The daemon's log and the client's errors, for the failure.
            let log = self.dir.join("containerd.log");
            let kept = common::tmp_dir().join(format!("{}.containerd.log", self.name));
            let _ = fs::copy(&log, &kept);
            eprintln!("containerd's log kept at {}", kept.display());
        }
        cleanup_dir(&self.dir);
        common::remove_test_cgroup(&self.name);
    }
}

/// End every process whose command line names `dir` (shims, daemons), unmount what is mounted
/// under it, then remove it.
fn cleanup_dir(dir: &Path) {
    let needle = dir.to_string_lossy().into_owned();
    for pid in live_pids() {
        if pid != std::process::id() as i32 && cmdline(pid).contains(&needle) {
            common::kill_pid(pid);
        }
    }
    for p in mounts_under(dir).into_iter().rev() {
        let _ = nix::mount::umount2(p.as_str(), nix::mount::MntFlags::MNT_DETACH);
    }
    let _ = fs::remove_dir_all(dir);
}

fn live_pids() -> Vec<i32> {
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<i32>().ok())
        .collect()
}

fn cmdline(pid: i32) -> String {
    String::from_utf8_lossy(&fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default())
        .replace('\0', " ")
}

/// Mount points at or under `dir`, in mount order.
fn mounts_under(dir: &Path) -> Vec<String> {
    let needle = dir.to_string_lossy().into_owned();
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| p.starts_with(needle.as_str()))
        .map(str::to_string)
        .collect()
}

/// The cgroups under `parent` (absolute), in every hierarchy.
fn cgroups_under(parent: &str) -> Vec<PathBuf> {
    let roots: Vec<PathBuf> = if common::pure_v2() {
        vec!["/sys/fs/cgroup".into()]
    } else {
        fs::read_dir("/sys/fs/cgroup")
            .unwrap()
            .flatten()
            .filter(|e| e.file_name() != "process_api") // never the machine's own tree
            .map(|e| e.path())
            .collect()
    };
    let mut cgroups = Vec::new();
    for root in roots {
        let dir = root.join(parent.trim_start_matches('/'));
        for sub in fs::read_dir(&dir).into_iter().flatten().flatten() {
            if sub.file_type().is_ok_and(|t| t.is_dir()) {
                cgroups.push(sub.path());
            }
        }
    }
    cgroups
}

/// The command lines of the processes that name one of `ids` (the shims: `-id <sandbox id>`).
fn commands_naming(ids: &[String]) -> Vec<String> {
    live_pids()
        .into_iter()
        .map(cmdline)
        .filter(|c| ids.iter().any(|id| c.contains(id.as_str())))
        .collect()
}

/// The ids among `ids` that have runtime state.
fn runtime_state(ids: &[String]) -> Vec<String> {
    ids.iter()
        .filter(|id| Path::new(RUNTIME_ROOT).join(id).exists())
        .cloned()
        .collect()
}

/// A process by pid and start time (field 22 of /proc/PID/stat), so that a reused pid is not
/// taken for it.
#[derive(Clone, Copy, Debug)]
struct Proc {
    pid: i32,
    start: u64,
}

impl Proc {
    fn of(pid: i32) -> Option<Proc> {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let after = stat.rsplit_once(')')?.1;
        let start = after.split_whitespace().nth(19)?.parse().ok()?;
        Some(Proc { pid, start })
    }
    fn alive(&self) -> bool {
        Proc::of(self.pid).is_some_and(|p| p.start == self.start)
    }
    fn ns(&self, kind: &str) -> String {
        common::ns(&self.pid.to_string(), kind)
    }
}

/// The directory of `ctrl`'s cgroup that holds `pid` (v1), or of its unified cgroup (v2).
fn cgroup_dir_of(pid: i32, ctrl: &str) -> PathBuf {
    let cg = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    for line in cg.lines() {
        let mut f = line.splitn(3, ':');
        let (_, ctrls, path) = (f.next(), f.next().unwrap(), f.next().unwrap());
        if ctrls.split(',').any(|c| c == ctrl) {
            return Path::new("/sys/fs/cgroup")
                .join(ctrl)
                .join(path.trim_start_matches('/'));
        }
    }
    let path = cg.lines().find_map(|l| l.strip_prefix("0::")).unwrap();
    let root = if common::pure_v2() {
        "/sys/fs/cgroup"
    } else {
        "/sys/fs/cgroup/unified"
    };
    Path::new(root).join(path.trim_start_matches('/'))
}

/// (memory, cpu quota, cpu period, cpu shares or weight)
type Limits = (i64, i64, i64, i64);

/// The CPU and memory limits of `pid`'s cgroups, as (memory, cpu quota, cpu period, cpu shares
/// or, on v2, weight), and the memory cgroup's directory.
fn limits_of(pid: i32) -> Result<(Limits, PathBuf), String> {
    let read = |p: PathBuf| {
        fs::read_to_string(&p)
            .map(|s| s.trim().to_string())
            .map_err(|e| format!("read {}: {e}", p.display()))
    };
    let num = |s: String| s.parse::<i64>().map_err(|e| format!("{s:?}: {e}"));
    let mem_dir = cgroup_dir_of(pid, "memory");
    if !common::pure_v2() {
        let cpu = cgroup_dir_of(pid, "cpu");
        let limits = (
            num(read(mem_dir.join("memory.limit_in_bytes"))?)?,
            num(read(cpu.join("cpu.cfs_quota_us"))?)?,
            num(read(cpu.join("cpu.cfs_period_us"))?)?,
            num(read(cpu.join("cpu.shares"))?)?,
        );
        return Ok((limits, mem_dir));
    }
    let max = read(mem_dir.join("cpu.max"))?;
    let (quota, period) = max.split_once(' ').unwrap_or((&max, ""));
    let weight = num(read(mem_dir.join("cpu.weight"))?)?;
    let limits = (
        num(read(mem_dir.join("memory.max"))?)?,
        num(quota.to_string())?,
        num(period.to_string())?,
        weight,
    );
    Ok((limits, mem_dir))
}

/// An int64 of a CRI response (proto3's JSON mapping gives them as strings).
fn int(v: &Value) -> i64 {
    match v {
        Value::String(s) => s.parse().unwrap_or(i64::MIN),
        v => v.as_i64().unwrap_or(i64::MIN),
    }
}

/// What one pod left running, for the checks after its removal.
#[derive(Default)]
struct Pod {
    sandbox: Option<String>,
    containers: Vec<String>,
    procs: Vec<Proc>,
}

/// The pid in a verbose status's `info` (containerd's JSON).
fn verbose_pid(status: &Value) -> Result<i32, String> {
    let info: Value = serde_json::from_str(status["info"]["info"].as_str().unwrap_or("{}"))
        .map_err(|e| format!("verbose info: {e}"))?;
    info["pid"]
        .as_i64()
        .filter(|&p| p > 0)
        .map(|p| p as i32)
        .ok_or_else(|| format!("no pid in {info}"))
}

fn wait_until<T>(
    what: &str,
    mut f: impl FnMut() -> Result<Option<T>, String>,
) -> Result<T, String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = f()? {
            return Ok(v);
        }
        if Instant::now() > deadline {
            return Err(format!("timed out waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

const MIB: i64 = 1024 * 1024;

/// What `limits_of` reads for `shares`: the shares on v1, runc's conversion to cpu.weight on v2.
fn shares(shares: i64) -> i64 {
    if common::pure_v2() {
        1 + ((shares - 2) * 9999) / 262142
    } else {
        shares
    }
}

/// Create and start one more container in the pod: its id ("" if it was not created) and the
/// result of the two calls.
fn extra_container(
    cri: &mut Cri,
    handler: &str,
    pod: &mut Pod,
    sandbox: &str,
    sandbox_config: &Value,
    config: Value,
) -> (String, Result<Value, String>) {
    let resp = cri.call(
        "CreateContainer",
        json!({"pod_sandbox_id": sandbox, "config": config, "sandbox_config": sandbox_config}),
    );
    let id = match resp {
        Ok(v) => v["container_id"].as_str().unwrap_or_default().to_string(),
        Err(e) => return (String::new(), Err(e)),
    };
    cri.ids.push((handler.into(), id.clone()));
    pod.containers.push(id.clone());
    let resp = cri.call("StartContainer", json!({"container_id": id}));
    (id, resp)
}

/// Run the test pod with `handler`, recording every check; the pod is stopped and removed
/// whatever happens (an error return is a step that could not go on).
fn pod_flow(cri: &mut Cri, handler: &str, r: &mut Report, pod: &mut Pod) -> Result<(), String> {
    let parent = cri.cgroup_parent(handler);
    let logs = cri.dir.join("logs").join(handler);
    fs::create_dir_all(&logs).unwrap();
    // kubelet's default: a network namespace of the pod's own, IPC shared in the pod, a PID
    // namespace per container; and a namespaced sysctl for the pod.
    let ns_opts = json!({"network": "POD", "pid": "CONTAINER", "ipc": "POD"});
    let sandbox_config = json!({
        "metadata": {"name": format!("pod-{handler}"), "uid": format!("uid-{handler}-{}", cri.name),
                     "namespace": "default", "attempt": 0},
        "hostname": format!("pod-{handler}"),
        "log_directory": logs,
        "linux": {
            "cgroup_parent": parent,
            "security_context": {"namespace_options": ns_opts},
            "sysctls": {"kernel.shm_rmid_forced": "1"},
        },
    });
    let resp = cri.call(
        "RunPodSandbox",
        json!({"config": sandbox_config, "runtime_handler": handler}),
    );
    r.rpc(handler, "RunPodSandbox", &resp);
    let sandbox = resp?["pod_sandbox_id"].as_str().unwrap().to_string();
    cri.ids.push((handler.into(), sandbox.clone()));
    pod.sandbox = Some(sandbox.clone());
    let st = cri.call(
        "PodSandboxStatus",
        json!({"pod_sandbox_id": sandbox, "verbose": true}),
    )?;
    r.check(
        handler,
        "PodSandboxStatus: SANDBOX_READY",
        st["status"]["state"] == "SANDBOX_READY",
        || format!("{}", st["status"]),
    );
    let sandbox_proc = Proc::of(verbose_pid(&st)?).ok_or("the sandbox's process is gone")?;
    pod.procs.push(sandbox_proc);

    // c1: a long-running app as kubelet would make it for a restricted pod: limits, a user,
    // RuntimeDefault seccomp (containerd's profile), no capabilities but one, no_new_privs, a
    // read-only rootfs, a read-only host directory, env and working directory; its own PID
    // namespace. c2: in the sandbox's PID namespace (shareProcessNamespace), waits for a file
    // that c1 writes into the pod's /dev/shm, then exits 3.
    let data = cri.dir.join("data");
    fs::create_dir_all(&data).unwrap();
    fs::write(data.join("msg"), "hello from the host\n").unwrap();
    let c1 = json!({
        "metadata": {"name": "c1", "attempt": 0},
        "image": {"image": IMAGE},
        "command": ["sleep", "100000"],
        "envs": [{"key": "GREETING", "value": "hi there"}],
        "working_dir": "/home/user",
        "mounts": [{"container_path": "/data", "host_path": data, "readonly": true}],
        "log_path": "c1.log",
        "linux": {
            "resources": {
                "memory_limit_in_bytes": 64 * MIB, "cpu_period": 100000, "cpu_quota": 50000,
                "cpu_shares": 512, "oom_score_adj": 500,
            },
            "security_context": {
                "namespace_options": ns_opts,
                "run_as_user": {"value": 1000},
                "run_as_group": {"value": 1000},
                "supplemental_groups": [2000],
                "readonly_rootfs": true,
                "no_new_privs": true,
                "capabilities": {"drop_capabilities": ["ALL"],
                                 "add_capabilities": ["NET_BIND_SERVICE"]},
                "seccomp": {"profile_type": "RuntimeDefault"},
            },
        },
    });
    let c2 = json!({
        "metadata": {"name": "c2", "attempt": 0},
        "image": {"image": IMAGE},
        "command": ["sh", "-c",
                    "echo hello from c2; while [ ! -e /dev/shm/go ]; do sleep 0.05; done; \
                     echo c2 got $(cat /dev/shm/go); exit 3"],
        "log_path": "c2.log",
        "linux": {"security_context": {"namespace_options": {
            "network": "POD", "pid": "POD", "ipc": "POD"}}},
    });
    let mut ids = Vec::new();
    for (name, config) in [("c1", c1), ("c2", c2)] {
        let resp = cri.call(
            "CreateContainer",
            json!({"pod_sandbox_id": sandbox, "config": config, "sandbox_config": sandbox_config}),
        );
        r.rpc(handler, "CreateContainer (c1, c2)", &resp);
        let id = resp?["container_id"].as_str().unwrap().to_string();
        cri.ids.push((handler.into(), id.clone()));
        pod.containers.push(id.clone());
        let st = cri.call("ContainerStatus", json!({"container_id": id}))?;
        r.check(
            handler,
            "ContainerStatus before start: CONTAINER_CREATED",
            st["status"]["state"] == "CONTAINER_CREATED",
            || format!("{name}: {}", st["status"]),
        );
        ids.push(id);
    }
    let (c1, c2) = (ids[0].clone(), ids[1].clone());
    let mut procs = Vec::new();
    for id in [&c1, &c2] {
        let resp = cri.call("StartContainer", json!({"container_id": id}));
        r.rpc(handler, "StartContainer (c1, c2)", &resp);
        resp?;
        let st = cri.call(
            "ContainerStatus",
            json!({"container_id": id, "verbose": true}),
        )?;
        let proc = Proc::of(verbose_pid(&st)?).ok_or("a container's process is gone")?;
        pod.procs.push(proc);
        procs.push((st, proc));
    }
    let (st1, p1) = procs[0].clone();
    r.check(
        handler,
        "ContainerStatus after start: CONTAINER_RUNNING",
        st1["status"]["state"] == "CONTAINER_RUNNING",
        || format!("c1: {}", st1["status"]),
    );
    let p2 = procs[1].1;
    // The handler's binary made it: its `state` (in the shim's --root) knows c1's process.
    let mut c = Command::new(cri.binary(handler));
    c.args(["--root", RUNTIME_ROOT, "state", &c1]);
    let out = run_cmd(&mut c, &cri.dir);
    let state: Value = serde_json::from_str(&out.stdout).unwrap_or_default();
    r.check(
        handler,
        "`<handler's binary> state c1`: running, c1's pid",
        state["status"] == "running" && state["pid"] == p1.pid,
        || format!("{out:?}"),
    );
    // The probes of the checks after RemovePodSandbox see the running pod.
    let ids = [sandbox.clone(), c1.clone(), c2.clone()];
    let (cgroups, mounts) = (cgroups_under(&parent), mounts_under(&cri.dir));
    let memory = if common::pure_v2() {
        "/sys/fs/cgroup"
    } else {
        "/sys/fs/cgroup/memory"
    };
    let (shims, state) = (commands_naming(&ids[..1]), runtime_state(&ids));
    r.check(
        handler,
        "the leftover probes see the running pod",
        cgroups.iter().filter(|c| c.starts_with(memory)).count() == 3
            && mounts
                .iter()
                .filter(|m| ids.iter().any(|id| m.contains(id.as_str())))
                .count()
                >= 3
            && !shims.is_empty()
            && state.len() == 3,
        || format!("cgroups {cgroups:?}, mounts {mounts:?}, shims {shims:?}, state {state:?}"),
    );

    // Namespaces, seen from the host: net, ipc and uts are the sandbox's (and not the host's);
    // c1 has a PID namespace of its own, c2 the sandbox's.
    let me = Proc::of(std::process::id() as i32).unwrap();
    for kind in ["net", "ipc", "uts"] {
        let (s, a, b, h) = (sandbox_proc.ns(kind), p1.ns(kind), p2.ns(kind), me.ns(kind));
        r.check(
            handler,
            &format!("{kind} namespace: the sandbox's in c1 and c2, not the host's"),
            s == a && s == b && s != h,
            || format!("sandbox {s}, c1 {a}, c2 {b}, host {h}"),
        );
    }
    let (s, a, b) = (sandbox_proc.ns("pid"), p1.ns("pid"), p2.ns("pid"));
    r.check(
        handler,
        "pid namespace: c1 its own, c2 the sandbox's (pid POD)",
        s != a && s == b,
        || format!("sandbox {s}, c1 {a}, c2 {b}"),
    );

    // c1's process, from the host.
    let status = |f: &str| common::proc_status(p1.pid, f);
    let oom = fs::read_to_string(format!("/proc/{}/oom_score_adj", p1.pid)).unwrap_or_default();
    let seen = format!(
        "uid {} gid {} groups {} seccomp {} nnp {} capbnd {} capeff {} oom_score_adj {}",
        status("Uid"),
        status("Gid"),
        status("Groups"),
        status("Seccomp"),
        status("NoNewPrivs"),
        status("CapBnd"),
        status("CapEff"),
        oom.trim()
    );
    let want = "uid 1000\t1000\t1000\t1000 gid 1000\t1000\t1000\t1000 groups 1000 2000 seccomp 2 \
                nnp 1 capbnd 0000000000000400 capeff 0000000000000000 oom_score_adj 500";
    r.check(
        handler,
        "c1 from the host: user, groups, seccomp, no_new_privs, caps, oom_score_adj",
        seen == want,
        || format!("{seen:?}, want {want:?}"),
    );

    // Limits, read back from the host's cgroup files.
    let (got, mem_dir) = limits_of(p1.pid)?;
    let want_dir = format!("{parent}/{c1}");
    r.check(
        handler,
        "cgroup: <cgroup_parent>/<container id>",
        mem_dir.to_string_lossy().ends_with(&want_dir),
        || format!("c1 is in {}, not {want_dir}", mem_dir.display()),
    );
    r.check(
        handler,
        "limits in the cgroup (memory 64M, cpu 50000/100000, shares 512)",
        got == (64 * MIB, 50000, 100000, shares(512)),
        || format!("(memory, quota, period, shares) = {got:?}"),
    );

    // ContainerStats: the shim reads them from the cgroup the runtime put c1's process in.
    let stats = cri.call("ContainerStats", json!({"container_id": c1}));
    r.check(
        handler,
        "ContainerStats: c1's memory and CPU usage",
        stats.as_ref().is_ok_and(|v| {
            int(&v["stats"]["memory"]["working_set_bytes"]["value"]) > 0
                && int(&v["stats"]["cpu"]["usage_core_nano_seconds"]["value"]) > 0
        }),
        || format!("{stats:?}"),
    );

    // ExecSync: output, exit status, and the error for a missing command.
    let resp = cri.call(
        "ExecSync",
        json!({"container_id": c1, "timeout": 20,
               "cmd": ["sh", "-c", "echo out; echo err >&2; cat /etc/hostname; exit 3"]}),
    );
    r.check(
        handler,
        "ExecSync: stdout, stderr, exit code 3",
        resp.as_ref().is_ok_and(|v| {
            v["stdout"] == format!("out\npod-{handler}\n")
                && v["stderr"] == "err\n"
                && int(&v["exit_code"]) == 3
        }),
        || format!("{resp:?}"),
    );
    // What c1's processes see (an exec gets the container's user, env and working directory).
    let script = "echo user=$(id -u):$(id -G); echo cwd=$(pwd); echo env=$GREETING; \
                  echo data=$(cat /data/msg); touch /data/x 2>/dev/null || echo data-ro=yes; \
                  touch /x 2>/dev/null || echo root-ro=yes; echo hostname=$(hostname); \
                  echo sysctl=$(cat /proc/sys/kernel/shm_rmid_forced)";
    let resp = cri.call(
        "ExecSync",
        json!({"container_id": c1, "timeout": 20, "cmd": ["sh", "-c", script]}),
    );
    let out = resp
        .as_ref()
        .map(|v| v["stdout"].as_str().unwrap_or("").to_string());
    let line = |key: &str| {
        out.as_ref()
            .ok()
            .and_then(|o| o.lines().find_map(|l| l.strip_prefix(&format!("{key}="))))
            .map(str::to_string)
    };
    for (check, key, want) in [
        (
            "ExecSync sees: user 1000, groups 1000 2000",
            "user",
            "1000:1000 2000".to_string(),
        ),
        ("ExecSync sees: working_dir", "cwd", "/home/user".into()),
        ("ExecSync sees: envs", "env", "hi there".into()),
        (
            "ExecSync sees: host mount",
            "data",
            "hello from the host".into(),
        ),
        (
            "ExecSync sees: host mount read-only",
            "data-ro",
            "yes".into(),
        ),
        ("ExecSync sees: rootfs read-only", "root-ro", "yes".into()),
        (
            "ExecSync sees: the pod's hostname (UTS)",
            "hostname",
            format!("pod-{handler}"),
        ),
        (
            "ExecSync sees: the pod's sysctl (IPC)",
            "sysctl",
            "1".into(),
        ),
    ] {
        let got = line(key);
        r.check(
            handler,
            check,
            got.as_deref() == Some(want.as_str()),
            || format!("{key}={got:?}, want {want:?}: {resp:?}"),
        );
    }

    let resp = cri.call(
        "ExecSync",
        json!({"container_id": c1, "timeout": 20, "cmd": ["nosuch-cmd"]}),
    );
    r.check(
        handler,
        "ExecSync of a missing command: runc's error",
        match &resp {
            Err(e) => e.contains("executable file not found in $PATH"),
            Ok(v) => {
                int(&v["exit_code"]) != 0 && format!("{v}").contains("executable file not found")
            }
        },
        || format!("{resp:?}"),
    );

    // c2 exits 3 once c1 writes into the pod's /dev/shm.
    let resp = cri.call(
        "ExecSync",
        json!({"container_id": c1, "timeout": 20, "cmd": ["sh", "-c", "echo 42 > /dev/shm/go"]}),
    );
    r.check(
        handler,
        "ExecSync: write into the pod's /dev/shm",
        resp.as_ref().is_ok_and(|v| int(&v["exit_code"]) == 0),
        || format!("{resp:?}"),
    );
    let st2 = wait_until("c2 to exit", || {
        let st = cri.call("ContainerStatus", json!({"container_id": c2}))?;
        Ok((st["status"]["state"] == "CONTAINER_EXITED").then_some(st))
    });
    r.check(
        handler,
        "ContainerStatus: c2 exited by itself with code 3",
        st2.as_ref()
            .is_ok_and(|st| int(&st["status"]["exit_code"]) == 3),
        || format!("{st2:?}"),
    );
    r.check(
        handler,
        "c2 gone from the host once exited",
        wait_until("c2's process to end", || Ok((!p2.alive()).then_some(()))).is_ok(),
        || format!("pid {} still there", p2.pid),
    );
    let log = fs::read_to_string(logs.join("c2.log")).unwrap_or_default();
    r.check(
        handler,
        "container log (CRI format): c2's stdout",
        log.contains(" stdout F hello from c2\n") && log.contains(" stdout F c2 got 42\n"),
        || format!("c2.log: {log:?}"),
    );

    // What kubelet shows users: a container over its memory limit ends "OOMKilled" (the shim
    // watches the cgroup the runtime made), and one whose command does not exist fails to
    // start with runc's message.
    let (oom, oom_st) = extra_container(
        cri,
        handler,
        pod,
        &sandbox,
        &sandbox_config,
        json!({
            "metadata": {"name": "oom", "attempt": 0},
            "image": {"image": IMAGE},
            "command": ["sh", "-c", "x=$(head -c 268435456 /dev/zero | tr '\\0' a); echo survived"],
            "log_path": "oom.log",
            "linux": {
                "resources": {"memory_limit_in_bytes": 32 * MIB},
                "security_context": {"namespace_options": ns_opts},
            },
        }),
    );
    r.rpc(handler, "oom: CreateContainer, StartContainer", &oom_st);
    if oom_st.is_ok() {
        let st = wait_until("the oom container to exit", || {
            let st = cri.call("ContainerStatus", json!({"container_id": oom}))?;
            Ok((st["status"]["state"] == "CONTAINER_EXITED").then_some(st))
        });
        r.check(
            handler,
            "oom: ContainerStatus: exit code 137, reason OOMKilled",
            st.as_ref().is_ok_and(|st| {
                int(&st["status"]["exit_code"]) == 137 && st["status"]["reason"] == "OOMKilled"
            }),
            || format!("{st:?}"),
        );
    }
    let (bad, bad_st) = extra_container(
        cri,
        handler,
        pod,
        &sandbox,
        &sandbox_config,
        json!({
            "metadata": {"name": "bad", "attempt": 0},
            "image": {"image": IMAGE},
            "command": ["nosuch-cmd"],
            "log_path": "bad.log",
            "linux": {"security_context": {"namespace_options": ns_opts}},
        }),
    );
    r.check(
        handler,
        "bad: StartContainer of a missing command fails with runc's message",
        bad_st
            .as_ref()
            .is_err_and(|e| e.contains("exec: \"nosuch-cmd\": executable file not found in $PATH")),
        || format!("{bad_st:?}"),
    );
    if !bad.is_empty() {
        let st = cri.call("ContainerStatus", json!({"container_id": bad}));
        r.check(
            handler,
            "bad: ContainerStatus: exited, code 128, reason StartError",
            st.as_ref().is_ok_and(|st| {
                st["status"]["state"] == "CONTAINER_EXITED"
                    && int(&st["status"]["exit_code"]) == 128
                    && st["status"]["reason"] == "StartError"
            }),
            || format!("{st:?}"),
        );
    }

    // UpdateContainerResources, read back from the cgroup and from ContainerStatus.
    let resp = cri.call(
        "UpdateContainerResources",
        json!({"container_id": c1, "linux": {
            "memory_limit_in_bytes": 128 * MIB, "cpu_period": 100000, "cpu_quota": 20000,
            "cpu_shares": 256}}),
    );
    r.rpc(handler, "UpdateContainerResources", &resp);
    let got = limits_of(p1.pid).map(|l| l.0);
    r.check(
        handler,
        "updated limits in the cgroup (memory 128M, cpu 20000/100000, shares 256)",
        got == Ok((128 * MIB, 20000, 100000, shares(256))),
        || format!("(memory, quota, period, shares) = {got:?}"),
    );
    let st = cri.call("ContainerStatus", json!({"container_id": c1}))?;
    let res = &st["status"]["resources"]["linux"];
    r.check(
        handler,
        "ContainerStatus shows the updated resources",
        int(&res["memory_limit_in_bytes"]) == 128 * MIB && int(&res["cpu_quota"]) == 20000,
        || format!("{res}"),
    );

    // StopContainer: sleep, the PID 1 of its namespace, ignores SIGTERM: SIGKILL after 1 s.
    let resp = cri.call("StopContainer", json!({"container_id": c1, "timeout": 1}));
    r.rpc(handler, "StopContainer", &resp);
    let st = cri.call("ContainerStatus", json!({"container_id": c1}))?;
    r.check(
        handler,
        "ContainerStatus: c1 stopped with code 137 (SIGKILL)",
        st["status"]["state"] == "CONTAINER_EXITED" && int(&st["status"]["exit_code"]) == 137,
        || format!("{}", st["status"]),
    );
    r.check(
        handler,
        "c1 gone from the host once stopped",
        !p1.alive(),
        || format!("pid {} still there", p1.pid),
    );
    Ok(())
}

/// A pod in the host's namespaces with a privileged container, as node agents (kube-proxy, CNI
/// daemons) run: network, PID and IPC are the host's, every capability and host device, /sys
/// writable; h1 has a terminal (`tty: true`: the shim's console socket) and ends on SIGTERM.
fn host_pod_flow(
    cri: &mut Cri,
    handler: &str,
    r: &mut Report,
    pod: &mut Pod,
) -> Result<(), String> {
    let logs = cri.dir.join("logs").join(format!("host-{handler}"));
    fs::create_dir_all(&logs).unwrap();
    let ns_opts = json!({"network": "NODE", "pid": "NODE", "ipc": "NODE"});
    let sandbox_config = json!({
        "metadata": {"name": format!("host-{handler}"),
                     "uid": format!("uid-host-{handler}-{}", cri.name),
                     "namespace": "kube-system", "attempt": 0},
        "log_directory": logs,
        "linux": {
            "cgroup_parent": cri.cgroup_parent(handler),
            "security_context": {"namespace_options": ns_opts, "privileged": true},
        },
    });
    let resp = cri.call(
        "RunPodSandbox",
        json!({"config": sandbox_config, "runtime_handler": handler}),
    );
    r.rpc(handler, "host pod: RunPodSandbox", &resp);
    let sandbox = resp?["pod_sandbox_id"].as_str().unwrap().to_string();
    cri.ids.push((handler.into(), sandbox.clone()));
    pod.sandbox = Some(sandbox.clone());
    let st = cri.call(
        "PodSandboxStatus",
        json!({"pod_sandbox_id": sandbox, "verbose": true}),
    )?;
    pod.procs
        .push(Proc::of(verbose_pid(&st)?).ok_or("the sandbox's process is gone")?);

    let h1 = json!({
        "metadata": {"name": "h1", "attempt": 0},
        "image": {"image": IMAGE},
        "command": ["sh", "-c", "tty; [ -t 1 ] && echo stdout-is-a-tty; exec sleep 100000"],
        "tty": true,
        "log_path": "h1.log",
        "linux": {"security_context": {"namespace_options": ns_opts, "privileged": true}},
    });
    let resp = cri.call(
        "CreateContainer",
        json!({"pod_sandbox_id": sandbox, "config": h1, "sandbox_config": sandbox_config}),
    );
    r.rpc(
        handler,
        "host pod: CreateContainer (privileged, tty)",
        &resp,
    );
    let h1 = resp?["container_id"].as_str().unwrap().to_string();
    cri.ids.push((handler.into(), h1.clone()));
    pod.containers.push(h1.clone());
    let resp = cri.call("StartContainer", json!({"container_id": h1}));
    r.rpc(handler, "host pod: StartContainer", &resp);
    resp?;
    let st = cri.call(
        "ContainerStatus",
        json!({"container_id": h1, "verbose": true}),
    )?;
    let p = Proc::of(verbose_pid(&st)?).ok_or("h1's process is gone")?;
    pod.procs.push(p);

    let me = Proc::of(std::process::id() as i32).unwrap();
    let differ: Vec<&str> = ["net", "pid", "ipc"]
        .into_iter()
        .filter(|k| p.ns(k) != me.ns(k))
        .collect();
    r.check(
        handler,
        "host pod: h1 in the host's net, pid and ipc namespaces",
        differ.is_empty(),
        || format!("not the host's: {differ:?}"),
    );
    // Privileged: every capability the runtime itself has (this host withholds CAP_SYS_RESOURCE).
    let (caps, mine) = (
        common::proc_status(p.pid, "CapEff"),
        common::proc_status(me.pid, "CapBnd"),
    );
    r.check(
        handler,
        "host pod: privileged h1 has every capability of the host",
        caps == mine,
        || format!("CapEff {caps}, host's bounding set {mine}"),
    );
    // A host device that no unprivileged container gets.
    let dev = ["/dev/kvm", "/dev/loop-control", "/dev/fuse", "/dev/mem"]
        .into_iter()
        .find(|d| Path::new(d).exists())
        .ok_or("no /dev/kvm, /dev/loop-control, /dev/fuse or /dev/mem on the host")?;
    let script = format!(
        "grep -q ' /sys sysfs rw' /proc/mounts && echo sys-rw=yes; \
         [ -c {dev} ] && echo host-dev=yes; echo hostname=$(hostname)"
    );
    let resp = cri.call(
        "ExecSync",
        json!({"container_id": h1, "timeout": 20, "cmd": ["sh", "-c", script]}),
    );
    let host = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let want = format!("sys-rw=yes\nhost-dev=yes\nhostname={}\n", host.trim());
    r.check(
        handler,
        "host pod: ExecSync sees /sys writable, host devices, the host's hostname",
        resp.as_ref()
            .is_ok_and(|v| v["stdout"] == want.as_str() && int(&v["exit_code"]) == 0),
        || format!("{resp:?}, want {want:?}"),
    );
    let log = logs.join("h1.log");
    let got = wait_until("h1's output", || {
        let s = fs::read_to_string(&log).unwrap_or_default();
        Ok(s.contains("stdout-is-a-tty").then_some(s))
    });
    r.check(
        handler,
        "host pod: tty: h1's output through its pty in the log",
        got.as_ref().is_ok_and(|s| {
            s.contains(" stdout F /dev/pts/0") && s.contains(" stdout F stdout-is-a-tty")
        }),
        || format!("{got:?}"),
    );
    // Not a PID 1: SIGTERM ends it (128 + 15).
    let resp = cri.call("StopContainer", json!({"container_id": h1, "timeout": 10}));
    r.rpc(handler, "host pod: StopContainer", &resp);
    let st = cri.call("ContainerStatus", json!({"container_id": h1}))?;
    r.check(
        handler,
        "host pod: ContainerStatus: h1 ended by SIGTERM, code 143",
        st["status"]["state"] == "CONTAINER_EXITED" && int(&st["status"]["exit_code"]) == 143,
        || format!("{}", st["status"]),
    );
    Ok(())
}

/// Stop and remove the pod, then check that nothing of it is left.
fn pod_teardown(cri: &mut Cri, handler: &str, r: &mut Report, pod: &Pod, label: &str) {
    let Some(sandbox) = &pod.sandbox else { return };
    let id = json!({"pod_sandbox_id": sandbox});
    let resp = cri.call("StopPodSandbox", id.clone());
    r.rpc(handler, &format!("{label}: StopPodSandbox"), &resp);
    if let Ok(st) = cri.call("PodSandboxStatus", id.clone()) {
        r.check(
            handler,
            &format!("{label}: PodSandboxStatus after stop: SANDBOX_NOTREADY"),
            st["status"]["state"] == "SANDBOX_NOTREADY",
            || format!("{}", st["status"]),
        );
    }
    let resp = cri.call("RemovePodSandbox", id);
    r.rpc(handler, &format!("{label}: RemovePodSandbox"), &resp);

    // Nothing left: in CRI, processes, shims, cgroups, mounts, runtime state.
    let pods = cri.call("ListPodSandbox", json!({}));
    let containers = cri.call("ListContainers", json!({}));
    r.check(
        handler,
        &format!("{label}: after RemovePodSandbox: no pod or container in CRI"),
        matches!((&pods, &containers), (Ok(p), Ok(c))
            if p["items"].as_array().is_none_or(|a| a.is_empty())
            && c["containers"].as_array().is_none_or(|a| a.is_empty())),
        || format!("{pods:?} {containers:?}"),
    );
    let left: Vec<i32> = pod
        .procs
        .iter()
        .filter(|p| p.alive())
        .map(|p| p.pid)
        .collect();
    let mut ids = vec![sandbox.clone()];
    ids.extend(pod.containers.iter().cloned());
    let shims = commands_naming(&ids);
    r.check(
        handler,
        &format!("{label}: after RemovePodSandbox: no process or shim left"),
        left.is_empty() && shims.is_empty(),
        || format!("processes {left:?}, shims {shims:?}"),
    );
    let cgroups = cgroups_under(&cri.cgroup_parent(handler));
    r.check(
        handler,
        &format!("{label}: after RemovePodSandbox: no cgroup under the cgroup parent"),
        cgroups.is_empty(),
        || format!("{cgroups:?}"),
    );
    let mounts = mounts_under(&cri.dir);
    r.check(
        handler,
        &format!("{label}: after RemovePodSandbox: no mount under containerd's directories"),
        mounts.is_empty(),
        || format!("{mounts:?}"),
    );
    let state = runtime_state(&ids);
    r.check(
        handler,
        &format!("{label}: after RemovePodSandbox: no runtime state"),
        state.is_empty(),
        || format!("left in {RUNTIME_ROOT}: {state:?}"),
    );
}

#[test]
fn cri_pod_with_rt_and_runc() {
    if !wanted() {
        return;
    }
    let t0 = Instant::now();
    let mut cri = Cri::new();
    let setup = t0.elapsed();
    let version = cri.call("Version", json!({"version": "v1"})).unwrap();
    assert_eq!(version["runtime_api_version"], "v1", "{version}");
    let mut report = Report::default();
    let handlers: Vec<String> = cri.handlers.iter().map(|h| h.0.clone()).collect();
    for handler in &handlers {
        let t = Instant::now();
        let mut pod = Pod::default();
        if let Err(e) = pod_flow(&mut cri, handler, &mut report, &mut pod) {
            report.record(handler, "the pod's steps ran to the end", Err(e));
        }
        pod_teardown(&mut cri, handler, &mut report, &pod, "pod");
        eprintln!("[{handler}] pod done in {:.1?}", t.elapsed());
        let t = Instant::now();
        let mut pod = Pod::default();
        if let Err(e) = host_pod_flow(&mut cri, handler, &mut report, &mut pod) {
            report.record(handler, "the host pod's steps ran to the end", Err(e));
        }
        pod_teardown(&mut cri, handler, &mut report, &pod, "host pod");
        eprintln!("[{handler}] host pod done in {:.1?}", t.elapsed());
    }
    eprintln!(
        "setup (venv, containerd, images) {setup:.1?}, all {:.1?}\n{}",
        t0.elapsed(),
        report.table(&handlers)
    );
    let failures = report.failures();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
