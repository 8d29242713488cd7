//! A policy file's text as `netpol-sync check`'s lint reads it: the field locator and the
//! `# netpol-sync:` comment directives (src/lint/locate.rs, src/lint/silence.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| netpol_sync::fuzz_api::lint_locate(data));
