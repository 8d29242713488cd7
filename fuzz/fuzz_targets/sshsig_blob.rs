//! A binary SSHSIG blob (src/verify/sshsig.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| netpol_sync::fuzz_api::sshsig_blob(data));
