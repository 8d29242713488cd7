//! The command line, a stable contract (docs/architecture.md, "The command line").
//! Argument groups are flattened per concern and shared between commands; each command's
//! runner lives in its own file, calls the engine, and renders its typed result
//! ([`render`]).

mod args;
mod audit;
mod bundle;
mod bundle_sign;
mod check;
mod closed_stdout;
mod import;
mod init;
mod plan;
mod progress;
mod reach;
pub mod render;
pub mod run;
mod shell;
mod status;
mod sync;
mod verify;

pub use args::*;

use std::process::ExitCode;

/// The async runtime every command runs on (two workers: the daemon's pod has two CPUs
/// at most). libgit2 must be set up before it for any command that reads git (see
/// [`crate::git::set_up_before_threads`]).
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    sync::runtime()
}

/// One `sync --once` cycle, as the command runs it, without printing (the demo's steps).
pub async fn sync_cycle(args: ClusterRunArgs) -> crate::engine::CycleResult {
    sync::run_async(args, crate::engine::Mode::Sync).await
}

pub fn run(cli: Cli) -> ExitCode {
    closed_stdout::exit_quietly_when_stdout_closes();
    // Before any thread exists: see `git::set_up_before_threads`.
    if offline_git(&cli.command) {
        crate::git::set_up_before_threads_offline();
    } else if uses_git(&cli.command) {
        crate::git::set_up_before_threads();
    }
    crate::memory::purge_freed_pages(purge_delay_for(&cli.command));
    match cli.command {
        Command::Verify(a) => verify::run(a),
        Command::Bundle(BundleCommand::Seal(a)) => bundle::seal(a),
        Command::Plan(a) => plan::run(a),
        Command::Sync(a) => sync::run(a, crate::engine::Mode::Sync),
        Command::Status(a) => status::run(a),
        Command::Run(a) => run::run(*a),
        Command::Reach(a) => reach::run(*a),
        Command::Audit(a) => audit::run(*a),
        Command::Bundle(BundleCommand::Sign(a)) => bundle_sign::run(a),
        Command::Init(a) => init::run(a),
        Command::Import(a) => import::run(*a),
        Command::Check(a) => check::run(*a),
    }
}

/// Whether a command reads only a local repository and connects to nothing: `verify`
/// of a path needs no TLS, so libgit2 need not load CA certificates.
fn offline_git(command: &Command) -> bool {
    match command {
        Command::Verify(a) => !crate::git::is_url(&a.repo.repo),
        Command::Reach(a) => a.repo.as_deref().is_some_and(|r| !crate::git::is_url(r)),
        Command::Check(a) => a.base.is_some(),
        _ => false,
    }
}

/// Whether a command reads a git repository. libgit2's set-up reads the system CA bundle
/// (about 50 ms), which a command that never touches git should not pay.
fn uses_git(command: &Command) -> bool {
    match command {
        Command::Verify(_)
        | Command::Plan(_)
        | Command::Sync(_)
        | Command::Run(_)
        | Command::Audit(_) => true,
        Command::Reach(a) => a.repo.is_some(),
        Command::Bundle(BundleCommand::Seal(_)) | Command::Status(_) => false,
        Command::Bundle(BundleCommand::Sign(_)) | Command::Init(_) | Command::Import(_) => false,
        Command::Check(a) => a.base.is_some(),
    }
}

/// The daemon lives on and must give memory back at rest; every other command's rest
/// is its exit (see [`crate::memory::PurgeDelay`]).
fn purge_delay_for(command: &Command) -> crate::memory::PurgeDelay {
    match command {
        Command::Run(_) => crate::memory::PurgeDelay::AtOnce,
        _ => crate::memory::PurgeDelay::Soon,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::PurgeDelay;
    use clap::Parser;

    fn command(args: &[&str]) -> Command {
        Cli::try_parse_from(args)
            .expect("a valid command line")
            .command
    }

    #[test]
    fn only_the_daemon_gives_memory_back_at_once() {
        let daemon = ["netpol-sync", "run", "--repo", "r", "--trust-anchor", "a"];
        assert_eq!(purge_delay_for(&command(&daemon)), PurgeDelay::AtOnce);
        for one_shot in [
            &[
                "netpol-sync",
                "sync",
                "--once",
                "--repo",
                "r",
                "--trust-anchor",
                "a",
            ][..],
            &[
                "netpol-sync",
                "verify",
                "--repo",
                "r",
                "--trust-anchor",
                "a",
            ][..],
        ] {
            assert_eq!(
                purge_delay_for(&command(one_shot)),
                PurgeDelay::Soon,
                "{one_shot:?}"
            );
        }
    }

    /// Only `verify` of a path skips loading CA certificates: anything that may fetch over
    /// HTTPS or talk to an API server keeps them.
    #[test]
    fn only_verify_of_a_local_path_runs_without_ca_certificates() {
        let verify = |repo: &str| {
            command(&[
                "netpol-sync",
                "verify",
                "--repo",
                repo,
                "--trust-anchor",
                "a",
            ])
        };
        assert!(offline_git(&verify("/srv/policies")));
        assert!(offline_git(&verify("policies")));
        for remote in [
            "https://git.example.com/policies.git",
            "file:///srv/policies",
            "git@git.example.com:policies.git",
        ] {
            assert!(!offline_git(&verify(remote)), "{remote}");
        }
        let sync = [
            "netpol-sync",
            "sync",
            "--once",
            "--repo",
            "/srv/policies",
            "--trust-anchor",
            "a",
        ];
        assert!(!offline_git(&command(&sync)));
    }
}
