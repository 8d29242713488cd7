//! A bundle's bundle.yaml (src/bundle/manifest.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| netpol_sync::fuzz_api::bundle_manifest(data));
