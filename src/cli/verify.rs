//! `netpol-sync verify`: the signed commit chain of a revision and its bundles, offline.

use super::{render, VerifyArgs};
use crate::engine::{run_cycle, Context, CycleResult, Mode, Request, SinceRequest};
use std::process::ExitCode;

pub fn run(args: VerifyArgs) -> ExitCode {
    let context = Context {
        trust: args.trust.settings(args.clock.at),
        bundles: args.select.bundle_options(),
        cluster: None,
    };
    let request = Request {
        repo: args.repo.repo.clone().into(),
        rev: args.repo.rev.clone(),
        since: match &args.since {
            Some(rev) => SinceRequest::Explicit(rev.clone()),
            None => SinceRequest::Anchor,
        },
        mode: Mode::Verify,
        reuse: None,
    };
    let result = match super::sync::runtime() {
        Ok(rt) => rt.block_on(run_cycle(&context, request)),
        Err(e) => CycleResult::error(format!("cannot start the async runtime: {e}")),
    };
    render::emit(&result, args.output.output, false);
    render::exit_code(result.verdict)
}
