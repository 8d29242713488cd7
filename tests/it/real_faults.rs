//! Faults on a real control plane: etcd stopped in the middle of an apply, kube-apiserver
//! restarted in the middle of a sync, netpol-sync killed with SIGKILL in the middle of an
//! apply, and netpol-sync's identity losing a verb in real RBAC. Each time: the failing cycle says what failed, every change it made left
//! each policy at its old or its new version (the invariant, over the watch's record), and
//! the next cycle converges. Always on the real server (docs/real-apiserver.md).

use crate::sync_support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use sync_support::*;

const NAMESPACES: [&str; 3] = ["alpha", "beta", "gamma"];

/// `per_ns` policies in each namespace, every one allowing `port`.
fn many(per_ns: usize, port: u16) -> BundleSpec {
    let names: Vec<(String, String)> = NAMESPACES
        .iter()
        .flat_map(|ns| (0..per_ns).map(move |i| (ns.to_string(), format!("p{i}"))))
        .collect();
    let policies: Vec<(&str, &str, u16)> = names
        .iter()
        .map(|(ns, name)| (ns.as_str(), name.as_str(), port))
        .collect();
    BundleSpec::new("app", &NAMESPACES, &policies)
}

fn netpol_sync_as(cluster: &Cluster, repo: &PolicyRepo) -> Command {
    let mut cmd = Command::new(support::netpol_sync_bin());
    cmd.env("NETPOL_SYNC_STATE_KEY", support::state_key())
        .env_remove("KUBECONFIG")
        .args(["sync", "--once", "--output", "json", "--repo"])
        .arg(repo.path())
        .arg("--trust-anchor")
        .arg(&repo.anchor)
        .arg("--kubeconfig")
        .arg(&cluster.kubeconfig);
    cmd
}

/// What happens to a sync once its first real write has reached the server.
enum Interruption {
    /// This process of the control plane is stopped and started again.
    Restart(&'static str),
    /// netpol-sync itself is killed with SIGKILL.
    KillNetpolSync,
}

/// Run a sync of `new` over `old` and interrupt it once its first real write has reached
/// the server. Asserts that the interrupted run failed with a report or succeeded, the
/// invariant over everything it did, and that the next cycle converges.
fn interrupt_a_sync(interruption: Interruption) {
    let cluster = Cluster::start_real(&NAMESPACES);
    let real = cluster.real().unwrap();
    let repo = PolicyRepo::new();
    let old = many(60, 1);
    let new = many(60, 2);
    repo.revision(std::slice::from_ref(&old), "old");
    assert_eq!(sync(&repo, &cluster, &[]).code, 0);
    repo.revision(std::slice::from_ref(&new), "new");
    let start = cluster.policy_hashes();
    let from = cluster.history_len();

    let child = netpol_sync_as(&cluster, &repo)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first update of the new revision has landed: the apply is under way.
    let deadline = Instant::now() + Duration::from_secs(60);
    while cluster.changes_since(from).is_empty() {
        assert!(Instant::now() < deadline, "the sync never started writing");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut child = child;
    match interruption {
        Interruption::Restart(process) => {
            real.stop_process(process);
            std::thread::sleep(Duration::from_millis(500));
            real.restart_process(process);
            real.wait_ready();
        }
        Interruption::KillNetpolSync => child.kill().unwrap(),
    }
    let out = child.wait_with_output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    let code = out.status.code();
    // Killed, it reports nothing; otherwise either the client's retries carried the cycle
    // over the gap, or it failed and said so.
    if code.is_some() && code != Some(0) {
        assert_eq!(code, Some(2), "{report}");
        let json: serde_json::Value = serde_json::from_str(report.trim()).unwrap();
        assert!(
            json["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{report}"
        );
    }
    let new_hashes = expected_hashes(std::slice::from_ref(&new));
    assert_invariant(&cluster, from, &start, &new_hashes);

    let again = sync(&repo, &cluster, &[]);
    assert_eq!(again.code, 0, "{}\n{}", again.json, again.stderr);
    assert_eq!(
        in_namespaces(&cluster.policy_hashes(), &NAMESPACES),
        new_hashes
    );
}

#[test]
fn kube_apiserver_restarted_in_the_middle_of_a_sync_leaves_no_mix_and_the_next_cycle_converges() {
    interrupt_a_sync(Interruption::Restart("kube-apiserver"));
}

#[test]
fn etcd_stopped_in_the_middle_of_an_apply_leaves_no_mix_and_the_next_cycle_converges() {
    interrupt_a_sync(Interruption::Restart("etcd"));
}

#[test]
fn netpol_sync_killed_in_the_middle_of_an_apply_leaves_no_mix_and_the_next_cycle_converges() {
    interrupt_a_sync(Interruption::KillNetpolSync);
}

#[test]
fn a_verb_lost_in_rbac_fails_the_cycle_naming_it_and_the_next_cycle_converges() {
    let cluster = Cluster::start_real(&NAMESPACES);
    let real = cluster.real().unwrap();
    let repo = PolicyRepo::new();
    let old = many(2, 1);
    repo.revision(std::slice::from_ref(&old), "old");
    assert_eq!(sync(&repo, &cluster, &[]).code, 0);
    let applied = cluster.policy_hashes();

    // deploy/rbac.yaml's ClusterRole without `update` on NetworkPolicies.
    let role = real.kubectl_ok(&["get", "clusterrole", "netpol-sync", "-o", "json"]);
    let mut role: serde_json::Value = serde_json::from_str(&role).unwrap();
    role["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("resourceVersion");
    let full = role.clone();
    for rule in role["rules"].as_array_mut().unwrap() {
        if rule["resources"][0] == "networkpolicies" {
            let verbs = rule["verbs"].as_array_mut().unwrap();
            verbs.retain(|v| v != "update");
        }
    }
    let apply = |role: &serde_json::Value| {
        let out = real.kubectl_as(
            &real.admin_kubeconfig(),
            &["replace", "-f", "-"],
            Some(&role.to_string()),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let can_update = || {
        let out = real.kubectl_as(
            &real.admin_kubeconfig(),
            &[
                "auth",
                "can-i",
                "update",
                "networkpolicies",
                "-n",
                "alpha",
                "--as",
                "system:serviceaccount:netpol-sync:netpol-sync",
            ],
            None,
        );
        String::from_utf8_lossy(&out.stdout).trim() == "yes"
    };
    apply(&role);
    let deadline = Instant::now() + Duration::from_secs(30);
    while can_update() {
        assert!(Instant::now() < deadline, "RBAC never took the verb away");
        std::thread::sleep(Duration::from_millis(100));
    }

    let mut changed = old.clone();
    changed.policies[0].2 = 2;
    repo.revision(std::slice::from_ref(&changed), "change one");
    let run = sync(&repo, &cluster, &[]);
    assert_ne!(run.code, 0, "{}", run.json);
    let message = run.json["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("update") && message.contains("networkpolicies"),
        "the failure names the verb and the resource: {}",
        run.json
    );
    assert_eq!(
        cluster.policy_hashes(),
        applied,
        "a forbidden write changes nothing"
    );

    apply(&full);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !can_update() {
        assert!(Instant::now() < deadline, "RBAC never gave the verb back");
        std::thread::sleep(Duration::from_millis(100));
    }
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    assert_eq!(
        in_namespaces(&cluster.policy_hashes(), &NAMESPACES),
        expected_hashes(&[changed])
    );
}
