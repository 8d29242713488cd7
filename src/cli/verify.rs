//! `netpol-sync verify`: the signed commit chain of a revision, offline.

use super::VerifyArgs;
use crate::git::Repo;
use crate::outcome::{CommitSummary, Outcome, Verdict};
use crate::reason::ReasonCode;
use crate::verify::{
    verify_revision, AllowedSigners, SignaturePolicy, VerifiedRevision, VerifyError,
};
use std::time::SystemTime;

/// Largest trust anchor file read (the parser has its own, equal, limit).
const MAX_ANCHOR_BYTES: u64 = 1024 * 1024;

pub fn run(args: VerifyArgs) -> Outcome {
    let policy = SignaturePolicy {
        at: args.trust.at.unwrap_or_else(SystemTime::now),
        require_user_presence: !args.trust.allow_no_touch,
    };
    let anchor = match load_anchor(&args.trust.trust_anchor) {
        Ok(a) => a,
        Err(outcome) => return *outcome,
    };
    let repo = match Repo::open(&args.repo.repo) {
        Ok(r) => r,
        Err(e) => return Outcome::error(e.to_string()),
    };
    let revision = repo.resolve(&args.repo.rev).ok().map(|oid| oid.to_string());
    match verify_revision(
        &repo,
        &args.repo.rev,
        args.since.as_deref(),
        &anchor,
        &policy,
    ) {
        Ok(verified) => verified_outcome(&repo, &verified, &args),
        Err(e) => {
            let mut outcome = from_verify_error(e);
            outcome.revision = revision;
            outcome
        }
    }
}

/// The Outcome of a revision whose chain verified. Later stages that take a
/// [`VerifiedRevision`] (the bundles) report here.
fn verified_outcome(repo: &Repo, verified: &VerifiedRevision, args: &VerifyArgs) -> Outcome {
    let commits: Vec<CommitSummary> = verified
        .commits()
        .iter()
        .map(|c| CommitSummary {
            commit: c.commit.to_string(),
            principal: c.principal.clone(),
            fingerprint: c.fingerprint.clone(),
        })
        .collect();
    let message = match commits.len() {
        0 => "no new commits since the last applied revision".to_string(),
        1 => "1 commit verified".to_string(),
        n => format!("{n} commits verified along the first-parent chain"),
    };
    let mut outcome = Outcome::new(Verdict::Verified, message);
    outcome.revision = Some(verified.commit_id().to_string());
    outcome.commits = commits;
    super::bundle::add_bundles(repo, verified, &args.select, outcome)
}

fn load_anchor(path: &std::path::Path) -> Result<AllowedSigners, Box<Outcome>> {
    let shown = path.display().to_string();
    let io_error = |e: std::io::Error| {
        let mut o = Outcome::error(format!("cannot read the trust anchor {shown}: {e}"));
        o.reason = Some(ReasonCode::TrustFileInvalid);
        o.location.file = Some(shown.clone());
        Box::new(o)
    };
    let meta = std::fs::metadata(path).map_err(io_error)?;
    if meta.len() > MAX_ANCHOR_BYTES {
        let mut o = Outcome::error(format!(
            "the trust anchor {shown} is {} bytes, more than the {MAX_ANCHOR_BYTES} allowed",
            meta.len()
        ));
        o.reason = Some(ReasonCode::TrustFileInvalid);
        return Err(Box::new(o));
    }
    let bytes = std::fs::read(path).map_err(io_error)?;
    // A malformed anchor is a deployment mistake, not a verdict on the repository.
    AllowedSigners::parse(&shown, &bytes).map_err(|e| {
        let mut o = from_verify_error(e);
        o.verdict = Verdict::Error;
        Box::new(o)
    })
}

fn from_verify_error(e: VerifyError) -> Outcome {
    let location = e.location();
    let reason = e.reason();
    if e.is_rejection() {
        Outcome::rejected(reason, e.message, location)
    } else {
        let mut o = Outcome::error(e.message);
        o.reason = Some(reason);
        o.location = location;
        o
    }
}
