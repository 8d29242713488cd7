//! `netpol-sync reach --kubeconfig`: the workloads read from a live cluster (its
//! namespaces with their labels, and its pods grouped by owner), over real HTTP, against
//! the emulator in the normal suite and against a real kube-apiserver in
//! scripts/test-real.sh. Pods are created as their controllers would create them (owner
//! references, pod-template-hash), but no controller runs.

use crate::support::run_netpol_sync;
use crate::sync_support::Cluster;
use serde_json::Value;
use std::path::Path;

const POLICIES: &str = r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: shop}
spec: {podSelector: {}, policyTypes: [Ingress]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-from-ops, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {team: ops}}}]
    ports: [{port: http}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]
    ports: [{port: pg}]
"#;

/// A pod as a controller would create it: `owner` is (kind, name), `ports` (name, port).
fn pod(
    ns: &str,
    name: &str,
    labels: &[(&str, &str)],
    owner: Option<(&str, &str)>,
    ports: &[(&str, u16)],
) -> String {
    let labels: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k:?}: {v:?}"))
        .collect();
    let owner = match owner {
        Some((kind, owner_name)) => {
            let api = if kind == "Job" { "batch/v1" } else { "apps/v1" };
            format!(
                "  ownerReferences: [{{apiVersion: {api}, kind: {kind}, name: {owner_name}, uid: 6f1c1f7e-0000-4000-8000-{:012}, controller: true}}]\n",
                name.len()
            )
        }
        None => String::new(),
    };
    let ports: Vec<String> = ports
        .iter()
        .map(|(n, p)| format!("{{name: {n}, containerPort: {p}}}"))
        .collect();
    format!(
        "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels: {{{}}}\n{owner}spec:\n  automountServiceAccountToken: false\n  containers:\n  - name: main\n    image: registry.example/app:1\n    ports: [{}]\n",
        labels.join(", "),
        ports.join(", ")
    )
}

/// The namespaces labelled, and `pods` created. On the real server the `default`
/// ServiceAccount that pod admission looks up is created first (its controller may not
/// have made it yet), and kube-controller-manager is stopped: the owners named here do
/// not exist, and its garbage collector would delete their pods.
fn populate(cluster: &Cluster, labels: &[(&str, &str)], pods: &str) {
    if let Some(real) = cluster.real() {
        real.stop_process("kube-controller-manager");
        for (ns, _) in labels {
            let out = cluster.kubectl(&["create", "serviceaccount", "default", "-n", ns], None);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success()
                    || err.contains("AlreadyExists")
                    || err.contains("already exists"),
                "{err}"
            );
        }
    }
    for (ns, label) in labels {
        let out = cluster.kubectl(&["label", "namespace", ns, label], None);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = cluster.kubectl(&["create", "-f", "-"], Some(pods));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn policies(dir: &Path) -> String {
    let p = dir.join("policies.yaml");
    std::fs::write(&p, POLICIES).unwrap();
    p.display().to_string()
}

fn reach(cluster: &Cluster, policies: &str, extra: &[&str]) -> (i32, String, String) {
    let kubeconfig = cluster.admin_kubeconfig().display().to_string();
    let mut args = vec!["reach", "--kubeconfig", &kubeconfig, "--policies", policies];
    args.extend_from_slice(extra);
    run_netpol_sync(&args)
}

fn ours(v: &Value, field: &str) -> Vec<String> {
    v[field]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .filter(|n| n.starts_with("shop/") || n.starts_with("ops/"))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_map_and_queries_run_over_the_clusters_workloads_grouped_by_owner() {
    let cluster = Cluster::start(&["shop", "ops"]);
    let pods = [
        pod(
            "shop",
            "web-7d9f5-abcde",
            &[("app", "web"), ("pod-template-hash", "7d9f5")],
            Some(("ReplicaSet", "web-7d9f5")),
            &[("http", 8080)],
        ),
        pod(
            "shop",
            "web-7d9f5-fghij",
            &[("app", "web"), ("pod-template-hash", "7d9f5")],
            Some(("ReplicaSet", "web-7d9f5")),
            &[("http", 8080)],
        ),
        pod(
            "shop",
            "db-0",
            &[
                ("app", "db"),
                ("statefulset.kubernetes.io/pod-name", "db-0"),
            ],
            Some(("StatefulSet", "db")),
            &[("pg", 5432)],
        ),
        pod(
            "shop",
            "db-1",
            &[
                ("app", "db"),
                ("statefulset.kubernetes.io/pod-name", "db-1"),
            ],
            Some(("StatefulSet", "db")),
            &[("pg", 5432)],
        ),
        pod(
            "shop",
            "report-29000000-x7k2p",
            &[("app", "report"), ("job-name", "report-29000000")],
            Some(("Job", "report-29000000")),
            &[],
        ),
        pod("shop", "debug", &[("app", "debug")], None, &[]),
        pod("ops", "monitor", &[("app", "monitor")], None, &[]),
    ]
    .concat();
    populate(
        &cluster,
        &[("shop", "team=shop"), ("ops", "team=ops")],
        &pods,
    );
    let dir = tempfile::tempdir().unwrap();
    let policies = policies(dir.path());

    let (code, out, err) = reach(&cluster, &policies, &["--output", "json"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!err.contains("WARNING"), "{err}");
    let map: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        ours(&map, "workloads"),
        [
            "ops/monitor",
            "shop/db",
            "shop/debug",
            "shop/report",
            "shop/web"
        ]
    );
    let between: Vec<(String, String, String)> = map["connections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            let f = c["from"].as_str().unwrap();
            let t = c["to"].as_str().unwrap();
            t.starts_with("shop/") && (f.starts_with("shop/") || f.starts_with("ops/"))
        })
        .map(|c| {
            (
                c["from"].as_str().unwrap().to_string(),
                c["to"].as_str().unwrap().to_string(),
                c["ports"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    // Into shop only what its policies admit: web from the ops namespace (by its label)
    // on the named port, db from web.
    assert_eq!(
        between,
        [
            ("ops/monitor".into(), "shop/web".into(), "TCP 8080".into()),
            ("shop/web".into(), "shop/db".into(), "TCP 5432".into()),
        ]
    );

    let (code, out, err) = reach(
        &cluster,
        &policies,
        &[
            "--from",
            "ops/monitor",
            "--to",
            "shop/web",
            "--port",
            "8080",
            "--output",
            "json",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ingress"]["rules"][0], "shop/web-from-ops ingress[0]");
    let (code, out, _) = reach(
        &cluster,
        &policies,
        &["--from", "shop/debug", "--to", "shop/web", "--port", "8080"],
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.starts_with("DENIED  shop/debug -> shop/web  TCP/8080"),
        "{out}"
    );
    let (code, out, _) = reach(
        &cluster,
        &policies,
        &["--from", "shop/report", "--to", "shop/db", "--port", "5432"],
    );
    assert_eq!(code, 1, "a CronJob's pods are not web: {out}");

    // A pod that ended is left out. Only the real server has the status subresource a
    // kubelet writes the phase through (the emulator keeps every pod Pending).
    if cluster.real().is_some() {
        let out = cluster.kubectl(
            &[
                "patch",
                "pod",
                "debug",
                "-n",
                "shop",
                "--subresource=status",
                "--type=merge",
                "-p",
                r#"{"status":{"phase":"Failed"}}"#,
            ],
            None,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (code, out, err) = reach(&cluster, &policies, &["--output", "json"]);
        assert_eq!(code, 0, "{out}{err}");
        let map: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            ours(&map, "workloads"),
            ["ops/monitor", "shop/db", "shop/report", "shop/web"]
        );
        assert!(err.contains("NOTE  left out: 1 pods that ended"), "{err}");
    }
    cluster.shutdown();
}

#[test]
fn replicas_that_disagree_are_split_with_a_warning() {
    let cluster = Cluster::start(&["shop"]);
    let pods = [
        pod(
            "shop",
            "web-1111-a",
            &[("app", "web"), ("pod-template-hash", "1111")],
            Some(("ReplicaSet", "web-1111")),
            &[("http", 8080)],
        ),
        pod(
            "shop",
            "web-2222-a",
            &[("app", "web-v2"), ("pod-template-hash", "2222")],
            Some(("ReplicaSet", "web-2222")),
            &[("http", 8080)],
        ),
    ]
    .concat();
    populate(&cluster, &[("shop", "team=shop")], &pods);
    let dir = tempfile::tempdir().unwrap();
    let policies = policies(dir.path());
    let (code, out, err) = reach(&cluster, &policies, &["--output", "json"]);
    assert_eq!(code, 0, "{out}{err}");
    let map: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(ours(&map, "workloads"), ["shop/web#1", "shop/web#2"]);
    assert!(
        err.contains("WARNING  workload shop/web: its 2 pods have 2 different sets of labels or container ports"),
        "{err}"
    );
    // The query names the set it means; the bare name is not a guess at one of them.
    let (code, _, err) = reach(
        &cluster,
        &policies,
        &["--from", "shop/web", "--to", "shop/web#1", "--port", "80"],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no workload shop/web"), "{err}");
    cluster.shutdown();
}

#[test]
fn an_unreachable_cluster_and_two_sources_of_workloads_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: \"http://127.0.0.1:1\"}\nusers:\n- name: u\n  user: {token: t}\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\n",
    )
    .unwrap();
    let policies = policies(dir.path());
    let k = kubeconfig.display().to_string();
    let (code, out, err) = run_netpol_sync(&["reach", "--kubeconfig", &k, "--policies", &policies]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("reading the cluster: listing namespaces"),
        "{err}"
    );
    assert!(err.contains("http://127.0.0.1:1"), "{err}");

    let (code, _, err) = run_netpol_sync(&[
        "reach",
        "--kubeconfig",
        &k,
        "--workloads",
        &policies,
        "--policies",
        &policies,
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot be used with"), "{err}");
}
