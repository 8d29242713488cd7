//! `--max-in-flight` bounds the writes a sync has in flight at once, dry runs included.

use crate::sync_support;

use apiserver_emu::{FaultAction, FaultRule};
use std::time::{Duration, SystemTime};
use sync_support::*;

/// Every NetworkPolicy write is held this long by the emulator before it is executed.
const HELD: Duration = Duration::from_millis(100);

/// The most answers that came within any span shorter than `HELD`. A write answered at
/// `t` arrived by `t - HELD`, so all writes answered within such a span were in flight
/// together, just before its start: this is a lower bound of the writes in flight at
/// once, and it may not exceed the bound the client was given.
fn most_answered_within_held(mut answered: Vec<SystemTime>) -> usize {
    answered.sort();
    // A margin against the clock's rounding: it only makes the count smaller.
    let span = HELD - Duration::from_millis(5);
    (0..answered.len())
        .map(|i| {
            answered[i..]
                .iter()
                .take_while(|t| t.duration_since(answered[i]).unwrap_or_default() < span)
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn writes_in_flight_never_exceed_max_in_flight() {
    let cluster = Cluster::start_emulator(&["frontend"]);
    cluster.emu().inject(
        FaultRule::new(
            "/apis/networking.k8s.io/v1/namespaces/*/networkpolicies*",
            FaultAction::Latency(HELD),
        )
        .method("POST"),
    );
    let policies: Vec<(String, u16)> = (0..6).map(|i| (format!("p{i}"), 8000 + i)).collect();
    let specs: Vec<(&str, &str, u16)> = policies
        .iter()
        .map(|(name, port)| ("frontend", name.as_str(), *port))
        .collect();
    let repo = PolicyRepo::new();
    repo.revision(
        &[BundleSpec::new("shop", &["frontend"], &specs)],
        "six policies",
    );

    let run = sync(&repo, &cluster, &["--max-in-flight", "2"]);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    assert_eq!(cluster.policy_hashes().len(), 6);

    let posts: Vec<_> = cluster
        .emu()
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.contains("/networkpolicies"))
        .collect();
    let dry_runs = posts
        .iter()
        .filter(|r| r.query.contains("dryRun=All"))
        .count();
    assert_eq!(
        (posts.len(), dry_runs),
        (12, 6),
        "a dry run and a create per policy"
    );
    let most = most_answered_within_held(posts.iter().map(|r| r.time).collect());
    assert!(most <= 2, "{most} writes were in flight at once");
}

#[test]
fn the_in_flight_measure_counts_overlapping_writes() {
    let at = |ms: u64| SystemTime::UNIX_EPOCH + Duration::from_millis(ms);
    // One at a time, HELD apart: never two in flight.
    assert_eq!(most_answered_within_held(vec![at(0), at(100), at(200)]), 1);
    // Three answered within 10 ms were in flight together.
    assert_eq!(
        most_answered_within_held(vec![at(300), at(0), at(305), at(310)]),
        3
    );
    assert_eq!(most_answered_within_held(Vec::new()), 0);
}
