//! `netpol-sync run` takes the settings `sync --once` takes and every cycle runs with
//! them, in process and in a `sync --once` child: here the bundle limits, which `run`
//! once did not take at all. A limit that the revision breaks refuses it
//! (`limit-exceeded`) and leaves the cluster untouched; the same revision under a limit
//! it keeps is applied.

use crate::daemon_e2e::GitRemote;
use crate::support::wait_for;
use crate::sync_support::{BundleSpec, Cluster, PolicyRepo};
use std::time::Duration;

/// A revision of one bundle with three policy files.
fn three_files() -> (PolicyRepo, String) {
    let repo = PolicyRepo::new();
    let head = repo.revision(
        &[BundleSpec::new(
            "prod",
            &["payments"],
            &[
                ("payments", "a", 80),
                ("payments", "b", 81),
                ("payments", "c", 82),
            ],
        )],
        "three files",
    );
    (repo, head)
}

fn bundle_limits_reach_every_cycle(isolation: &str) {
    let (repo, head) = three_files();
    let remote = GitRemote::serve();
    remote.push(&repo, &head);
    let cluster = Cluster::start(&["payments"]);

    let refused = remote.run_daemon(
        &repo,
        &cluster,
        &["--cycle-isolation", isolation, "--max-files", "2"],
    );
    let judged = wait_for(Duration::from_secs(30), || refused.cycles() >= 1.0);
    assert!(judged.is_some(), "no cycle: {:?}", refused.get("/metrics"));
    let (status, body) = refused.get("/readyz");
    assert_ne!(status, 200, "{body}");
    assert!(body.contains("limit-exceeded"), "{body}");
    assert!(cluster.policy("payments", "a").is_none(), "nothing written");
    drop(refused);

    let kept = remote.run_daemon(
        &repo,
        &cluster,
        &["--cycle-isolation", isolation, "--max-files", "3"],
    );
    kept.wait_ready();
    for name in ["a", "b", "c"] {
        assert!(cluster.policy("payments", name).is_some(), "{name}");
    }
}

#[test]
fn run_hands_its_bundle_limits_to_cycles_in_process() {
    bundle_limits_reach_every_cycle("thread");
}

#[test]
fn run_hands_its_bundle_limits_to_cycles_in_child_processes() {
    bundle_limits_reach_every_cycle("process");
}
