//! `netpol-sync sync --once` and the pipeline it shares with `plan`: cluster, state,
//! `--since` from the state record, verify, load bundles, then one cycle.

use super::{emit, ClusterRunArgs, KubeArgs, OutputFormat};
use crate::apply::cycle::{PreviousRevision, SyncContext, SyncInput};
use crate::apply::ApplyOptions;
use crate::bundle::{load_verified, VerifiedBundles};
use crate::git::Repo;
use crate::kube_client::{connect, error_chain, ClusterTarget};
use crate::outcome::{CommitSummary, Outcome};
use crate::state::{RecordedSigner, StateStore};
use crate::verify::{verify_revision, SignaturePolicy};
use std::process::ExitCode;
use std::time::{Instant, SystemTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Plan,
    Sync,
}

/// Run `plan` or `sync` and print the outcome. `sync` without `--once` also runs one
/// cycle: the loop is `netpol-sync run`.
pub fn run(args: ClusterRunArgs, mode: Mode) -> ExitCode {
    init_logging();
    let output = args.output.output;
    let outcome = match runtime() {
        Ok(rt) => rt.block_on(run_async(args, mode)),
        Err(e) => Outcome::error(format!("cannot start the async runtime: {e}")),
    };
    emit(&outcome, output);
    if output == OutputFormat::Text {
        super::plan::print_detail(&outcome);
    }
    outcome.verdict.exit_code()
}

pub(super) fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

/// Logs go to stderr as readable text (drift, retries, conflicts); `RUST_LOG` tunes them.
pub(super) fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .try_init();
}

pub(super) fn cluster_target(k: &KubeArgs) -> ClusterTarget {
    ClusterTarget {
        kubeconfig: k.kubeconfig.clone(),
        context: k.context.clone(),
    }
}

pub(super) async fn run_async(args: ClusterRunArgs, mode: Mode) -> Outcome {
    let (client, url) = match connect(&cluster_target(&args.kube)).await {
        Ok(c) => c,
        Err(e) => return Outcome::error(error_chain(&e)),
    };
    let store = StateStore::new(&client, &args.kube.state_namespace);
    let loaded = match store.load().await {
        Ok(l) => l,
        Err(e) => return Outcome::error(format!("{} (API server {url})", error_chain(&e))),
    };
    let since = args
        .since
        .clone()
        .or_else(|| loaded.as_ref().and_then(|l| l.record.revision.clone()));
    if since.is_none() {
        tracing::info!("no state record: judging the revision against the trust anchor alone");
    }
    let ctx = SyncContext {
        client,
        state: &store,
        loaded,
        options: ApplyOptions::default(),
    };

    let verified = match verify_and_load(&args, since.as_deref()) {
        Ok(v) => v,
        Err(rejected) => {
            if mode == Mode::Sync {
                ctx.record_failure(&rejected).await;
            }
            return *rejected;
        }
    };
    let mut outcome = match mode {
        Mode::Plan => ctx.plan_outcome(&verified.bundles).await,
        Mode::Sync => {
            ctx.sync_once(SyncInput {
                bundles: verified.bundles,
                previous: verified.previous,
                signer: verified.signer,
            })
            .await
        }
    };
    outcome.commits = verified.commits;
    outcome
}

struct Verified {
    bundles: VerifiedBundles,
    previous: Option<PreviousRevision>,
    signer: Option<RecordedSigner>,
    commits: Vec<CommitSummary>,
}

fn verify_and_load(args: &ClusterRunArgs, since: Option<&str>) -> Result<Verified, Box<Outcome>> {
    let error = |m: String| Box::new(Outcome::error(m));
    let repo = Repo::open(&args.repo.repo)
        .map_err(|e| error(format!("cannot open repository {}: {e}", args.repo.repo)))?;
    // The same bounded reader and error classes as `verify`: a malformed or oversized
    // anchor is a deployment error (exit 2), never read without a limit.
    let anchor = super::verify::load_anchor(&args.trust.trust_anchor)?;
    let policy = SignaturePolicy {
        at: args.trust.at.unwrap_or_else(SystemTime::now),
        require_user_presence: !args.trust.allow_no_touch,
    };
    let started = Instant::now();
    let rev = verify_revision(&repo, &args.repo.rev, since, &anchor, &policy)
        .map_err(|e| Box::new(super::verify::from_verify_error(e)))?;
    let opts = args.select.bundle_options();
    let verified_in = started.elapsed();
    let bundles = load_verified(&repo, &rev, &opts).map_err(|e| {
        let mut o = Box::new(Outcome::rejected(e.reason(), e.to_string(), e.location()));
        o.revision = Some(rev.commit_id().to_string());
        o
    })?;
    let previous = rev
        .base()
        .filter(|base| base.commit_id() != rev.commit_id())
        .map(|base| PreviousRevision {
            repo,
            base,
            options: opts,
        });
    tracing::info!(?verified_in, loaded_in = ?(started.elapsed() - verified_in), "revision verified and bundles loaded");
    let head = rev.commits().iter().find(|c| c.commit == rev.commit_id());
    Ok(Verified {
        signer: head.map(|c| RecordedSigner {
            principal: c.principal.clone(),
            fingerprint: c.fingerprint.clone(),
        }),
        commits: rev
            .commits()
            .iter()
            .map(|c| CommitSummary {
                commit: c.commit.to_string(),
                principal: c.principal.clone(),
                fingerprint: c.fingerprint.clone(),
            })
            .collect(),
        bundles,
        previous,
    })
}
