//! `regex` as regex-lite: see Cargo.toml for why rt builds oci-spec against it.
pub use regex_lite::*;
