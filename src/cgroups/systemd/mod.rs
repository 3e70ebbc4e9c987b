//! The systemd cgroup driver's D-Bus side (`rt --systemd-cgroup`): the container's cgroup is a
//! transient unit that systemd creates, as runc's systemd drivers do, named from cgroupsPath
//! "slice:prefix:name".
//!
//! D-Bus is spoken directly (marshalling in `dbus`, messages in `message`, the socket in `conn`)
//! rather than through a D-Bus crate: the few calls needed do not justify its size.

mod conn;
mod dbus;
mod driver;
#[cfg(test)]
mod fake;
mod manager;
mod message;
mod properties;
mod unit;

pub use driver::{stop, update, Driver};
