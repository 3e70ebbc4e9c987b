//! A fake systemd for tests: one connection on a unix socket in a temporary directory, served by
//! a thread that does the server's side of SASL EXTERNAL, answers the bus daemon's and the
//! manager's calls from a script, and records every call it gets (decoded) for the test to check.
//! Every wait is bounded, so a test against it cannot hang.

use super::conn::Conn;
use super::dbus::Value;
use super::message::Message;
use anyhow::{ensure, Result};
use std::collections::VecDeque;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How the fake answers a StartTransientUnit, StopUnit or SetUnitProperties call.
#[derive(Clone, Copy)]
pub enum Answer {
    /// A job, then its JobRemoved with this result.
    Job(&'static str),
    /// A job that never finishes.
    Silent,
    /// An error reply (name, text).
    Error(&'static str, &'static str),
    /// A job, a JobRemoved "done" from some other bus client, then systemd's with this result.
    Spoofed(&'static str),
}

pub enum Mode {
    Serve(Vec<Answer>),
    RejectAuth,
    /// A malformed message in reply to the first call.
    Garbage,
}

pub struct Fake {
    pub path: PathBuf,
    dir: PathBuf,
    thread: Option<JoinHandle<Result<Vec<Message>>>>,
}

/// The fake's unique bus name, as GetNameOwner reports it.
pub const SYSTEMD_NAME: &str = ":1.1";
const LIMIT: Duration = Duration::from_secs(10);

impl Fake {
    pub fn start(mode: Mode) -> Fake {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "rt-fake-systemd-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("private");
        let listener = UnixListener::bind(&path).unwrap();
        let thread = std::thread::spawn(move || serve(listener, mode));
        Fake {
            path,
            dir,
            thread: Some(thread),
        }
    }

    /// Every call the fake received, once the client has hung up.
    pub fn calls(mut self) -> Vec<Message> {
        self.thread.take().unwrap().join().unwrap().unwrap()
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn accept(listener: &UnixListener, deadline: Instant) -> Result<UnixStream> {
    listener.set_nonblocking(true)?;
    loop {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false)?;
                return Ok(s);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                ensure!(Instant::now() < deadline, "no client connected");
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn serve(listener: UnixListener, mode: Mode) -> Result<Vec<Message>> {
    let deadline = Instant::now() + LIMIT;
    let sock = accept(&listener, deadline)?;
    let mut conn = Conn::from_stream(sock, Path::new("client"));

    let uid = nix::unistd::geteuid().as_raw().to_string();
    let hex: String = uid.bytes().map(|b| format!("{b:02x}")).collect();
    let auth = conn.read_line(deadline)?;
    ensure!(
        auth == format!("\0AUTH EXTERNAL {hex}"),
        "auth line {auth:?}"
    );
    if let Mode::RejectAuth = mode {
        conn.write_all(b"REJECTED EXTERNAL\r\n", deadline)?;
        return Ok(Vec::new());
    }
    conn.write_all(b"OK 0123456789abcdef0123456789abcdef\r\n", deadline)?;
    let begin = conn.read_line(deadline)?;
    ensure!(begin == "BEGIN", "expected BEGIN, got {begin:?}");

    let garbage = matches!(mode, Mode::Garbage);
    let mut answers: VecDeque<Answer> = match mode {
        Mode::Serve(a) => a.into(),
        _ => VecDeque::new(),
    };
    let mut calls = Vec::new();
    let mut jobs = 0;
    // Until the client hangs up.
    while let Ok(call) = conn.recv(deadline) {
        calls.push(call.clone());
        if garbage {
            // A header announcing 8 bytes of fields whose variant signature overruns them.
            let mut bad = vec![b'l', 2, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 8, 0, 0, 0];
            bad.extend_from_slice(&[5, 0xff, b'u', 0, 0, 0, 0, 0]);
            conn.write_all(&bad, deadline)?;
            continue;
        }
        let send = |conn: &mut Conn, mut m: Message| {
            m.sender = Some(SYSTEMD_NAME.into());
            conn.send(m, deadline).map(drop)
        };
        let reply = |body| Message::method_return(&call, body);
        let member = call.member.clone().unwrap_or_default();
        match member.as_str() {
            "Hello" => send(&mut conn, reply(vec![Value::Str(":1.99".into())]))?,
            "AddMatch" | "ResetFailedUnit" => send(&mut conn, reply(vec![]))?,
            "GetNameOwner" => send(&mut conn, reply(vec![Value::Str(SYSTEMD_NAME.into())]))?,
            "StartTransientUnit" | "StopUnit" | "SetUnitProperties" => {
                let answer = answers.pop_front().unwrap_or(Answer::Job("done"));
                if let Answer::Error(name, text) = answer {
                    send(&mut conn, Message::error(&call, name, text))?;
                    continue;
                }
                if member == "SetUnitProperties" {
                    send(&mut conn, reply(vec![]))?;
                    continue;
                }
                jobs += 1;
                let job = format!("/org/freedesktop/systemd1/job/{jobs}");
                let unit = call
                    .body
                    .first()
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                // Another job's end, before the reply: the client must keep it aside and skip it.
                send(
                    &mut conn,
                    job_removed(
                        jobs + 1000,
                        "/org/freedesktop/systemd1/job/999",
                        "x.scope",
                        "failed",
                    ),
                )?;
                send(&mut conn, reply(vec![Value::ObjectPath(job.clone())]))?;
                match answer {
                    Answer::Job(result) => send(&mut conn, job_removed(jobs, &job, &unit, result))?,
                    Answer::Spoofed(result) => {
                        let mut spoof = job_removed(jobs, &job, &unit, "done");
                        spoof.sender = Some(":1.666".into());
                        conn.send(spoof, deadline)?;
                        send(&mut conn, job_removed(jobs, &job, &unit, result))?
                    }
                    _ => {}
                }
            }
            other => send(
                &mut conn,
                Message::error(&call, "org.freedesktop.DBus.Error.UnknownMethod", other),
            )?,
        }
    }
    Ok(calls)
}

fn job_removed(id: u32, job: &str, unit: &str, result: &str) -> Message {
    Message::signal(
        "/org/freedesktop/systemd1",
        "org.freedesktop.systemd1.Manager",
        "JobRemoved",
        vec![
            Value::U32(id),
            Value::ObjectPath(job.into()),
            Value::Str(unit.into()),
            Value::Str(result.into()),
        ],
    )
}
