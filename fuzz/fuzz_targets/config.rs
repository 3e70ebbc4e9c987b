//! config.json loading and validation (src/container/config.rs) on arbitrary bytes: whatever the
//! input, an error or a config, never a panic, a hang or a runaway allocation. What is accepted
//! must be accepted again once written back, so that the checks do not depend on how a config is
//! spelled.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)] // rt's other users of the module (features, hooks) are not here.
#[path = "../../src/container/config.rs"]
mod config;

fuzz_target!(|data: &[u8]| {
    let Ok(mut spec) = config::parse(data) else {
        return;
    };
    config::bind_sources_in(&mut spec, std::path::Path::new("/bundle"));
    let again = serde_json::to_vec(&spec).expect("serialize an accepted config");
    if let Err(e) = config::parse(&again) {
        panic!("accepted, then refused once written back: {e:#}");
    }
});
