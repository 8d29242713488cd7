//! Crash test: a real `netpol-sync sync --once` process against a separate apiserver-emu
//! process, killed with SIGKILL at several points during apply (latency injected to widen
//! the window), then run again: it converges to the new revision, and the invariant held
//! over every change the killed runs made.

mod sync_support;

use apiserver_emu::{ChangeRecord, FaultAction, FaultRule};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use sync_support::*;

struct EmuProcess {
    child: Child,
    url: String,
    kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for EmuProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The emulator binary, built by cargo as a workspace member next to netpol-sync.
fn emulator_binary() -> PathBuf {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_netpol-sync")).parent().unwrap().to_path_buf();
    let path = bin_dir.join("apiserver-emu");
    if !path.exists() {
        let status = Command::new(env!("CARGO")).args(["build", "-q", "-p", "apiserver-emu"]).status().unwrap();
        assert!(status.success(), "cargo build -p apiserver-emu failed");
    }
    path
}

fn start_emulator(namespaces: &[&str]) -> EmuProcess {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let mut cmd = Command::new(emulator_binary());
    cmd.args(["--listen", "127.0.0.1:0", "--kubeconfig-out"]).arg(&kubeconfig);
    for ns in namespaces {
        cmd.args(["--namespace", ns]);
    }
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
    let mut line = String::new();
    use std::io::BufRead;
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().to_string();
    assert!(url.starts_with("http"), "emulator printed {url:?}");
    EmuProcess { child, url, kubeconfig, _dir: dir }
}

fn control(emu: &EmuProcess, method: &str, path: &str, body: Option<String>) -> String {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--fail", "-X", method]).arg(format!("{}{path}", emu.url));
    if let Some(b) = body {
        cmd.args(["-H", "Content-Type: application/json", "--data", &b]);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{method} {path}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn history(emu: &EmuProcess) -> Vec<ChangeRecord> {
    serde_json::from_str(&control(emu, "GET", "/_emu/history", None)).unwrap()
}

fn policy_writes(emu: &EmuProcess) -> usize {
    let requests: Vec<apiserver_emu::RequestRecord> = serde_json::from_str(&control(emu, "GET", "/_emu/requests", None)).unwrap();
    requests.iter().filter(|r| r.method != "GET" && r.path.contains("/networkpolicies") && !r.query.contains("dryRun")).count()
}

fn live_hashes(emu: &EmuProcess) -> std::collections::BTreeMap<netpol_sync::plan::ObjectKey, String> {
    // The live state is the replay of the change log: the last `after` of every object.
    let mut live = std::collections::BTreeMap::new();
    for c in history(emu).into_iter().filter(|c| c.kind == "networkpolicies") {
        let key = netpol_sync::plan::ObjectKey { namespace: c.namespace.clone().unwrap_or_default(), name: c.name.clone() };
        match c.after {
            Some(v) => {
                let np: netpol_policy::NetworkPolicy = serde_json::from_value(v).unwrap();
                live.insert(key, netpol_policy::content_hash(&np, netpol_sync::bundle::ANNOTATION_PREFIX));
            }
            None => {
                live.remove(&key);
            }
        }
    }
    live
}

fn sync_command(repo: &PolicyRepo, kubeconfig: &Path) -> Command {
    let mut cmd = Command::new(sync_support::support::netpol_sync_bin());
    cmd.args(["sync", "--once", "--output", "json", "--repo"])
        .arg(repo.path())
        .arg("--trust-anchor")
        .arg(&repo.anchor)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .env_remove("KUBECONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

#[test]
fn sync_killed_with_sigkill_mid_apply_converges_on_the_next_run_and_the_invariant_held() {
    let namespaces = ["netpol-sync", "alpha", "beta"];
    let emu = start_emulator(&namespaces);
    let repo = PolicyRepo::new();
    let old = BundleSpec::new(
        "app",
        &["alpha", "beta"],
        &[("alpha", "a0", 1), ("alpha", "a1", 2), ("alpha", "a2", 3), ("beta", "b0", 1), ("beta", "b1", 2), ("beta", "b2", 3)],
    );
    let new = BundleSpec::new(
        "app",
        &["alpha", "beta"],
        &[("alpha", "a0", 10), ("alpha", "a1", 20), ("alpha", "n0", 4), ("alpha", "n1", 5), ("beta", "b0", 10), ("beta", "n2", 6)],
    );
    repo.revision(&[old.clone()], "old");
    let status = sync_command(&repo, &emu.kubeconfig).status().unwrap();
    assert!(status.success());
    repo.revision(&[new.clone()], "new");
    let start = live_hashes(&emu);
    assert_eq!(start, expected_hashes(&[old.clone()]));
    let from = history(&emu).len();

    let latency = FaultRule {
        method: None,
        path_pattern: "/apis/networking.k8s.io/v1/namespaces/*/networkpolicies*".into(),
        action: FaultAction::Latency(Duration::from_millis(150)),
        times: None,
        probability: None,
        seed: None,
    };
    control(&emu, "POST", "/_emu/faults", Some(serde_json::to_string(&latency).unwrap()));

    // Kill after 1, 3 and 5 real writes have reached the server (polling with a deadline).
    for kill_after in [1usize, 3, 5] {
        let base = policy_writes(&emu);
        let mut child = sync_command(&repo, &emu.kubeconfig).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if policy_writes(&emu) >= base + kill_after || child.try_wait().unwrap().is_some() {
                break;
            }
            assert!(Instant::now() < deadline, "no writes reached the server");
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let changes = observed_changes(&history(&emu), from);
        if let Err(v) = netpol_sync::apply::invariant::check(&start, &expected_hashes(&[new.clone()]), &changes) {
            panic!("invariant violated after a kill at {kill_after} writes: {v:?}");
        }
    }

    control(&emu, "DELETE", "/_emu/faults", None);
    let status = sync_command(&repo, &emu.kubeconfig).status().unwrap();
    assert!(status.success(), "the run after the crashes must converge");
    assert_eq!(live_hashes(&emu), expected_hashes(&[new.clone()]));
    let changes = observed_changes(&history(&emu), from);
    netpol_sync::apply::invariant::check(&start, &expected_hashes(&[new]), &changes).unwrap();
}
