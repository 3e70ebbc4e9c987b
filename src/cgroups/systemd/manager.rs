//! The client of systemd's Manager object: start a container's transient unit and wait for its
//! job, change its properties, stop it. Mirrors runc's startUnit, stopUnit and
//! setUnitProperties (opencontainers/cgroups systemd/common.go) over go-systemd's calls.

use super::conn::Conn;
use super::dbus::{Type, Value};
use super::message::{DbusError, Message};
use super::properties::{to_array, unit_properties, Property};
use super::unit::ScopeName;
use crate::logging;
use anyhow::{anyhow, bail, Context, Result};
use std::path::Path;
use std::time::{Duration, Instant};

/// systemd's own socket: PID 1 itself, no bus daemon, no Hello. Root only.
const PRIVATE_SOCKET: &str = "/run/systemd/private";
const SYSTEM_BUS: &str = "/run/dbus/system_bus_socket";

const SYSTEMD: &str = "org.freedesktop.systemd1";
const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
const BUS: &str = "org.freedesktop.DBus";
const BUS_PATH: &str = "/org/freedesktop/DBus";

const UNIT_EXISTS: &str = "org.freedesktop.systemd1.UnitExists";
const NO_SUCH_UNIT: &str = "org.freedesktop.systemd1.NoSuchUnit";

/// runc waits 30 s for a job; connecting and plain calls get the same bound.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A connection to systemd's manager.
pub struct Systemd {
    conn: Conn,
    /// Bound on every call and job wait.
    timeout: Duration,
    /// The cgroup v2 unified hierarchy is mounted: v2's property names apply.
    unified: bool,
    /// On the bus, systemd's unique name: a signal from anyone else is not systemd's.
    systemd_name: Option<String>,
}

/// How the socket reaches systemd.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Route {
    Direct,
    Bus,
}

impl Systemd {
    /// Connect to systemd: its private socket first (what systemctl does as root: no dependency
    /// on a running bus daemon, one round trip less), then the system bus. go-systemd, under
    /// runc, tries them the other way round; either reaches the same manager.
    pub fn connect() -> Result<Self> {
        let mut failures = Vec::new();
        for (path, route) in [(PRIVATE_SOCKET, Route::Direct), (SYSTEM_BUS, Route::Bus)] {
            match Self::open(Path::new(path), route) {
                Ok(s) => return Ok(s),
                Err(e) => failures.push(crate::errno::words(&e)),
            }
        }
        Err(unreachable(&failures))
    }

    /// Connect to a socket where systemd answers directly, as on its private socket.
    #[cfg(test)]
    pub fn connect_to(path: &Path) -> Result<Self> {
        Self::open(path, Route::Direct).map_err(|e| unreachable(&[crate::errno::words(&e)]))
    }

    fn open(path: &Path, route: Route) -> Result<Self> {
        let deadline = Instant::now() + TIMEOUT;
        let conn = Conn::connect(path, deadline)?;
        let mut s = Systemd {
            conn,
            timeout: TIMEOUT,
            unified: cgroup2_unified(),
            systemd_name: None,
        };
        if route == Route::Bus {
            s.join_bus()
                .with_context(|| format!("{}: system bus", path.display()))?;
        }
        Ok(s)
    }

    /// On the bus: Hello (required first), a match rule so the bus daemon routes systemd's
    /// JobRemoved signals to us, and systemd's unique name. No Subscribe: systemd sends a job's
    /// signals to the client that queued it anyway (its job bus_track), and Subscribe would make
    /// it broadcast every unit change on the bus for as long as we are connected. On the private
    /// socket systemd sends all signals unconditionally.
    fn join_bus(&mut self) -> Result<()> {
        self.bus_call("Hello", vec![]).context("Hello")?;
        let rule = format!(
            "type='signal',sender='{SYSTEMD}',path='{MANAGER_PATH}',interface='{MANAGER}',member='JobRemoved'"
        );
        self.bus_call("AddMatch", vec![Value::Str(rule)])
            .context("AddMatch")?;
        let owner = self
            .bus_call("GetNameOwner", vec![Value::Str(SYSTEMD.into())])
            .context("systemd is not on the bus")?;
        let name = owner.body.first().and_then(Value::as_str);
        self.systemd_name = Some(name.ok_or_else(|| anyhow!("GetNameOwner: no name"))?.into());
        Ok(())
    }

    fn bus_call(&mut self, member: &str, body: Vec<Value>) -> Result<Message> {
        let m = Message::method_call(BUS, BUS_PATH, BUS, member, body);
        self.conn.call(m, Instant::now() + self.timeout)
    }

    fn manager_call(&mut self, member: &str, body: Vec<Value>) -> Result<Message> {
        let m = Message::method_call(SYSTEMD, MANAGER_PATH, MANAGER, member, body);
        self.conn.call(m, Instant::now() + self.timeout)
    }

    /// Start the container's transient unit with `pid` in it and wait for systemd to finish the
    /// job. As runc: if the unit already exists it may be a failed leftover, so it is reset and
    /// the start retried once; a job that ends other than "done" resets the failed unit.
    pub fn start_scope(&mut self, name: &ScopeName, pid: i32, props: &[Property]) -> Result<()> {
        let what = || format!("systemd cgroup driver: start unit {:?}", name.unit);
        let mut all = unit_properties(name, pid, self.unified);
        all.extend_from_slice(props);
        let job = match self.start_transient(&name.unit, &all) {
            Err(e) if is_dbus_error(&e, UNIT_EXISTS) => {
                self.reset_failed(&name.unit);
                self.start_transient(&name.unit, &all)
            }
            r => r,
        }
        .with_context(what)?;
        match self.wait_job(&job) {
            Ok(result) if result == "done" => Ok(()),
            Ok(result) => {
                self.reset_failed(&name.unit);
                bail!("{}: job {job} finished with result {result:?}", what())
            }
            Err(e) => {
                self.reset_failed(&name.unit);
                Err(e.context(what()))
            }
        }
    }

    fn start_transient(&mut self, unit: &str, props: &[Property]) -> Result<String> {
        // Auxiliary units a(sa(sv)): none.
        let aux = Value::Array(Type::Struct(vec![Type::Str, to_array(&[]).typ()]), vec![]);
        let body = vec![
            Value::Str(unit.into()),
            Value::Str("replace".into()),
            to_array(props),
            aux,
        ];
        job_path(self.manager_call("StartTransientUnit", body)?)
    }

    /// SetUnitProperties(unit, runtime=true, props): runtime, so nothing persists past a reboot.
    pub fn set_properties(&mut self, unit: &str, props: &[Property]) -> Result<()> {
        let body = vec![Value::Str(unit.into()), Value::Bool(true), to_array(props)];
        self.manager_call("SetUnitProperties", body)
            .with_context(|| format!("systemd cgroup driver: set properties of unit {unit:?}"))?;
        Ok(())
    }

    /// Stop the unit and wait for the job. A unit that is not loaded is already stopped. As runc,
    /// a job that ends other than "done" is only a warning, and a failed unit is reset so that
    /// systemd forgets it.
    pub fn stop_unit(&mut self, unit: &str) -> Result<()> {
        let what = || format!("systemd cgroup driver: stop unit {unit:?}");
        let body = vec![Value::Str(unit.into()), Value::Str("replace".into())];
        let job = match self.manager_call("StopUnit", body) {
            Err(e) if is_dbus_error(&e, NO_SUCH_UNIT) => return Ok(()),
            r => r.and_then(job_path).with_context(what)?,
        };
        let result = self.wait_job(&job).with_context(what)?;
        if result != "done" {
            logging::warn(&format!(
                "{}: job {job} finished with result {result:?}",
                what()
            ));
        }
        self.reset_failed(unit);
        Ok(())
    }

    /// Best effort, as in runc: the unit may be gone or not failed.
    fn reset_failed(&mut self, unit: &str) {
        let _ = self.manager_call("ResetFailedUnit", vec![Value::Str(unit.into())]);
    }

    /// Wait for the JobRemoved signal of `job`; its result ("done", "failed", "canceled",
    /// "timeout", "dependency", "skipped").
    fn wait_job(&mut self, job: &str) -> Result<String> {
        let deadline = Instant::now() + self.timeout;
        let waiting = || format!("waiting up to {:?} for systemd job {job}", self.timeout);
        loop {
            let sig = self.conn.next_signal(deadline).with_context(waiting)?;
            if let Some((path, result)) = job_removed(&sig, self.systemd_name.as_deref()) {
                if path == job {
                    return Ok(result.to_string());
                }
            }
        }
    }
}

/// JobRemoved(u id, o job, s unit, s result) from the manager; (job, result).
fn job_removed<'a>(sig: &'a Message, systemd: Option<&str>) -> Option<(&'a str, &'a str)> {
    if sig.interface.as_deref() != Some(MANAGER)
        || sig.member.as_deref() != Some("JobRemoved")
        || sig.path.as_deref() != Some(MANAGER_PATH)
        || systemd.is_some_and(|name| sig.sender.as_deref() != Some(name))
    {
        return None;
    }
    match &sig.body[..] {
        [Value::U32(_), Value::ObjectPath(job), Value::Str(_), Value::Str(result)] => {
            Some((job, result))
        }
        _ => None,
    }
}

fn job_path(reply: Message) -> Result<String> {
    match &reply.body[..] {
        [Value::ObjectPath(p)] => Ok(p.clone()),
        _ => bail!("unexpected reply {:?} where a job path was due", reply.body),
    }
}

fn is_dbus_error(e: &anyhow::Error, name: &str) -> bool {
    e.downcast_ref::<DbusError>()
        .is_some_and(|d| d.name == name)
}

fn unreachable(failures: &[String]) -> anyhow::Error {
    anyhow!(
        "systemd cgroup driver: cannot connect to systemd over D-Bus ({}); is systemd running?",
        failures.join("; ")
    )
}

/// runc's IsCgroup2UnifiedMode: /sys/fs/cgroup is a cgroup2 mount (not v1 or hybrid).
pub(super) fn cgroup2_unified() -> bool {
    use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC};
    statfs("/sys/fs/cgroup").is_ok_and(|s| s.filesystem_type() == CGROUP2_SUPER_MAGIC)
}

#[cfg(test)]
mod tests;
