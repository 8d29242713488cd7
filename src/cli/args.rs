//! clap definitions only; no behaviour here.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "netpol-sync",
    version,
    about = "Make a cluster's NetworkPolicies exactly a verified, signed Git revision"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Verify the signed commit chain and the bundles of a revision, offline.
    Verify(VerifyArgs),
    /// Bundle authoring tools.
    #[command(subcommand)]
    Bundle(BundleCommand),
    /// Verify, then show what a sync would change (no writes).
    Plan(ClusterRunArgs),
    /// Verify, then make the cluster exactly the revision (`--once`: one cycle).
    Sync(ClusterRunArgs),
    /// What revision the cluster enforces, who signed it, the last failure.
    Status(StatusArgs),
    /// Evidence that the live cluster is the enforced signed revision: each live policy
    /// with the bundle, file and signed content it comes from, and whatever is not.
    Audit(Box<AuditArgs>),
    /// The long-running daemon: poll (or webhook), verify, sync; leader election, metrics.
    Run(Box<super::run::RunArgs>),
    /// Who can reach whom under a revision's (or a draft's) policies: the whole map, one
    /// query and why, each workload's exposure, or what a revision opens and closes.
    /// Analysis only.
    Reach(Box<ReachArgs>),
    /// Scaffold a policy repository: keys/allowed_signers and one sealed bundle with
    /// default-deny and DNS policies for each namespace.
    Init(super::init::InitArgs),
    /// Bring a cluster's existing NetworkPolicies of some namespaces into a new bundle,
    /// sealed (never writes to the cluster).
    Import(Box<super::import::ImportArgs>),
    /// The pull-request gate: validate, lint and report on signatures and reachability,
    /// with no cluster and no trust anchor.
    Check(Box<super::check::CheckArgs>),
}

/// How `reach` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ReachFormat {
    #[default]
    Text,
    Json,
    /// A pull-request comment: tables, and a mermaid picture of the paths.
    Md,
    Dot,
    Mermaid,
}

#[derive(Debug, Clone, Args)]
pub struct ReachArgs {
    /// Repository of the revision whose policies are analysed (verified as `verify` does).
    #[arg(
        long,
        required_unless_present = "policies",
        conflicts_with = "policies"
    )]
    pub repo: Option<String>,
    /// Revision to analyse.
    #[arg(long, default_value = "HEAD", requires = "repo")]
    pub rev: String,
    /// The policies of plain files instead (a draft; nothing is verified).
    #[arg(long, value_name = "PATH")]
    pub policies: Vec<PathBuf>,
    /// Kubernetes YAML with the workloads (Namespace, Pod, Deployment, StatefulSet,
    /// DaemonSet, ReplicaSet, Job, CronJob): a file or a directory; repeatable.
    #[arg(long, value_name = "PATH")]
    pub workloads: Vec<PathBuf>,
    /// Read the workloads from the live cluster of this kubeconfig instead (its
    /// namespaces and pods, grouped by owner; read only). Not with --workloads. Unlike
    /// plan and sync, $KUBECONFIG is not read: the cluster is used only when named.
    #[arg(long, value_name = "FILE", conflicts_with = "workloads")]
    pub kubeconfig: Option<PathBuf>,
    /// kubeconfig context to use (with --kubeconfig).
    #[arg(long, requires = "kubeconfig")]
    pub context: Option<String>,
    /// For each workload, who can reach it and whom it can reach beyond the workloads
    /// given: addresses, every pod of the cluster, pods by selector, or no isolation.
    #[arg(long, conflicts_with_all = ["from", "diff", "diff_policies"])]
    pub exposure: bool,
    /// allowed_signers that decides the revision (with --repo).
    #[arg(long, env = "NETPOL_SYNC_TRUST_ANCHOR", requires = "repo")]
    pub trust_anchor: Option<PathBuf>,
    /// Source of a query: NAMESPACE/WORKLOAD, NAMESPACE/label=value,…, an IP address or a
    /// CIDR range (allowed only when every address of it is).
    #[arg(long, requires = "to")]
    pub from: Option<String>,
    /// Destination of a query, as --from.
    #[arg(long, requires = "from")]
    pub to: Option<String>,
    /// Port of the query (required with --from; the answer also lists every port allowed).
    #[arg(long, requires = "from")]
    pub port: Option<u16>,
    /// Protocol of the query: TCP, UDP or SCTP.
    #[arg(long, default_value = "TCP", requires = "from")]
    pub protocol: String,
    /// Compare with this earlier revision (verified: --rev must descend from it along
    /// signed first-parent commits): the paths opened, closed and changed.
    #[arg(long, value_name = "OLD_REV", requires = "repo", conflicts_with_all = ["from", "diff_policies"])]
    pub diff: Option<String>,
    /// Compare with the policies of these files (a draft).
    #[arg(long, value_name = "PATH", conflicts_with = "from")]
    pub diff_policies: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = ReachFormat::Text)]
    pub output: ReachFormat,
    #[command(flatten)]
    pub signers: SignerArgs,
    #[command(flatten)]
    pub clock: ClockArgs,
    #[command(flatten)]
    pub select: BundleSelectArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum OutputFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// `text` for a person, `json` for one object on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text, env = "NETPOL_SYNC_OUTPUT")]
    pub output: OutputFormat,
}

#[derive(Debug, Clone, Args)]
pub struct RepoArgs {
    /// Repository: a local path or a URL.
    #[arg(long, env = "NETPOL_SYNC_REPO")]
    pub repo: String,
    /// Revision to verify (branch, tag or commit). Default: HEAD.
    #[arg(long, default_value = "HEAD")]
    pub rev: String,
}

/// Who may sign: shared by `verify`, `plan`, `sync` and `run` (which hands it to its
/// cycle children with [`TrustArgs::to_args`]).
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct TrustArgs {
    /// allowed_signers file that decides the first revision ever applied.
    #[arg(long, env = "NETPOL_SYNC_TRUST_ANCHOR")]
    pub trust_anchor: PathBuf,
    #[command(flatten)]
    pub signers: SignerArgs,
}

/// How signatures are judged, beside the anchor (`reach` takes these without requiring
/// an anchor, which it needs only for a revision).
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct SignerArgs {
    /// Accept hardware-key (sk-ssh-ed25519) signatures made without user presence.
    #[arg(long, env = "NETPOL_SYNC_ALLOW_NO_TOUCH")]
    pub allow_no_touch: bool,
    /// Distinct keys, trusted before a change to keys/allowed_signers, that must sign it:
    /// the commit's signer and detached signatures over the new file in keys/signatures/
    /// (`ssh-keygen -Y sign -n netpol-sync-keys`).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1,
        env = "NETPOL_SYNC_KEY_CHANGE_SIGNATURES"
    )]
    pub key_change_signatures: usize,
}

/// The verifier's clock, for the one-shot commands (a daemon judges at the time of each
/// cycle).
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct ClockArgs {
    /// Judge validity windows at this time (RFC 3339) instead of the system clock. For tests
    /// and audits of the past.
    #[arg(long, value_parser = humantime::parse_rfc3339_weak)]
    pub at: Option<std::time::SystemTime>,
}

impl TrustArgs {
    /// The engine's trust settings, judged at `at` (or at each cycle's start).
    pub fn settings(&self, at: Option<std::time::SystemTime>) -> crate::engine::TrustSettings {
        self.signers.settings(self.trust_anchor.clone(), at)
    }

    /// The same settings as flags of a `sync --once` child.
    pub fn to_args(&self) -> Vec<OsString> {
        let mut args = vec!["--trust-anchor".into(), self.trust_anchor.clone().into()];
        if self.signers.allow_no_touch {
            args.push("--allow-no-touch".into());
        }
        args.push("--key-change-signatures".into());
        args.push(self.signers.key_change_signatures.to_string().into());
        args
    }
}

impl SignerArgs {
    /// The engine's trust settings with `trust_anchor`, judged at `at` (or at each
    /// cycle's start).
    pub fn settings(
        &self,
        trust_anchor: PathBuf,
        at: Option<std::time::SystemTime>,
    ) -> crate::engine::TrustSettings {
        crate::engine::TrustSettings {
            trust_anchor,
            require_user_presence: !self.allow_no_touch,
            key_change_signatures: self.key_change_signatures,
            at,
        }
    }
}

/// Which bundles, how many signatures each, and the limits on reading them.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct BundleSelectArgs {
    /// Bundle to select (repeatable, or comma-separated). Default: every bundle under
    /// bundles/.
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
    /// Largest file in a bundle, in bytes (policy files and bundle.yaml).
    #[arg(long, value_name = "BYTES", default_value_t = crate::bundle::Limits::DEFAULT_MAX_FILE_BYTES, env = "NETPOL_SYNC_MAX_FILE_BYTES")]
    pub max_file_bytes: u64,
    /// Most files one bundle may list.
    #[arg(long, value_name = "N", default_value_t = crate::bundle::Limits::DEFAULT_MAX_FILES, env = "NETPOL_SYNC_MAX_FILES")]
    pub max_files: usize,
    /// Most YAML documents in one policy file.
    #[arg(long, value_name = "N", default_value_t = crate::bundle::Limits::DEFAULT_MAX_DOCUMENTS_PER_FILE, env = "NETPOL_SYNC_MAX_DOCUMENTS")]
    pub max_documents: usize,
    /// Most bytes read across all selected bundles.
    #[arg(long, value_name = "BYTES", default_value_t = crate::bundle::Limits::DEFAULT_MAX_TOTAL_BYTES, env = "NETPOL_SYNC_MAX_TOTAL_BYTES")]
    pub max_total_bytes: u64,
    /// Deepest nesting of YAML collections.
    #[arg(long, value_name = "N", default_value_t = crate::bundle::Limits::DEFAULT_MAX_YAML_DEPTH, env = "NETPOL_SYNC_MAX_YAML_DEPTH")]
    pub max_yaml_depth: usize,
}

impl BundleSelectArgs {
    /// The same selection and limits as flags of a `sync --once` child.
    pub fn to_args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = Vec::new();
        for b in &self.bundles {
            args.push("--bundle".into());
            args.push(b.into());
        }
        for (flag, value) in [
            ("--bundle-signatures", self.bundle_signatures.to_string()),
            ("--max-file-bytes", self.max_file_bytes.to_string()),
            ("--max-files", self.max_files.to_string()),
            ("--max-documents", self.max_documents.to_string()),
            ("--max-total-bytes", self.max_total_bytes.to_string()),
            ("--max-yaml-depth", self.max_yaml_depth.to_string()),
        ] {
            args.push(flag.into());
            args.push(value.into());
        }
        args
    }
}

#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub repo: RepoArgs,
    /// Last applied revision (exclusive): every first-parent commit after it must verify,
    /// and the revision must descend from it.
    #[arg(long)]
    pub since: Option<String>,
    #[command(flatten)]
    pub trust: TrustArgs,
    #[command(flatten)]
    pub clock: ClockArgs,
    #[command(flatten)]
    pub select: BundleSelectArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// The cluster and netpol-sync's state in it.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct KubeArgs {
    /// Path to a kubeconfig (default: $KUBECONFIG, ~/.kube/config, or in-cluster).
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// kubeconfig context to use.
    #[arg(long, env = "NETPOL_SYNC_CONTEXT")]
    pub context: Option<String>,
    /// Namespace holding netpol-sync's state record, lease and events.
    #[arg(
        long,
        default_value = "netpol-sync",
        env = "NETPOL_SYNC_STATE_NAMESPACE"
    )]
    pub state_namespace: String,
    /// File holding the key (32 bytes or more; `openssl rand -hex 32`) that authenticates
    /// the state record. Required by plan, sync and run; `status` uses it to say whether the
    /// record authenticates.
    #[arg(long, value_name = "FILE", env = "NETPOL_SYNC_STATE_KEY")]
    pub state_key: Option<PathBuf>,
}

impl KubeArgs {
    /// The same cluster as flags of a `sync --once` child.
    pub fn to_args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = Vec::new();
        if let Some(k) = &self.kubeconfig {
            args.push("--kubeconfig".into());
            args.push(k.clone().into());
        }
        if let Some(c) = &self.context {
            args.push("--context".into());
            args.push(c.into());
        }
        args.push("--state-namespace".into());
        args.push(self.state_namespace.clone().into());
        if let Some(k) = &self.state_key {
            args.push("--state-key".into());
            args.push(k.clone().into());
        }
        args
    }
}

/// How writes reach the API server.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct ApplyArgs {
    /// Writes (dry runs and real ones) in flight at once. Lower it for an API server that
    /// struggles; `plan` writes nothing and ignores it.
    #[arg(
        long,
        value_name = "N",
        default_value_t = crate::apply::ApplyOptions::DEFAULT_CONCURRENCY,
        value_parser = max_in_flight,
        env = "NETPOL_SYNC_MAX_IN_FLIGHT"
    )]
    pub max_in_flight: usize,
    /// Remove someone else's finalizers from a policy the revision does not contain that
    /// they hold after its deletion (in a governed namespace, or one netpol-sync wrote), so
    /// that it goes. Without it such a policy fails every cycle (`held-by-finalizer`).
    #[arg(long, env = "NETPOL_SYNC_REMOVE_FOREIGN_FINALIZERS")]
    pub remove_foreign_finalizers: bool,
    /// Do not compute what a revision's writes open and close between the cluster's
    /// workloads (it lists every pod and NetworkPolicy of the cluster when there are
    /// writes; docs/reachability.md).
    #[arg(long, env = "NETPOL_SYNC_NO_REACHABILITY")]
    pub no_reachability: bool,
    /// Write each policy as an object `<name>-<hash>` that is only ever created and
    /// deleted, never updated: a changed policy is a new object, the old one pruned
    /// (docs/sync.md, "Immutable objects"). Switching either way is one ordinary cycle.
    #[arg(long, env = "NETPOL_SYNC_IMMUTABLE_OBJECTS")]
    pub immutable_objects: bool,
}

impl ApplyArgs {
    /// The applier's options (no record of its own writes).
    pub fn options(&self) -> crate::apply::ApplyOptions {
        crate::apply::ApplyOptions {
            concurrency: self.max_in_flight,
            remove_foreign_finalizers: self.remove_foreign_finalizers,
            report_reachability: !self.no_reachability,
            immutable_objects: self.immutable_objects,
            ..crate::apply::ApplyOptions::default()
        }
    }

    /// The same options as flags of a `sync --once` child.
    pub fn to_args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec![
            "--max-in-flight".into(),
            self.max_in_flight.to_string().into(),
        ];
        if self.remove_foreign_finalizers {
            args.push("--remove-foreign-finalizers".into());
        }
        if self.no_reachability {
            args.push("--no-reachability".into());
        }
        if self.immutable_objects {
            args.push("--immutable-objects".into());
        }
        args
    }
}

/// 1 to 1024: zero would never write, and beyond a thousand only the open sockets grow.
fn max_in_flight(value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(n @ 1..=1024) => Ok(n),
        Ok(_) => Err("must be between 1 and 1024".into()),
        Err(e) => Err(e.to_string()),
    }
}

#[derive(Debug, Clone, Args)]
pub struct ClusterRunArgs {
    #[command(flatten)]
    pub repo: RepoArgs,
    /// Override the last applied revision recorded in the cluster (a full commit id).
    #[arg(long)]
    pub since: Option<String>,
    /// Set aside the state record and the revisions the live policies carry, and judge
    /// the head against the trust anchor alone, as on a first start. An operator's
    /// decision: logged and reported as an Event.
    #[arg(long, conflicts_with = "since")]
    pub reset_trust_to_anchor: bool,
    /// Run one cycle and exit.
    #[arg(long)]
    pub once: bool,
    #[command(flatten)]
    pub trust: TrustArgs,
    #[command(flatten)]
    pub clock: ClockArgs,
    #[command(flatten)]
    pub select: BundleSelectArgs,
    #[command(flatten)]
    pub kube: KubeArgs,
    #[command(flatten)]
    pub apply: ApplyArgs,
    /// For `run --cycle-isolation process`: print the cycle's own writes under
    /// `extra.ownWrites`, so that the daemon can tell their echo from drift.
    #[arg(long, hide = true)]
    pub report_own_writes: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum AuditFormat {
    #[default]
    Text,
    Json,
    /// For a compliance record or a ticket: a summary and one table per namespace.
    Md,
}

#[derive(Debug, Clone, Args)]
pub struct AuditArgs {
    /// Repository holding the enforced revision: a local path or a URL.
    #[arg(long, env = "NETPOL_SYNC_REPO")]
    pub repo: String,
    /// Verify the enforced revision's chain from this earlier applied revision (a full
    /// commit id). Default: the revision alone, against the trust anchor.
    #[arg(long)]
    pub since: Option<String>,
    #[command(flatten)]
    pub trust: TrustArgs,
    #[command(flatten)]
    pub clock: ClockArgs,
    #[command(flatten)]
    pub select: BundleSelectArgs,
    #[command(flatten)]
    pub kube: KubeArgs,
    /// The deployment writes immutable objects `<name>-<hash>` (as `sync`'s flag).
    #[arg(long, env = "NETPOL_SYNC_IMMUTABLE_OBJECTS")]
    pub immutable_objects: bool,
    #[arg(long, value_enum, default_value_t = AuditFormat::Text)]
    pub output: AuditFormat,
}

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub kube: KubeArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Subcommand)]
pub enum BundleCommand {
    /// Write the `files:` list of DIR/bundle.yaml from the files in DIR.
    Seal(SealArgs),
    /// Sign DIR/bundle.yaml with ssh-keygen into DIR/signatures/NAME.sig.
    Sign(super::bundle_sign::SignArgs),
}

#[derive(Debug, Clone, Args)]
pub struct SealArgs {
    /// The bundle directory (holding bundle.yaml).
    pub dir: PathBuf,
    /// Write nothing: exit 0 when the `files:` list is what a seal would write, 1 when
    /// it is stale (naming the files added, removed or changed).
    #[arg(long)]
    pub check: bool,
}
