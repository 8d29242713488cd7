//! Injected faults, seen from a client over HTTP.

use crate::support;

use std::time::{Duration, Instant};

use apiserver_emu::{EmuConfig, Emulator, FaultAction, FaultRule};
use serde_json::json;
use support::*;

fn emulator() -> Emulator {
    Emulator::start(EmuConfig {
        namespaces: vec!["a".into()],
        ..Default::default()
    })
    .unwrap()
}

#[test]
fn seeded_probabilistic_faults_hit_the_same_requests_on_every_run() {
    let run = || {
        let emu = emulator();
        emu.inject(
            FaultRule::new("/api/v1/namespaces*", FaultAction::Status(503))
                .method("GET")
                .probability(0.4, 42),
        );
        (0..40)
            .map(|_| get(&emu.url(), "/api/v1/namespaces").status)
            .collect::<Vec<u16>>()
    };
    let first = run();
    assert_eq!(first, run());
    let failed = first.iter().filter(|s| **s == 503).count();
    assert!(failed > 0 && failed < 40, "{first:?}");
    assert!(first.iter().all(|s| *s == 503 || *s == 200));
}

#[test]
fn next_n_matching_requests_fail_then_the_rule_expires() {
    let emu = emulator();
    emu.inject(
        FaultRule::new("networkpolicies", FaultAction::Status(500))
            .method("POST")
            .times(2),
    );
    let statuses: Vec<u16> = (0..3)
        .map(|i| {
            post_json(
                &emu.url(),
                &netpol_path("a"),
                &netpol("a", &format!("p{i}"), json!({})),
            )
            .status
        })
        .collect();
    assert_eq!(statuses, [500, 500, 201]);
    // Failed writes never reached the store.
    assert_eq!(emu.list_objects("networkpolicies").len(), 1);
    let r = get(&emu.url(), &netpol_path("a"));
    assert_eq!(r.status, 200, "GET is not matched by a POST rule");
}

#[test]
fn too_many_requests_carries_retry_after() {
    let emu = emulator();
    emu.inject(
        FaultRule::new(
            "/apis/*",
            FaultAction::TooManyRequests {
                retry_after_secs: 3,
            },
        )
        .times(1),
    );
    let r = get(&emu.url(), &netpol_path("a"));
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("3"));
    assert_eq!(r.json()["details"]["retryAfterSeconds"], 3);
}

#[test]
fn injected_conflict_names_the_object() {
    let emu = emulator();
    post_json(&emu.url(), &netpol_path("a"), &netpol("a", "p", json!({})));
    emu.inject(
        FaultRule::new("*/networkpolicies/p", FaultAction::Conflict)
            .method("PUT")
            .times(1),
    );
    let r = put_json(
        &emu.url(),
        &format!("{}/p", netpol_path("a")),
        &netpol("a", "p", json!({"x": "y"})),
    );
    assert_eq!(r.status, 409);
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .starts_with("Operation cannot be fulfilled on networkpolicies.networking.k8s.io \"p\""));
    assert!(
        emu.get_object("networkpolicies", Some("a"), "p").unwrap()["metadata"]
            .get("labels")
            .is_none_or(|l| l.get("x").is_none())
    );
}

#[test]
fn dropped_connection_loses_the_response_but_not_the_write() {
    let emu = emulator();
    emu.inject(
        FaultRule::new("networkpolicies", FaultAction::DropConnection)
            .method("POST")
            .times(1),
    );
    let r = post_json(&emu.url(), &netpol_path("a"), &netpol("a", "p", json!({})));
    let declared: usize = r.header("content-length").unwrap().parse().unwrap();
    assert!(
        r.body.len() < declared,
        "response was complete ({} of {declared} bytes)",
        r.body.len()
    );
    assert!(serde_json::from_slice::<serde_json::Value>(&r.body).is_err());
    assert!(
        emu.get_object("networkpolicies", Some("a"), "p").is_some(),
        "the write happened"
    );
}

#[test]
fn latency_delays_then_serves() {
    let emu = emulator();
    emu.inject(
        FaultRule::new("/version", FaultAction::Latency(Duration::from_millis(300)))
            .method("GET")
            .times(1),
    );
    let t = Instant::now();
    assert_eq!(get(&emu.url(), "/version").status, 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
    let logged = emu.requests();
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].path, "/version");
}

#[test]
fn clear_faults_removes_every_rule() {
    let emu = emulator();
    emu.inject(FaultRule::new("*", FaultAction::Status(503)));
    assert_eq!(get(&emu.url(), "/version").status, 503);
    emu.clear_faults();
    assert_eq!(get(&emu.url(), "/version").status, 200);
}
