//! Integration tests: rootfs.

mod common;
