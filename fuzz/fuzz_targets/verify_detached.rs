//! An armoured signature checked against a fixed allowed_signers file: the whole
//! signature path, from armour to the trust verdict (src/fuzz_api.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| netpol_sync::fuzz_api::verify_detached(data));
