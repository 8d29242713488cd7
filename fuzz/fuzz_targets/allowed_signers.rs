//! A whole allowed_signers file (src/verify/allowed_signers.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| netpol_sync::fuzz_api::allowed_signers(data));
