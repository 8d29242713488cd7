//! `netpol-sync-demo`: a narrated tour against the bundled API server emulator. It builds a
//! throwaway policy repository with freshly generated keys and real signed commits (`git
//! commit -S`, gpg.format=ssh, isolated from the user's git config), runs real sync cycles,
//! checks each step did what it should, and ends with a summary table. Exit 0 only if
//! every step behaved.

//!
//! Its own binary, not a command of `netpol-sync`: the product binary carries no API
//! server emulator (docs/architecture.md, "Layout").

use apiserver_emu::{EmuConfig, Emulator};
use clap::Parser;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use netpol_sync::bundle::seal::seal;
use netpol_sync::bundle::Limits;
use netpol_sync::cli::{runtime, sync_cycle, Cli, Command as CliCommand};
use netpol_sync::engine::{CycleResult, Verdict};
use netpol_testkit::{Key, TestRepo};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

const NAMESPACES: [&str; 3] = ["frontend", "checkout", "payments"];

/// The example bundle from bundles/shop, compiled in so that `demo` needs nothing beyond
/// the binary, git and ssh-keygen.
fn example_files() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "frontend/default-deny.yaml",
            include_str!("../../../bundles/shop/frontend/default-deny.yaml"),
        ),
        (
            "frontend/web.yaml",
            include_str!("../../../bundles/shop/frontend/web.yaml"),
        ),
        (
            "checkout/default-deny.yaml",
            include_str!("../../../bundles/shop/checkout/default-deny.yaml"),
        ),
        (
            "checkout/checkout-api.yaml",
            include_str!("../../../bundles/shop/checkout/checkout-api.yaml"),
        ),
        (
            "payments/default-deny.yaml",
            include_str!("../../../bundles/shop/payments/default-deny.yaml"),
        ),
        (
            "payments/payments-api.yaml",
            include_str!("../../../bundles/shop/payments/payments-api.yaml"),
        ),
    ]
}

/// The peers of the example's `postgres-from-payments-api` ingress rule, which step 4
/// widens.
const POSTGRES_PEERS: &str = "    - from:\n        - podSelector:\n            matchExpressions:\n              - key: app\n                operator: In\n                values: [payments-api]\n";

fn example_file(path: &str) -> String {
    example_files()
        .into_iter()
        .find(|(p, _)| *p == path)
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

/// The example's bundle.yaml; `seal` rewrites its `files:` list for the demo's content.
fn manifest_header() -> String {
    include_str!("../../../bundles/shop/bundle.yaml").to_string()
}

fn example_policy_count() -> usize {
    example_files()
        .iter()
        .map(|(_, body)| body.matches("kind: NetworkPolicy").count())
        .sum()
}

#[derive(Debug, thiserror::Error)]
enum DemoError {
    #[error("{0}")]
    Setup(String),
}

fn setup(e: impl std::fmt::Display) -> DemoError {
    DemoError::Setup(e.to_string())
}

/// The throwaway repository and the keys that sign it, made with netpol-testkit (the real
/// `git` and `ssh-keygen`).
struct DemoRepo {
    repo: TestRepo,
    keys_dir: PathBuf,
    keys: std::cell::RefCell<std::collections::BTreeMap<String, Key>>,
    anchor: PathBuf,
}

impl DemoRepo {
    /// A new repository in `dir`; `git` and `ssh-keygen` must be on PATH.
    fn new(dir: PathBuf, keys_dir: PathBuf, anchor: PathBuf) -> Result<DemoRepo, DemoError> {
        for tool in ["git", "ssh-keygen"] {
            if !on_path(tool) {
                return Err(setup(format!(
                    "the tour needs `{tool}` on PATH to make its signed repository"
                )));
            }
        }
        std::fs::create_dir_all(&keys_dir).map_err(setup)?;
        Ok(DemoRepo {
            repo: TestRepo::init(&dir),
            keys_dir,
            keys: Default::default(),
            anchor,
        })
    }

    fn dir(&self) -> &Path {
        &self.repo.dir
    }

    fn git(&self, args: &[&str]) -> Result<String, DemoError> {
        Ok(self.repo.git(args))
    }

    /// A git command that signs (`-S`) with `key`.
    fn git_signed(&self, key: &str, args: &[&str]) -> Result<String, DemoError> {
        let signing_key = format!("user.signingkey={}", self.key(key)?.private.display());
        let mut all = vec!["-c", signing_key.as_str()];
        all.extend_from_slice(args);
        Ok(self.repo.git(&all))
    }

    /// A new key for `name`, and the allowed_signers line that trusts it.
    fn keygen(&self, name: &str) -> Result<String, DemoError> {
        let key = Key::ed25519(&self.keys_dir, &format!("{name}@example.com"));
        let line = key.allowed_signers_line("");
        self.keys.borrow_mut().insert(name.to_string(), key);
        Ok(line)
    }

    fn write(&self, rel: &str, body: &str) -> Result<(), DemoError> {
        self.repo.write(rel, body);
        Ok(())
    }

    fn key(&self, name: &str) -> Result<Key, DemoError> {
        self.keys
            .borrow()
            .get(name)
            .cloned()
            .ok_or_else(|| setup(format!("no key {name}")))
    }

    /// Seal bundles/shop and sign its bundle.yaml with `key`, replacing older signatures.
    fn seal_and_sign(&self, key: &str) -> Result<(), DemoError> {
        let bundle = self.dir().join("bundles/shop");
        seal(&bundle, &Limits::default()).map_err(|e| setup(format!("seal: {e}")))?;
        let sigs = bundle.join("signatures");
        let _ = std::fs::remove_dir_all(&sigs);
        std::fs::create_dir_all(&sigs).map_err(setup)?;
        let manifest = std::fs::read(bundle.join("bundle.yaml")).map_err(setup)?;
        let signature = self
            .key(key)?
            .sign_detached("netpol-sync-bundle", &manifest);
        std::fs::write(sigs.join(format!("{key}.sig")), signature).map_err(setup)
    }

    /// Commit everything, signed by `key` (`git commit -S`) or unsigned.
    fn commit(&self, key: Option<&str>, message: &str) -> Result<String, DemoError> {
        Ok(match key {
            Some(k) => self.repo.commit_signed(message, &self.key(k)?),
            None => self.repo.commit_unsigned(message),
        })
    }
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
}

struct Step {
    name: &'static str,
    expected: String,
    got: String,
    ok: bool,
}

struct Demo {
    emu: Emulator,
    repo: DemoRepo,
    kubeconfig: PathBuf,
    client: kube::Client,
    steps: Vec<Step>,
    /// Every sync runs with `--immutable-objects`.
    immutable: bool,
}

impl Demo {
    /// The counts of a cycle that creates `creates` policies, changes `updates` and
    /// prunes `deletes`: in the immutable mode a changed policy is a create and a delete.
    fn counts_are(
        &self,
        c: netpol_sync::plan::Counts,
        creates: usize,
        updates: usize,
        deletes: usize,
    ) -> bool {
        if self.immutable {
            c.created == creates + updates && c.updated == 0 && c.deleted == deletes + updates
        } else {
            c.created == creates && c.updated == updates && c.deleted == deletes
        }
    }

    /// The same counts as the summary shows them.
    fn expected(&self, creates: usize, updates: usize, deletes: usize) -> String {
        if self.immutable {
            format!("+{} ~0 -{}", creates + updates, deletes + updates)
        } else {
            format!("+{creates} ~{updates} -{deletes}")
        }
    }

    async fn sync(&self) -> CycleResult {
        let mut argv: Vec<String> = [
            "netpol-sync",
            "sync",
            "--once",
            "--repo",
            &self.repo.dir().display().to_string(),
            "--trust-anchor",
            &self.repo.anchor.display().to_string(),
            "--kubeconfig",
            &self.kubeconfig.display().to_string(),
            "--state-key",
            &self
                .kubeconfig
                .with_file_name("state-key")
                .display()
                .to_string(),
        ]
        .map(String::from)
        .to_vec();
        if self.immutable {
            argv.push("--immutable-objects".into());
        }
        match Cli::try_parse_from(argv) {
            Ok(Cli {
                command: CliCommand::Sync(args),
            }) => sync_cycle(args).await,
            Ok(_) => CycleResult::error("demo built the wrong command"),
            Err(e) => CycleResult::error(e.to_string()),
        }
    }

    /// NetworkPolicies in the cluster as `namespace/name content-hash`, for "untouched"
    /// and "back to" checks.
    fn policies(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .emu
            .list_objects("networkpolicies")
            .into_iter()
            .filter_map(|v| serde_json::from_value::<NetworkPolicy>(v).ok())
            .map(|np| {
                let hash = netpol_policy::content_hash(&np, netpol_sync::marks::ANNOTATION_PREFIX);
                let ns = np.metadata.namespace.clone().unwrap_or_default();
                format!(
                    "{ns}/{} {hash}",
                    np.metadata.name.clone().unwrap_or_default()
                )
            })
            .collect();
        out.sort();
        out
    }

    fn policy_changes(&self) -> usize {
        self.emu
            .history()
            .iter()
            .filter(|c| c.kind == "networkpolicies")
            .count()
    }

    fn record(
        &mut self,
        name: &'static str,
        expected: impl Into<String>,
        outcome: &CycleResult,
        ok: bool,
    ) {
        let verdict = serde_json::to_value(outcome.verdict)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        let mut got = verdict;
        if let Some(r) = outcome.reason {
            got.push_str(&format!(" ({r})"));
        }
        if let Some(c) = outcome.counts {
            got.push_str(&format!(" +{} ~{} -{}", c.created, c.updated, c.deleted));
        }
        println!(
            "  → {}{}",
            got,
            if ok {
                ""
            } else {
                "   <-- NOT WHAT SHOULD HAPPEN"
            }
        );
        if !ok {
            println!("    {}", outcome.message);
        }
        self.steps.push(Step {
            name,
            expected: expected.into(),
            got,
            ok,
        });
    }
}

fn screen(title: &str, text: &str) {
    println!("\n━━ {title}");
    for line in text.lines() {
        println!("  {line}");
    }
}

/// No log subscriber: the narration says what happens, and drift shows in its own lines.
/// `netpol-sync-demo [--hold]`.
#[derive(Debug, Parser)]
#[command(
    name = "netpol-sync-demo",
    version,
    about = "A narrated tour of netpol-sync against the bundled API server emulator"
)]
struct DemoArgs {
    /// Keep the emulator running at the end and print `export KUBECONFIG=…`.
    #[arg(long)]
    hold: bool,
    /// Run every step with `sync --immutable-objects`: policies are objects
    /// `<name>-<hash>`, only ever created and deleted.
    #[arg(long)]
    immutable_objects: bool,
}

// As the product binary: YAML parsing and object building are allocation-bound.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = DemoArgs::parse();
    // Before any thread exists: see `netpol_sync::git::set_up_before_threads`.
    netpol_sync::git::set_up_before_threads();
    netpol_sync::memory::purge_freed_pages(netpol_sync::memory::PurgeDelay::Soon);
    run(args)
}

fn run(args: DemoArgs) -> ExitCode {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("demo: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match rt.block_on(tour(args.hold, args.immutable_objects)) {
        Ok(true) => ExitCode::from(0),
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("demo: {e}");
            ExitCode::from(2)
        }
    }
}

async fn tour(hold: bool, immutable: bool) -> Result<bool, DemoError> {
    let started = Instant::now();
    let work = tempfile::Builder::new()
        .prefix("netpol-sync-demo-")
        .tempdir()
        .map_err(setup)?;
    let namespaces = std::iter::once("netpol-sync")
        .chain(NAMESPACES)
        .map(String::from)
        .collect();
    let emu = Emulator::start(EmuConfig {
        tls: false,
        token: None,
        namespaces,
    })
    .map_err(|e| setup(format!("emulator: {e}")))?;
    let kubeconfig = work.path().join("kubeconfig");
    emu.write_kubeconfig(&kubeconfig).map_err(setup)?;
    // The state record's key, as deploy/'s Secret holds it: random for each tour.
    let state_key: [u8; 32] = rand::random();
    std::fs::write(work.path().join("state-key"), hex::encode(state_key)).map_err(setup)?;
    let (client, _) = netpol_sync::kube_client::connect(&netpol_sync::kube_client::ClusterTarget {
        kubeconfig: Some(kubeconfig.clone()),
        context: None,
    })
    .await
    .map_err(setup)?;
    let repo = DemoRepo::new(
        work.path().join("policies"),
        work.path().join("keys"),
        work.path().join("trust-anchor"),
    )?;
    let alice = repo.keygen("alice")?;
    std::fs::write(&repo.anchor, &alice).map_err(setup)?;
    let mut demo = Demo {
        emu,
        repo,
        kubeconfig,
        client,
        steps: Vec::new(),
        immutable,
    };

    screen(
        "netpol-sync-demo",
        &format!(
            "An API server emulator is running at {}.\nA policy repository with signed commits is at {}.\nThe trust anchor trusts one key: alice's.",
            demo.emu.url(),
            demo.repo.dir().display()
        ),
    );

    // 1. First apply.
    demo.repo.write("keys/allowed_signers", &alice)?;
    demo.repo
        .write("bundles/shop/bundle.yaml", &manifest_header())?;
    for (path, body) in example_files() {
        demo.repo.write(&format!("bundles/shop/{path}"), body)?;
    }
    demo.repo.seal_and_sign("alice")?;
    let first = demo
        .repo
        .commit(Some("alice"), "shop: default-deny plus the app's flows")?;
    screen(
        "1. First apply",
        "alice commits the shop bundle, signed (git commit -S) and sealed; netpol-sync syncs.",
    );
    let o = demo.sync().await;
    let n = example_policy_count();
    let ok = o.verdict == Verdict::Applied
        && o.counts.is_some_and(|c| c.created == n)
        && demo.policies().len() == n;
    demo.record("first apply", format!("applied, {n} created"), &o, ok);

    // 2. A debug hole made by hand is reverted.
    screen(
        "2. A hand-made debug hole",
        "Someone opens payments with a hand-made allow-all policy (kubectl create ...).\nThe next cycle deletes it and reports who made it.",
    );
    let hole: NetworkPolicy = serde_json::from_value(serde_json::json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "debug-allow-all", "namespace": "payments"},
        "spec": {"podSelector": {}, "ingress": [{}], "policyTypes": ["Ingress"]}
    }))
    .map_err(setup)?;
    let api: kube::Api<NetworkPolicy> = kube::Api::namespaced(demo.client.clone(), "payments");
    api.create(
        &kube::api::PostParams {
            dry_run: false,
            field_manager: Some("kubectl-create".into()),
        },
        &hole,
    )
    .await
    .map_err(|e| setup(format!("creating the debug hole: {e}")))?;
    let o = demo.sync().await;
    let drift = o.detail.drift.clone().unwrap_or_default();
    for d in &drift {
        println!(
            "  drift: {}/{} {} by {}",
            d.namespace,
            d.name,
            d.kind,
            d.field_manager.as_deref().unwrap_or("unknown")
        );
    }
    let ok = o.verdict == Verdict::Applied
        && o.counts.is_some_and(|c| c.deleted == 1)
        && drift.iter().any(|d| {
            d.name == "debug-allow-all" && d.field_manager.as_deref() == Some("kubectl-create")
        })
        && !demo
            .policies()
            .iter()
            .any(|p| p.starts_with("payments/debug-allow-all"));
    demo.record("debug hole reverted", "applied, -1, drift reported", &o, ok);

    // 3. An unsigned commit is refused, the cluster untouched.
    screen(
        "3. An unsigned commit",
        "mallory pushes a commit without a signature that opens checkout-api to everyone.",
    );
    demo.repo.write(
        "bundles/shop/checkout/checkout-api.yaml",
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: checkout-api\n  namespace: checkout\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n  ingress:\n  - {}\n",
    )?;
    demo.repo.seal_and_sign("alice")?;
    demo.repo.commit(None, "open checkout (unsigned)")?;
    let before = (demo.policies(), demo.policy_changes());
    let o = demo.sync().await;
    let ok = o.verdict == Verdict::Rejected
        && o.reason == Some(netpol_sync::reason::ReasonCode::UnsignedCommit)
        && (demo.policies(), demo.policy_changes()) == before;
    demo.record(
        "unsigned commit refused",
        "rejected (unsigned-commit), cluster untouched",
        &o,
        ok,
    );
    demo.repo.git(&["reset", "-q", "--hard", "HEAD~1"])?;

    // 4. A signed revision that breaks a reachability assertion is refused.
    screen(
        "4. A signed revision that opens a forbidden path",
        "alice, in a hurry, lets 10.0.0.0/8 reach the payments database for a backup job.\nThe commit and the bundle are signed, but the bundle asserts `database-closed-to-the-outside`:\nnetpol-sync refuses the revision and names the broken assertion and a witness connection.",
    );
    let widened = example_file("payments/payments-api.yaml").replace(
        POSTGRES_PEERS,
        &format!("{POSTGRES_PEERS}        - ipBlock:\n            cidr: 10.0.0.0/8\n"),
    );
    demo.repo
        .write("bundles/shop/payments/payments-api.yaml", &widened)?;
    demo.repo.seal_and_sign("alice")?;
    demo.repo
        .commit(Some("alice"), "payments: let the backup job reach postgres")?;
    let before = (demo.policies(), demo.policy_changes());
    let o = demo.sync().await;
    println!("  {}", o.message);
    let ok = o.verdict == Verdict::Rejected
        && o.reason == Some(netpol_sync::reason::ReasonCode::ReachabilityViolated)
        && o.message.contains("database-closed-to-the-outside")
        && (demo.policies(), demo.policy_changes()) == before;
    demo.record(
        "forbidden path refused",
        "rejected (reachability-violated), untouched",
        &o,
        ok,
    );
    demo.repo.git(&["reset", "-q", "--hard", "HEAD~1"])?;

    // 5. A signed change with its prune.
    screen(
        "5. A signed change with a prune",
        "alice lets the web pods take HTTPS from the ingress and renames checkout's egress\npolicy; netpol-sync creates and updates first, and deletes the old name last.",
    );
    let web = example_file("frontend/web.yaml").replace("port: http\n", "port: https\n");
    demo.repo.write("bundles/shop/frontend/web.yaml", &web)?;
    let checkout = example_file("checkout/checkout-api.yaml").replace(
        "name: checkout-api-to-payments",
        "name: checkout-to-payments",
    );
    demo.repo
        .write("bundles/shop/checkout/checkout-api.yaml", &checkout)?;
    demo.repo.seal_and_sign("alice")?;
    demo.repo.commit(
        Some("alice"),
        "web takes https; rename checkout egress policy",
    )?;
    let o = demo.sync().await;
    let ok = o.verdict == Verdict::Applied
        && o.counts.is_some_and(|c| demo.counts_are(c, 1, 1, 1))
        && !demo.policies().iter().any(|p| {
            p.starts_with("checkout/checkout-api-to-payments ")
                || p.starts_with("checkout/checkout-api-to-payments-")
        });
    let expected = format!("applied, {}", demo.expected(1, 1, 1));
    demo.record("signed change + prune", &expected, &o, ok);

    // 6. Key rotation.
    screen(
        "6. Key rotation",
        "alice adds bob's key to keys/allowed_signers (a commit alice signs), and it is enforced;\nbob then signs a change of his own (commit and bundle), trusted because alice's applied commit vouched for him.\nA key signs bundles only once a revision that adds it has been applied: never in the same revision.",
    );
    let bob = demo.repo.keygen("bob")?;
    demo.repo
        .write("keys/allowed_signers", &format!("{alice}{bob}"))?;
    demo.repo.commit(Some("alice"), "trust bob")?;
    let o = demo.sync().await;
    let ok = o.verdict == Verdict::Unchanged;
    demo.record("key added", "unchanged (keys only), recorded", &o, ok);
    let before_bob = demo.policies();
    let payments =
        example_file("payments/payments-api.yaml").replace("port: 443\n", "port: 9443\n");
    demo.repo
        .write("bundles/shop/payments/payments-api.yaml", &payments)?;
    demo.repo.seal_and_sign("bob")?;
    let bobs = demo.repo.commit(
        Some("bob"),
        "payments-api reaches the card processor on 9443 (bob)",
    )?;
    let o = demo.sync().await;
    let signer = o
        .commits
        .iter()
        .find(|c| c.commit == bobs)
        .map(|c| c.principal.clone())
        .unwrap_or_default();
    println!("  head signed by {signer}");
    let ok = o.verdict == Verdict::Applied
        && o.counts.is_some_and(|c| demo.counts_are(c, 0, 1, 0))
        && signer == "bob@example.com";
    demo.record("key rotation", "applied, signed by bob", &o, ok);

    // 7. git revert as rollback.
    screen(
        "7. Rollback by git revert",
        "bob's change misbehaves; on-call reverts it with a new signed commit (git revert -S).",
    );
    demo.repo
        .git_signed("bob", &["revert", "--no-edit", "-S", "HEAD"])?;
    let o = demo.sync().await;
    let ok = o.verdict == Verdict::Applied
        && o.counts.is_some_and(|c| demo.counts_are(c, 0, 1, 0))
        && demo.policies() == before_bob;
    let expected = format!("applied, {}, back to before bob's", demo.expected(0, 1, 0));
    demo.record("git revert rollback", &expected, &o, ok);

    // 8. A force-push to an old revision is refused.
    screen(
        "8. A force-push to an old revision",
        "Someone force-pushes main back to the very first commit (a signed, once-valid revision).\nnetpol-sync refuses: the new head must descend from the applied one.",
    );
    demo.repo.git(&["reset", "-q", "--hard", &first])?;
    let before = (demo.policies(), demo.policy_changes());
    let o = demo.sync().await;
    let ok = o.verdict == Verdict::Rejected
        && o.reason == Some(netpol_sync::reason::ReasonCode::NotFastForward)
        && (demo.policies(), demo.policy_changes()) == before;
    demo.record(
        "force-push refused",
        "rejected (not-fast-forward), cluster untouched",
        &o,
        ok,
    );

    println!("\n━━ Summary ({:.1}s)", started.elapsed().as_secs_f64());
    println!("  {:<26} {:<48} {:<34} ok", "step", "expected", "got");
    for s in &demo.steps {
        println!(
            "  {:<26} {:<48} {:<34} {}",
            s.name,
            s.expected,
            s.got,
            if s.ok { "yes" } else { "NO" }
        );
    }
    let all_ok = demo.steps.iter().all(|s| s.ok);
    println!(
        "\n  {}",
        if all_ok {
            "Every step behaved as it should."
        } else {
            "Some steps did NOT behave as they should."
        }
    );

    if hold {
        let kept = work.keep();
        println!("\n  The emulator stays up. In another shell:\n    export KUBECONFIG={}\n    kubectl get networkpolicies -A", kept.join("kubeconfig").display());
        println!("  Press Ctrl-C to stop.");
        let _ = tokio::signal::ctrl_c().await;
    }
    demo.emu.shutdown();
    Ok(all_ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tour edits the example by text replacement; if the example changes under it,
    /// a step must not silently become a no-op.
    #[test]
    fn every_edit_the_tour_makes_matches_the_example_bundle() {
        assert!(example_file("frontend/web.yaml").contains("port: http\n"));
        assert!(
            example_file("checkout/checkout-api.yaml").contains("name: checkout-api-to-payments")
        );
        assert_eq!(
            example_file("payments/payments-api.yaml")
                .matches("port: 443\n")
                .count(),
            1
        );
        assert_eq!(
            example_file("payments/payments-api.yaml")
                .matches(POSTGRES_PEERS)
                .count(),
            1
        );
        assert!(manifest_header().contains("namespaces: [frontend, checkout, payments]"));
        assert!(manifest_header().contains("- name: database-closed-to-the-outside\n"));
        assert!(example_policy_count() >= NAMESPACES.len());
    }
}
