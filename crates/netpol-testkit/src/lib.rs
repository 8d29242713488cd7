//! What netpol-sync's tests, benchmarks and demo build their world with, and nothing the
//! product ships: keys made by the real `ssh-keygen`, repositories and signed commits made
//! by the real `git` ([`Key`], [`TestRepo`], [`PolicyRepo`]), an API server emulator with a
//! client of it ([`cluster`]), and the sync invariant checked over a recorded history of
//! changes ([`invariant`]). Nothing here imitates git, ssh-keygen or the API server.

pub mod cluster;
mod git;
pub mod invariant;
mod keys;
mod policy_repo;

pub use git::TestRepo;
pub use keys::Key;
pub use policy_repo::{policy_yaml, BundleSpec, PolicyRepo};

use std::process::{Command, Output};

/// Run a command, panicking with its stderr if it fails: a broken fixture is a broken test.
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    out
}
