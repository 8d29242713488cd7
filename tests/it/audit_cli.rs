//! `netpol-sync audit` (docs/audit.md): the enforced revision from the authenticated state
//! record, verified again and matched policy by policy with the live cluster, against the
//! emulator and the real kube-apiserver. Hand-made, hand-deleted and hand-edited policies
//! are named with who made them, and only an exact cluster exits 0.

use crate::sync_support;

use serde_json::Value;
use sync_support::*;

fn shop() -> BundleSpec {
    BundleSpec::new(
        "shop",
        &["frontend", "payments"],
        &[
            ("frontend", "default-deny", 1),
            ("frontend", "web", 80),
            ("payments", "api", 8443),
        ],
    )
}

fn audit(repo: &PolicyRepo, cluster: &Cluster, state_key: &str, output: &str) -> Run {
    audit_with(repo, cluster, state_key, output, &[])
}

fn audit_with(
    repo: &PolicyRepo,
    cluster: &Cluster,
    state_key: &str,
    output: &str,
    extra: &[&str],
) -> Run {
    let repo_path = repo.path().display().to_string();
    let anchor = repo.anchor.display().to_string();
    let kubeconfig = cluster.kubeconfig.display().to_string();
    netpol_sync(
        &[
            "audit",
            "--repo",
            &repo_path,
            "--trust-anchor",
            &anchor,
            "--kubeconfig",
            &kubeconfig,
            "--state-key",
            state_key,
            "--output",
            output,
        ]
        .iter()
        .chain(extra)
        .copied()
        .collect::<Vec<_>>(),
    )
}

fn entry<'a>(report: &'a Value, namespace: &str, name: &str) -> &'a Value {
    report["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["namespace"] == namespace)
        .and_then(|n| {
            n["policies"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == name)
        })
        .unwrap_or_else(|| panic!("{namespace}/{name} not in {report}"))
}

#[test]
fn audit_names_each_policys_signed_source_and_every_hand_change() {
    let cluster = Cluster::start(&["frontend", "payments"]);
    let repo = PolicyRepo::new();
    let rev = repo.revision(&[shop()], "shop");
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    let key = cluster.state_key.display().to_string();

    let run = audit(&repo, &cluster, &key, "json");
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let r = &run.json;
    assert_eq!(r["exact"], true, "{r}");
    assert_eq!(r["revision"], rev.as_str());
    assert_eq!(r["signer"]["principal"], "alice@example.com");
    assert!(r["committedAt"].as_str().unwrap().ends_with('Z'), "{r}");
    assert!(r["appliedAt"].is_string(), "{r}");
    assert_eq!(r["counts"]["signed"], 3);
    let web = entry(r, "frontend", "web");
    assert_eq!(web["status"], "signed");
    assert_eq!(web["bundle"], "shop");
    assert_eq!(web["file"], "frontend/web.yaml");
    assert_eq!(web["document"], 0);
    assert!(web["bundleDigest"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(web["signedHash"], web["liveHash"]);
    let expected = expected_hashes(&[shop()]);
    let key_of = |ns: &str, name: &str| netpol_sync::plan::ObjectKey {
        namespace: ns.into(),
        name: name.into(),
    };
    assert_eq!(
        web["signedHash"].as_str(),
        expected.get(&key_of("frontend", "web")).map(String::as_str),
        "the signed hash is the policy's own, computed independently"
    );

    // Three hand changes: a policy made, one deleted, one edited.
    cluster.hand_create(&debug_open("payments"));
    cluster.hand_delete("frontend", "default-deny");
    cluster.hand_open_ingress("payments", "api");

    let run = audit(&repo, &cluster, &key, "json");
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let r = &run.json;
    assert_eq!(r["exact"], false);
    assert_eq!(
        (
            &r["counts"]["signed"],
            &r["counts"]["differs"],
            &r["counts"]["missing"],
            &r["counts"]["unsigned"]
        ),
        (
            &Value::from(1),
            &Value::from(1),
            &Value::from(1),
            &Value::from(1)
        ),
        "{r}"
    );
    let made = entry(r, "payments", "debug-open");
    assert_eq!(made["status"], "unsigned");
    assert_eq!(made["fieldManager"], "kubectl-create");
    assert!(made.get("bundle").is_none(), "{made}");
    assert_eq!(entry(r, "frontend", "default-deny")["status"], "missing");
    let edited = entry(r, "payments", "api");
    assert_eq!(edited["status"], "differs");
    assert_eq!(edited["fieldManager"], "kubectl-patch");
    assert_ne!(edited["signedHash"], edited["liveHash"]);

    // The text and the Markdown say the same, for a person and for a ticket.
    let text = audit(&repo, &cluster, &key, "text");
    assert_eq!(text.code, 1);
    for needle in [
        "NOT EXACT",
        "UNSIGNED  debug-open",
        "written by kubectl-create",
        "MISSING   default-deny  shop/frontend/default-deny.yaml #0",
        "DIFFERS   api  shop/payments/api.yaml #0",
        "signed    web  shop/frontend/web.yaml #0",
    ] {
        assert!(
            text.stdout.contains(needle),
            "{needle:?} not in\n{}",
            text.stdout
        );
    }
    let md = audit(&repo, &cluster, &key, "md");
    assert!(md.stdout.contains("#### `payments`"), "{}", md.stdout);
    assert!(
        md.stdout.contains("| `debug-open` | UNSIGNED |"),
        "{}",
        md.stdout
    );

    // The next sync puts the revision back; the audit is exact again.
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    assert_eq!(audit(&repo, &cluster, &key, "json").code, 0);
}

#[test]
fn no_evidence_without_an_authenticated_record() {
    let cluster = Cluster::start(&["frontend", "payments"]);
    let repo = PolicyRepo::new();
    repo.revision(&[shop()], "shop");
    let key = cluster.state_key.display().to_string();

    // Nothing applied yet: no record to audit against.
    let run = audit(&repo, &cluster, &key, "json");
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("no state record"), "{}", run.stderr);

    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    // Another key: the record is a claim, not evidence.
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other-key");
    std::fs::write(&other, "11".repeat(32)).unwrap();
    let run = audit(&repo, &cluster, &other.display().to_string(), "json");
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("does not authenticate"),
        "{}",
        run.stderr
    );
}

/// With `--immutable-objects` each object's name says which content it must hold: the
/// audit matches `<policy>-<hash>` objects, and one edited in place differs.
#[test]
fn audit_of_immutable_objects_matches_them_by_their_names() {
    let cluster = Cluster::start(&["frontend", "payments"]);
    let repo = PolicyRepo::new();
    repo.revision(&[shop()], "shop");
    let run = sync(&repo, &cluster, &["--immutable-objects"]);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    let key = cluster.state_key.display().to_string();
    let immutable = ["--immutable-objects"];

    let run = audit_with(&repo, &cluster, &key, "json", &immutable);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let expected = expected_immutable(&[shop()]);
    let web = expected
        .keys()
        .find(|k| k.name.starts_with("web-"))
        .unwrap()
        .clone();
    let entry_web = entry(&run.json, "frontend", &web.name);
    assert_eq!(entry_web["status"], "signed");
    assert_eq!(entry_web["policy"], "web");
    assert_eq!(
        entry_web["signedHash"].as_str(),
        expected.get(&web).map(String::as_str)
    );

    // Without the flag the same cluster is not the revision's plain names.
    let run = audit(&repo, &cluster, &key, "json");
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(run.json["counts"]["missing"], 3, "{}", run.json);
    assert_eq!(run.json["counts"]["unsigned"], 3, "{}", run.json);

    cluster.hand_open_ingress("frontend", &web.name);
    let run = audit_with(&repo, &cluster, &key, "text", &immutable);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout
            .contains(&format!("DIFFERS   {} (policy web)", web.name)),
        "{}",
        run.stdout
    );
}
