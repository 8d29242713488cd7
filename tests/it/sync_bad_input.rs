//! Bad input at the cluster end: unreachable API server, wrong token, TLS mismatch, 403
//! from RBAC, a namespace stuck terminating, objects with foreign labels or finalizers.
//! Each is a clear error naming what is wrong, and nothing is deleted that the plan did not
//! name.

use crate::sync_support;

use apiserver_emu::{EmuConfig, FaultAction, FaultRule};
use serde_json::Value;
use sync_support::*;

fn shop() -> BundleSpec {
    BundleSpec::new(
        "shop",
        &["frontend", "payments"],
        &[("frontend", "web", 80), ("payments", "api", 8443)],
    )
}

/// [`shop`] and payments/db.
fn shop_with_db() -> BundleSpec {
    BundleSpec::new(
        "shop",
        &["frontend", "payments"],
        &[
            ("frontend", "web", 80),
            ("payments", "api", 8443),
            ("payments", "db", 5432),
        ],
    )
}

/// payments/NAME for each name.
fn payments(names: &[&str]) -> std::collections::BTreeSet<netpol_sync::plan::ObjectKey> {
    names
        .iter()
        .map(|name| netpol_sync::plan::ObjectKey {
            namespace: "payments".into(),
            name: name.to_string(),
        })
        .collect()
}

fn namespaces() -> Vec<String> {
    [STATE_NS, "frontend", "payments"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn message(run: &Run) -> String {
    run.json["message"].as_str().unwrap_or_default().to_string()
}

fn sync_with_kubeconfig(repo: &PolicyRepo, kubeconfig: &std::path::Path) -> Run {
    netpol_sync(&[
        "sync",
        "--once",
        "--output",
        "json",
        "--repo",
        repo.path().to_str().unwrap(),
        "--trust-anchor",
        repo.anchor.to_str().unwrap(),
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
    ])
}

#[test]
fn unreachable_api_server_is_an_error_naming_the_server() {
    let repo = PolicyRepo::new();
    repo.revision(&[shop()], "v1");
    // Bind then drop a listener: a loopback port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    std::fs::write(
        &kc,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: \"http://127.0.0.1:{port}\"}}\nusers:\n- name: u\n  user: {{token: t}}\ncontexts:\n- name: x\n  context: {{cluster: c, user: u}}\ncurrent-context: x\n"
        ),
    )
    .unwrap();
    let run = sync_with_kubeconfig(&repo, &kc);
    assert_eq!(run.code, 2, "{}", run.json);
    assert_eq!(run.json["verdict"], "error");
    assert!(
        message(&run).contains(&format!("127.0.0.1:{port}")),
        "{}",
        message(&run)
    );
}

#[test]
fn wrong_token_is_an_unauthorized_error_and_nothing_is_written() {
    let cluster = Cluster::start_with(EmuConfig {
        tls: false,
        token: Some("right-token".into()),
        namespaces: namespaces(),
    });
    let repo = PolicyRepo::new();
    repo.revision(&[shop()], "v1");
    let yaml = cluster
        .emu()
        .kubeconfig_yaml()
        .replace("right-token", "expired-token");
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    std::fs::write(&kc, yaml).unwrap();
    let run = sync_with_kubeconfig(&repo, &kc);
    assert_eq!(run.code, 2, "{}", run.json);
    assert!(
        message(&run).contains("Unauthorized") || message(&run).contains("401"),
        "{}",
        message(&run)
    );
    assert!(cluster.policy_hashes().is_empty());
}

#[test]
fn tls_certificate_of_another_server_is_refused() {
    let cluster = Cluster::start_with(EmuConfig {
        tls: true,
        token: None,
        namespaces: namespaces(),
    });
    let other = apiserver_emu::Emulator::start(EmuConfig {
        tls: true,
        token: None,
        namespaces: namespaces(),
    })
    .unwrap();
    let repo = PolicyRepo::new();
    repo.revision(&[shop()], "v1");
    // The kubeconfig trusts the other emulator's CA, not this one's.
    let yaml = cluster.emu().kubeconfig_yaml();
    let mut kc_value: Value = serde_yaml::from_str(&yaml).unwrap();
    let other_value: Value = serde_yaml::from_str(&other.kubeconfig_yaml()).unwrap();
    kc_value["clusters"][0]["cluster"]["certificate-authority-data"] =
        other_value["clusters"][0]["cluster"]["certificate-authority-data"].clone();
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    std::fs::write(&kc, serde_yaml::to_string(&kc_value).unwrap()).unwrap();
    let run = sync_with_kubeconfig(&repo, &kc);
    assert_eq!(run.code, 2, "{}", run.json);
    let m = message(&run).to_lowercase();
    assert!(
        m.contains("certificate") || m.contains("unknownissuer"),
        "{m}"
    );
    assert!(cluster.policy_hashes().is_empty());
}

#[test]
fn forbidden_by_rbac_names_what_was_forbidden_and_nothing_is_written() {
    let cluster = Cluster::start_emulator(&["frontend", "payments"]);
    let repo = PolicyRepo::new();
    repo.revision(&[shop()], "v1");
    cluster.emu().inject(
        FaultRule::new(
            "/apis/networking.k8s.io/v1/networkpolicies",
            FaultAction::Status(403),
        )
        .method("GET"),
    );
    let requests = cluster.write_mark();
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 2, "{}", run.json);
    assert!(
        message(&run).contains("NetworkPolicies"),
        "{}",
        message(&run)
    );
    assert!(
        message(&run).to_lowercase().contains("forbidden") || message(&run).contains("403"),
        "{}",
        message(&run)
    );
    assert!(cluster.policy_writes_since(requests).is_empty());
}

#[test]
fn namespace_stuck_terminating_is_named_and_skipped_and_nothing_is_written_into_it() {
    let cluster = Cluster::start_emulator(&["frontend", "payments"]);
    let repo = PolicyRepo::new();
    repo.revision(&[shop()], "v1");
    cluster.emu().set_namespace_terminating("payments");
    let requests = cluster.write_mark();
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 0, "{}", run.json);
    assert!(
        message(&run).contains("payments (is terminating"),
        "{}",
        message(&run)
    );
    assert!(cluster
        .policy_writes_since(requests)
        .iter()
        .all(|w| !w.contains("/namespaces/payments/")));
    assert!(cluster.policy("frontend", "web").is_some());
}

#[test]
fn foreign_labelled_policy_in_scope_is_deleted_by_name_and_foreign_finalizers_survive_an_update() {
    let cluster = Cluster::start(&["frontend", "payments", "elsewhere"]);
    let repo = PolicyRepo::new();
    repo.revision(&[shop()], "v1");
    assert_eq!(sync(&repo, &cluster, &[]).code, 0);

    // A helm-labelled policy inside the governed scope, and one outside it.
    for ns in ["payments", "elsewhere"] {
        let mut doc: Value = serde_yaml::from_str(&policy_yaml(ns, "helm-owned", 7)).unwrap();
        doc["metadata"]["labels"] = serde_json::json!({"app.kubernetes.io/managed-by": "Helm"});
        let out = cluster.kubectl(&["create", "-f", "-"], Some(&doc.to_string()));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A controller adds its finalizer and changes a port on one of ours.
    let mut web = cluster.policy("frontend", "web").unwrap();
    web["metadata"]["finalizers"] = serde_json::json!(["example.com/audit"]);
    web["spec"]["ingress"][0]["ports"][0]["port"] = Value::from(81);
    let out = cluster.kubectl(&["replace", "-f", "-"], Some(&web.to_string()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    let deleted: Vec<String> = run.json["extra"]["plan"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "delete")
        .map(|e| {
            format!(
                "{}/{}",
                e["namespace"].as_str().unwrap(),
                e["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(deleted, vec!["payments/helm-owned"]);
    assert!(cluster.policy("payments", "helm-owned").is_none());
    assert!(
        cluster.policy("elsewhere", "helm-owned").is_some(),
        "outside the scope: never touched"
    );
    let web = cluster.policy("frontend", "web").unwrap();
    assert_eq!(
        web["metadata"]["finalizers"],
        serde_json::json!(["example.com/audit"])
    );
    assert_eq!(web["spec"]["ingress"][0]["ports"][0]["port"], 80);
    // A second cycle sees nothing to do: the finalizer is not a difference.
    let again = sync(&repo, &cluster, &[]);
    assert_eq!(again.json["verdict"], "unchanged", "{}", again.json);
}

/// Over HTTP, as kube-apiserver does it: a delete of an object with finalizers only marks
/// it, and it stays until its finalizers are removed.
#[test]
fn a_policy_held_by_a_foreign_finalizer_is_left_to_it_and_a_revision_needing_it_names_it() {
    let cluster = Cluster::start(&["frontend", "payments"]);
    let repo = PolicyRepo::new();
    repo.revision(&[shop_with_db()], "v1");
    assert_eq!(sync(&repo, &cluster, &[]).code, 0);
    let mut api = cluster.policy("payments", "api").unwrap();
    api["metadata"]["finalizers"] = serde_json::json!(["example.com/audit"]);
    let out = cluster.kubectl(&["replace", "-f", "-"], Some(&api.to_string()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // v2 no longer has payments/api: the delete marks it, and it still applies until its
    // finalizer goes, so the cycle is no success (held-by-finalizer), naming it.
    let without_api = BundleSpec::new(
        "shop",
        &["frontend", "payments"],
        &[("frontend", "web", 80), ("payments", "db", 5432)],
    );
    repo.revision(&[without_api], "v2: api goes");
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 2, "{}\n{}", run.json, run.stderr);
    assert_eq!(run.json["reason"], "held-by-finalizer", "{}", run.json);
    assert_eq!(run.json["deleted"], 1, "{}", run.json);
    let held = cluster
        .policy("payments", "api")
        .expect("held by its finalizer");
    assert!(held["metadata"]["deletionTimestamp"].is_string(), "{held}");

    // The next cycle writes nothing (it is left to its finalizer) but says so again.
    let requests = cluster.write_mark();
    let again = sync(&repo, &cluster, &[]);
    assert_eq!(again.json["reason"], "held-by-finalizer", "{}", again.json);
    assert!(cluster.policy_writes_since(requests).is_empty());

    // v3 wants payments/api back while it is still being deleted: refused, naming it and
    // what holds it, and nothing is written.
    repo.revision(&[shop_with_db()], "v3: api returns");
    let requests = cluster.write_mark();
    let blocked = sync(&repo, &cluster, &[]);
    assert_ne!(blocked.code, 0, "{}", blocked.json);
    let text = message(&blocked);
    assert!(
        text.contains("payments/api") && text.contains("example.com/audit"),
        "{text}"
    );
    assert!(cluster.policy_writes_since(requests).is_empty());

    // Its owner lets go; the object is gone and the next sync puts v3's back.
    cluster.set_finalizers(&payments(&["api"]), None);
    assert!(cluster.policy("payments", "api").is_none());
    let back = sync(&repo, &cluster, &[]);
    assert_eq!(back.code, 0, "{}\n{}", back.json, back.stderr);
    assert_eq!(back.json["created"], 1, "{}", back.json);
    assert_eq!(cluster.policy_hashes(), expected_hashes(&[shop_with_db()]));
}

/// v2 of [`prune_with_a_failing_delete`]: payments keeps one (new) policy, or the
/// would-open-namespace guard refuses it.
fn v2_without_api_and_db() -> BundleSpec {
    BundleSpec::new(
        "shop",
        &["frontend", "payments"],
        &[("frontend", "web", 80), ("payments", "keep", 9000)],
    )
}

/// v1: frontend/web, payments/api, payments/db; v2 keeps frontend/web and adds
/// payments/keep ([`v2_without_api_and_db`]). `held` get a
/// foreign finalizer, and every real delete of payments/`failing` fails (its dry run passes).
fn prune_with_a_failing_delete(
    cluster: &Cluster,
    held: &[&str],
    failing: &str,
) -> (Run, PolicyRepo, BundleSpec) {
    let v1 = shop_with_db();
    let repo = PolicyRepo::new();
    repo.revision(std::slice::from_ref(&v1), "v1");
    assert_eq!(sync(&repo, cluster, &[]).code, 0);
    cluster.set_finalizers(&payments(held), Some(&["example.com/hold"]));
    let v2 = v2_without_api_and_db();
    repo.revision(std::slice::from_ref(&v2), "v2: api and db go");
    let path = format!("/apis/networking.k8s.io/v1/namespaces/payments/networkpolicies/{failing}");
    cluster.fail_real_writes("DELETE", &path);
    let run = sync(&repo, cluster, &[]);
    cluster.emu().clear_faults();
    assert_eq!(run.code, 2, "{}\n{}", run.json, run.stderr);
    assert_eq!(run.json["reason"], "apply-failed", "{}", run.json);
    (run, repo, v1)
}

/// A delete of a policy held by someone else's finalizers cannot be undone while they hold
/// it, so such deletes go after every other write: when an ordinary delete fails, the held
/// policy has not been touched and the previous revision is put back whole.
#[test]
fn held_policies_are_pruned_last_so_a_failed_prune_puts_the_old_revision_back_whole() {
    let cluster = Cluster::start_emulator(&["frontend", "payments"]);
    let (run, _repo, v1) = prune_with_a_failing_delete(&cluster, &["api"], "db");
    let text = message(&run);
    assert!(
        text.contains("put back") && !text.contains("EXCEPT"),
        "{text}"
    );
    let api = cluster.policy("payments", "api").expect("never deleted");
    assert!(api["metadata"]["deletionTimestamp"].is_null(), "{api}");
    cluster.set_finalizers(&payments(&["api"]), None);
    assert_eq!(
        in_namespaces(&cluster.policy_hashes(), &["frontend", "payments"]),
        expected_hashes(&[v1])
    );
}

/// When two held policies are pruned and one delete fails, the other is already marked and
/// cannot be written back: the restore says so by name instead of claiming the previous
/// revision is back, and once the finalizer goes the next cycle completes the new revision.
#[test]
fn a_restore_that_cannot_write_back_a_marked_policy_names_it() {
    let cluster = Cluster::start_emulator(&["frontend", "payments"]);
    let (run, repo, v1) = prune_with_a_failing_delete(&cluster, &["api", "db"], "db");
    let text = message(&run);
    assert!(
        text.contains("EXCEPT")
            && text.contains("payments/api (being deleted, held by finalizers [example.com/hold])"),
        "{text}"
    );
    assert!(!text.contains("payments/db (being"), "{text}");
    cluster.set_finalizers(&payments(&["api", "db"]), None);
    let mut without_api = expected_hashes(&[v1]);
    without_api.retain(|k, _| k.name != "api");
    assert_eq!(
        in_namespaces(&cluster.policy_hashes(), &["frontend", "payments"]),
        without_api
    );
    let next = sync(&repo, &cluster, &[]);
    assert_eq!(next.code, 0, "{}\n{}", next.json, next.stderr);
    assert_eq!(
        in_namespaces(&cluster.policy_hashes(), &["frontend", "payments"]),
        expected_hashes(&[v2_without_api_and_db()])
    );
}

#[test]
fn malformed_or_oversized_trust_anchor_is_an_error_and_nothing_is_written() {
    let cluster = Cluster::start(&["frontend", "payments"]);
    let repo = PolicyRepo::new();
    repo.revision(&[shop()], "v1");
    let original = std::fs::read(&repo.anchor).unwrap();
    // A line with an unknown key type, then an anchor past the reader's 1 MiB limit.
    let hostile: [Vec<u8>; 2] = [
        b"alice ssh-unknown AAAAC3NzaC1lZDI1NTE5AAAAIA==\n".to_vec(),
        vec![b'#'; 2 * 1024 * 1024],
    ];
    for anchor in hostile {
        std::fs::write(&repo.anchor, &anchor).unwrap();
        let requests = cluster.write_mark();
        let run = sync(&repo, &cluster, &[]);
        assert_eq!(run.code, 2, "{}", run.json);
        assert_eq!(run.json["verdict"], "error");
        assert_eq!(run.json["reason"], "trust-file-invalid", "{}", run.json);
        assert!(cluster.policy_writes_since(requests).is_empty());
    }
    std::fs::write(&repo.anchor, original).unwrap();
    assert_eq!(sync(&repo, &cluster, &[]).code, 0);
}
