//! Integration tests for the terminal of a container's process, as runc 1.1 gives it: the pty
//! master sent to a manager's `--console-socket` by `create`; rt's own terminal proxied by a
//! foreground `run` or `exec -t`; runc's refusals when a socket and a terminal do not fit. The test
//! plays the manager or the user at a terminal, and checks what the kernel shows.

mod common;

use common::*;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::stat::{major, minor, Mode};
use nix::sys::termios::{tcgetattr, LocalFlags, OutputFlags};
use serde_json::json;
use std::fs;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(20);

/// One read of a pty master, waiting at most a second; false once it is at its end (EIO: no
/// slave descriptor is left open).
fn read_some(master: &OwnedFd, got: &mut String) -> bool {
    let mut fds = [PollFd::new(master.as_fd(), PollFlags::POLLIN)];
    match poll(&mut fds, PollTimeout::from(1000u16)) {
        Ok(0) | Err(Errno::EINTR) => return true,
        Ok(_) => {}
        Err(e) => panic!("poll the terminal: {e}"),
    }
    let mut buf = [0u8; 4096];
    match nix::unistd::read(master, &mut buf) {
        Ok(0) | Err(Errno::EIO) => false,
        Ok(n) => {
            got.push_str(&String::from_utf8_lossy(&buf[..n]));
            true
        }
        Err(Errno::EAGAIN | Errno::EINTR) => true,
        Err(e) => panic!("read the terminal: {e}"),
    }
}

/// Read a pty master until `needle` shows, within DEADLINE.
#[track_caller]
fn read_until(master: &OwnedFd, got: &mut String, needle: &str) {
    let end = Instant::now() + DEADLINE;
    while !got.contains(needle) {
        assert!(
            Instant::now() < end,
            "no {needle:?} on the terminal; it showed {got:?}"
        );
        assert!(
            read_some(master, got),
            "the terminal closed before {needle:?}; it showed {got:?}"
        );
    }
}

/// What the process printed after `tag` on that line.
#[track_caller]
fn field<'a>(got: &'a str, tag: &str) -> &'a str {
    let at = got
        .find(tag)
        .unwrap_or_else(|| panic!("no {tag:?} in {got:?}"))
        + tag.len();
    got[at..].split(['\r', '\n']).next().unwrap()
}

fn set_size(fd: &OwnedFd, rows: u16, cols: u16) {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // Safety: TIOCSWINSZ with a valid winsize.
    assert_eq!(
        unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) },
        0
    );
}

fn size_of(fd: &OwnedFd) -> (u16, u16) {
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // Safety: TIOCGWINSZ into a valid winsize.
    assert_eq!(
        unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) },
        0
    );
    (ws.ws_row, ws.ws_col)
}

/// A new pty (master, slave), both close-on-exec so that no other test's child inherits them
/// (a leaked slave would keep the terminal from ever ending).
fn pty_pair(rows: u16, cols: u16) -> (OwnedFd, OwnedFd) {
    let m = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC).unwrap();
    grantpt(&m).unwrap();
    unlockpt(&m).unwrap();
    let name = ptsname_r(&m).unwrap();
    let slave = nix::fcntl::open(
        name.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .unwrap();
    // Safety: a fresh descriptor we own.
    let master = unsafe { OwnedFd::from_raw_fd(m.into_raw_fd()) };
    set_size(&master, rows, cols);
    (master, slave)
}

/// The container's pty seen from the host: the slave a process of it has as stdin.
fn pty_of(pid: i32) -> OwnedFd {
    nix::fcntl::open(
        format!("/proc/{pid}/fd/0").as_str(),
        OFlag::O_RDONLY | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .unwrap()
}

/// rt at a terminal, as started from an interactive shell: the slave is its stdio and its
/// controlling terminal (in a session of its own); the test types and reads on the master.
struct AtTerminal {
    child: Child,
    master: OwnedFd,
}

fn at_terminal(args: &[&str], rows: u16, cols: u16) -> AtTerminal {
    let (master, slave) = pty_pair(rows, cols);
    let mut cmd = Command::new(rt_bin());
    cmd.arg("--root")
        .arg(state_root())
        .args(args)
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave));
    // Safety: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn().unwrap();
    // Our copies of the slave go: the terminal ends with rt.
    drop(cmd);
    AtTerminal { child, master }
}

impl AtTerminal {
    /// rt's exit status, reading its output meanwhile (a full terminal would stop it).
    #[track_caller]
    fn wait(&mut self, got: &mut String) -> i32 {
        let end = Instant::now() + DEADLINE;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                while read_some(&self.master, got) {}
                return st.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < end,
                "rt did not exit; the terminal showed {got:?}"
            );
            if !read_some(&self.master, got) {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }

    fn type_in(&self, keys: &str) {
        assert_eq!(
            nix::unistd::write(&self.master, keys.as_bytes()),
            Ok(keys.len())
        );
    }
}

impl Drop for AtTerminal {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// /proc/<pid>/stat: (session, tty_nr as (major, minor), tpgid).
fn ctty(pid: i32) -> (i32, (u64, u64), i32) {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields from the 3rd (state) on, after the command in parentheses.
    let f: Vec<&str> = s[s.rfind(')').unwrap() + 1..].split_whitespace().collect();
    let nr: u64 = f[4].parse().unwrap();
    let dev = ((nr >> 8) & 0xfff, (nr & 0xff) | ((nr >> 12) & 0xfff00));
    (f[3].parse().unwrap(), dev, f[5].parse().unwrap())
}

/// `rt ARGS` with no terminal anywhere: stdio are files and it runs in a session of its own, so
/// it has no controlling terminal either.
fn without_terminal(c: &Container, args: &[&str]) -> Output {
    let mut cmd = Command::new(rt_bin());
    cmd.arg("--root").arg(state_root()).args(args);
    // Safety: setsid is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    run_cmd(&mut cmd, &c.bundle)
}

/// What a manager gets from `create --console-socket`: the master (named /dev/ptmx, as runc
/// names it) while the init is parked; the init's stdio and controlling terminal is its slave,
/// from the container's own devpts, at process.consoleSize and bind-mounted on /dev/console.
#[test]
fn create_sends_the_pty_master_to_the_console_socket() {
    let mut c = Container::new("console");
    c.config["process"]["terminal"] = json!(true);
    c.config["process"]["consoleSize"] = json!({"height": 13, "width": 47});
    c.sh("echo tty=$(tty); echo size=$(stty size); echo prompt-$((6*7)); read x; echo got-$x");
    let sock = c.bundle.join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let (name, master) = std::thread::scope(|s| {
        let h = s.spawn(|| receive_fd(&listener));
        c.create_with(&["--console-socket", sock.to_str().unwrap()])
            .ok();
        h.join().unwrap()
    });
    assert_eq!(name, "/dev/ptmx");
    assert_eq!(c.status(), "created");
    c.start().ok();
    let mut got = String::new();
    read_until(&master, &mut got, "prompt-42");
    let n: u64 = field(&got, "tty=")
        .strip_prefix("/dev/pts/")
        .unwrap_or_else(|| panic!("tty is not a pts: {got:?}"))
        .parse()
        .unwrap();
    assert_eq!(field(&got, "size="), "13 47");
    // The pty is as the kernel made it (a manager's to set up): ONLCR adds the "\r".
    assert!(got.contains("prompt-42\r\n"), "{got:?}");

    // The master we hold is that pty's...
    let mut ptn: libc::c_uint = 0;
    // Safety: TIOCGPTN into a valid unsigned int.
    assert_eq!(
        unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut ptn) },
        0
    );
    assert_eq!(ptn as u64, n);
    // ...whose slave is the init's stdio...
    let pid = c.pid();
    let slave = fs::metadata(format!("/proc/{pid}/fd/0")).unwrap();
    assert!(slave.file_type().is_char_device());
    assert_eq!(minor(slave.rdev()), n);
    for fd in [1, 2] {
        let m = fs::metadata(format!("/proc/{pid}/fd/{fd}")).unwrap();
        assert_eq!((m.dev(), m.ino()), (slave.dev(), slave.ino()), "fd {fd}");
    }
    // ...on the container's own devpts (newinstance), not the host's.
    let m = nix::sys::stat::fstat(&master).unwrap();
    assert_eq!(m.st_dev, slave.dev());
    assert_ne!(slave.dev(), fs::metadata("/dev/pts/ptmx").unwrap().dev());
    // The init leads its session, with the slave as controlling terminal and in its foreground.
    let (session, tty_nr, tpgid) = ctty(pid);
    assert_eq!(session, pid);
    assert_eq!(tty_nr, (major(slave.rdev()), minor(slave.rdev())));
    assert_eq!(tpgid, pid);
    // /dev/console is the slave itself: its inode, bind-mounted.
    let console = fs::metadata(format!("/proc/{pid}/root/dev/console")).unwrap();
    assert_eq!((console.dev(), console.ino()), (slave.dev(), slave.ino()));

    assert_eq!(nix::unistd::write(&master, b"hello\n"), Ok(6));
    read_until(&master, &mut got, "got-hello");
    c.wait_status("stopped");
    c.delete().ok();
}

/// /dev/console is bound before the root turns read-only, as runc orders it: without a /dev mount
/// of its own, it is made in the rootfs itself.
#[test]
fn dev_console_is_bound_before_the_root_turns_read_only() {
    let mut c = Container::new("roconsole");
    let rootfs = c.own_rootfs();
    c.config["root"]["readonly"] = json!(true);
    c.config["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| m["destination"] != "/dev");
    c.config["process"]["terminal"] = json!(true);
    let sock = c.bundle.join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    std::thread::scope(|s| {
        let h = s.spawn(|| receive_fd(&listener));
        c.create_with(&["--console-socket", sock.to_str().unwrap()])
            .ok();
        h.join().unwrap()
    });
    // The parked init has its terminal already.
    let pid = c.pid();
    let slave = fs::metadata(format!("/proc/{pid}/fd/0")).unwrap();
    let console = fs::metadata(format!("/proc/{pid}/root/dev/console")).unwrap();
    assert_eq!((console.dev(), console.ino()), (slave.dev(), slave.ino()));
    assert!(rootfs.join("dev/console").is_file());
    c.rt(&["delete", "--force", &c.id]).ok();
}

/// As runc's fixStdioPermissions: the process's user owns its terminal (the group stays devpts's
/// gid=5), so that it can open it again.
#[test]
fn the_terminal_belongs_to_the_process_user() {
    let mut c = Container::new("ttyowner");
    c.config["process"]["terminal"] = json!(true);
    c.config["process"]["user"] = json!({"uid": 1000, "gid": 100});
    c.sh(": <$(tty) && echo reopened; echo prompt-$((6*7)); read x");
    let sock = c.bundle.join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let (_, master) = std::thread::scope(|s| {
        let h = s.spawn(|| receive_fd(&listener));
        c.create_with(&["--console-socket", sock.to_str().unwrap()])
            .ok();
        h.join().unwrap()
    });
    c.start().ok();
    let mut got = String::new();
    read_until(&master, &mut got, "prompt-42");
    assert!(got.contains("reopened"), "{got:?}");
    let slave = fs::metadata(format!("/proc/{}/fd/0", c.pid())).unwrap();
    assert_eq!((slave.uid(), slave.gid()), (1000, 5));
    assert_eq!(nix::unistd::write(&master, b"\n"), Ok(1));
    c.wait_status("stopped");
}

fn refused(c: &Container, out: Output, msg: &str) {
    out.fails_with(msg);
    assert_eq!(c.leftovers(), Vec::<std::path::PathBuf>::new());
}

/// runc's checkTerminal and a socket that is not there: exit 1 with what is wrong, and nothing of
/// the container left behind (state, cgroups).
#[test]
fn console_socket_mistakes_are_refused_as_runc_refuses_them() {
    let mut c = Container::new("consolerr");
    let sock = c.bundle.join("console.sock");
    let _listener = UnixListener::bind(&sock).unwrap();
    let s = sock.to_str().unwrap();
    let b = c.bundle.to_str().unwrap().to_string();
    let detached = "cannot allocate tty if rt will detach without setting console socket";
    let not_ours = "cannot use console socket if rt will not detach or allocate tty";

    c.config["process"]["terminal"] = json!(true);
    refused(&c, c.create(), detached);
    refused(&c, c.rt(&["run", "-d", "--bundle", &b, &c.id]), detached);
    // A foreground run keeps the terminal itself.
    refused(
        &c,
        c.rt(&["run", "--console-socket", s, "--bundle", &b, &c.id]),
        not_ours,
    );
    let missing = c.bundle.join("no-such.sock");
    refused(
        &c,
        c.create_with(&["--console-socket", missing.to_str().unwrap()]),
        &format!("{}: no such file or directory", missing.display()),
    );

    c.config["process"]["terminal"] = json!(false);
    refused(&c, c.create_with(&["--console-socket", s]), not_ours);
}

/// A foreground `run` with a terminal needs one on rt's side (any of its stdio, or its
/// controlling terminal), as runc: without, the process never runs and nothing is left.
#[test]
fn run_with_a_terminal_needs_one_on_our_side() {
    let mut c = Container::new("nohosttty");
    c.config["process"]["terminal"] = json!(true);
    c.sh("echo ran");
    c.write_config();
    let b = c.bundle.to_str().unwrap().to_string();
    let out = without_terminal(&c, &["run", "--bundle", &b, &c.id]);
    assert!(!out.stdout.contains("ran"), "{out:?}");
    refused(&c, out, "open /dev/tty: no such device or address");
}

/// A foreground `run` proxies rt's own terminal, as runc does: raw while the container runs and
/// restored after, its window size the container's from the start (over process.consoleSize) and
/// after a resize (SIGWINCH), keys and output both ways, and the container's status as rt's.
#[test]
fn run_in_the_foreground_proxies_our_terminal() {
    let mut c = Container::new("fgrun");
    c.config["process"]["terminal"] = json!(true);
    c.config["process"]["consoleSize"] = json!({"height": 5, "width": 6});
    c.sh(
        "echo size=$(stty size); echo prompt-$((6*7)); read x; echo got-$x; \
         read y; echo resized=$(stty size); exit 3",
    );
    c.write_config();
    let b = c.bundle.to_str().unwrap().to_string();
    let mut t = at_terminal(&["run", "--bundle", &b, &c.id], 31, 97);
    let mut got = String::new();
    read_until(&t.master, &mut got, "prompt-42");
    assert_eq!(field(&got, "size="), "31 97");
    // Our terminal is raw (the container's pty edits lines and echoes), output processing kept...
    let ours = tcgetattr(&t.master).unwrap();
    assert!(!ours
        .local_flags
        .intersects(LocalFlags::ICANON | LocalFlags::ECHO | LocalFlags::ISIG));
    assert!(ours.output_flags.contains(OutputFlags::OPOST));
    // ...so it is ours that adds "\r" to "\n", not the container's (runc's ClearONLCR).
    let inner = pty_of(c.pid());
    assert!(!tcgetattr(&inner)
        .unwrap()
        .output_flags
        .contains(OutputFlags::ONLCR));
    assert!(
        got.contains("prompt-42\r\n") && !got.contains("\r\r"),
        "{got:?}"
    );

    // Enter sends "\r", which the container's pty turns into the "\n" that ends `read`.
    t.type_in("hello\r");
    read_until(&t.master, &mut got, "got-hello");

    // Resizing our terminal signals rt, which resizes the container's.
    set_size(&t.master, 40, 120);
    let end = Instant::now() + DEADLINE;
    while size_of(&inner) != (40, 120) {
        assert!(Instant::now() < end, "pty size {:?}", size_of(&inner));
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(inner);
    t.type_in("\r");
    assert_eq!(t.wait(&mut got), 3, "{got:?}");
    assert_eq!(field(&got, "resized="), "40 120");
    // Our terminal is back as it was, and the container is gone.
    let ours = tcgetattr(&t.master).unwrap();
    assert!(ours
        .local_flags
        .contains(LocalFlags::ICANON | LocalFlags::ECHO | LocalFlags::ISIG));
    assert_eq!(c.leftovers(), Vec::<std::path::PathBuf>::new());
}

/// `exec -t` in the foreground proxies rt's terminal the same way, and returns the process's
/// status once it is gone even if a process it left behind keeps the terminal open (runc stops
/// copying then too).
#[test]
fn exec_tty_in_the_foreground_proxies_our_terminal() {
    let mut c = Container::new("fgexec");
    c.args(&["sleep", "1000"]);
    c.create().ok();
    c.start().ok();
    let mut t = at_terminal(
        &[
            "exec",
            "-t",
            &c.id,
            "sh",
            "-c",
            "trap '' HUP; sleep 1000 & echo prompt-$((6*7)); read x; \
             echo got-$x size=$(stty size); exit 4",
        ],
        22,
        33,
    );
    let mut got = String::new();
    read_until(&t.master, &mut got, "prompt-42");
    t.type_in("hello\r");
    assert_eq!(t.wait(&mut got), 4, "{got:?}");
    assert!(got.contains("got-hello"), "{got:?}");
    assert_eq!(field(&got, "size="), "22 33");
    // The background sleep is still there, holding the slave rt no longer waited for.
    let procs = fs::read_to_string(c.cgroup_file("pids", "cgroup.procs", "cgroup.procs")).unwrap();
    assert_eq!(procs.lines().count(), 2, "{procs}");

    // Without a terminal on rt's side, the process is not started (exec's status 255).
    let out = without_terminal(&c, &["exec", "-t", &c.id, "sh", "-c", "echo ran"]);
    assert_eq!(out.code(), 255, "{out:?}");
    assert!(
        out.stderr
            .contains("open /dev/tty: no such device or address")
            && out.stdout.is_empty(),
        "{out:?}"
    );
}
