//! The command line (DESIGN §5, a stable contract). Argument groups are flattened per
//! concern; each command's runner lives in its own file and returns an [`Outcome`].

mod args;
mod bundle;
pub mod run;
mod verify;

pub use args::*;

use crate::outcome::Outcome;
use std::process::ExitCode;

pub fn run(cli: Cli) -> ExitCode {
    let (outcome, output) = match cli.command {
        Command::Verify(a) => {
            let output = a.output.output;
            (verify::run(a), output)
        }
        Command::Bundle(BundleCommand::Seal(a)) => return bundle::seal(a),
        Command::Run(a) => return run::run(*a),
        Command::Plan(a) | Command::Sync(a) => (
            Outcome::error("plan and sync are not available in this build yet"),
            a.output.output,
        ),
        Command::Status(a) => (
            Outcome::error("status is not available in this build yet"),
            a.output.output,
        ),
        Command::Demo(_) => (
            Outcome::error("demo is not available in this build yet"),
            OutputFormat::Text,
        ),
    };
    emit(&outcome, output);
    outcome.verdict.exit_code()
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
