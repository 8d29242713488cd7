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
