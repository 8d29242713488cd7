//! Cost per policy of what netpol-sync's bundle loader does for each document: strict
//! decode, defaulting, validation and the content hash, on a realistic policy (selectors,
//! several rules, ports, an ipBlock with except).
//!
//! Run: CARGO_TARGET_DIR=... cargo bench -p netpol-policy --bench validate

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use serde_json::{json, Value};
use std::hint::black_box;

fn realistic(i: usize) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": format!("allow-frontend-{i}"),
            "namespace": format!("team-{}", i % 500),
            "labels": {"app.kubernetes.io/part-of": "shop", "tier": "backend"},
            "annotations": {"example.com/owner": "payments-team"}
        },
        "spec": {
            "podSelector": {"matchLabels": {"app": "api", "version": "v2"}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {"from": [
                    {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "frontend"}},
                     "podSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "mobile-gw"]}]}},
                    {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16", "10.2.0.0/16"]}}
                 ],
                 "ports": [{"port": 8080, "protocol": "TCP"}, {"port": "metrics"}]}
            ],
            "egress": [
                {"to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                 "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]},
                {"to": [{"podSelector": {"matchLabels": {"app": "postgres"}}}],
                 "ports": [{"port": 5432, "endPort": 5433}]}
            ]
        }
    })
}

fn bench(c: &mut Criterion) {
    let doc = realistic(7);
    let mut np = netpol_policy::decode_strict(doc.clone()).expect("valid fixture");
    netpol_policy::apply_defaults(&mut np);
    assert!(netpol_policy::validate_create(&np).is_empty());

    c.bench_function("validate_create", |b| {
        b.iter(|| black_box(netpol_policy::validate_create(black_box(&np))))
    });
    c.bench_function("decode_strict", |b| {
        b.iter_batched(
            || doc.clone(),
            |d| black_box(netpol_policy::decode_strict(d)),
            BatchSize::SmallInput,
        )
    });
    c.bench_function("content_hash", |b| {
        b.iter(|| {
            black_box(netpol_policy::content_hash(
                black_box(&np),
                "netpol-sync.io/",
            ))
        })
    });
    c.bench_function("decode_default_validate_hash", |b| {
        b.iter_batched(
            || doc.clone(),
            |d| {
                let mut p = netpol_policy::decode_strict(d).expect("valid");
                netpol_policy::apply_defaults(&mut p);
                black_box(netpol_policy::validate_create(&p));
                black_box(netpol_policy::content_hash(&p, "netpol-sync.io/"))
            },
            BatchSize::SmallInput,
        )
    });
}

/// On-CPU time of the current thread (Linux schedstat), so a figure measured on a machine
/// shared with other builds is not inflated by time spent waiting for a core. Falls back
/// to wall time where schedstat is unavailable.
fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// The whole per-document pipeline over a 10,000-policy bundle across 500 namespaces,
/// measured in on-CPU time.
fn bench_ten_thousand(c: &mut Criterion) {
    let docs: Vec<Value> = (0..10_000).map(realistic).collect();
    let mut group = c.benchmark_group("bundle_10k");
    group.sample_size(10);
    group.bench_function("decode_default_validate_hash_cpu_time", |b| {
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            for _ in 0..iters {
                let batch = docs.clone();
                let wall = std::time::Instant::now();
                let cpu = thread_cpu_ns();
                for d in batch {
                    let mut p = netpol_policy::decode_strict(d).expect("valid");
                    netpol_policy::apply_defaults(&mut p);
                    black_box(netpol_policy::validate_create(&p));
                    black_box(netpol_policy::content_hash(&p, "netpol-sync.io/"));
                }
                total += match (cpu, thread_cpu_ns()) {
                    (Some(a), Some(b)) => std::time::Duration::from_nanos(b.saturating_sub(a)),
                    _ => wall.elapsed(),
                };
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, bench, bench_ten_thousand);
criterion_main!(benches);
