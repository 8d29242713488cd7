//! `netpol-sync import` as a team adopting netpol-sync runs it (docs/import.md): the live
//! policies of some namespaces become a bundle, which `bundle sign` signs and a signed
//! commit carries; the first `plan` against the same cluster then changes no policy's
//! content, only adopts each one. Against the emulator and the real kube-apiserver, under
//! netpol-sync's own identity there (deploy/rbac.yaml).

use crate::sync_support;

use serde_json::Value;
use std::path::Path;
use std::process::Command;
use sync_support::*;

const A: &str = "import-a";
const B: &str = "import-b";
/// Holds a policy too, and is not imported.
const OTHER: &str = "import-other";

/// What the team enforced by hand: defaults left to the server, labels, annotations,
/// kubectl's own annotation from `kubectl apply`.
fn hand_made(cluster: &Cluster) {
    cluster.hand_create(&format!(
        "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny
  namespace: {A}
  labels: {{team: a}}
  annotations: {{owner: platform}}
spec:
  podSelector: {{}}
  policyTypes: [Ingress, Egress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: api-from-b
  namespace: {A}
spec:
  podSelector:
    matchLabels: {{app: api}}
  ingress:
  - from:
    - namespaceSelector:
        matchLabels: {{kubernetes.io/metadata.name: {B}}}
    ports:
    - port: 8443
    - port: 9000
      endPort: 9010
  egress:
  - to:
    - ipBlock: {{cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: deny
  namespace: {OTHER}
spec:
  podSelector: {{}}
"
    ));
    let applied = cluster.kubectl(
        &["apply", "-f", "-"],
        Some(&format!(
            "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: dns
  namespace: {B}
spec:
  podSelector: {{}}
  policyTypes: [Egress]
  egress:
  - ports:
    - {{protocol: UDP, port: 53}}
"
        )),
    );
    assert!(
        applied.status.success(),
        "{}",
        String::from_utf8_lossy(&applied.stderr)
    );
}

fn import(cluster_kubeconfig: &Path, dir: &Path, namespaces: &str, bundle: &str) -> Run {
    netpol_sync(&[
        "import",
        "--kubeconfig",
        &cluster_kubeconfig.display().to_string(),
        "--namespace",
        namespaces,
        "--bundle",
        bundle,
        &dir.display().to_string(),
    ])
}

fn bundle_sign(repo: &PolicyRepo, bundle: &str) {
    let out = Command::new(crate::support::netpol_sync_bin())
        .args(["bundle", "sign"])
        .arg(repo.path().join("bundles").join(bundle))
        .arg("--key")
        .arg(&repo.key.private)
        .stdin(std::process::Stdio::null())
        .env_remove("SSH_AUTH_SOCK")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "bundle sign: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn entries(run: &Run) -> Vec<Value> {
    run.json["extra"]["plan"]
        .as_array()
        .or_else(|| run.json["plan"].as_array())
        .cloned()
        .unwrap_or_default()
}

#[test]
fn import_then_plan_adopts_every_policy_and_sync_changes_no_content() {
    let cluster = Cluster::start(&[A, B, OTHER]);
    hand_made(&cluster);
    let before = cluster.policy_hashes();
    let repo = PolicyRepo::new();

    let run = import(
        &cluster.kubeconfig,
        repo.path(),
        &format!("{A},{B}"),
        "adopted",
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let dir = repo.path().join("bundles/adopted");
    let mut files: Vec<String> = walk(&dir);
    files.sort();
    assert_eq!(
        files,
        [
            "bundle.yaml",
            &format!("{A}/api-from-b.yaml"),
            &format!("{A}/default-deny.yaml"),
            &format!("{B}/dns.yaml"),
        ]
    );
    let text = std::fs::read_to_string(dir.join(format!("{A}/default-deny.yaml"))).unwrap();
    for server_field in [
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "managedFields",
        "generation",
    ] {
        assert!(!text.contains(server_field), "{server_field} in {text}");
    }
    assert!(
        text.contains("team: a") && text.contains("owner: platform"),
        "{text}"
    );
    let manifest = std::fs::read_to_string(dir.join("bundle.yaml")).unwrap();
    assert!(
        manifest.contains(&format!("namespaces: [{A}, {B}]")),
        "{manifest}"
    );
    // The seal is current: nothing to re-seal before signing.
    let check = netpol_sync(&["bundle", "seal", &dir.display().to_string(), "--check"]);
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);

    bundle_sign(&repo, "adopted");
    repo.commit("Import the policies in place");
    let planned = plan(&repo, &cluster, &[]);
    assert_eq!(planned.code, 0, "{}\n{}", planned.stdout, planned.stderr);
    assert_eq!(planned.json["created"], 0, "{}", planned.stdout);
    assert_eq!(planned.json["deleted"], 0, "{}", planned.stdout);
    assert_eq!(planned.json["updated"], 3, "{}", planned.stdout);
    let writes = entries(&planned);
    assert_eq!(writes.len(), 3, "{}", planned.stdout);
    for w in &writes {
        assert_eq!(w["action"], "update", "{w}");
        assert_eq!(w["adopt"], true, "an adoption, not a content change: {w}");
    }
    let text = plan_text(&repo, &cluster, &[]);
    assert!(
        text.stdout.contains(&format!("~ adopt  {A}/default-deny")),
        "{}",
        text.stdout
    );

    let synced = sync(&repo, &cluster, &[]);
    assert_eq!(synced.code, 0, "{}\n{}", synced.stdout, synced.stderr);
    assert_eq!(
        cluster.policy_hashes(),
        before,
        "every policy keeps its content, the one not imported included"
    );
    let again = plan(&repo, &cluster, &[]);
    assert_eq!(again.json["unchanged"], 3, "{}", again.stdout);
    assert!(entries(&again).is_empty(), "{}", again.stdout);
}

#[test]
fn a_policy_held_by_a_finalizer_is_adopted_and_keeps_it() {
    let cluster = Cluster::start(&["import-held"]);
    cluster.hand_create(
        "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: held
  namespace: import-held
  finalizers: [example.com/keep]
spec:
  podSelector: {}
",
    );
    let repo = PolicyRepo::new();
    let run = import(&cluster.kubeconfig, repo.path(), "import-held", "held");
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("finalizers (example.com/keep) left out"),
        "{}",
        run.stdout
    );
    let file =
        std::fs::read_to_string(repo.path().join("bundles/held/import-held/held.yaml")).unwrap();
    assert!(!file.contains("finalizers"), "{file}");
    bundle_sign(&repo, "held");
    repo.commit("Import");
    let planned = plan(&repo, &cluster, &[]);
    let writes = entries(&planned);
    assert_eq!(writes.len(), 1, "{}", planned.stdout);
    assert_eq!(writes[0]["adopt"], true, "{}", writes[0]);
    let synced = sync(&repo, &cluster, &[]);
    assert_eq!(synced.code, 0, "{}\n{}", synced.stdout, synced.stderr);
    let live = cluster.policy("import-held", "held").expect("still there");
    assert_eq!(
        live["metadata"]["finalizers"],
        serde_json::json!(["example.com/keep"]),
        "someone else's finalizer stays: {live}"
    );
    // Let the namespace go when the test's server is torn down.
    cluster.set_finalizers(
        &[netpol_sync::plan::ObjectKey {
            namespace: "import-held".into(),
            name: "held".into(),
        }]
        .into_iter()
        .collect(),
        None,
    );
}

#[test]
fn an_unreachable_cluster_is_a_clear_error_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let kubeconfig = tmp.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: 'http://127.0.0.1:1'}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
",
    )
    .unwrap();
    let repo = tmp.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    let run = import(&kubeconfig, &repo, "a", "adopted");
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("127.0.0.1:1"),
        "names the server: {}",
        run.stderr
    );
    assert_eq!(walk(&repo), Vec::<String>::new(), "nothing written");
}

#[test]
fn bad_requests_are_refused_before_reading_the_cluster() {
    let tmp = tempfile::tempdir().unwrap();
    // No cluster at all: each is refused before one is needed.
    let kubeconfig = tmp.path().join("absent-kubeconfig");
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(repo.join("bundles/taken")).unwrap();
    for (namespaces, bundle, dir, expect) in [
        ("a", "taken", repo.clone(), "exists"),
        (
            "Not_A_Namespace",
            "new",
            repo.clone(),
            "not a DNS-1123 label",
        ),
        ("a", "Bad.Name", repo.clone(), "not a DNS-1123 label"),
        ("a", "new", tmp.path().join("missing"), "not a directory"),
    ] {
        let run = import(&kubeconfig, &dir, namespaces, bundle);
        assert_eq!(run.code, 2, "{namespaces} {bundle}: {}", run.stderr);
        assert!(run.stderr.contains(expect), "{}", run.stderr);
    }
    assert_eq!(walk(&repo), Vec::<String>::new(), "nothing written");
}

/// Every file below `dir`, relative, `/`-separated.
fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(
                    path.strip_prefix(dir)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
            }
        }
    }
    out
}
