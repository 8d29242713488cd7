//! What one sync cycle enforces, from the repository alone: the trust anchor read through a
//! bounded reader, the revision verified along its first-parent chain since the recorded
//! one, and its bundles loaded. [`super::run_cycle`] calls it for every command and both
//! daemon engines, so a revision is judged the same way however it arrives.

use super::result::{CycleResult, Verdict};
use super::sync::{PreviousRevision, SyncInput};
use crate::bundle::{load_verified, BundleOptions};
use crate::git::Repo;
use crate::reason::ReasonCode;
use crate::state::base::{self, Base, BaseSource, LiveRevisions, RecordWitness};
use crate::state::RecordedSigner;
use crate::verify::{verify_revision, AllowedSigners, CommitSummary, SignaturePolicy};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Largest trust anchor file read (the parser has its own, equal, limit).
pub const MAX_ANCHOR_BYTES: u64 = 1024 * 1024;

/// Read and parse the trust anchor. A missing, oversized or malformed anchor is a
/// deployment error (exit 2, `trust-file-invalid`), not a verdict on the repository.
pub fn load_anchor(path: &Path) -> Result<AllowedSigners, Box<CycleResult>> {
    let shown = path.display().to_string();
    let io_error = |e: std::io::Error| {
        let mut o = CycleResult::error_because(
            ReasonCode::TrustFileInvalid,
            format!("cannot read the trust anchor {shown}: {e}"),
        );
        o.location.file = Some(shown.clone());
        Box::new(o)
    };
    // Read at most one byte past the limit: the size is judged on what was read, not on
    // a length looked up before the read (a file can grow in between).
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_ANCHOR_BYTES + 1).read_to_end(&mut bytes))
        .map_err(io_error)?;
    if bytes.len() as u64 > MAX_ANCHOR_BYTES {
        let mut o = CycleResult::error(format!(
            "the trust anchor {shown} is more than the {MAX_ANCHOR_BYTES} bytes allowed"
        ));
        o.reason = Some(ReasonCode::TrustFileInvalid);
        return Err(Box::new(o));
    }
    AllowedSigners::parse(&shown, &bytes).map_err(|e| {
        let mut o = CycleResult::from(e);
        o.verdict = Verdict::Error;
        Box::new(o)
    })
}

/// Where the chain is verified from.
#[derive(Debug, Clone)]
pub enum Since {
    /// The head alone, against the trust anchor (`verify` without `--since`).
    Anchor,
    /// `--since`: the operator names the last applied revision (a full commit id).
    Explicit(String),
    /// What the cluster proves: the authenticated state record and the revisions the live
    /// policies carry ([`crate::state::base`]), or the operator's reset to the anchor.
    Cluster {
        record: RecordWitness,
        live: LiveRevisions,
        reset: bool,
    },
}

/// [`Since::Cluster`] for a cycle: the record as loaded and the revisions netpol-sync's
/// live policies carry (not read when the operator resets to the anchor).
pub async fn since_from_cluster(
    client: &kube::Client,
    loaded: Option<&crate::state::LoadedState>,
    reset: bool,
) -> Result<Since, Box<CycleResult>> {
    let live = if reset {
        LiveRevisions::default()
    } else {
        base::read_live_revisions(client).await.map_err(|e| {
            let mut o = CycleResult::error(e.message);
            o.reason = Some(e.reason);
            Box::new(o)
        })?
    };
    Ok(since_from_revisions(loaded, live, reset))
}

/// [`Since::Cluster`] from live revisions already read: the daemon's quiet cycle reuses
/// those of its last read while its drift watch proves no NetworkPolicy changed since.
pub fn since_from_revisions(
    loaded: Option<&crate::state::LoadedState>,
    live: LiveRevisions,
    reset: bool,
) -> Since {
    if !live.unreadable().is_empty() {
        let names: Vec<String> = live.unreadable().iter().map(|k| k.to_string()).collect();
        tracing::warn!(objects = %names.join(", "),
            "NetworkPolicies carrying netpol-sync's label have no readable revision annotation; they prove nothing");
    }
    Since::Cluster {
        record: RecordWitness {
            revision: loaded.and_then(|l| l.record().revision.clone()),
            distrusted: loaded.and_then(|l| l.distrusted().map(str::to_string)),
        },
        live,
        reset,
    }
}

/// The state key from `--state-key`: plan, sync and run cannot believe or write the state
/// record without it.
pub fn load_state_key(path: Option<&Path>) -> Result<crate::state::StateKey, Box<CycleResult>> {
    let Some(path) = path else {
        let mut o = CycleResult::error(
            "--state-key FILE (or NETPOL_SYNC_STATE_KEY) is required: it authenticates the state record; \
             make one with `openssl rand -hex 32 > state-key` and keep it in a Secret only netpol-sync reads (docs/operations.md)",
        );
        o.reason = Some(ReasonCode::StateUnauthenticated);
        return Err(Box::new(o));
    };
    crate::state::StateKey::load(path).map_err(|e| {
        let mut o = CycleResult::error(e.to_string());
        o.reason = Some(ReasonCode::StateUnauthenticated);
        Box::new(o)
    })
}

/// Which revision to verify, against what.
#[derive(Debug, Clone)]
pub struct RevisionRequest {
    pub repo: PathBuf,
    pub rev: String,
    /// The last applied revision (exclusive): the chain is verified from here.
    pub since: Since,
    pub trust_anchor: PathBuf,
    pub policy: SignaturePolicy,
    pub bundles: BundleOptions,
    /// A selected bundle missing from the revision is an error (`verify`), not a
    /// rejection of the revision (a cycle).
    pub missing_bundle_is_error: bool,
}

/// A verified revision ready for a cycle, the commits that were verified, and the base
/// they were verified from.
pub struct Prepared {
    pub input: SyncInput,
    pub commits: Vec<CommitSummary>,
    pub base: Base,
}

/// The revision's `reachability:` assertions, evaluated against its own policies before
/// anything is planned (docs/bundles.md, "Reachability assertions"): a broken one refuses
/// the revision, naming the first and how many more are broken.
fn refuse_broken_assertions(
    bundles: &crate::bundle::VerifiedBundles,
) -> Result<(), Box<CycleResult>> {
    let broken = crate::reach::assertions::violations(bundles)
        .map_err(|e| Box::new(CycleResult::error(e.to_string())))?;
    let Some(first) = broken.first() else {
        return Ok(());
    };
    let mut message = first.message.clone();
    if broken.len() > 1 {
        let others: Vec<String> = broken[1..]
            .iter()
            .map(|v| format!("`{}` ({})", v.name, v.bundle))
            .collect();
        message.push_str(&format!("; also broken: {}", others.join(", ")));
    }
    let location = crate::reason::Location {
        bundle: Some(first.bundle.clone()),
        file: Some(crate::bundle::MANIFEST_FILE.to_string()),
        field: Some(format!("reachability[{}]", first.index)),
        ..Default::default()
    };
    Err(Box::new(CycleResult::rejected(
        ReasonCode::ReachabilityViolated,
        message,
        location,
    )))
}

/// Verify the revision and load its bundles; any refusal comes back as the outcome to
/// report (and record), never as a half-verified value.
pub fn verify_and_load(req: &RevisionRequest) -> Result<Prepared, Box<CycleResult>> {
    let error = |m: String| Box::new(CycleResult::error(m));
    let shown = req.repo.display();
    let path = req
        .repo
        .to_str()
        .ok_or_else(|| error(format!("repository path {shown} is not UTF-8")))?;
    let repo =
        Repo::open(path).map_err(|e| error(format!("cannot open repository {shown}: {e}")))?;
    let anchor = load_anchor(&req.trust_anchor)?;
    let base = match &req.since {
        Since::Anchor => Base {
            since: None,
            applied: None,
            source: BaseSource::FirstStart,
        },
        Since::Explicit(rev) => Base {
            since: Some(rev.clone()),
            applied: None,
            source: BaseSource::Explicit,
        },
        Since::Cluster {
            record,
            live,
            reset,
        } => base::decide(&repo, record, live, *reset).map_err(|e| {
            let mut o = CycleResult::rejected(e.reason, e.message, Default::default());
            if e.reason != ReasonCode::NotFastForward {
                o.verdict = Verdict::Error;
            }
            Box::new(o)
        })?,
    };
    if let Some(note) = base.note() {
        tracing::warn!(since = ?base.since, "{note}");
    }
    let started = Instant::now();
    let rev = verify_revision(&repo, &req.rev, base.since.as_deref(), &anchor, &req.policy)
        .map_err(|e| {
            let mut refused = Box::new(CycleResult::from(e));
            refused.revision = repo.resolve(&req.rev).ok().map(|oid| oid.to_string());
            refused
        })?;
    if let Some(applied) = base.applied.as_deref() {
        // The newest revision the cluster proves applied must be on the verified chain.
        let on_chain = rev.commit_id().to_string() == applied
            || base.since.as_deref() == Some(applied)
            || rev
                .commits()
                .iter()
                .any(|c| c.commit().to_string() == applied);
        if !on_chain {
            let mut o = CycleResult::rejected(
                ReasonCode::NotFastForward,
                format!(
                    "{} does not descend from {applied}, which the live policies show was applied (force-push or rollback?)",
                    rev.commit_id()
                ),
                Default::default(),
            );
            o.revision = Some(rev.commit_id().to_string());
            o.location.commit = Some(rev.commit_id().to_string());
            return Err(Box::new(o));
        }
    }
    let verified_in = started.elapsed();
    let commits = rev.commit_summaries();
    let bundles = load_verified(&repo, &rev, &req.bundles).map_err(|e| {
        // A selected bundle that is not there is a usage error to `verify`; to a cycle it
        // is a verdict on the revision, which then is not enforced.
        let mut refused = if req.missing_bundle_is_error && e.reason() == ReasonCode::NotFound {
            CycleResult::error_because(e.reason(), e.to_string())
        } else {
            CycleResult::rejected(e.reason(), e.to_string(), Default::default())
        };
        refused.location = e.location();
        refused.revision = Some(rev.commit_id().to_string());
        refused.commits = commits.clone();
        Box::new(refused)
    })?;
    tracing::info!(?verified_in, loaded_in = ?(started.elapsed() - verified_in), "revision verified and bundles loaded");
    refuse_broken_assertions(&bundles).map_err(|mut refused| {
        refused.revision = Some(rev.commit_id().to_string());
        refused.commits = commits.clone();
        refused
    })?;
    let signer = rev.head_signer().map(|c| RecordedSigner {
        principal: c.principal().to_string(),
        fingerprint: c.fingerprint().to_string(),
    });
    let previous = rev.base().cloned().map(|base| PreviousRevision {
        repo,
        base,
        options: req.bundles.clone(),
    });
    Ok(Prepared {
        input: SyncInput {
            bundles,
            previous,
            signer,
        },
        commits,
        base,
    })
}
