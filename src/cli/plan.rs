//! `netpol-sync plan`: verify, then show what a sync would change (no writes).

use super::ClusterRunArgs;
use std::process::ExitCode;

pub fn run(args: ClusterRunArgs) -> ExitCode {
    super::sync::run(args, crate::engine::Mode::Plan)
}
