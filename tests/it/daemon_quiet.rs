//! Quiet cycles (docs/operations.md): while the drift watch vouches that no NetworkPolicy
//! changed since the daemon's last read, and that read needed no write, a no-change cycle
//! plans against it and lists nothing. Any change ends that, a hand edit is still
//! reverted, a new revision is still applied, and a watch that cannot be opened vouches for
//! nothing. Runs on the emulator and on the real apiserver (scripts/test-real.sh).

use crate::daemon_e2e::{delete_by_hand, Daemon, GitRemote};
use crate::support::wait_for;
use crate::sync_support::{BundleSpec, Cluster, PolicyRepo};
use apiserver_emu::{FaultAction, FaultRule};
use std::time::{Duration, SystemTime};

const QUIET: &str = "netpol_sync_cycles_live_from_watch_total";

fn bundle(policies: &[(&str, &str, u16)]) -> Vec<BundleSpec> {
    vec![BundleSpec::new("prod", &["payments"], policies)]
}

/// `run` with `--relist-interval relist` on `cluster` and a served branch holding one
/// revision of `policies` in namespace payments, ready. Fields drop in order: the daemon
/// first.
struct QuietSetup {
    daemon: Daemon,
    cluster: Cluster,
    remote: GitRemote,
    repo: PolicyRepo,
}

impl QuietSetup {
    fn start(cluster: Cluster, policies: &[(&str, &str, u16)], relist: &str) -> QuietSetup {
        let repo = PolicyRepo::new();
        let first = repo.revision(&bundle(policies), "first");
        let remote = GitRemote::serve();
        remote.push(&repo, &first);
        let daemon = remote.run_daemon(&repo, &cluster, &["--relist-interval", relist]);
        daemon.wait_ready();
        QuietSetup {
            daemon,
            cluster,
            remote,
            repo,
        }
    }

    fn quiet_cycles(&self) -> f64 {
        self.daemon.metric(QUIET).unwrap_or(0.0)
    }

    /// Ask for no-change cycles until one is quiet: the first applies, a later one reads
    /// the live set with the watch open and finds nothing to do, the one after is quiet.
    fn until_quiet(&self) {
        let mut asked = 0;
        while self.quiet_cycles() < 1.0 {
            asked += 1;
            assert!(
                asked <= 10,
                "no quiet cycle after {asked} no-change cycles: {}",
                self.daemon.get("/metrics").1
            );
            self.daemon.one_cycle();
        }
    }
}

#[test]
fn no_change_cycles_list_nothing_while_the_watch_vouches_and_any_change_ends_that() {
    let setup = QuietSetup::start(
        Cluster::start(&["payments"]),
        &[
            ("payments", "allow-web", 80),
            ("payments", "allow-api", 443),
        ],
        "1h",
    );
    let QuietSetup {
        daemon,
        cluster,
        remote,
        repo,
    } = &setup;
    let quiet = || setup.quiet_cycles();
    setup.until_quiet();

    // Quiet cycles list no NetworkPolicy.
    let since = SystemTime::now();
    let before = quiet();
    for _ in 0..3 {
        daemon.one_cycle();
    }
    assert_eq!(
        quiet(),
        before + 3.0,
        "every no-change cycle was quiet: {}",
        daemon.get("/metrics").1
    );
    assert_eq!(
        cluster.policy_lists_since(since),
        0,
        "a quiet cycle lists nothing"
    );

    // A hand deletion: the watch sees it, the cycle it starts reads the live set and puts
    // the policy back.
    let since = SystemTime::now();
    let before = quiet();
    delete_by_hand(cluster, "payments", "allow-web");
    assert!(
        wait_for(Duration::from_secs(20), || cluster
            .policy("payments", "allow-web")
            .is_some())
        .is_some(),
        "drift reverted while cycles were quiet"
    );
    assert!(
        cluster.policy_lists_since(since) >= 1,
        "the cycle after a change reads the live set"
    );
    assert_eq!(quiet(), before, "no quiet cycle since the change");

    // A new revision is applied: the branch moved, so the cycle reads.
    let second = repo.revision(
        &bundle(&[
            ("payments", "allow-web", 80),
            ("payments", "allow-api", 443),
            ("payments", "allow-dns", 53),
        ]),
        "second",
    );
    remote.push(repo, &second);
    daemon.one_cycle();
    assert!(cluster.policy("payments", "allow-dns").is_some());
    assert!(daemon.get("/readyz").1.contains(&second));
}

/// A watch that cannot be opened vouches for nothing: every cycle lists, and drift is
/// reverted by the cycle a webhook or the interval runs (the emulator refuses every watch).
#[test]
fn a_watch_that_cannot_open_makes_every_cycle_read_the_live_set() {
    let cluster = Cluster::start_emulator(&["payments"]);
    cluster.emu().inject(
        FaultRule::new(
            "/apis/networking.k8s.io/v1/networkpolicies",
            FaultAction::Status(500),
        )
        .method("GET")
        .query_param("watch"),
    );
    let setup = QuietSetup::start(cluster, &[("payments", "allow-web", 80)], "1h");
    let QuietSetup {
        daemon, cluster, ..
    } = &setup;
    for _ in 0..3 {
        let since = SystemTime::now();
        daemon.one_cycle();
        assert!(
            cluster.policy_lists_since(since) >= 1,
            "a cycle without an open watch lists the live set"
        );
    }
    assert_eq!(daemon.metric(QUIET), Some(0.0));

    delete_by_hand(cluster, "payments", "allow-web");
    daemon.one_cycle();
    assert!(
        cluster.policy("payments", "allow-web").is_some(),
        "drift reverted by the next cycle"
    );
}

/// `--relist-interval` bounds how long a read is planned against: past it a no-change
/// cycle lists again though the watch saw nothing (a server that dropped a watch event
/// would delay a revert by at most that).
#[test]
fn past_the_relist_interval_a_no_change_cycle_lists_again() {
    let setup = QuietSetup::start(
        Cluster::start(&["payments"]),
        &[("payments", "allow-web", 80)],
        "2s",
    );
    let QuietSetup {
        daemon, cluster, ..
    } = &setup;
    setup.until_quiet();
    let since = SystemTime::now();
    let relisted = wait_for(Duration::from_secs(20), || {
        daemon.one_cycle();
        cluster.policy_lists_since(since) > 0
    });
    assert!(
        relisted.is_some(),
        "no no-change cycle listed again once the read was 2 s old"
    );
}
