//! The command line (DESIGN §5, a stable contract). Argument groups are flattened per
//! concern; each command's runner lives in its own file and returns an [`Outcome`].

mod args;
mod bundle;
mod demo;
mod plan;
pub mod run;
mod status;
mod sync;
mod verify;

pub use args::*;

use crate::outcome::Outcome;
use std::process::ExitCode;

pub fn run(cli: Cli) -> ExitCode {
    // Before any thread exists: see `git::set_up_before_threads`.
    if uses_git(&cli.command) {
        crate::git::set_up_before_threads();
    }
    crate::memory::purge_freed_pages(purge_delay_for(&cli.command));
    let (outcome, output) = match cli.command {
        Command::Verify(a) => {
            let output = a.output.output;
            (verify::run(a), output)
        }
        Command::Bundle(BundleCommand::Seal(a)) => return bundle::seal(a),
        Command::Plan(a) => return plan::run(a),
        Command::Sync(a) => return sync::run(a, sync::Mode::Sync),
        Command::Status(a) => return status::run(a),
        Command::Demo(a) => return demo::run(a),
        Command::Run(a) => return run::run(*a),
    };
    emit(&outcome, output);
    outcome.verdict.exit_code()
}

/// Whether a command reads a git repository. libgit2's set-up reads the system CA bundle
/// (about 50 ms), which a command that never touches git should not pay.
fn uses_git(command: &Command) -> bool {
    match command {
        Command::Verify(_)
        | Command::Plan(_)
        | Command::Sync(_)
        | Command::Demo(_)
        | Command::Run(_) => true,
        Command::Bundle(BundleCommand::Seal(_)) | Command::Status(_) => false,
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

/// One JSON object on stdout, or a screen of text (errors and rejections on stderr so
/// that scripts piping stdout see only results).
pub fn emit(outcome: &Outcome, output: OutputFormat) {
    match output {
        OutputFormat::Json => println!("{}", outcome.to_json()),
        OutputFormat::Text => {
            use crate::outcome::Verdict;
            match outcome.verdict {
                Verdict::Rejected | Verdict::Error => eprint!("{}", outcome.to_text()),
                _ => print!("{}", outcome.to_text()),
            }
        }
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
            &["netpol-sync", "demo"][..],
        ] {
            assert_eq!(
                purge_delay_for(&command(one_shot)),
                PurgeDelay::Soon,
                "{one_shot:?}"
            );
        }
    }
}
