//! `netpol-sync sync --once` and the pipeline it shares with `plan`: cluster, state,
//! `--since` from the state record, verify, load bundles, then one cycle.

use super::{emit, ClusterRunArgs, KubeArgs, OutputFormat};
use crate::apply::cycle::SyncContext;
use crate::apply::{ApplyOptions, OwnWrites};
use crate::daemon::events::{EventRecorder, SyncEvent};
use crate::kube_client::{connect, error_chain, ClusterTarget};
use crate::outcome::Outcome;
use crate::revision::{
    load_state_key, since_from_cluster, verify_and_load, RevisionRequest, Since,
};
use crate::state::StateStore;
use std::process::ExitCode;

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

/// The async runtime every command runs on. `cli::run` has set libgit2 up before this
/// for every command that reads git (see [`crate::git::set_up_before_threads`]).
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
    let key = match load_state_key(args.kube.state_key.as_deref()) {
        Ok(k) => k,
        Err(o) => return *o,
    };
    let store = StateStore::new(&client, &args.kube.state_namespace, key);
    let loaded = match store.load().await {
        Ok(l) => l,
        Err(e) => return Outcome::error(format!("{} (API server {url})", error_chain(&e))),
    };
    let since = match &args.since {
        Some(rev) => Since::Explicit(rev.clone()),
        None => {
            match since_from_cluster(&client, loaded.as_ref(), args.reset_trust_to_anchor).await {
                Ok(s) => s,
                Err(o) => return *o,
            }
        }
    };
    let own_writes = (args.report_own_writes && mode == Mode::Sync)
        .then(|| std::sync::Arc::new(OwnWrites::journaling()));
    let ctx = SyncContext {
        client,
        state: &store,
        loaded,
        options: ApplyOptions {
            concurrency: args.apply.max_in_flight,
            remove_foreign_finalizers: args.apply.remove_foreign_finalizers,
            own_writes: own_writes.clone(),
            ..ApplyOptions::default()
        },
        live_hashes: None,
        live_reuse: Default::default(),
    };

    let request = RevisionRequest {
        repo: args.repo.repo.clone().into(),
        rev: args.repo.rev.clone(),
        since,
        trust_anchor: args.trust.trust_anchor.clone(),
        policy: args.trust.signature_policy(),
        bundles: args.select.bundle_options(),
    };
    let prepared = match verify_and_load(&request) {
        Ok(v) => v,
        Err(rejected) => {
            if mode == Mode::Sync {
                ctx.record_failure(&rejected).await;
            }
            return *rejected;
        }
    };
    // Recovering the base, or an operator's reset to the anchor, is on the record as an
    // Event (the daemon posts its own children's; they run with --report-own-writes).
    if mode == Mode::Sync && !args.report_own_writes {
        if let Some(event) = SyncEvent::for_base(&prepared.base) {
            let recorder = EventRecorder::new(
                ctx.client.clone(),
                &args.kube.state_namespace,
                "netpol-sync-cli",
            );
            if let Err(e) = recorder.publish(&event).await {
                tracing::warn!(error = %error_chain(&e), "could not post the event");
            }
        }
    }
    let mut outcome = match mode {
        Mode::Plan => ctx.plan_outcome(&prepared.input.bundles).await,
        Mode::Sync => ctx.sync_once(prepared.input).await,
    };
    outcome.commits = prepared.commits;
    outcome.extra.insert("base".into(), prepared.base.to_json());
    if let Some(own) = own_writes {
        outcome
            .extra
            .insert("ownWrites".into(), own.take_journal().to_json());
    }
    outcome
}
