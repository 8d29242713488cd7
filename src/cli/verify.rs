//! `netpol-sync verify`: the signed commit chain of a revision, offline.

use super::VerifyArgs;
use crate::bundle::{load_verified, VerifiedBundles};
use crate::git::Repo;
use crate::outcome::{BundleSummary, CommitSummary, Outcome, Verdict};
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

/// The Outcome of a revision whose chain verified: its bundles must verify too, or the
/// whole revision is rejected.
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
    let revision = Some(verified.commit_id().to_string());
    let bundles = match load_verified(repo, verified, &args.select.bundle_options()) {
        Ok(b) => b,
        Err(e) => {
            // A bundle that is not there (or a repository that cannot be read) is a usage
            // or I/O error; everything else is a verdict on the revision's content.
            let mut outcome = if e.reason() != ReasonCode::NotFound {
                Outcome::rejected(e.reason(), e.to_string(), e.location())
            } else {
                let mut o = Outcome::error(e.to_string());
                o.reason = Some(e.reason());
                o.location = e.location();
                o
            };
            outcome.revision = revision;
            outcome.commits = commits;
            return outcome;
        }
    };
    let mut outcome = Outcome::new(
        Verdict::Verified,
        format!("{message}; {} bundle(s) verified", bundles.bundles().len()),
    );
    outcome.revision = revision;
    outcome.commits = commits;
    outcome.bundles = bundle_summaries(&bundles);
    outcome
}

pub(crate) fn bundle_summaries(bundles: &VerifiedBundles) -> Vec<BundleSummary> {
    bundles
        .bundles()
        .iter()
        .map(|b| BundleSummary {
            name: b.name().to_string(),
            digest: b.digest().to_string(),
            signers: b.signers().iter().map(|s| s.fingerprint.clone()).collect(),
        })
        .collect()
}

pub(crate) fn load_anchor(path: &std::path::Path) -> Result<AllowedSigners, Box<Outcome>> {
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

pub(crate) fn from_verify_error(e: VerifyError) -> Outcome {
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
