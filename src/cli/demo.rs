//! `netpol-sync demo`: a narrated tour against the embedded API server emulator.

use super::DemoArgs;
use crate::outcome::Outcome;
use std::process::ExitCode;

pub fn run(_args: DemoArgs) -> ExitCode {
    let o = Outcome::error("demo needs the API server emulator, which is not in this build yet");
    super::emit(&o, super::OutputFormat::Text);
    o.verdict.exit_code()
}
