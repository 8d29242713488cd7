//! `run --immutable-objects` (docs/sync.md, "Immutable objects"): the daemon's cycles, in
//! process and in `sync --once` children, write each policy as `<name>-<hash>` and apply a
//! change as one create and one delete. On the emulator and the real apiserver.

use crate::daemon_e2e::GitRemote;
use crate::support::wait_for;
use crate::sync_support::{
    expected_immutable, in_namespaces, write_actions, BundleSpec, Cluster, PolicyRepo,
};
use netpol_sync::plan::Action;
use std::time::Duration;

fn bundle(port: u16) -> BundleSpec {
    BundleSpec::new(
        "prod",
        &["payments"],
        &[("payments", "deny", 1), ("payments", "allow-web", port)],
    )
}

fn scenario(isolation: &str) {
    let cluster = Cluster::start(&["payments"]);
    let repo = PolicyRepo::new();
    let first = repo.revision(&[bundle(80)], "first");
    let remote = GitRemote::serve();
    remote.push(&repo, &first);
    let daemon = remote.run_daemon(
        &repo,
        &cluster,
        &["--immutable-objects", "--cycle-isolation", isolation],
    );
    daemon.wait_ready();
    let live = || in_namespaces(&cluster.policy_hashes(), &["payments"]);
    assert_eq!(live(), expected_immutable(&[bundle(80)]));

    let second = repo.revision(&[bundle(8080)], "web on 8080");
    remote.push(&repo, &second);
    let from = cluster.history_len();
    daemon.one_cycle();
    assert!(
        wait_for(Duration::from_secs(30), || live()
            == expected_immutable(&[bundle(8080)]))
        .is_some(),
        "{:?}",
        live()
    );
    assert_eq!(
        write_actions(&cluster, from),
        vec![Action::Create, Action::Delete]
    );
}

#[test]
fn run_with_immutable_objects_applies_a_change_as_one_create_and_one_delete() {
    scenario("thread");
}

#[test]
fn the_same_with_cycles_in_child_processes() {
    scenario("process");
}
