//! What a revision's writes open and close, over the cluster's own pods
//! (docs/reachability.md, "In plan, sync and run"): `plan` lists the paths, `sync` keeps
//! their counts, `--no-reachability` skips the reading. Against the emulator and the real
//! kube-apiserver, netpol-sync under deploy/rbac.yaml's identity there.

use crate::sync_support;

use serde_json::Value;
use sync_support::*;

/// payments: ingress on 8443 only; frontend: ingress on port 1 only; egress open.
fn shop() -> BundleSpec {
    BundleSpec::new(
        "shop",
        &["frontend", "payments"],
        &[("frontend", "default-deny", 1), ("payments", "api", 8443)],
    )
}

const PODS: &str = "apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: frontend
  labels: {app: web}
spec:
  automountServiceAccountToken: false
  containers:
  - name: web
    image: registry.example/web:1
    ports:
    - {name: http, containerPort: 8080}
---
apiVersion: v1
kind: Pod
metadata:
  name: db
  namespace: payments
  labels: {app: db}
spec:
  automountServiceAccountToken: false
  containers:
  - name: db
    image: registry.example/db:1
    ports:
    - {name: pg, containerPort: 5432}
";

/// payments' pods may send nothing: egress isolated, no rule.
const LOCKDOWN: &str = "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: lockdown
  namespace: payments
spec:
  podSelector: {}
  policyTypes: [Egress]
";

fn create(cluster: &Cluster, yaml: &str) {
    let out = cluster.kubectl(&["create", "-f", "-"], Some(yaml));
    assert!(
        out.status.success(),
        "kubectl create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn reachability(run: &Run) -> &Value {
    &run.json["extra"]["reachability"]
}

#[test]
fn plan_lists_the_paths_a_revision_opens_and_sync_counts_them() {
    let cluster = Cluster::start(&["frontend", "payments"]);
    create(&cluster, PODS);
    let repo = PolicyRepo::new();
    repo.revision(&[shop()], "shop");

    // The first sync narrows every ingress to the two pods: from each of web, db and the
    // two address families (IPv4, IPv6) to each pod, 8 paths change; none opens.
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    let r = reachability(&run);
    assert_eq!(
        (&r["opened"], &r["closed"], &r["changed"], &r["workloads"]),
        (
            &Value::from(0),
            &Value::from(0),
            &Value::from(8),
            &Value::from(2)
        ),
        "{}",
        run.json
    );
    assert!(r.get("paths").is_none(), "sync keeps the counts only: {r}");
    assert!(r.get("error").is_none(), "{r}");

    // A hand-made lockdown stops payments' egress; the next cycle deletes it, which opens
    // every path from payments/db again: to web (port 1), to itself (8443) and to both
    // address families.
    create(&cluster, LOCKDOWN);
    let run = plan(&repo, &cluster, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    let r = reachability(&run);
    assert_eq!(r["opened"], 4, "{r}");
    assert_eq!(
        (&r["closed"], &r["changed"]),
        (&Value::from(0), &Value::from(0))
    );
    let added = r["paths"]["added"].as_array().unwrap();
    let ports_to = |to: &str| {
        added
            .iter()
            .find(|c| c["from"] == "payments/db" && c["to"] == to)
            .map(|c| c["ports"].as_str().unwrap().to_string())
    };
    assert_eq!(ports_to("frontend/web").as_deref(), Some("TCP 1"), "{r}");
    assert_eq!(ports_to("payments/db").as_deref(), Some("TCP 8443"), "{r}");
    assert_eq!(ports_to("0.0.0.0/0").as_deref(), Some("all"), "{r}");
    assert_eq!(ports_to("::/0").as_deref(), Some("all"), "{r}");

    // The text says it too, one path a line.
    let text = plan_text(&repo, &cluster, &[]);
    assert!(
        text.stdout
            .contains("reachability: +4 opened, -0 closed, ~0 changed over 2 workloads"),
        "{}{}",
        text.stdout,
        text.stderr
    );
    assert!(
        text.stdout.contains("+ payments/db → frontend/web  TCP 1"),
        "{}",
        text.stdout
    );

    // Without it, nothing about pods is read or reported.
    let run = plan(&repo, &cluster, &["--no-reachability"]);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    assert!(reachability(&run).is_null(), "{}", run.json);

    // The sync that deletes the lockdown reports the same counts.
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    assert_eq!(reachability(&run)["opened"], 4, "{}", run.json);
    // Nothing to write: nothing is computed.
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.json["verdict"], "unchanged", "{}", run.json);
    assert!(reachability(&run).is_null(), "{}", run.json);
}
