use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    netpol_sync::cli::run(netpol_sync::cli::Cli::parse())
}
