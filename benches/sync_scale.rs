//! Scale benchmark for sync (run by scripts/bench-sync.sh): a generated 10,000-policy
//! bundle across 500 namespaces against apiserver-emu on loopback. It measures the real
//! `netpol-sync` binary as a separate process (wall time and peak RSS via /usr/bin/time),
//! counts the writes the emulator saw, and runs `kubectl create -f` of the same objects
//! against the same emulator side by side. Figures are printed, not asserted.

use apiserver_emu::{EmuConfig, Emulator, FaultAction, FaultRule};
use netpol_testkit::{Key, TestRepo};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

// The allocator of the netpol-sync binary, so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const POLICIES: usize = 10_000;
const NAMESPACES: usize = 500;
/// Added to each NetworkPolicy write in the second comparison: a fast cluster's write
/// (apiserver admission plus an etcd commit on local SSD) takes a few milliseconds.
const SERVER_LATENCY: Duration = Duration::from_millis(2);

fn policy(ns: &str, name: &str, port: usize) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  podSelector:\n    matchLabels: {{app: {name}}}\n  policyTypes: [Ingress]\n  ingress:\n  - from:\n    - podSelector: {{matchLabels: {{role: client}}}}\n    ports:\n    - port: {port}\n"
    )
}

fn seal_sign_commit(repo: &TestRepo, key: &Key, message: &str) {
    let bundle = repo.dir.join("bundles/bench");
    netpol_sync::bundle::seal::seal(&bundle, &netpol_sync::bundle::Limits::default()).unwrap();
    key.sign_bundle(&bundle, "bench");
    repo.commit_signed(message, key);
}

/// `kubectl create -f` of every object in `docs`: its wall time and whether it succeeded.
fn kubectl_create(kubeconfig: &Path, docs: &Path) -> (Duration, bool) {
    let start = Instant::now();
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["create", "--validate=false", "-f"])
        .arg(docs)
        .output()
        .unwrap();
    let took = start.elapsed();
    if !out.status.success() {
        println!(
            "kubectl failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .take(3)
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
    (took, out.status.success())
}

struct Measured {
    wall: Duration,
    max_rss_kib: u64,
    exit: i32,
}

/// The state key beside `kubeconfig` (written on first use), as a deployment's Secret.
fn state_key(kubeconfig: &Path) -> std::path::PathBuf {
    let path = kubeconfig.with_file_name("state-key");
    if !path.exists() {
        std::fs::write(&path, "5e".repeat(32)).unwrap();
    }
    path
}

fn run_sync(repo: &Path, anchor: &Path, kubeconfig: &Path) -> Measured {
    run_sync_with(repo, anchor, kubeconfig, &[])
}

fn run_sync_with(repo: &Path, anchor: &Path, kubeconfig: &Path, extra: &[&str]) -> Measured {
    let bin = env!("CARGO_BIN_EXE_netpol-sync");
    let start = Instant::now();
    let out = Command::new("/usr/bin/time")
        .args(["-f", "MAXRSS %M"])
        .arg(bin)
        .args(["sync", "--once", "--output", "json", "--repo"])
        .arg(repo)
        .arg("--trust-anchor")
        .arg(anchor)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--state-key")
        .arg(state_key(kubeconfig))
        .args(extra)
        .env_remove("KUBECONFIG")
        .env("RUST_LOG", "netpol_sync=info")
        .output()
        .unwrap();
    let wall = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let max_rss_kib = stderr
        .lines()
        .find_map(|l| l.strip_prefix("MAXRSS "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    for line in stderr.lines().filter(|l| l.contains("INFO")) {
        println!("    {line}");
    }
    if !out.status.success() {
        eprintln!(
            "sync failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            stderr
        );
    }
    Measured {
        wall,
        max_rss_kib,
        exit: out.status.code().unwrap_or(-1),
    }
}

/// The no-op cycle as `netpol-sync run` runs it: the daemon's engine in this process,
/// its caches warmed by one cycle first. Best of 5, and the writes those 5 made.
fn warm_noop_cycles(
    repo: &Path,
    anchor: &Path,
    kubeconfig: &Path,
    emu: &Emulator,
) -> (Duration, (usize, usize)) {
    use netpol_sync::daemon::engine::{CycleInput, SyncEngine};
    use netpol_sync::daemon::inprocess_engine::InProcessEngine;
    use netpol_sync::kube_client::{connect, ClusterTarget};
    let head = Command::new("git")
        .current_dir(repo)
        .args(["rev-parse", "HEAD"])
        .output()
        .unwrap();
    let input = CycleInput {
        repo: repo.to_path_buf(),
        revision: String::from_utf8_lossy(&head.stdout).trim().to_string(),
        moved: false,
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let target = ClusterTarget {
            kubeconfig: Some(kubeconfig.to_path_buf()),
            context: None,
        };
        let (client, _) = connect(&target).await.unwrap();
        let mut engine = InProcessEngine::new(
            client,
            "netpol-sync",
            netpol_sync::state::StateKey::load(&state_key(kubeconfig)).unwrap(),
            netpol_sync::engine::TrustSettings {
                trust_anchor: anchor.to_path_buf(),
                require_user_presence: true,
                key_change_signatures: 1,
                at: None,
            },
            netpol_sync::bundle::BundleOptions::default(),
            Default::default(),
        );
        engine.cycle(input.clone()).await;
        let from = emu.requests().len();
        let mut best = Duration::MAX;
        for _ in 0..5 {
            let start = Instant::now();
            let report = engine.cycle(input.clone()).await;
            best = best.min(start.elapsed());
            assert_eq!(
                report.result.verdict,
                netpol_sync::engine::Verdict::Unchanged,
                "{:?}",
                report.result
            );
        }
        (best, writes_since(emu, from))
    })
}

/// The emulator alone: the 20,000 requests a first sync of these objects sends (each one
/// dry run, then each one created), from a client that does nothing else, over
/// `CONNECTIONS` connections at once. No client reaches the API server faster than this
/// on the same machine, so kubectl's time over this is the largest speed-up any client
/// could show here.
fn server_floor(emu: &Emulator, objects: &[(String, Vec<u8>)]) -> Duration {
    use apiserver_emu::bench_client::BenchConnection;
    const CONNECTIONS: usize = 16;
    let mut conns: Vec<BenchConnection> = (0..CONNECTIONS)
        .map(|_| BenchConnection::open(&emu.url()).unwrap())
        .collect();
    let share = objects.len().div_ceil(CONNECTIONS);
    let start = Instant::now();
    for query in ["?dryRun=All", ""] {
        std::thread::scope(|s| {
            for (conn, chunk) in conns.iter_mut().zip(objects.chunks(share)) {
                s.spawn(move || {
                    for (ns, body) in chunk {
                        let path = format!(
                            "/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies{query}"
                        );
                        let (status, _) = conn.send("POST", &path, body).unwrap();
                        assert_eq!(status, 201, "{path}");
                    }
                });
            }
        });
    }
    start.elapsed()
}

fn writes_since(emu: &Emulator, from: usize) -> (usize, usize) {
    let reqs = emu.requests();
    let writes: Vec<_> = reqs
        .iter()
        .skip(from)
        .filter(|r| r.method != "GET" && !r.query.contains("dryRun"))
        .collect();
    let policy = writes
        .iter()
        .filter(|r| r.path.contains("/networkpolicies"))
        .count();
    (policy, writes.len() - policy)
}

fn main() {
    // `cargo bench` passes harness flags such as `--bench`; nothing here takes arguments.
    let work = tempfile::tempdir().unwrap();
    let repo: PathBuf = work.path().join("repo");
    std::fs::create_dir_all(repo.join("bundles/bench")).unwrap();
    let key = Key::ed25519(work.path(), "bench@example.com");
    let signers = key.allowed_signers_line("");
    let anchor = work.path().join("anchor");
    std::fs::write(&anchor, &signers).unwrap();
    let git_repo = TestRepo::init(&repo);
    git_repo.write("keys/allowed_signers", &signers);

    let namespaces: Vec<String> = (0..NAMESPACES).map(|i| format!("ns-{i:03}")).collect();
    let mut all_docs = String::with_capacity(POLICIES * 300);
    let mut as_json = Vec::with_capacity(POLICIES);
    for i in 0..POLICIES {
        let ns = &namespaces[i % NAMESPACES];
        let name = format!("policy-{i:05}");
        let body = policy(ns, &name, 1000 + i % 50000);
        let dir = repo.join("bundles/bench").join(ns);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.yaml")), &body).unwrap();
        all_docs.push_str("---\n");
        all_docs.push_str(&body);
        let object: serde_json::Value = serde_yaml::from_str(&body).unwrap();
        as_json.push((ns.clone(), serde_json::to_vec(&object).unwrap()));
    }
    std::fs::write(
        repo.join("bundles/bench/bundle.yaml"),
        format!("apiVersion: netpol-sync/v1\nkind: Bundle\nname: bench\nnamespaces: [{}]\nallowOpen: []\nfiles: []\n", namespaces.join(", ")),
    )
    .unwrap();
    seal_sign_commit(&git_repo, &key, "10,000 policies");

    let mut ns_all: Vec<String> = vec!["netpol-sync".into()];
    ns_all.extend(namespaces.iter().cloned());
    let emu = Emulator::start(EmuConfig {
        tls: false,
        token: None,
        namespaces: ns_all,
    })
    .unwrap();
    let kubeconfig = work.path().join("kubeconfig");
    emu.write_kubeconfig(&kubeconfig).unwrap();

    let from = emu.requests().len();
    let first = run_sync(&repo, &anchor, &kubeconfig);
    let first_writes = writes_since(&emu, from);
    let live = emu.list_objects("networkpolicies").len();

    let from = emu.requests().len();
    let noop = run_sync(&repo, &anchor, &kubeconfig);
    let noop_writes = writes_since(&emu, from);

    let changed = repo.join("bundles/bench/ns-007/policy-00007.yaml");
    std::fs::write(&changed, policy("ns-007", "policy-00007", 7777)).unwrap();
    seal_sign_commit(&git_repo, &key, "one policy changes");
    let from = emu.requests().len();
    let one = run_sync(&repo, &anchor, &kubeconfig);
    let one_writes = writes_since(&emu, from);

    let (warm, warm_writes) = warm_noop_cycles(&repo, &anchor, &kubeconfig, &emu);

    // kubectl create -f of the same 10,000 objects into an emptied emulator.
    emu.reset();
    let docs = work.path().join("all.yaml");
    std::fs::write(&docs, &all_docs).unwrap();
    let (kubectl, kubectl_ok) = kubectl_create(&kubeconfig, &docs);
    let kubectl_live = emu.list_objects("networkpolicies").len();

    emu.reset();
    let floor = server_floor(&emu, &as_json);
    let floor_live = emu.list_objects("networkpolicies").len();

    // The same pair again with SERVER_LATENCY added to every NetworkPolicy write, dry
    // runs included (a real apiserver answers those without etcd, so this overstates our
    // side): on loopback both tools are bound by CPU, on a cluster by round trips, which
    // netpol-sync overlaps and kubectl makes one at a time.
    let slow = || {
        emu.reset();
        emu.inject(
            FaultRule::new(
                "/apis/networking.k8s.io/v1/namespaces/*/networkpolicies*",
                FaultAction::Latency(SERVER_LATENCY),
            )
            .method("POST"),
        );
    };
    slow();
    let first_slow = run_sync(&repo, &anchor, &kubeconfig);
    let first_slow_live = emu.list_objects("networkpolicies").len();
    slow();
    let (kubectl_slow, kubectl_slow_ok) = kubectl_create(&kubeconfig, &docs);
    let kubectl_slow_live = emu.list_objects("networkpolicies").len();

    // --immutable-objects beside the ordinary mode, alternately into an emptied emulator:
    // the first sync, then a one-policy change (one create, one delete, the state record).
    let mut firsts = Vec::new();
    for immutable in [false, true, false, true] {
        emu.reset();
        let extra: &[&str] = if immutable {
            &["--immutable-objects"]
        } else {
            &[]
        };
        firsts.push((immutable, run_sync_with(&repo, &anchor, &kubeconfig, extra)));
    }
    std::fs::write(&changed, policy("ns-007", "policy-00007", 7778)).unwrap();
    seal_sign_commit(&git_repo, &key, "one policy changes again");
    let from = emu.requests().len();
    let one_immutable = run_sync_with(&repo, &anchor, &kubeconfig, &["--immutable-objects"]);
    let one_immutable_writes = writes_since(&emu, from);

    println!("\nnetpol-sync scale benchmark: {POLICIES} policies across {NAMESPACES} namespaces, apiserver-emu on loopback");
    println!(
        "  {:<34} {:>10} {:>12} {:>22}",
        "run", "wall", "peak RSS", "writes (policy/other)"
    );
    for (name, m, w) in [
        ("first sync", &first, first_writes),
        ("no-op sync", &noop, noop_writes),
        ("one-policy change", &one, one_writes),
    ] {
        println!(
            "  {:<34} {:>8.3} s {:>8.1} MiB {:>14}/{:<7} exit {}",
            name,
            m.wall.as_secs_f64(),
            m.max_rss_kib as f64 / 1024.0,
            w.0,
            w.1,
            m.exit
        );
    }
    println!(
        "  {:<34} {:>8.3} s {:>12} {:>14}/{:<7} (best of 5, the daemon's engine, caches warm)",
        "no-op cycle in `run`",
        warm.as_secs_f64(),
        "",
        warm_writes.0,
        warm_writes.1
    );
    println!("  live policies after first sync: {live}");
    for (immutable, m) in &firsts {
        println!(
            "  first sync, {:<24} {:>8.3} s {:>8.1} MiB  exit {}",
            if *immutable {
                "--immutable-objects:"
            } else {
                "ordinary (alternate run):"
            },
            m.wall.as_secs_f64(),
            m.max_rss_kib as f64 / 1024.0,
            m.exit
        );
    }
    println!(
        "  one-policy change, --immutable-objects: {:>8.3} s, writes {}/{} (policy/other), exit {}",
        one_immutable.wall.as_secs_f64(),
        one_immutable_writes.0,
        one_immutable_writes.1,
        one_immutable.exit
    );
    println!(
        "  kubectl create -f (same objects):  {:>8.3} s  ({} live, exit ok: {kubectl_ok})",
        kubectl.as_secs_f64(),
        kubectl_live
    );
    println!(
        "  speed-up of the first sync over kubectl: {:.1}x",
        kubectl.as_secs_f64() / first.wall.as_secs_f64()
    );
    println!(
        "  the emulator alone: the first sync's {} requests from a client doing nothing else: {:>6.3} s  ({floor_live} live)",
        2 * POLICIES,
        floor.as_secs_f64()
    );
    println!(
        "  the largest speed-up over kubectl any client could show here: {:.1}x",
        kubectl.as_secs_f64() / floor.as_secs_f64()
    );
    println!(
        "\nthe same with {} ms added to every NetworkPolicy write (dry runs included)",
        SERVER_LATENCY.as_millis()
    );
    println!(
        "  first sync:                         {:>8.3} s  ({first_slow_live} live, exit {})",
        first_slow.wall.as_secs_f64(),
        first_slow.exit
    );
    println!(
        "  kubectl create -f (same objects):   {:>8.3} s  ({kubectl_slow_live} live, exit ok: {kubectl_slow_ok})",
        kubectl_slow.as_secs_f64()
    );
    println!(
        "  speed-up of the first sync over kubectl: {:.1}x",
        kubectl_slow.as_secs_f64() / first_slow.wall.as_secs_f64()
    );
    emu.shutdown();
}
