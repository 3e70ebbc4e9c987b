//! Integration tests: the known container escapes, each reproduced and shown to fail.

mod common;
