//! `netpol-sync sync --once` and `plan`: connect, then one engine cycle on the cluster.

use super::{render, ClusterRunArgs, KubeArgs, OutputFormat};
use crate::apply::OwnWrites;
use crate::daemon::events::{EventRecorder, SyncEvent};
use crate::engine::revision::load_state_key;
use crate::engine::{run_cycle, ClusterContext, Context, CycleResult, Mode, Request, SinceRequest};
use crate::kube_client::{connect, error_chain, ClusterTarget};
use crate::state::StateStore;
use std::process::ExitCode;
use std::sync::Arc;

/// Run `plan` or `sync` and print the result. `sync` without `--once` also runs one
/// cycle: the loop is `netpol-sync run`.
pub fn run(args: ClusterRunArgs, mode: Mode) -> ExitCode {
    init_logging();
    let output = args.output.output;
    let result = match runtime() {
        Ok(rt) => rt.block_on(run_async(args, mode)),
        Err(e) => CycleResult::error(format!("cannot start the async runtime: {e}")),
    };
    render::emit(&result, output, output == OutputFormat::Text);
    render::exit_code(result.verdict)
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

pub(super) async fn run_async(args: ClusterRunArgs, mode: Mode) -> CycleResult {
    let (client, url) = match connect(&cluster_target(&args.kube)).await {
        Ok(c) => c,
        Err(e) => return CycleResult::error(error_chain(&e)),
    };
    let key = match load_state_key(args.kube.state_key.as_deref()) {
        Ok(k) => k,
        Err(refused) => return *refused,
    };
    let report_own_writes = args.report_own_writes && mode == Mode::Sync;
    let mut apply = args.apply.options();
    if report_own_writes {
        apply.own_writes = Some(Arc::new(OwnWrites::journaling()));
    }
    let context = Context {
        trust: args.trust.settings(args.clock.at),
        bundles: args.select.bundle_options(),
        cluster: Some(ClusterContext {
            state: StateStore::new(&client, &args.kube.state_namespace, key),
            client: client.clone(),
            server: Some(url.to_string()),
            apply,
            live_hashes: None,
            report_own_writes,
        }),
    };
    let request = Request {
        repo: args.repo.repo.clone().into(),
        rev: args.repo.rev.clone(),
        since: match &args.since {
            Some(rev) => SinceRequest::Explicit(rev.clone()),
            None => SinceRequest::Cluster {
                reset: args.reset_trust_to_anchor,
            },
        },
        mode,
        reuse: None,
    };
    let result = run_cycle(&context, request).await;
    // Recovering the base, or an operator's reset to the anchor, is on the record as an
    // Event (the daemon posts its own children's; they run with --report-own-writes).
    if mode == Mode::Sync && !args.report_own_writes {
        if let Some(event) = result.detail.base.as_ref().and_then(SyncEvent::for_base) {
            let recorder =
                EventRecorder::new(client, &args.kube.state_namespace, "netpol-sync-cli");
            if let Err(e) = recorder.publish(&event).await {
                tracing::warn!(error = %error_chain(&e), "could not post the event");
            }
        }
    }
    result
}
