//! Throughput of the emulator over loopback, so sync benchmarks know it is not their
//! bottleneck: creates per second over one keep-alive connection (each create waits for
//! the last: latency-bound, as kubectl is) and over eight at once (throughput, as a sync's
//! bounded concurrent writes use it), and the time to list 10,000 NetworkPolicies.
//!
//! cargo bench -p apiserver-emu --bench emulator

use std::time::{Duration, Instant};

use apiserver_emu::bench_client::BenchConnection;
use apiserver_emu::{EmuConfig, Emulator};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::json;

fn policy(i: usize) -> Vec<u8> {
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": format!("p-{i}"), "namespace": "bench", "labels": {"app.kubernetes.io/managed-by": "netpol-sync", "team": format!("t{}", i % 10)}},
        "spec": {
            "podSelector": {"matchLabels": {"app": format!("app-{i}")}},
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "edge"}}}], "ports": [{"protocol": "TCP", "port": 8443}]}],
            "policyTypes": ["Ingress"]
        }
    })
    .to_string()
    .into_bytes()
}

fn bench(c: &mut Criterion) {
    let path = "/apis/networking.k8s.io/v1/namespaces/bench/networkpolicies";

    let emu = Emulator::start(EmuConfig {
        namespaces: vec!["bench".into()],
        ..Default::default()
    })
    .unwrap();
    let mut conn = BenchConnection::open(&emu.url()).unwrap();
    let mut group = c.benchmark_group("create");
    group.throughput(Throughput::Elements(1));
    let mut next = 0usize;
    group.bench_function("networkpolicy", |b| {
        b.iter(|| {
            next += 1;
            let (status, _) = conn.send("POST", path, &policy(next)).unwrap();
            assert_eq!(status, 201);
        })
    });
    // Eight connections at once, each on its own thread.
    const CONNECTIONS: usize = 8;
    const PER_CONNECTION: usize = 64;
    let mut conns: Vec<BenchConnection> = (0..CONNECTIONS)
        .map(|_| BenchConnection::open(&emu.url()).unwrap())
        .collect();
    group.throughput(Throughput::Elements((CONNECTIONS * PER_CONNECTION) as u64));
    group.bench_function("networkpolicy_8_connections", |b| {
        b.iter_custom(|iters| {
            let mut took = Duration::ZERO;
            for _ in 0..iters {
                let first = next + 1;
                next += CONNECTIONS * PER_CONNECTION;
                let start = Instant::now();
                std::thread::scope(|s| {
                    for (c, conn) in conns.iter_mut().enumerate() {
                        s.spawn(move || {
                            for i in 0..PER_CONNECTION {
                                let name = first + c * PER_CONNECTION + i;
                                let (status, _) = conn.send("POST", path, &policy(name)).unwrap();
                                assert_eq!(status, 201);
                            }
                        });
                    }
                });
                took += start.elapsed();
            }
            took
        })
    });
    group.finish();
    drop(conns);
    drop(conn);
    drop(emu);

    let emu = Emulator::start(EmuConfig {
        namespaces: vec!["bench".into()],
        ..Default::default()
    })
    .unwrap();
    let mut conn = BenchConnection::open(&emu.url()).unwrap();
    for i in 0..10_000 {
        let (status, _) = conn.send("POST", path, &policy(i)).unwrap();
        assert_eq!(status, 201);
    }
    let mut group = c.benchmark_group("list");
    group.sample_size(30);
    group.bench_function("10000_networkpolicies", |b| {
        b.iter(|| {
            let (status, body) = conn.send("GET", path, b"").unwrap();
            assert_eq!(status, 200);
            assert!(body.len() > 1_000_000);
        })
    });
    group.bench_function("10000_networkpolicies_label_selected_1000", |b| {
        b.iter(|| {
            let (status, _) = conn
                .send("GET", &format!("{path}?labelSelector=team%3Dt3"), b"")
                .unwrap();
            assert_eq!(status, 200);
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
