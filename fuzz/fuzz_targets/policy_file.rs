//! A bundle's policy file: YAML documents, then NetworkPolicies (src/bundle/yaml.rs,
//! src/bundle/policy.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| netpol_sync::fuzz_api::policy_file(data));
