//! `netpol-sync reach --workloads`: YAML documents, then namespaces and workloads, then a
//! map under a fixed policy (src/reach/workloads.rs, crates/netpol-reach).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| netpol_sync::fuzz_api::reach_workloads(data));
