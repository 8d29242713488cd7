//! The daemon as a library value: [`Daemon::start`] takes a [`DaemonConfig`] (built by
//! `cli/run.rs` from the same argument groups `sync --once` takes), binds the HTTP
//! endpoints, starts leader election, the Event poster and the drift watch, and runs the
//! loop until it is told to stop; [`Daemon::stop`] and [`Daemon::wait`] end it cleanly.

use super::drift_watch::DriftWatch;
use super::engine::SyncEngine;
use super::events::{EventRecorder, SyncEvent};
use super::http::{self, HttpState};
use super::inprocess_engine::InProcessEngine;
use super::leader::{LeaderConfig, LeaderElector, LeaderError, LeaderHandle};
use super::metrics::Metrics;
use super::run_loop::{LoopConfig, RunLoop};
use super::subprocess_engine::SubprocessEngine;
use super::trigger::{DriftChanges, Trigger};
use super::webhook::WebhookSecret;
use crate::apply::ApplyOptions;
use crate::bundle::BundleOptions;
use crate::engine::TrustSettings;
use crate::remote::{GitRemote, RemoteConfig, RemoteError};
use crate::state::StateKey;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Where each cycle runs.
#[derive(Debug, Clone)]
pub enum Isolation {
    /// In this process, reusing validated policies and live reads (the default).
    Thread,
    /// As `program sync --once … args` in a child process, which gives all its memory back
    /// between cycles. `args` are the trust, bundle, cluster and write flags.
    Process {
        program: PathBuf,
        args: Vec<OsString>,
    },
}

/// Lease timings, when several replicas elect a leader.
#[derive(Debug, Clone, Copy)]
pub struct LeaseTimings {
    pub lease_duration: Duration,
    pub renew_deadline: Duration,
    pub retry_period: Duration,
}

/// Everything a daemon runs with.
pub struct DaemonConfig {
    /// The branch to follow and how to fetch it.
    pub remote: RemoteConfig,
    /// Where the git clone lives.
    pub cache_dir: PathBuf,
    pub client: kube::Client,
    /// Namespace of the state record, the lease and the Events.
    pub state_namespace: String,
    pub state_key: StateKey,
    pub trust: TrustSettings,
    pub bundles: BundleOptions,
    pub apply: ApplyOptions,
    pub isolation: Isolation,
    /// Address of /metrics, /healthz, /readyz and /hooks/git.
    pub listen: SocketAddr,
    pub webhook_secret: Option<WebhookSecret>,
    /// This replica's name in the Lease and its Events.
    pub identity: String,
    /// `None`: a single replica, always the leader.
    pub leader: Option<LeaseTimings>,
    /// Time between polls (jitter is added).
    pub interval: Duration,
    /// How long a running cycle may take to finish after a stop.
    pub shutdown_grace: Duration,
    /// Watch NetworkPolicies and run a cycle on drift.
    pub drift_watch: bool,
    /// Longest time a no-change cycle plans against an earlier read (zero: always list).
    pub relist_interval: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Remote(#[from] RemoteError),
    #[error(transparent)]
    Leader(#[from] LeaderError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

/// A running daemon.
pub struct Daemon {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    run_loop: JoinHandle<()>,
    /// Tasks that end once told to stop, awaited (bounded) after the loop.
    helpers: Vec<JoinHandle<()>>,
}

/// How long each helper task may take to end after the loop did (a dead API server must
/// not hold the exit).
const HELPER_STOP: Duration = Duration::from_secs(5);

impl Daemon {
    /// Start every part of the daemon; the loop's first cycle runs at once.
    pub async fn start(config: DaemonConfig) -> Result<Daemon, DaemonError> {
        std::fs::create_dir_all(&config.cache_dir).map_err(|source| DaemonError::Io {
            what: format!("creating cache dir {}", config.cache_dir.display()),
            source,
        })?;
        let repo_url = config.remote.url.clone();
        let remote = Arc::new(GitRemote::new(config.remote, &config.cache_dir)?);
        let (stop, stopped) = watch::channel(false);
        let client = config.client;

        let metrics = Arc::new(Metrics::new());
        let trigger = Trigger::default();
        let http_state = HttpState::new(metrics.clone(), trigger.clone(), config.webhook_secret);
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| DaemonError::Io {
                what: format!("listening on {}", config.listen),
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| DaemonError::Io {
            what: "reading the listening address".into(),
            source,
        })?;
        tracing::info!(listen = %local_addr, repo = %repo_url, identity = %config.identity,
            leader_elect = config.leader.is_some(), "netpol-sync run starting");
        let mut helpers = Vec::new();
        let mut http_stop = stopped.clone();
        let serve = http::serve(listener, http_state.clone(), async move {
            let _ = http_stop.wait_for(|stop| *stop).await;
        });
        helpers.push(tokio::spawn(async move {
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "the HTTP endpoints stopped");
            }
        }));

        let leader = match config.leader {
            Some(t) => {
                let lease = LeaderConfig {
                    lease_duration: t.lease_duration,
                    renew_deadline: t.renew_deadline,
                    retry_period: t.retry_period,
                    ..LeaderConfig::new(&config.state_namespace, &config.identity)
                };
                let elector = LeaderElector::new(client.clone(), lease)?;
                let handle = elector.handle();
                // Releases the lease when told to stop.
                helpers.push(tokio::spawn(elector.run(stopped.clone())));
                handle
            }
            None => LeaderHandle::always(),
        };

        let (events_tx, mut events_rx) = tokio::sync::mpsc::channel::<SyncEvent>(64);
        let recorder =
            EventRecorder::new(client.clone(), &config.state_namespace, &config.identity);
        helpers.push(tokio::spawn(async move {
            while let Some(event) = events_rx.recv().await {
                if let Err(e) = recorder.publish(&event).await {
                    tracing::warn!(error = %e, "could not post event");
                }
            }
        }));

        let drift_watch = config.drift_watch.then(|| {
            let (scope_tx, scope_rx) = watch::channel(None);
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
        let engine: Box<dyn SyncEngine> = match config.isolation {
            Isolation::Thread => {
                let engine = InProcessEngine::new(
                    client.clone(),
                    &config.state_namespace,
                    config.state_key,
                    config.trust,
                    config.bundles,
                    config.apply,
                );
                Box::new(match &drift_watch {
                    Some((_, _, watch)) => {
                        engine.with_quiet_cycles(watch.witness(), config.relist_interval)
                    }
                    None => engine,
                })
            }
            Isolation::Process { program, args } => Box::new(SubprocessEngine::new(program, args)),
        };
        let (drift_scope, drift_changes) = match drift_watch {
            Some((scope_tx, changes, watch)) => {
                helpers.push(tokio::spawn(watch.run(stopped.clone())));
                (Some(scope_tx), Some(changes))
            }
            None => (None, None),
        };
        let run_loop = RunLoop {
            config: LoopConfig {
                interval: config.interval,
                shutdown_grace: config.shutdown_grace,
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
        let run_loop = tokio::spawn(async move {
            let _exit = run_loop.run(stopped).await;
        });
        Ok(Daemon {
            local_addr,
            stop,
            run_loop,
            helpers,
        })
    }

    /// Where the HTTP endpoints listen (the port the OS chose for `:0`).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Ask every part to stop: the running cycle gets the shutdown grace period.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }

    /// A sender that stops the daemon (for signal handlers).
    pub fn stopper(&self) -> watch::Sender<bool> {
        self.stop.clone()
    }

    /// Wait until the loop has ended (after [`Daemon::stop`]), then for the other tasks,
    /// each for a bounded time.
    pub async fn wait(self) {
        let _ = self.run_loop.await;
        // The loop returns only when stopped; make sure every task sees it.
        let _ = self.stop.send(true);
        for task in self.helpers {
            let _ = tokio::time::timeout(HELPER_STOP, task).await;
        }
        tracing::info!("netpol-sync run stopped cleanly");
    }
}
