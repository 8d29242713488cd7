//! A draft's file as `netpol-sync reach` splits and pre-reads it (src/reach/files.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| netpol_sync::fuzz_api::reach_documents(data));
