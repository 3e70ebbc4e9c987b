//! Integration tests: capabilities and seccomp, read from /proc inside the container.

mod common;
