//! One line of a NetworkPolicy watch stream (src/daemon/drift_watch.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| netpol_sync::fuzz_api::watch_line(data));
