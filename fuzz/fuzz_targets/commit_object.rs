//! A raw git commit object, as the commit chain reads it (src/verify/commit.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| netpol_sync::fuzz_api::commit_object(data));
