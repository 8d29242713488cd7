//! One cycle, end to end: git → verify → bundle → plan → apply → state. [`run_cycle`] is
//! the only place a cycle is assembled: `verify`, `plan`, `sync --once`, the daemon's
//! in-process engine and its process-isolated child (which is `sync --once`) all call it,
//! so a revision is judged the same way however it arrives. It answers with a typed
//! [`CycleResult`]; the command line renders that, the daemon reports it
//! (docs/architecture.md).
//!
//! - [`revision`]: the trust anchor, the base the chain is verified from, the verified
//!   revision and its bundles.
//! - [`sync`]: plan, guard, dry run, apply-then-prune, restore on failure, record.
//! - [`result`]: what the cycle found.

pub mod audit;
pub mod reachability;
pub mod result;
pub mod revision;
pub mod sync;

pub use result::{CycleDetail, CycleResult, Verdict};

use crate::apply::ApplyOptions;
use crate::bundle::BundleOptions;
use crate::kube_client::error_chain;
use crate::plan::{LiveHashes, LiveSet};
use crate::state::base::LiveRevisions;
use crate::state::StateStore;
use crate::verify::SignaturePolicy;
use revision::{since_from_cluster, since_from_revisions, verify_and_load, RevisionRequest, Since};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;
use sync::{LiveReuse, SyncContext};

/// What a cycle does with the verified revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Verify the chain and load the bundles; no cluster (`verify`).
    Verify,
    /// Also read the cluster and plan; no writes (`plan`).
    Plan,
    /// Make the cluster the revision and record it (`sync --once`, the daemon).
    Sync,
}

/// Where the chain is verified from.
#[derive(Debug, Clone)]
pub enum SinceRequest {
    /// The head alone, against the trust anchor.
    Anchor,
    /// `--since`: the operator names the last applied revision (a full commit id).
    Explicit(String),
    /// What the cluster proves: the authenticated state record and the revisions the live
    /// policies carry; `reset` is the operator's `--reset-trust-to-anchor`.
    Cluster { reset: bool },
}

/// A read of the cluster a later cycle may plan against instead of reading again: the
/// revisions the live policies carried and the live set. Only the daemon holds one, and
/// only while its drift watch vouches that no NetworkPolicy changed since
/// (docs/operations.md, "Quiet cycles").
#[derive(Debug, Clone)]
pub struct LiveRead {
    pub revisions: LiveRevisions,
    pub live: Arc<LiveSet>,
}

/// One cycle's question.
#[derive(Debug)]
pub struct Request {
    /// The repository holding the revision (a bare cache or a work tree).
    pub repo: PathBuf,
    /// The revision to judge (a branch, tag or commit id).
    pub rev: String,
    pub since: SinceRequest,
    pub mode: Mode,
    /// Plan against this read instead of reading the cluster (`since` must be
    /// [`SinceRequest::Cluster`] without reset).
    pub reuse: Option<LiveRead>,
}

/// The trust settings of a deployment.
#[derive(Debug, Clone)]
pub struct TrustSettings {
    /// allowed_signers that decides the first revision ever applied.
    pub trust_anchor: PathBuf,
    /// Hardware keys must assert user presence.
    pub require_user_presence: bool,
    /// Distinct keys trusted before a key change that must sign it.
    pub key_change_signatures: usize,
    /// Judge validity windows at this time (`--at`); `None`: when each cycle starts.
    pub at: Option<SystemTime>,
}

impl TrustSettings {
    /// The signature policy of a cycle starting now.
    fn policy_now(&self) -> SignaturePolicy {
        SignaturePolicy {
            at: self.at.unwrap_or_else(SystemTime::now),
            require_user_presence: self.require_user_presence,
            key_change_signatures: self.key_change_signatures,
        }
    }
}

/// The cluster a cycle reads and writes.
pub struct ClusterContext {
    pub client: kube::Client,
    /// The API server's address, named in errors about it.
    pub server: Option<String>,
    pub state: StateStore,
    pub apply: ApplyOptions,
    /// Content hashes of live versions already seen (the daemon keeps one across cycles).
    pub live_hashes: Option<Arc<LiveHashes>>,
    /// Report this cycle's writes in [`CycleDetail::own_writes`]
    /// (`sync --report-own-writes`); `apply.own_writes` must then be a journaling one.
    pub report_own_writes: bool,
}

/// Where cycles run: the same for every cycle of a process.
pub struct Context {
    pub trust: TrustSettings,
    pub bundles: BundleOptions,
    /// `None`: verify only.
    pub cluster: Option<ClusterContext>,
}

impl Context {
    /// What `verify_and_load` is asked for one cycle (or for `reach`, which reads a
    /// verified revision without a cycle), judged now. A selected bundle missing from the
    /// revision is an error to `verify` (a usage error), a rejection to a cycle.
    pub fn revision_request(
        &self,
        repo: PathBuf,
        rev: String,
        since: Since,
        mode: Mode,
    ) -> RevisionRequest {
        RevisionRequest {
            repo,
            rev,
            since,
            trust_anchor: self.trust.trust_anchor.clone(),
            policy: self.trust.policy_now(),
            bundles: self.bundles.clone(),
            missing_bundle_is_error: mode == Mode::Verify,
        }
    }
}

/// Run one cycle.
pub async fn run_cycle(ctx: &Context, req: Request) -> CycleResult {
    run_cycle_reading(ctx, req).await.0
}

/// [`run_cycle`], and the read the cycle planned against when it needed no write at all,
/// held nothing and skipped no namespace: the only kind worth planning against again.
pub async fn run_cycle_reading(ctx: &Context, req: Request) -> (CycleResult, Option<LiveRead>) {
    let cluster = match (&ctx.cluster, req.mode) {
        (_, Mode::Verify) => None,
        (Some(c), _) => Some(c),
        (None, mode) => {
            return (
                CycleResult::error(format!("a {mode:?} cycle needs a cluster")),
                None,
            )
        }
    };
    let Some(cluster) = cluster else {
        let since = match req.since {
            SinceRequest::Anchor => Since::Anchor,
            SinceRequest::Explicit(rev) => Since::Explicit(rev),
            SinceRequest::Cluster { .. } => {
                return (
                    CycleResult::error("a verify cycle has no cluster to take --since from"),
                    None,
                )
            }
        };
        let request = ctx.revision_request(req.repo, req.rev, since, req.mode);
        return (verify_offline(request).await, None);
    };

    let in_server = |e: String| match &cluster.server {
        Some(url) => format!("{e} (API server {url})"),
        None => e,
    };
    let loaded = match cluster.state.load().await {
        Ok(l) => l,
        Err(e) => return (CycleResult::error(in_server(error_chain(&e))), None),
    };
    let (since, revisions_read) = match (req.since, &req.reuse) {
        (SinceRequest::Anchor, _) => (Since::Anchor, None),
        (SinceRequest::Explicit(rev), _) => (Since::Explicit(rev), None),
        (SinceRequest::Cluster { reset: false }, Some(read)) => (
            since_from_revisions(loaded.as_ref(), read.revisions.clone(), false),
            None,
        ),
        (SinceRequest::Cluster { reset }, _) => {
            match since_from_cluster(&cluster.client, loaded.as_ref(), reset).await {
                Ok(s) => {
                    let read = match &s {
                        Since::Cluster { live, .. } => Some(live.clone()),
                        _ => None,
                    };
                    (s, read)
                }
                Err(refused) => return (*refused, None),
            }
        }
    };
    let sync = SyncContext {
        client: cluster.client.clone(),
        state: &cluster.state,
        loaded,
        options: cluster.apply.clone(),
        live_hashes: cluster.live_hashes.clone(),
        live_reuse: match &req.reuse {
            Some(read) => LiveReuse::given(read.live.clone()),
            None => LiveReuse::default(),
        },
    };
    let request = ctx.revision_request(req.repo, req.rev, since, req.mode);
    // git2 and YAML parsing block: off the async workers.
    let prepared = match tokio::task::spawn_blocking(move || verify_and_load(&request)).await {
        Ok(Ok(p)) => p,
        Ok(Err(refused)) => {
            if req.mode == Mode::Sync {
                sync.record_failure(&refused).await;
            }
            return (*refused, None);
        }
        Err(e) => {
            return (
                CycleResult::error(format!("the verification task failed: {e}")),
                None,
            )
        }
    };
    let base = prepared.base.report();
    let mut result = match req.mode {
        Mode::Plan => sync.plan_outcome(&prepared.input.bundles).await,
        _ => sync.sync_once(prepared.input).await,
    };
    result.commits = prepared.commits;
    result.detail.base = Some(base);
    if cluster.report_own_writes {
        if let Some(own) = &cluster.apply.own_writes {
            result.detail.own_writes = Some(own.take_journal());
        }
    }
    let unchanged = sync
        .live_reuse
        .take_unchanged()
        .filter(|_| result.verdict == Verdict::Unchanged)
        .and_then(|live| {
            let revisions = match req.reuse {
                Some(read) => read.revisions,
                None => revisions_read?,
            };
            Some(LiveRead { revisions, live })
        });
    (result, unchanged)
}

/// `verify`: the chain and the bundles, with no cluster.
async fn verify_offline(request: RevisionRequest) -> CycleResult {
    let prepared = match tokio::task::spawn_blocking(move || verify_and_load(&request)).await {
        Ok(Ok(p)) => p,
        Ok(Err(refused)) => return *refused,
        Err(e) => return CycleResult::error(format!("the verification task failed: {e}")),
    };
    let message = match prepared.commits.len() {
        0 => "no new commits since the last applied revision".to_string(),
        1 => "1 commit verified".to_string(),
        n => format!("{n} commits verified along the first-parent chain"),
    };
    let bundles = &prepared.input.bundles;
    let mut result = CycleResult::new(
        Verdict::Verified,
        format!("{message}; {} bundle(s) verified", bundles.bundles().len()),
    );
    result.revision = Some(bundles.revision().to_string());
    result.bundles = bundles.summaries();
    result.commits = prepared.commits;
    result
}
