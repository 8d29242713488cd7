//! Crash test: a real `netpol-sync sync --once` process, killed with SIGKILL at several
//! points during apply (latency injected to widen the window), then run again: it
//! converges to the new revision, and the invariant held over every change the killed runs
//! made. The emulator runs in this test process (its own thread and runtime), netpol-sync
//! in a child process: killing the child cannot touch the server's state.

use crate::sync_support;

use apiserver_emu::{FaultAction, FaultRule};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use sync_support::*;

fn policy_writes(cluster: &Cluster) -> usize {
    cluster
        .emu()
        .requests()
        .iter()
        .filter(|r| {
            r.method != "GET" && r.path.contains("/networkpolicies") && !r.query.contains("dryRun")
        })
        .count()
}

fn sync_command(repo: &PolicyRepo, kubeconfig: &Path) -> Command {
    let mut cmd = Command::new(sync_support::support::netpol_sync_bin());
    cmd.env("NETPOL_SYNC_STATE_KEY", sync_support::support::state_key());
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
    let cluster = Cluster::start_emulator(&["alpha", "beta"]);
    let repo = PolicyRepo::new();
    let old = BundleSpec::new(
        "app",
        &["alpha", "beta"],
        &[
            ("alpha", "a0", 1),
            ("alpha", "a1", 2),
            ("alpha", "a2", 3),
            ("beta", "b0", 1),
            ("beta", "b1", 2),
            ("beta", "b2", 3),
        ],
    );
    let new = BundleSpec::new(
        "app",
        &["alpha", "beta"],
        &[
            ("alpha", "a0", 10),
            ("alpha", "a1", 20),
            ("alpha", "n0", 4),
            ("alpha", "n1", 5),
            ("beta", "b0", 10),
            ("beta", "n2", 6),
        ],
    );
    repo.revision(std::slice::from_ref(&old), "old");
    let status = sync_command(&repo, &cluster.kubeconfig).status().unwrap();
    assert!(status.success());
    repo.revision(std::slice::from_ref(&new), "new");
    let start = cluster.policy_hashes();
    assert_eq!(start, expected_hashes(std::slice::from_ref(&old)));
    let from = cluster.history_len();

    let latency = FaultRule::new(
        "/apis/networking.k8s.io/v1/namespaces/*/networkpolicies*",
        FaultAction::Latency(Duration::from_millis(150)),
    );
    cluster.emu().inject(latency);

    // Kill after 1, 3 and 5 real writes have reached the server (polling with a deadline).
    let mut killed_mid_run = 0;
    for kill_after in [1usize, 3, 5] {
        let base = policy_writes(&cluster);
        let mut child = sync_command(&repo, &cluster.kubeconfig).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if policy_writes(&cluster) >= base + kill_after || child.try_wait().unwrap().is_some() {
                break;
            }
            assert!(Instant::now() < deadline, "no writes reached the server");
            std::thread::sleep(Duration::from_millis(10));
        }
        if child.try_wait().unwrap().is_none() {
            killed_mid_run += 1;
        }
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let changes = observed_changes(&cluster.changes_since(from));
        if let Err(v) = netpol_testkit::invariant::check(
            &start,
            &expected_hashes(std::slice::from_ref(&new)),
            &changes,
        ) {
            panic!("invariant violated after a kill at {kill_after} writes: {v:?}");
        }
    }

    assert!(
        killed_mid_run >= 2,
        "only {killed_mid_run} runs were killed before finishing"
    );
    assert_ne!(
        cluster.policy_hashes(),
        expected_hashes(std::slice::from_ref(&new)),
        "the kills left work for the next run"
    );

    cluster.emu().clear_faults();
    let status = sync_command(&repo, &cluster.kubeconfig).status().unwrap();
    assert!(status.success(), "the run after the crashes must converge");
    assert_eq!(
        cluster.policy_hashes(),
        expected_hashes(std::slice::from_ref(&new))
    );
    let changes = observed_changes(&cluster.changes_since(from));
    netpol_testkit::invariant::check(&start, &expected_hashes(&[new]), &changes).unwrap();
}
