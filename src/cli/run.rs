//! `netpol-sync run`: the long-running daemon (docs/operations.md). Every flag also reads from an
//! environment variable (`NETPOL_SYNC_…`, `KUBECONFIG`), which is how deploy/ configures it.

use crate::daemon::shutdown;
use crate::daemon::start::{Daemon, DaemonConfig, Isolation, LeaseTimings};
use crate::daemon::webhook::WebhookSecret;
use crate::logging::{self, LogFormat};
use crate::remote::{
    transport, GitAuth, KnownHosts, RemoteConfig, Transport, MAX_KNOWN_HOSTS_BYTES,
};
use clap::{ArgAction, Args};
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

fn duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| e.to_string())
}

/// `netpol-sync run`. The trust, bundle, cluster and write settings are the same groups
/// `sync --once` takes, so every cycle (in this process or a child) runs with them.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Repository URL (https://, ssh://, scp-like), or a local path / file:// URL.
    #[arg(long, env = "NETPOL_SYNC_REPO")]
    pub repo: String,
    /// Branch to follow.
    #[arg(long, default_value = "main", env = "NETPOL_SYNC_BRANCH")]
    pub branch: String,
    #[command(flatten)]
    pub trust: super::args::TrustArgs,
    #[command(flatten)]
    pub select: super::args::BundleSelectArgs,
    #[command(flatten)]
    pub kube: super::args::KubeArgs,
    #[command(flatten)]
    pub apply: super::args::ApplyArgs,
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
    Daemon(#[from] crate::daemon::start::DaemonError),
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
    crate::bounded::read_file(path, limit as u64).map_err(|source| {
        if source.kind() == std::io::ErrorKind::FileTooLarge {
            RunError::Config(format!("{} is over {limit} bytes", path.display()))
        } else {
            RunError::Io {
                what: format!("reading {}", path.display()),
                source,
            }
        }
    })
}

/// The flags every cycle's `sync --once` child gets: the same groups this command took.
fn sync_flags(args: &RunArgs) -> Vec<OsString> {
    let mut flags = args.trust.to_args();
    flags.extend(args.select.to_args());
    flags.extend(args.kube.to_args());
    flags.extend(args.apply.to_args());
    flags
}

async fn kube_client(args: &RunArgs) -> Result<kube::Client, RunError> {
    let options = kube::config::KubeConfigOptions {
        context: args.kube.context.clone(),
        ..Default::default()
    };
    let config = match &args.kube.kubeconfig {
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

/// The daemon's configuration from the command line.
async fn daemon_config(args: &RunArgs) -> Result<DaemonConfig, RunError> {
    if !args.trust.trust_anchor.is_file() {
        return Err(RunError::Config(format!(
            "trust anchor {} is not a file",
            args.trust.trust_anchor.display()
        )));
    }
    let state_key = crate::engine::revision::load_state_key(args.kube.state_key.as_deref())
        .map_err(|o| RunError::Config(o.message))?;
    let webhook_secret = match &args.webhook_secret_file {
        Some(path) => {
            Some(WebhookSecret::from_file(path).map_err(|e| RunError::Config(e.to_string()))?)
        }
        None => None,
    };
    let isolation = match args.cycle_isolation {
        CycleIsolation::Thread => Isolation::Thread,
        CycleIsolation::Process => Isolation::Process {
            program: std::env::current_exe().map_err(|source| RunError::Io {
                what: "finding the netpol-sync binary".into(),
                source,
            })?,
            args: sync_flags(args),
        },
    };
    Ok(DaemonConfig {
        remote: remote_config(args)?,
        cache_dir: args.cache_dir.clone(),
        client: kube_client(args).await?,
        state_namespace: args.kube.state_namespace.clone(),
        state_key,
        trust: args.trust.settings(None),
        bundles: args.select.bundle_options(),
        apply: args.apply.options(),
        isolation,
        listen: args.listen,
        webhook_secret,
        identity: args
            .identity
            .clone()
            .filter(|i| !i.is_empty())
            .unwrap_or_else(default_identity),
        leader: args.leader_elect.then_some(LeaseTimings {
            lease_duration: args.lease_duration,
            renew_deadline: args.renew_deadline,
            retry_period: args.retry_period,
        }),
        interval: args.interval,
        shutdown_grace: args.shutdown_grace,
        drift_watch: args.drift_watch,
        relist_interval: args.relist_interval,
    })
}

async fn run_async(args: RunArgs) -> Result<(), RunError> {
    let config = daemon_config(&args).await?;
    let daemon = Daemon::start(config).await?;
    shutdown::on_signals(daemon.stopper()).map_err(|source| RunError::Io {
        what: "installing signal handlers".into(),
        source,
    })?;
    daemon.wait().await;
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

    /// A `run` command line setting every trust, bundle, cluster and write flag to a
    /// value that is not its default.
    const RUN_WITH_EVERY_CYCLE_FLAG: &[&str] = &[
        "netpol-sync",
        "run",
        "--repo",
        "r",
        "--trust-anchor",
        "a",
        "--allow-no-touch",
        "--key-change-signatures",
        "2",
        "--bundle",
        "shop",
        "--bundle",
        "ops,edge",
        "--bundle-signatures",
        "3",
        "--max-file-bytes",
        "4096",
        "--max-files",
        "7",
        "--max-documents",
        "5",
        "--max-total-bytes",
        "65536",
        "--max-yaml-depth",
        "9",
        "--kubeconfig",
        "/etc/kubeconfig",
        "--context",
        "prod",
        "--state-namespace",
        "ops",
        "--state-key",
        "/secret/state-key",
        "--max-in-flight",
        "3",
        "--remove-foreign-finalizers",
        "--no-reachability",
        "--immutable-objects",
    ];

    /// `--cycle-isolation process` hands the daemon's settings to a `sync --once` child
    /// as flags: they must be flags the child takes, and say what the daemon was told.
    #[test]
    fn a_cycle_child_gets_every_trust_bundle_cluster_and_write_setting_of_the_daemon() {
        let Command::Run(run) = parse(RUN_WITH_EVERY_CYCLE_FLAG) else {
            panic!("not run");
        };
        let engine = crate::daemon::subprocess_engine::SubprocessEngine::new(
            "netpol-sync".into(),
            sync_flags(&run),
        );
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
        assert_eq!(sync.trust, run.trust);
        assert_eq!(sync.select, run.select);
        assert_eq!(sync.kube, run.kube);
        assert_eq!(sync.apply, run.apply);
        // Not only equal to each other: equal to what the command line said.
        assert_eq!(sync.select.bundles, ["shop", "ops", "edge"]);
        assert_eq!(sync.select.max_files, 7);
        assert_eq!(sync.select.bundle_options().limits.max_yaml_depth, 9);
        assert!(sync.trust.signers.allow_no_touch && sync.apply.remove_foreign_finalizers);
        assert_eq!(sync.kube.context.as_deref(), Some("prod"));
    }

    /// Every flag of `sync` is taken by `run` too, except those that name one cycle's
    /// input or output; a flag added to `sync` later fails this test until `run` takes it
    /// or it is listed here.
    #[test]
    fn run_takes_every_flag_of_sync_that_makes_sense_for_a_daemon() {
        use clap::CommandFactory;
        const ONE_CYCLE_ONLY: &[&str] = &[
            "repo",
            "rev",
            "since",
            "reset-trust-to-anchor",
            "once",
            "at",
            "output",
            "report-own-writes",
            "help",
        ];
        let cli = Cli::command();
        let flags = |name: &str| -> Vec<String> {
            cli.find_subcommand(name)
                .unwrap()
                .get_arguments()
                .filter_map(|a| a.get_long().map(str::to_string))
                .collect()
        };
        let run = flags("run");
        let sync = flags("sync");
        assert!(sync.len() > 15, "{sync:?}");
        for flag in sync {
            assert!(
                ONE_CYCLE_ONLY.contains(&flag.as_str()) || run.contains(&flag),
                "run does not take --{flag}"
            );
        }
        // And each one reaches the child: the test above sets them all.
        for flag in run.iter().filter(|f| !ONE_CYCLE_ONLY.contains(&f.as_str())) {
            let settable = cli
                .find_subcommand("sync")
                .unwrap()
                .get_arguments()
                .any(|a| a.get_long() == Some(flag.as_str()));
            if settable {
                assert!(
                    RUN_WITH_EVERY_CYCLE_FLAG.contains(&format!("--{flag}").as_str()),
                    "--{flag} is not covered by RUN_WITH_EVERY_CYCLE_FLAG"
                );
            }
        }
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
