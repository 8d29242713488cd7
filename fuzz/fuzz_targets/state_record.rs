//! The state ConfigMap's data: state.json, NUL, inventory (src/state/record.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| netpol_sync::fuzz_api::state_record(data));
