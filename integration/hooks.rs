//! Integration tests: hooks.

mod common;
