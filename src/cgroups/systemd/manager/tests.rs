//! The manager client end to end against the fake systemd.

use super::*;
use crate::cgroups::systemd::dbus::Type;
use crate::cgroups::systemd::fake::{Answer, Fake, Mode, SYSTEMD_NAME};

fn scope() -> ScopeName {
    ScopeName {
        slice: "system.slice".into(),
        unit: "rt-c1.scope".into(),
    }
}

fn connect(fake: &Fake) -> Systemd {
    let mut sd = Systemd::connect_to(&fake.path).unwrap();
    sd.unified = true;
    sd.timeout = Duration::from_secs(5);
    sd
}

fn members(calls: &[Message]) -> Vec<&str> {
    calls.iter().map(|c| c.member.as_deref().unwrap()).collect()
}

/// An a(sv) body value as (name, value) pairs.
fn decode_props(v: &Value) -> Vec<(String, Value)> {
    let Value::Array(_, items) = v else {
        panic!("not an array: {v:?}")
    };
    items
        .iter()
        .map(|i| match i {
            Value::Struct(f) => match (&f[0], &f[1]) {
                (Value::Str(n), Value::Variant(v)) => (n.clone(), (**v).clone()),
                _ => panic!("not (sv): {i:?}"),
            },
            _ => panic!("not a struct: {i:?}"),
        })
        .collect()
}

fn b(name: &str, v: bool) -> (String, Value) {
    (name.into(), Value::Bool(v))
}

#[test]
fn start_scope_sends_runc_properties_and_waits_for_done() {
    let fake = Fake::start(Mode::Serve(vec![Answer::Job("done")]));
    let mut sd = connect(&fake);
    let extra = [Property::new("MemoryMax", Value::U64(1 << 20))];
    sd.start_scope(&scope(), 4321, &extra).unwrap();
    drop(sd);
    let calls = fake.calls();
    assert_eq!(members(&calls), ["StartTransientUnit"]);
    let c = &calls[0];
    assert_eq!(c.destination.as_deref(), Some("org.freedesktop.systemd1"));
    assert_eq!(c.path.as_deref(), Some("/org/freedesktop/systemd1"));
    assert_eq!(
        c.interface.as_deref(),
        Some("org.freedesktop.systemd1.Manager")
    );
    assert_eq!(c.body[0], Value::Str("rt-c1.scope".into()));
    assert_eq!(c.body[1], Value::Str("replace".into()));
    assert_eq!(
        decode_props(&c.body[2]),
        vec![
            (
                "Description".into(),
                Value::Str("rt container rt-c1.scope".into())
            ),
            ("Slice".into(), Value::Str("system.slice".into())),
            b("Delegate", true),
            (
                "PIDs".into(),
                Value::Array(Type::U32, vec![Value::U32(4321)])
            ),
            b("MemoryAccounting", true),
            b("CPUAccounting", true),
            b("IOAccounting", true),
            b("TasksAccounting", true),
            b("DefaultDependencies", false),
            ("MemoryMax".into(), Value::U64(1 << 20)),
        ]
    );
    assert_eq!(c.body[3].signature(), "a(sa(sv))");
    assert_eq!(
        c.body[3],
        Value::Array(Type::Struct(vec![Type::Str, to_array(&[]).typ()]), vec![])
    );
}

#[test]
fn a_failed_job_is_an_error_and_the_unit_is_reset() {
    let fake = Fake::start(Mode::Serve(vec![Answer::Job("failed")]));
    let e = connect(&fake).start_scope(&scope(), 1, &[]).unwrap_err();
    assert_eq!(
        format!("{e:#}"),
        "systemd cgroup driver: start unit \"rt-c1.scope\": job /org/freedesktop/systemd1/job/1 finished with result \"failed\""
    );
    assert_eq!(
        members(&fake.calls()),
        ["StartTransientUnit", "ResetFailedUnit"]
    );
}

#[test]
fn an_error_reply_names_the_unit_and_the_error() {
    let fake = Fake::start(Mode::Serve(vec![Answer::Error(
        "org.freedesktop.DBus.Error.AccessDenied",
        "Access denied",
    )]));
    let e = connect(&fake).start_scope(&scope(), 1, &[]).unwrap_err();
    assert_eq!(
        format!("{e:#}"),
        "systemd cgroup driver: start unit \"rt-c1.scope\": org.freedesktop.DBus.Error.AccessDenied: Access denied"
    );
    assert_eq!(members(&fake.calls()), ["StartTransientUnit"]);
}

#[test]
fn an_existing_unit_is_reset_and_the_start_retried_once() {
    const EXISTS: Answer = Answer::Error(UNIT_EXISTS, "Unit rt-c1.scope already exists.");
    let fake = Fake::start(Mode::Serve(vec![EXISTS, Answer::Job("done")]));
    connect(&fake).start_scope(&scope(), 1, &[]).unwrap();
    let want = [
        "StartTransientUnit",
        "ResetFailedUnit",
        "StartTransientUnit",
    ];
    assert_eq!(members(&fake.calls()), want);

    let fake = Fake::start(Mode::Serve(vec![EXISTS, EXISTS]));
    let e = connect(&fake).start_scope(&scope(), 1, &[]).unwrap_err();
    assert!(
        format!("{e:#}").ends_with("UnitExists: Unit rt-c1.scope already exists."),
        "{e:#}"
    );
    assert_eq!(members(&fake.calls()), want);
}

#[test]
fn a_job_that_never_ends_times_out() {
    let fake = Fake::start(Mode::Serve(vec![Answer::Silent]));
    let mut sd = connect(&fake);
    sd.timeout = Duration::from_millis(300);
    let started = Instant::now();
    let e = format!("{:#}", sd.start_scope(&scope(), 1, &[]).unwrap_err());
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(
        e.starts_with("systemd cgroup driver: start unit \"rt-c1.scope\": waiting up to 300ms for systemd job /org/freedesktop/systemd1/job/1: "),
        "{e}"
    );
    assert!(e.ends_with("timed out"), "{e}");
    drop(sd);
    assert_eq!(
        members(&fake.calls()),
        ["StartTransientUnit", "ResetFailedUnit"]
    );
}

#[test]
fn on_the_bus_hello_comes_first_and_only_systemds_signals_count() {
    let fake = Fake::start(Mode::Serve(vec![Answer::Spoofed("failed")]));
    let mut sd = Systemd::open(&fake.path, Route::Bus).unwrap();
    assert_eq!(sd.systemd_name.as_deref(), Some(SYSTEMD_NAME));
    let e = sd.start_scope(&scope(), 1, &[]).unwrap_err();
    assert!(
        format!("{e:#}").ends_with("finished with result \"failed\""),
        "{e:#}"
    );
    drop(sd);
    let calls = fake.calls();
    assert_eq!(
        members(&calls),
        [
            "Hello",
            "AddMatch",
            "GetNameOwner",
            "StartTransientUnit",
            "ResetFailedUnit"
        ]
    );
    assert_eq!(
        calls[0].destination.as_deref(),
        Some("org.freedesktop.DBus")
    );
    assert_eq!(
        calls[1].body,
        [Value::Str(
            "type='signal',sender='org.freedesktop.systemd1',path='/org/freedesktop/systemd1',interface='org.freedesktop.systemd1.Manager',member='JobRemoved'".into()
        )]
    );
}

#[test]
fn set_properties_is_a_runtime_change() {
    let fake = Fake::start(Mode::Serve(vec![
        Answer::Job("done"),
        Answer::Error(
            "org.freedesktop.DBus.Error.InvalidArgs",
            "Cannot set property Foo",
        ),
    ]));
    let mut sd = connect(&fake);
    let props = [Property::new("TasksMax", Value::U64(10))];
    sd.set_properties("rt-c1.scope", &props).unwrap();
    let e = sd.set_properties("rt-c1.scope", &props).unwrap_err();
    assert_eq!(
        format!("{e:#}"),
        "systemd cgroup driver: set properties of unit \"rt-c1.scope\": org.freedesktop.DBus.Error.InvalidArgs: Cannot set property Foo"
    );
    drop(sd);
    let calls = fake.calls();
    assert_eq!(
        calls[0].body[..2],
        [Value::Str("rt-c1.scope".into()), Value::Bool(true)]
    );
    assert_eq!(
        decode_props(&calls[0].body[2]),
        [("TasksMax".into(), Value::U64(10))]
    );
}

#[test]
fn stop_unit_waits_and_a_missing_unit_is_fine() {
    let fake = Fake::start(Mode::Serve(vec![
        Answer::Job("done"),
        Answer::Error(NO_SUCH_UNIT, "Unit rt-c1.scope not loaded."),
        Answer::Job("canceled"),
        Answer::Error("org.freedesktop.DBus.Error.AccessDenied", "no"),
    ]));
    let mut sd = connect(&fake);
    sd.stop_unit("rt-c1.scope").unwrap();
    sd.stop_unit("rt-c1.scope").unwrap();
    // A job ending otherwise is only a warning, as in runc.
    sd.stop_unit("rt-c1.scope").unwrap();
    let e = sd.stop_unit("rt-c1.scope").unwrap_err();
    assert_eq!(
        format!("{e:#}"),
        "systemd cgroup driver: stop unit \"rt-c1.scope\": org.freedesktop.DBus.Error.AccessDenied: no"
    );
    drop(sd);
    let calls = fake.calls();
    assert_eq!(
        members(&calls),
        [
            "StopUnit",
            "ResetFailedUnit",
            "StopUnit",
            "StopUnit",
            "ResetFailedUnit",
            "StopUnit"
        ]
    );
    assert_eq!(
        calls[0].body,
        [
            Value::Str("rt-c1.scope".into()),
            Value::Str("replace".into())
        ]
    );
}

#[test]
fn unreachable_systemd_is_a_clear_error() {
    let e = Systemd::connect_to(Path::new("/nonexistent-rt-test/private"))
        .err()
        .unwrap();
    assert_eq!(
        e.to_string(),
        "systemd cgroup driver: cannot connect to systemd over D-Bus (/nonexistent-rt-test/private: no such file or directory); is systemd running?"
    );
    if !Path::new(PRIVATE_SOCKET).exists() && !Path::new(SYSTEM_BUS).exists() {
        assert_eq!(
            Systemd::connect().err().unwrap().to_string(),
            "systemd cgroup driver: cannot connect to systemd over D-Bus (/run/systemd/private: no such file or directory; /run/dbus/system_bus_socket: no such file or directory); is systemd running?"
        );
    }
}

#[test]
fn a_refused_authentication_or_a_malformed_reply_is_an_error() {
    let fake = Fake::start(Mode::RejectAuth);
    let e = Systemd::connect_to(&fake.path).err().unwrap().to_string();
    assert!(e.contains("authentication: refused as uid"), "{e}");
    assert!(e.contains("\"REJECTED EXTERNAL\""), "{e}");
    fake.calls();

    let fake = Fake::start(Mode::Garbage);
    let e = connect(&fake).start_scope(&scope(), 1, &[]).unwrap_err();
    assert!(format!("{e:#}").contains("malformed message from"), "{e:#}");
    assert_eq!(members(&fake.calls()), ["StartTransientUnit"]);
}
