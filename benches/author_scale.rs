//! The author's tools at scale (docs/performance.md, "check and import"): `netpol-sync
//! check` of a repository of 10,000 policies in 500 namespaces, lint included, and
//! `netpol-sync import` of 10,000 live policies from apiserver-emu on loopback beside
//! `kubectl get networkpolicies -A -o yaml` of the same objects. Wall time and peak RSS
//! (`/usr/bin/time`), three runs each. `cargo bench --bench author_scale`.

use apiserver_emu::bench_client::BenchConnection;
use apiserver_emu::{EmuConfig, Emulator};
use netpol_testkit::{Key, TestRepo};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const POLICIES: usize = 10_000;
const NAMESPACES: usize = 500;
const RUNS: usize = 3;

/// Ingress to one app from a client role on one port, egress to a /16 on 443: a policy of
/// the shape teams write, so that the lint rules have work to do.
fn policy(ns: &str, name: &str, i: usize) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  podSelector:\n    matchLabels: {{app: {name}}}\n  policyTypes: [Ingress, Egress]\n  ingress:\n  - from:\n    - podSelector: {{matchLabels: {{role: client}}}}\n    ports:\n    - port: {}\n  egress:\n  - to:\n    - ipBlock: {{cidr: 10.{}.0.0/16}}\n    ports:\n    - port: 443\n",
        1000 + i % 50000,
        i % 256
    )
}

/// (wall, peak RSS in MiB, exit code) of one run, its stdout to `out`.
fn measure(mut cmd: Command, out: &Path) -> (Duration, u64, i32) {
    let time_file = out.with_extension("time");
    let stdout = std::fs::File::create(out).unwrap();
    let start = Instant::now();
    let status = Command::new("/usr/bin/time")
        .args(["-f", "%M", "-o"])
        .arg(&time_file)
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .envs(cmd.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::null())
        .status()
        .unwrap();
    let wall = start.elapsed();
    let kib: u64 = std::fs::read_to_string(&time_file)
        .unwrap()
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    let _ = &mut cmd;
    (wall, kib / 1024, status.code().unwrap_or(-1))
}

fn report(what: &str, runs: &[(Duration, u64, i32)]) {
    let walls: Vec<f64> = runs.iter().map(|r| r.0.as_secs_f64()).collect();
    let rss = runs.iter().map(|r| r.1).max().unwrap_or(0);
    let min = walls.iter().cloned().fold(f64::MAX, f64::min);
    let max = walls.iter().cloned().fold(0.0, f64::max);
    println!(
        "| {what} | {min:.2}–{max:.2} s | {rss} MiB | exit {} |",
        runs.last().map_or(-1, |r| r.2)
    );
}

fn main() {
    let bin = env!("CARGO_BIN_EXE_netpol-sync");
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("repo");
    let bundle = repo.join("bundles/bench");
    std::fs::create_dir_all(&bundle).unwrap();
    let key = Key::ed25519(work.path(), "bench@example.com");
    let git = TestRepo::init(&repo);
    git.write("keys/allowed_signers", key.allowed_signers_line(""));
    let namespaces: Vec<String> = (0..NAMESPACES).map(|i| format!("ns-{i:03}")).collect();
    let mut bodies = Vec::with_capacity(POLICIES);
    for i in 0..POLICIES {
        let ns = &namespaces[i % NAMESPACES];
        let name = format!("policy-{i:05}");
        let body = policy(ns, &name, i);
        std::fs::create_dir_all(bundle.join(ns)).unwrap();
        std::fs::write(bundle.join(ns).join(format!("{name}.yaml")), &body).unwrap();
        let object: serde_json::Value = serde_yaml::from_str(&body).unwrap();
        bodies.push((ns.clone(), serde_json::to_vec(&object).unwrap()));
    }
    std::fs::write(
        bundle.join("bundle.yaml"),
        format!(
            "apiVersion: netpol-sync/v1\nkind: Bundle\nname: bench\nnamespaces: [{}]\nfiles: []\n",
            namespaces.join(", ")
        ),
    )
    .unwrap();
    netpol_sync::bundle::seal::seal(&bundle, &netpol_sync::bundle::Limits::default()).unwrap();
    key.sign_bundle(&bundle, "bench");

    println!("| {POLICIES} policies, {NAMESPACES} namespaces | wall ({RUNS} runs) | peak RSS | |");
    println!("| --- | --- | --- | --- |");
    let out = work.path().join("check.json");
    let runs: Vec<_> = (0..RUNS)
        .map(|_| {
            let mut c = Command::new(bin);
            c.args(["check", "--output", "json"]).arg(&repo);
            measure(c, &out)
        })
        .collect();
    report("netpol-sync check (lint included)", &runs);
    let findings = serde_json::from_slice::<serde_json::Value>(&std::fs::read(&out).unwrap())
        .ok()
        .and_then(|v| v["findings"].as_array().map(Vec::len))
        .unwrap_or(0);
    println!("|   findings reported | {findings} | | |");

    // Import: the same objects live in the emulator.
    let emu = Emulator::start(EmuConfig {
        tls: false,
        token: None,
        namespaces: namespaces.clone(),
    })
    .unwrap();
    let kubeconfig = work.path().join("kubeconfig");
    emu.write_kubeconfig(&kubeconfig).unwrap();
    let mut conns: Vec<BenchConnection> = (0..8)
        .map(|_| BenchConnection::open(&emu.url()).unwrap())
        .collect();
    let share = bodies.len().div_ceil(conns.len());
    std::thread::scope(|s| {
        for (conn, chunk) in conns.iter_mut().zip(bodies.chunks(share)) {
            s.spawn(move || {
                for (ns, body) in chunk {
                    let path =
                        format!("/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies");
                    let (status, _) = conn.send("POST", &path, body).unwrap();
                    assert_eq!(status, 201, "{path}");
                }
            });
        }
    });
    let runs: Vec<_> = (0..RUNS)
        .map(|i| {
            let target = work.path().join(format!("import-{i}"));
            std::fs::create_dir_all(&target).unwrap();
            let mut c = Command::new(bin);
            c.arg("import")
                .arg("--kubeconfig")
                .arg(&kubeconfig)
                .arg("--namespace")
                .arg(namespaces.join(","))
                .args(["--bundle", "imported"])
                .arg(&target);
            measure(c, &work.path().join("import.out"))
        })
        .collect();
    report("netpol-sync import (10,000 live policies)", &runs);
    let runs: Vec<_> = (0..RUNS)
        .map(|_| {
            let mut c = Command::new("kubectl");
            c.arg("--kubeconfig").arg(&kubeconfig).args([
                "get",
                "networkpolicies",
                "-A",
                "-o",
                "yaml",
            ]);
            measure(c, &work.path().join("kubectl.yaml"))
        })
        .collect();
    report(
        "kubectl get networkpolicies -A -o yaml (same objects)",
        &runs,
    );
}
