//! `netpol-sync verify`: the signed commit chain of a revision, offline.

use super::VerifyArgs;
use crate::bundle::{load_verified, VerifiedBundles};
use crate::git::Repo;
use crate::outcome::{BundleSummary, Outcome, Verdict};
use crate::reason::ReasonCode;
use crate::verify::{verify_revision, VerifiedRevision};

pub fn run(args: VerifyArgs) -> Outcome {
    let policy = args.trust.signature_policy();
    let anchor = match crate::revision::load_anchor(&args.trust.trust_anchor) {
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
            let mut outcome = Outcome::from(e);
            outcome.revision = revision;
            outcome
        }
    }
}

/// The Outcome of a revision whose chain verified: its bundles must verify too, or the
/// whole revision is rejected.
fn verified_outcome(repo: &Repo, verified: &VerifiedRevision, args: &VerifyArgs) -> Outcome {
    let commits = crate::revision::commit_summaries(verified);
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
