//! `netpol-sync run`: the long-running daemon (DESIGN §4). Every flag also reads from an
//! environment variable `NETPOL_SYNC_…`, which is how deploy/ configures it.

use crate::bundle::BundleOptions;
use crate::daemon::drift_watch::DriftWatch;
use crate::daemon::engine::SyncEngine;
use crate::daemon::events::{EventRecorder, SyncEvent};
use crate::daemon::http::{self, HttpState};
use crate::daemon::inprocess_engine::InProcessEngine;
use crate::daemon::leader::{LeaderConfig, LeaderElector, LeaderHandle};
use crate::daemon::metrics::Metrics;
use crate::daemon::run_loop::{LoopConfig, RunLoop};
use crate::daemon::shutdown;
use crate::daemon::subprocess_engine::SubprocessEngine;
use crate::daemon::trigger::{DriftChanges, Trigger};
use crate::daemon::webhook::WebhookSecret;
use crate::logging::{self, LogFormat};
use crate::remote::{
    transport, GitAuth, GitRemote, KnownHosts, RemoteConfig, Transport, MAX_KNOWN_HOSTS_BYTES,
};
use clap::{ArgAction, Args};
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

fn duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| e.to_string())
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Repository URL (https://, ssh://, scp-like), or a local path / file:// URL.
    #[arg(long, env = "NETPOL_SYNC_REPO")]
    pub repo: String,
    /// Branch to follow.
    #[arg(long, default_value = "main", env = "NETPOL_SYNC_BRANCH")]
    pub branch: String,
    /// allowed_signers file that decides the first revision ever applied.
    #[arg(long, env = "NETPOL_SYNC_TRUST_ANCHOR")]
    pub trust_anchor: PathBuf,
    /// Bundle to enforce (repeatable, or comma-separated in the env var). Default: all.
    #[arg(
        long = "bundle",
        value_name = "NAME",
        env = "NETPOL_SYNC_BUNDLES",
        value_delimiter = ','
    )]
    pub bundles: Vec<String>,
    /// Distinct trusted keys that must sign each bundle.yaml.
    #[arg(long, default_value_t = 1, env = "NETPOL_SYNC_BUNDLE_SIGNATURES")]
    pub bundle_signatures: usize,
    /// Accept hardware-key signatures made without user presence.
    #[arg(long, env = "NETPOL_SYNC_ALLOW_NO_TOUCH")]
    pub allow_no_touch: bool,
    /// Distinct keys, trusted before a change to keys/allowed_signers, that must sign it.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1,
        env = "NETPOL_SYNC_KEY_CHANGE_SIGNATURES"
    )]
    pub key_change_signatures: usize,
    /// File holding the key that authenticates the state record (required).
    #[arg(long, value_name = "FILE", env = "NETPOL_SYNC_STATE_KEY")]
    pub state_key: Option<PathBuf>,
    /// Time between polls (humantime: 30s, 2m); up to 10% jitter is added.
    #[arg(long, default_value = "30s", value_parser = duration, env = "NETPOL_SYNC_INTERVAL")]
    pub interval: Duration,
    /// Address for /metrics, /healthz, /readyz and /hooks/git.
    #[arg(long, default_value = "0.0.0.0:9090", env = "NETPOL_SYNC_LISTEN")]
    pub listen: SocketAddr,
    /// Shared secret for /hooks/git (HMAC key / GitLab token). Without it the webhook is off.
    #[arg(long, env = "NETPOL_SYNC_WEBHOOK_SECRET_FILE")]
    pub webhook_secret_file: Option<PathBuf>,
    /// HTTPS credentials: a token, or `username:password`, on the first line.
    #[arg(long, env = "NETPOL_SYNC_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// SSH deploy key (OpenSSH private key, no passphrase).
    #[arg(long, env = "NETPOL_SYNC_SSH_KEY_FILE")]
    pub ssh_key_file: Option<PathBuf>,
    /// Pinned SSH host keys; required for ssh remotes (no trust on first use).
    #[arg(long, env = "NETPOL_SYNC_KNOWN_HOSTS_FILE")]
    pub known_hosts_file: Option<PathBuf>,
    /// PEM CA bundle trusted for HTTPS instead of the system store.
    #[arg(long, env = "NETPOL_SYNC_CA_FILE")]
    pub ca_file: Option<PathBuf>,
    /// Where the git clone lives (an emptyDir in a pod).
    #[arg(
        long,
        default_value = "/var/cache/netpol-sync",
        env = "NETPOL_SYNC_CACHE_DIR"
    )]
    pub cache_dir: PathBuf,
    /// Limit for one ls-remote or fetch.
    #[arg(long, default_value = "60s", value_parser = duration, env = "NETPOL_SYNC_FETCH_TIMEOUT")]
    pub fetch_timeout: Duration,
    /// Most bytes one fetch may bring.
    #[arg(long, default_value_t = 512 * 1024 * 1024, env = "NETPOL_SYNC_MAX_FETCH_BYTES")]
    pub max_fetch_bytes: u64,
    /// Path to a kubeconfig (default: $KUBECONFIG, ~/.kube/config, or in-cluster).
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// kubeconfig context to use.
    #[arg(long, env = "NETPOL_SYNC_CONTEXT")]
    pub context: Option<String>,
    /// Namespace holding the state record, the lease and the events.
    #[arg(
        long,
        default_value = "netpol-sync",
        env = "NETPOL_SYNC_STATE_NAMESPACE"
    )]
    pub state_namespace: String,
    #[command(flatten)]
    pub apply: super::args::ApplyArgs,
    /// Elect a leader over a Lease so that several replicas are safe (`--leader-elect=false`
    /// for a single replica).
    #[arg(long, env = "NETPOL_SYNC_LEADER_ELECT", action = ArgAction::Set, num_args = 0..=1,
          default_value_t = false, default_missing_value = "true")]
    pub leader_elect: bool,
    /// This replica's name in the Lease (the pod name in deploy/). Default: hostname + random.
    #[arg(long, env = "NETPOL_SYNC_IDENTITY")]
    pub identity: Option<String>,
    #[arg(long, default_value = "15s", value_parser = duration, env = "NETPOL_SYNC_LEASE_DURATION")]
    pub lease_duration: Duration,
    #[arg(long, default_value = "10s", value_parser = duration, env = "NETPOL_SYNC_RENEW_DEADLINE")]
    pub renew_deadline: Duration,
    #[arg(long, default_value = "2s", value_parser = duration, env = "NETPOL_SYNC_RETRY_PERIOD")]
    pub retry_period: Duration,
    /// How long a running cycle may take to finish after SIGTERM.
    #[arg(long, default_value = "20s", value_parser = duration, env = "NETPOL_SYNC_SHUTDOWN_GRACE")]
    pub shutdown_grace: Duration,
    /// `json` in a pod, `text` on a terminal.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, env = "NETPOL_SYNC_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// `thread`: cycles run in this process and reuse the validated policies of
    /// unchanged files (fast). `process`: each cycle is a `sync --once` child process,
    /// which gives all its memory back between cycles.
    #[arg(long, value_enum, default_value_t = CycleIsolation::Thread, env = "NETPOL_SYNC_CYCLE_ISOLATION")]
    pub cycle_isolation: CycleIsolation,
    /// Watch NetworkPolicies and run a cycle as soon as one in a governed namespace (or
    /// one of ours anywhere) changes, so drift is reverted in about a cycle's time instead
    /// of up to an interval. The interval's drift check runs either way
    /// (`--drift-watch=false` to rely on it alone).
    #[arg(long, env = "NETPOL_SYNC_DRIFT_WATCH", action = ArgAction::Set, num_args = 0..=1,
          default_value_t = true, default_missing_value = "true")]
    pub drift_watch: bool,
    /// Longest time a no-change cycle plans against an earlier read of the live set
    /// instead of listing it, while the drift watch vouches that no NetworkPolicy changed
    /// since (docs/operations.md, "Quiet cycles"). `0s`: every cycle lists.
    #[arg(long, default_value = "5m", value_parser = duration, env = "NETPOL_SYNC_RELIST_INTERVAL")]
    pub relist_interval: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Remote(#[from] crate::remote::RemoteError),
    #[error(transparent)]
    Leader(#[from] crate::daemon::leader::LeaderError),
    #[error("cluster connection: {0}")]
    Kube(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CycleIsolation {
    Thread,
    Process,
}

pub fn run(args: RunArgs) -> ExitCode {
    logging::init(args.log_format);
    let runtime = match super::sync::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run_async(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "netpol-sync run stopped");
            ExitCode::from(2)
        }
    }
}

fn remote_config(args: &RunArgs) -> Result<RemoteConfig, RunError> {
    let mut config = RemoteConfig::new(args.repo.clone(), args.branch.clone());
    config.timeout = args.fetch_timeout;
    config.max_fetch_bytes = args.max_fetch_bytes;
    config.ca_bundle = args.ca_file.clone();
    let kind = transport(&args.repo).map_err(RunError::Config)?;
    config.auth = match (&kind, &args.token_file, &args.ssh_key_file) {
        (Transport::Ssh { user, .. }, _, Some(key)) => {
            GitAuth::ssh_key(key, user.as_deref()).map_err(crate::remote::RemoteError::from)?
        }
        (Transport::Http { .. }, Some(token), _) => {
            GitAuth::from_token_file(token).map_err(crate::remote::RemoteError::from)?
        }
        _ => GitAuth::Anonymous,
    };
    if let (Transport::Ssh { .. }, Some(path)) = (&kind, &args.known_hosts_file) {
        let bytes = read_limited(path, MAX_KNOWN_HOSTS_BYTES)?;
        config.known_hosts =
            Some(KnownHosts::parse(&bytes).map_err(crate::remote::RemoteError::from)?);
    }
    Ok(config)
}

fn read_limited(path: &std::path::Path, limit: usize) -> Result<Vec<u8>, RunError> {
    let io = |source| RunError::Io {
        what: format!("reading {}", path.display()),
        source,
    };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > limit as u64 {
        return Err(RunError::Config(format!(
            "{} is over {limit} bytes",
            path.display()
        )));
    }
    std::fs::read(path).map_err(io)
}

/// The flags every cycle's `sync --once` child gets.
fn sync_flags(args: &RunArgs) -> Vec<OsString> {
    let mut flags: Vec<OsString> = vec!["--trust-anchor".into(), args.trust_anchor.clone().into()];
    for b in &args.bundles {
        flags.push("--bundle".into());
        flags.push(b.into());
    }
    flags.push("--bundle-signatures".into());
    flags.push(args.bundle_signatures.to_string().into());
    flags.push("--key-change-signatures".into());
    flags.push(args.key_change_signatures.to_string().into());
    if let Some(k) = &args.state_key {
        flags.push("--state-key".into());
        flags.push(k.clone().into());
    }
    if args.allow_no_touch {
        flags.push("--allow-no-touch".into());
    }
    if let Some(k) = &args.kubeconfig {
        flags.push("--kubeconfig".into());
        flags.push(k.clone().into());
    }
    if let Some(c) = &args.context {
        flags.push("--context".into());
        flags.push(c.into());
    }
    flags.push("--state-namespace".into());
    flags.push(args.state_namespace.clone().into());
    flags.push("--max-in-flight".into());
    flags.push(args.apply.max_in_flight.to_string().into());
    if args.apply.remove_foreign_finalizers {
        flags.push("--remove-foreign-finalizers".into());
    }
    flags
}

async fn kube_client(args: &RunArgs) -> Result<kube::Client, RunError> {
    let options = kube::config::KubeConfigOptions {
        context: args.context.clone(),
        ..Default::default()
    };
    let config = match &args.kubeconfig {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| RunError::Kube(format!("{}: {e}", path.display())))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(|e| RunError::Kube(e.to_string()))?
        }
        None => kube::Config::infer()
            .await
            .map_err(|e| RunError::Kube(e.to_string()))?,
    };
    kube::Client::try_from(config).map_err(|e| RunError::Kube(e.to_string()))
}

fn default_identity() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    let host = if host.is_empty() {
        "netpol-sync".to_string()
    } else {
        host
    };
    format!("{host}-{:08x}", rand::random::<u32>())
}

async fn run_async(args: RunArgs) -> Result<(), RunError> {
    std::fs::create_dir_all(&args.cache_dir).map_err(|source| RunError::Io {
        what: format!("creating cache dir {}", args.cache_dir.display()),
        source,
    })?;
    if !args.trust_anchor.is_file() {
        return Err(RunError::Config(format!(
            "trust anchor {} is not a file",
            args.trust_anchor.display()
        )));
    }
    let state_key = crate::revision::load_state_key(args.state_key.as_deref())
        .map_err(|o| RunError::Config(o.message))?;
    let remote = Arc::new(GitRemote::new(remote_config(&args)?, &args.cache_dir)?);
    let webhook_secret = match &args.webhook_secret_file {
        Some(path) => {
            Some(WebhookSecret::from_file(path).map_err(|e| RunError::Config(e.to_string()))?)
        }
        None => None,
    };
    let identity = args
        .identity
        .clone()
        .filter(|i| !i.is_empty())
        .unwrap_or_else(default_identity);
    let client = kube_client(&args).await?;
    let (shutdown_tx, shutdown_rx) = shutdown::on_signals().map_err(|source| RunError::Io {
        what: "installing signal handlers".into(),
        source,
    })?;

    let metrics = Arc::new(Metrics::new());
    let trigger = Trigger::default();
    let http_state = HttpState::new(metrics.clone(), trigger.clone(), webhook_secret);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|source| RunError::Io {
            what: format!("listening on {}", args.listen),
            source,
        })?;
    tracing::info!(listen = %args.listen, repo = %args.repo, branch = %args.branch, %identity, leader_elect = args.leader_elect, "netpol-sync run starting");
    let mut http_stop = shutdown_rx.clone();
    let http_task = tokio::spawn(http::serve(listener, http_state.clone(), async move {
        let _ = http_stop.wait_for(|stop| *stop).await;
    }));

    let (leader, elector_task) = if args.leader_elect {
        let config = LeaderConfig {
            lease_duration: args.lease_duration,
            renew_deadline: args.renew_deadline,
            retry_period: args.retry_period,
            ..LeaderConfig::new(&args.state_namespace, &identity)
        };
        let elector = LeaderElector::new(client.clone(), config)?;
        let handle = elector.handle();
        (handle, Some(tokio::spawn(elector.run(shutdown_rx.clone()))))
    } else {
        (LeaderHandle::always(), None)
    };

    let (events_tx, mut events_rx) = tokio::sync::mpsc::channel::<SyncEvent>(64);
    let recorder = EventRecorder::new(client.clone(), &args.state_namespace, &identity);
    let events_task = tokio::spawn(async move {
        while let Some(event) = events_rx.recv().await {
            if let Err(e) = recorder.publish(&event).await {
                tracing::warn!(error = %e, "could not post event");
            }
        }
    });

    let drift_watch = args.drift_watch.then(|| {
        let (scope_tx, scope_rx) = tokio::sync::watch::channel(None);
        let changes = DriftChanges::default();
        let watch = DriftWatch::new(
            client.clone(),
            trigger.clone(),
            changes.clone(),
            scope_rx,
            metrics.clone(),
        );
        (scope_tx, changes, watch)
    });
    let engine: Box<dyn SyncEngine> = match args.cycle_isolation {
        CycleIsolation::Thread => {
            let engine = InProcessEngine::new(
                client.clone(),
                &args.state_namespace,
                state_key,
                args.trust_anchor.clone(),
                !args.allow_no_touch,
                BundleOptions {
                    select: args.bundles.clone(),
                    signatures_required: args.bundle_signatures,
                    ..BundleOptions::default()
                },
            )
            .with_max_in_flight(args.apply.max_in_flight)
            .with_remove_foreign_finalizers(args.apply.remove_foreign_finalizers)
            .with_key_change_signatures(args.key_change_signatures);
            Box::new(match &drift_watch {
                Some((_, _, watch)) => {
                    engine.with_quiet_cycles(watch.witness(), args.relist_interval)
                }
                None => engine,
            })
        }
        CycleIsolation::Process => Box::new(SubprocessEngine::new(
            std::env::current_exe().map_err(|source| RunError::Io {
                what: "finding the netpol-sync binary".into(),
                source,
            })?,
            sync_flags(&args),
        )),
    };
    let (drift_scope, drift_changes, drift_task) = match drift_watch {
        Some((scope_tx, changes, watch)) => (
            Some(scope_tx),
            Some(changes),
            Some(tokio::spawn(watch.run(shutdown_rx.clone()))),
        ),
        None => (None, None, None),
    };
    let run_loop = RunLoop {
        config: LoopConfig {
            interval: args.interval,
            shutdown_grace: args.shutdown_grace,
            ..LoopConfig::default()
        },
        remote,
        engine,
        leader,
        trigger,
        http: http_state,
        metrics,
        events: Some(events_tx),
        drift_scope,
        drift_changes,
    };
    run_loop.run(shutdown_rx.clone()).await;
    // The loop returns only on shutdown; make sure every task sees it.
    let _ = shutdown_tx.send(true);
    if let Some(task) = elector_task {
        // Releases the lease; bounded so a dead API server cannot hold the exit.
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    if let Some(task) = drift_task {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), events_task).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), http_task).await;
    tracing::info!("netpol-sync run stopped cleanly");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::args::{Cli, Command};
    use clap::Parser;

    fn parse(args: &[&str]) -> Command {
        Cli::try_parse_from(args)
            .expect("a valid command line")
            .command
    }

    /// `--cycle-isolation process` hands the daemon's settings to a `sync --once` child
    /// as flags: they must be flags the child takes, and say what the daemon was told.
    #[test]
    fn a_cycle_child_gets_the_daemons_write_bound_and_cluster() {
        let Command::Run(run) = parse(&[
            "netpol-sync",
            "run",
            "--repo",
            "r",
            "--trust-anchor",
            "a",
            "--max-in-flight",
            "3",
            "--state-namespace",
            "ops",
            "--bundle",
            "shop",
            "--state-key",
            "/secret/state-key",
            "--key-change-signatures",
            "2",
        ]) else {
            panic!("not run");
        };
        let engine = SubprocessEngine::new("netpol-sync".into(), sync_flags(&run));
        let input = crate::daemon::engine::CycleInput {
            repo: "/cache/repo".into(),
            revision: "0123abcd".into(),
            moved: true,
        };
        let mut child: Vec<OsString> = vec!["netpol-sync".into()];
        child.extend(engine.child_args(&input));
        let Command::Sync(sync) = Cli::try_parse_from(child)
            .expect("the child's flags parse")
            .command
        else {
            panic!("not sync");
        };
        assert!(sync.once && sync.report_own_writes);
        assert_eq!(sync.repo.repo, "/cache/repo");
        assert_eq!(sync.repo.rev, "0123abcd");
        assert_eq!(sync.output.output, crate::cli::OutputFormat::Json);
        assert_eq!(sync.apply.max_in_flight, 3);
        assert_eq!(sync.kube.state_namespace, "ops");
        assert_eq!(sync.select.bundles, ["shop"]);
        assert_eq!(sync.trust.trust_anchor, std::path::Path::new("a"));
        assert_eq!(
            sync.kube.state_key.as_deref(),
            Some(std::path::Path::new("/secret/state-key"))
        );
        assert_eq!(sync.trust.key_change_signatures, 2);
    }

    #[test]
    fn a_write_bound_of_zero_or_past_1024_is_refused() {
        for bad in ["0", "1025", "many", "2.5"] {
            let err = Cli::try_parse_from([
                "netpol-sync",
                "sync",
                "--repo",
                "r",
                "--trust-anchor",
                "a",
                "--max-in-flight",
                bad,
            ])
            .unwrap_err();
            assert!(err.to_string().contains("--max-in-flight"), "{bad}: {err}");
        }
    }
}
