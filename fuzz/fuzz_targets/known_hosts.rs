//! A known_hosts file, then a few host checks (src/remote/known_hosts.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| netpol_sync::fuzz_api::known_hosts(data));
