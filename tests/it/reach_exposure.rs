//! `netpol-sync reach --exposure`, end to end over files: for each workload, who may reach
//! it and whom it may reach as the rules state it (addresses, every pod, pods by
//! selector, not isolated), in text, JSON and markdown; and queries to a CIDR range, which
//! are allowed only when every address of the range is.

use crate::support::run_netpol_sync;
use serde_json::Value;

const POLICIES: &str = r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress, Egress]
  ingress:
  - from: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8]}}]
    ports: [{port: 443}]
  - from: [{namespaceSelector: {matchLabels: {team: ops}}, podSelector: {matchLabels: {role: monitor}}}]
    ports: [{port: http}]
  egress:
  - to: [{podSelector: {matchLabels: {app: db}}}]
    ports: [{port: 5432}]
  - to: [{namespaceSelector: {}}]
    ports: [{port: 53, protocol: UDP}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-closed, namespace: shop}
spec: {podSelector: {matchLabels: {app: db}}, policyTypes: [Ingress]}
"#;

const WORKLOADS: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: i, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop}
spec:
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: c, image: i}]}
"#;

fn run(extra: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies.yaml");
    let workloads = dir.path().join("workloads.yaml");
    std::fs::write(&policies, POLICIES).unwrap();
    std::fs::write(&workloads, WORKLOADS).unwrap();
    let (p, w) = (
        policies.display().to_string(),
        workloads.display().to_string(),
    );
    let mut args = vec!["reach", "--policies", &p, "--workloads", &w];
    args.extend_from_slice(extra);
    run_netpol_sync(&args)
}

fn entries(v: &Value, workload: &str, dir: &str) -> Vec<(String, String, String)> {
    let w = v["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["workload"] == workload)
        .unwrap_or_else(|| panic!("{workload} in {v}"));
    w[dir]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_string(),
                e["peer"].as_str().unwrap().to_string(),
                e["ports"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn exposure_lists_each_kind_of_peer_with_ports_for_each_workload() {
    let (code, out, err) = run(&["--exposure", "--output", "json"]);
    assert_eq!(code, 0, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let s = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    assert_eq!(
        entries(&v, "shop/web", "ingress"),
        [
            s("addresses", "0.0.0.0/0 except 10.0.0.0/8", "TCP 443"),
            s(
                "pods",
                "pods role=monitor in namespaces team=ops",
                "TCP 8080"
            ),
        ]
    );
    assert_eq!(
        entries(&v, "shop/web", "egress"),
        [
            s("all-pods", "any pod of the cluster", "UDP 53"),
            s("pods", "pods app=db in namespace shop", "TCP 5432"),
        ]
    );
    // Isolated with no rule: nothing gets in. No egress policy: open.
    assert!(entries(&v, "shop/db", "ingress").is_empty());
    assert_eq!(
        entries(&v, "shop/db", "egress"),
        [s("not-isolated", "anything (no policy isolates it)", "all")]
    );
    let web = v["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["workload"] == "shop/web")
        .unwrap();
    assert_eq!(web["ingress"][0]["rules"][0], "shop/web ingress[0]", "{v}");
    assert_eq!(web["ingress"][1]["rules"][0], "shop/web ingress[1]", "{v}");

    let (code, out, _) = run(&["--exposure"]);
    assert_eq!(code, 0);
    assert!(
        out.contains(
            "    ingress from 0.0.0.0/0 except 10.0.0.0/8  TCP 443  (shop/web ingress[0])"
        ),
        "{out}"
    );
    assert!(out.contains("    ingress from nothing"), "{out}");
    let (code, out, _) = run(&["--exposure", "--output", "md"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("### Exposure: 2 workloads"), "{out}");
    assert!(
        out.contains("| `shop/db` | ingress | nothing | | |"),
        "{out}"
    );
    let (code, _, err) = run(&["--exposure", "--output", "dot"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--exposure"), "{err}");
}

#[test]
fn a_query_to_a_range_is_allowed_only_when_every_address_of_it_is() {
    // 0.0.0.0/0 except 10/8 may reach web on 443: a range inside that is allowed ...
    let (code, out, err) = run(&[
        "--from",
        "203.0.113.0/24",
        "--to",
        "shop/web",
        "--port",
        "443",
        "--output",
        "json",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["allowed"], true);
    assert_eq!(v["from"], "203.0.113.0/24");
    assert_eq!(v["ranges"].as_array().unwrap().len(), 1);
    assert_eq!(v["ranges"][0]["range"], "203.0.113.0/24");
    assert_eq!(v["allowed_ports"], "TCP 443");

    // ... a range that reaches into 10/8 is not, and says which part is denied.
    let (code, out, _) = run(&[
        "--from",
        "8.0.0.0/5",
        "--to",
        "shop/web",
        "--port",
        "443",
        "--output",
        "json",
    ]);
    assert_eq!(code, 1, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["allowed"], false);
    let ranges: Vec<(String, bool)> = v["ranges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["range"].as_str().unwrap().to_string(),
                r["allowed"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ranges,
        [
            ("8.0.0.0/7,11.0.0.0/8,12.0.0.0/6".to_string(), true),
            ("10.0.0.0/8".to_string(), false)
        ]
    );
    assert_eq!(
        v["ingress"]["allowed"], false,
        "the sides shown are a denied range's"
    );
    assert_eq!(v["allowed_ports"], "none");

    let (code, out, _) = run(&["--from", "8.0.0.0/5", "--to", "shop/web", "--port", "443"]);
    assert_eq!(code, 1);
    assert!(out.contains("  range 10.0.0.0/8: denied"), "{out}");
    // An egress query to a range: web may reach no address at all.
    let (code, _, _) = run(&[
        "--from",
        "shop/web",
        "--to",
        "192.0.2.0/24",
        "--port",
        "443",
    ]);
    assert_eq!(code, 1);
    let (code, _, err) = run(&["--from", "10.1.2.3/8", "--to", "shop/web", "--port", "443"]);
    assert_eq!(code, 2);
    assert!(err.contains("did you mean 10.0.0.0/8?"), "{err}");
}
