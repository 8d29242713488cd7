//! End-to-end flows of `netpol-sync plan` / `sync --once` / `status`, over HTTP against
//! apiserver-emu, with repositories signed by the real git and ssh-keygen. Every sync is
//! checked against the invariant over the emulator's change log (`sync_support::sync`
//! does it for each sync of a known revision).

use crate::sync_support;

use apiserver_emu::{FaultAction, FaultRule};
use serde_json::Value;
use std::collections::BTreeMap;
use sync_support::*;

fn shop_v1() -> BundleSpec {
    BundleSpec::new(
        "shop",
        &["frontend", "payments"],
        &[
            ("frontend", "default-deny", 1),
            ("frontend", "web", 80),
            ("payments", "default-deny", 1),
            ("payments", "api", 8443),
        ],
    )
}

fn counts(run: &Run) -> (u64, u64, u64, u64) {
    let n = |k: &str| run.json[k].as_u64().unwrap_or(u64::MAX);
    (n("created"), n("updated"), n("deleted"), n("unchanged"))
}

#[test]
fn first_sync_applies_the_revision_records_state_and_a_second_sync_writes_nothing() {
    let cluster = Cluster::start(&["frontend", "payments"]);
    let repo = PolicyRepo::new();
    let rev = repo.revision(&[shop_v1()], "shop v1");

    let from = cluster.history_len();
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    assert_eq!(run.json["verdict"], "applied");
    assert_eq!(run.json["revision"], rev.as_str());
    assert_eq!(counts(&run), (4, 0, 0, 0));
    assert_eq!(run.json["bundles"][0]["name"], "shop");
    assert!(run.json["bundles"][0]["digest"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    assert_eq!(
        in_namespaces(&cluster.policy_hashes(), &["frontend", "payments"]),
        expected_hashes(&[shop_v1()])
    );
    netpol_testkit::invariant::check_write_order(&write_actions(&cluster, from)).unwrap();

    let obj = cluster.policy("payments", "api").unwrap();
    assert_eq!(
        obj["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "netpol-sync"
    );
    assert_eq!(
        obj["metadata"]["annotations"]["netpol-sync.io/revision"],
        rev.as_str()
    );
    assert_eq!(
        obj["metadata"]["annotations"]["netpol-sync.io/bundle"],
        "shop"
    );
    assert_eq!(
        obj["metadata"]["annotations"]["netpol-sync.io/bundle-digest"],
        run.json["bundles"][0]["digest"]
    );
    assert!(
        obj["metadata"]["annotations"]["netpol-sync.io/content-hash"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );

    let kc = cluster.kubeconfig.display().to_string();
    let status = netpol_sync(&["status", "--kubeconfig", &kc, "--output", "json"]);
    assert_eq!(status.code, 0, "{}", status.stderr);
    assert_eq!(status.json["revision"], rev.as_str());
    assert_eq!(status.json["bundles"][0]["name"], "shop");
    assert_eq!(
        status.json["bundles"][0]["digest"],
        run.json["bundles"][0]["digest"]
    );
    assert_eq!(
        status.json["extra"]["signer"]["principal"],
        "alice@example.com"
    );
    assert_eq!(status.json["extra"]["managedPolicies"], 4);

    let mark = cluster.write_mark();
    let again = sync(&repo, &cluster, &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.json["verdict"], "unchanged");
    assert_eq!(counts(&again), (0, 0, 0, 4));
    let writes = cluster.writes_since(mark);
    assert!(writes.is_empty(), "a no-op cycle wrote: {writes:?}");
}

#[test]
fn signed_change_updates_creates_and_prunes_with_exactly_those_writes() {
    let cluster = Cluster::start(&["frontend", "payments"]);
    let repo = PolicyRepo::new();
    repo.revision(&[shop_v1()], "v1");
    assert_eq!(sync(&repo, &cluster, &[]).code, 0);

    let mut v2 = shop_v1();
    v2.policies.retain(|p| p.1 != "web");
    v2.policies
        .iter_mut()
        .filter(|p| p.1 == "api")
        .for_each(|p| p.2 = 9443);
    v2.policies.push(("frontend".into(), "web-v2".into(), 8080));
    let rev2 = repo.revision(std::slice::from_ref(&v2), "v2: move web, new api port");

    let plan = plan(&repo, &cluster, &[]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert_eq!(plan.json["verdict"], "verified");
    let entries: Vec<(String, String)> = plan.json["extra"]["plan"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                format!(
                    "{}/{}",
                    e["namespace"].as_str().unwrap(),
                    e["name"].as_str().unwrap()
                ),
            )
        })
        .collect();
    assert_eq!(
        entries,
        vec![
            ("create".to_string(), "frontend/web-v2".to_string()),
            ("update".to_string(), "payments/api".to_string()),
            ("delete".to_string(), "frontend/web".to_string()),
        ]
    );

    let from = cluster.history_len();
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json["revision"], rev2.as_str());
    assert_eq!(counts(&run), (1, 1, 1, 2));
    assert_eq!(
        write_actions(&cluster, from).len(),
        3,
        "exactly the planned writes changed the cluster"
    );
    netpol_testkit::invariant::check_write_order(&write_actions(&cluster, from)).unwrap();
    assert_eq!(
        in_namespaces(&cluster.policy_hashes(), &["frontend", "payments"]),
        expected_hashes(&[v2])
    );
}

#[test]
fn one_policy_change_is_exactly_one_policy_write_plus_the_state_record() {
    let cluster = Cluster::start(&["frontend", "payments"]);
    let repo = PolicyRepo::new();
    repo.revision(&[shop_v1()], "v1");
    assert_eq!(sync(&repo, &cluster, &[]).code, 0);
    let mut v2 = shop_v1();
    v2.policies[1].2 = 81;
    repo.revision(&[v2], "v2");
    let mark = cluster.write_mark();
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let writes = cluster.writes_since(mark);
    let paths: Vec<&str> = writes.iter().map(String::as_str).collect();
    assert_eq!(writes.len(), 2, "{paths:?}");
    assert!(
        paths.iter().any(|p| p.ends_with("/networkpolicies/web")),
        "{paths:?}"
    );
    assert!(
        paths
            .iter()
            .any(|p| p.ends_with("/configmaps/netpol-sync-state")),
        "{paths:?}"
    );
}

#[test]
fn hand_made_debug_hole_hand_edit_and_deletion_are_reverted_and_reported() {
    let cluster = Cluster::start(&["frontend", "payments"]);
    let repo = PolicyRepo::new();
    repo.revision(&[shop_v1()], "v1");
    assert_eq!(sync(&repo, &cluster, &[]).code, 0);

    let hole = policy_yaml("payments", "debug-allow-all", 1);
    let out = cluster.kubectl(&["create", "-f", "-"], Some(&hole));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut edited = cluster.policy("frontend", "web").unwrap();
    edited["spec"]["ingress"][0]["ports"][0]["port"] = Value::from(22);
    let out = cluster.kubectl(&["replace", "-f", "-"], Some(&edited.to_string()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cluster.kubectl(&["delete", "networkpolicy", "-n", "payments", "api"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(counts(&run), (1, 1, 1, 2));
    let drift: BTreeMap<String, (String, Option<String>)> = run.json["extra"]["drift"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                format!(
                    "{}/{}",
                    d["namespace"].as_str().unwrap(),
                    d["name"].as_str().unwrap()
                ),
                (
                    d["kind"].as_str().unwrap().to_string(),
                    d["field_manager"].as_str().map(String::from),
                ),
            )
        })
        .collect();
    assert_eq!(drift["payments/debug-allow-all"].0, "created");
    assert!(
        drift["payments/debug-allow-all"]
            .1
            .as_deref()
            .is_some_and(|m| m.starts_with("kubectl")),
        "{drift:?}"
    );
    assert_eq!(drift["frontend/web"].0, "modified");
    assert!(
        drift["frontend/web"]
            .1
            .as_deref()
            .is_some_and(|m| m.starts_with("kubectl")),
        "{drift:?}"
    );
    assert_eq!(drift["payments/api"].0, "deleted");
    assert_eq!(
        in_namespaces(&cluster.policy_hashes(), &["frontend", "payments"]),
        expected_hashes(&[shop_v1()])
    );
}

#[test]
fn concurrent_hand_edit_during_a_sync_is_a_conflict_that_is_re_read_and_re_planned() {
    let cluster = Cluster::start_emulator(&["frontend", "payments"]);
    let repo = PolicyRepo::new();
    repo.revision(&[shop_v1()], "v1");
    assert_eq!(sync(&repo, &cluster, &[]).code, 0);
    let mut v2 = shop_v1();
    v2.policies[1].2 = 8080;
    repo.revision(std::slice::from_ref(&v2), "v2");

    // Hold the first PUT (the dry-run replace of frontend/web) long enough to edit the
    // object by hand in between: the replace then carries a stale resourceVersion.
    cluster.emu().inject(
        FaultRule::new(
            "/namespaces/frontend/networkpolicies/web",
            FaultAction::Latency(std::time::Duration::from_millis(1500)),
        )
        .method("PUT")
        .times(1),
    );
    let start = in_namespaces(&cluster.policy_hashes(), &["frontend", "payments"]);
    let from = cluster.history_len();
    let requests = cluster.request_count();
    let handle = {
        let repo_path = repo.path().to_path_buf();
        let anchor = repo.anchor.clone();
        let kc = cluster.kubeconfig.clone();
        std::thread::spawn(move || {
            netpol_sync(&[
                "sync",
                "--once",
                "--repo",
                repo_path.to_str().unwrap(),
                "--trust-anchor",
                anchor.to_str().unwrap(),
                "--kubeconfig",
                kc.to_str().unwrap(),
                "--output",
                "json",
            ])
        })
    };
    // Wait (bounded) until the sync has listed the policies, then edit by hand.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !cluster
        .emu()
        .requests()
        .iter()
        .skip(requests)
        .any(|r| r.method == "GET" && r.path.ends_with("/networkpolicies"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "sync never listed policies"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let mut edited = cluster.policy("frontend", "web").unwrap();
    edited["spec"]["ingress"][0]["ports"][0]["port"] = Value::from(22);
    let out = cluster.kubectl(&["replace", "-f", "-"], Some(&edited.to_string()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let run = handle.join().unwrap();
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    let conflicts = cluster
        .emu()
        .requests()
        .into_iter()
        .skip(requests)
        .filter(|r| r.status == 409)
        .count();
    assert!(
        conflicts >= 1,
        "the stale replace must have been refused with 409"
    );
    assert_eq!(
        in_namespaces(&cluster.policy_hashes(), &["frontend", "payments"]),
        expected_hashes(std::slice::from_ref(&v2))
    );
    assert_invariant(&cluster, from, &start, &expected_hashes(&[v2]));
}

#[test]
fn revision_that_would_open_a_namespace_is_refused_unless_allow_open_lists_it() {
    let cluster = Cluster::start(&["frontend", "payments"]);
    let repo = PolicyRepo::new();
    repo.revision(&[shop_v1()], "v1");
    assert_eq!(sync(&repo, &cluster, &[]).code, 0);
    let before = cluster.policy_hashes();

    let mut emptied = shop_v1();
    emptied.policies.retain(|p| p.0 != "payments");
    repo.revision(std::slice::from_ref(&emptied), "drop every payments policy");
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 1, "{}", run.json);
    assert_eq!(run.json["reason"], "would-open-namespace");
    assert!(run.json["message"].as_str().unwrap().contains("payments"));
    assert_eq!(run.json["extra"]["wouldOpen"][0]["namespace"], "payments");
    assert_eq!(
        cluster.policy_hashes(),
        before,
        "a refused revision changes nothing"
    );

    emptied.allow_open = vec!["payments".into()];
    repo.revision(std::slice::from_ref(&emptied), "allow payments to be open");
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 0, "{}", run.json);
    assert_eq!(counts(&run).2, 2);
    assert_eq!(
        in_namespaces(&cluster.policy_hashes(), &["frontend", "payments"]),
        expected_hashes(&[emptied])
    );
}

#[test]
fn two_bundles_are_applied_together_and_each_policy_names_its_bundle() {
    let cluster = Cluster::start(&["frontend", "payments", "infra"]);
    let repo = PolicyRepo::new();
    let infra = BundleSpec::new("infra", &["infra"], &[("infra", "dns", 53)]);
    repo.revision(&[shop_v1(), infra.clone()], "two bundles");
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json["bundles"].as_array().unwrap().len(), 2);
    assert_eq!(
        cluster.policy("infra", "dns").unwrap()["metadata"]["annotations"]["netpol-sync.io/bundle"],
        "infra"
    );
    assert_eq!(
        cluster.policy("payments", "api").unwrap()["metadata"]["annotations"]
            ["netpol-sync.io/bundle"],
        "shop"
    );
    assert_eq!(
        in_namespaces(&cluster.policy_hashes(), &["frontend", "payments", "infra"]),
        expected_hashes(&[shop_v1(), infra])
    );
}

#[test]
fn namespace_leaving_the_governed_scope_has_its_managed_policies_pruned_and_foreign_ones_kept() {
    let cluster = Cluster::start(&["frontend", "payments"]);
    let repo = PolicyRepo::new();
    repo.revision(&[shop_v1()], "v1");
    assert_eq!(sync(&repo, &cluster, &[]).code, 0);
    let out = cluster.kubectl(
        &["create", "-f", "-"],
        Some(&policy_yaml("payments", "someone-elses", 5)),
    );
    assert!(out.status.success());

    let mut frontend_only = BundleSpec::new(
        "shop",
        &["frontend"],
        &[("frontend", "default-deny", 1), ("frontend", "web", 80)],
    );
    // Leaving payments with none of our policies opens it: acknowledged, signed.
    frontend_only.allow_open = vec!["payments".into()];
    repo.revision(
        std::slice::from_ref(&frontend_only),
        "payments leaves the scope",
    );
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(counts(&run).2, 2);
    assert!(cluster.policy("payments", "api").is_none());
    assert!(cluster.policy("payments", "default-deny").is_none());
    assert!(
        cluster.policy("payments", "someone-elses").is_some(),
        "not ours, no longer governed: left alone"
    );
}

#[test]
fn missing_governed_namespace_is_named_and_skipped_and_nothing_is_written_into_it() {
    let cluster = Cluster::start(&["frontend"]);
    let repo = PolicyRepo::new();
    repo.revision(&[shop_v1()], "v1");
    let requests = cluster.write_mark();
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 0, "{}", run.json);
    assert!(
        run.json["message"]
            .as_str()
            .unwrap()
            .contains("payments (does not exist"),
        "{}",
        run.json
    );
    assert!(cluster
        .policy_writes_since(requests)
        .iter()
        .all(|w| !w.contains("/namespaces/payments/")));
    assert_eq!(
        cluster
            .policy_hashes()
            .keys()
            .map(|k| k.namespace.as_str())
            .collect::<std::collections::BTreeSet<_>>(),
        ["frontend"].into()
    );
}

#[test]
fn missing_state_namespace_is_a_clear_error() {
    let cluster = Cluster::start_with(apiserver_emu::EmuConfig {
        tls: false,
        token: None,
        namespaces: vec!["frontend".into(), "payments".into()],
    });
    let repo = PolicyRepo::new();
    repo.revision(&[shop_v1()], "v1");
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.json["message"]
            .as_str()
            .unwrap()
            .contains("state namespace netpol-sync does not exist"),
        "{}",
        run.json
    );
    let kc = cluster.kubeconfig.display().to_string();
    let status = netpol_sync(&["status", "--kubeconfig", &kc, "--output", "json"]);
    assert_eq!(status.code, 2);
    assert!(status.json["message"]
        .as_str()
        .unwrap()
        .contains("does not exist"));
    assert!(cluster.policy_hashes().is_empty());
}

#[test]
fn deleted_state_record_is_recovered_from_the_live_policies_and_written_again_without_policy_writes(
) {
    let cluster = Cluster::start(&["frontend", "payments"]);
    let repo = PolicyRepo::new();
    let rev = repo.revision(&[shop_v1()], "v1");
    assert_eq!(sync(&repo, &cluster, &[]).code, 0);
    let out = cluster.kubectl(
        &["delete", "configmap", "-n", STATE_NS, "netpol-sync-state"],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let requests = cluster.write_mark();
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json["verdict"], "unchanged");
    assert_eq!(
        run.json["extra"]["base"]["source"], "recovered",
        "{}",
        run.json
    );
    assert_eq!(run.json["extra"]["base"]["since"], rev.as_str());
    assert!(cluster.policy_writes_since(requests).is_empty());
    let kc = cluster.kubeconfig.display().to_string();
    let status = netpol_sync(&["status", "--kubeconfig", &kc, "--output", "json"]);
    assert_eq!(status.json["revision"], rev.as_str());
}

#[test]
fn force_push_to_an_older_revision_is_refused_after_a_restart_because_since_comes_from_state() {
    let cluster = Cluster::start(&["frontend", "payments"]);
    let repo = PolicyRepo::new();
    let v1 = repo.revision(&[shop_v1()], "v1");
    let mut v2 = shop_v1();
    v2.policies[1].2 = 81;
    repo.revision(&[v2], "v2");
    assert_eq!(sync(&repo, &cluster, &[]).code, 0);
    let before = cluster.policy_hashes();

    repo.repo.git(&["reset", "-q", "--hard", &v1]);
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 1, "{}", run.json);
    assert_eq!(run.json["reason"], "not-fast-forward");
    assert_eq!(cluster.policy_hashes(), before);
    let kc = cluster.kubeconfig.display().to_string();
    let status = netpol_sync(&["status", "--kubeconfig", &kc, "--output", "json"]);
    assert_eq!(
        status.json["extra"]["lastFailure"]["reason"],
        "not-fast-forward"
    );
}

#[test]
fn persistent_write_failure_puts_back_the_previous_revision_and_reports_apply_failed() {
    let cluster = Cluster::start_emulator(&["frontend", "payments"]);
    let repo = PolicyRepo::new();
    let v1 = repo.revision(&[shop_v1()], "v1");
    assert_eq!(sync(&repo, &cluster, &[]).code, 0);
    let mut v2 = shop_v1();
    v2.policies[1].2 = 8080; // update frontend/web
    v2.policies.push(("payments".into(), "new".into(), 9000)); // create payments/new
    repo.revision(std::slice::from_ref(&v2), "v2");

    // The dry-run create of payments/new passes; every real create then fails.
    cluster.fail_real_writes(
        "POST",
        "/apis/networking.k8s.io/v1/namespaces/payments/networkpolicies",
    );
    let run = sync(&repo, &cluster, &[]);
    cluster.emu().clear_faults();
    assert_eq!(run.code, 2, "{}", run.json);
    assert_eq!(run.json["reason"], "apply-failed");
    assert!(
        run.json["message"].as_str().unwrap().contains("put back"),
        "{}",
        run.json
    );
    assert_eq!(
        in_namespaces(&cluster.policy_hashes(), &["frontend", "payments"]),
        expected_hashes(&[shop_v1()])
    );

    let kc = cluster.kubeconfig.display().to_string();
    let status = netpol_sync(&["status", "--kubeconfig", &kc, "--output", "json"]);
    assert_eq!(
        status.json["revision"],
        v1.as_str(),
        "the failed revision is not recorded as applied"
    );
    assert_eq!(
        status.json["extra"]["lastFailure"]["reason"],
        "apply-failed"
    );
}

#[test]
fn dry_run_refusal_rejects_the_revision_with_nothing_changed_and_the_object_named() {
    let cluster = Cluster::start_emulator(&["frontend", "payments"]);
    let repo = PolicyRepo::new();
    repo.revision(&[shop_v1()], "v1");
    cluster.emu().inject(
        FaultRule::new(
            "/namespaces/payments/networkpolicies",
            FaultAction::Status(403),
        )
        .method("POST"),
    );
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 2, "{}", run.json);
    assert_eq!(run.json["reason"], "apply-rejected");
    assert!(
        run.json["extra"]["failedObject"]
            .as_str()
            .unwrap()
            .starts_with("payments/"),
        "{}",
        run.json
    );
    assert!(run.json["message"].as_str().unwrap().contains("dry-run"));
    assert!(
        cluster.policy_hashes().is_empty(),
        "dry-run refusal must change nothing"
    );
}

#[test]
fn transient_429_and_503_are_retried_and_the_sync_succeeds() {
    let cluster = Cluster::start_emulator(&["frontend", "payments"]);
    let repo = PolicyRepo::new();
    repo.revision(&[shop_v1()], "v1");
    cluster.emu().inject(
        FaultRule::new(
            "/networkpolicies",
            FaultAction::TooManyRequests {
                retry_after_secs: 1,
            },
        )
        .method("POST")
        .times(2),
    );
    cluster.emu().inject(
        FaultRule::new("/networkpolicies", FaultAction::Status(503))
            .method("POST")
            .times(2),
    );
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    assert_eq!(
        in_namespaces(&cluster.policy_hashes(), &["frontend", "payments"]),
        expected_hashes(&[shop_v1()])
    );
}

#[test]
fn plan_prints_a_readable_diff_and_writes_nothing() {
    let cluster = Cluster::start_emulator(&["frontend", "payments"]);
    let repo = PolicyRepo::new();
    repo.revision(&[shop_v1()], "v1");
    let requests = cluster.request_count();
    let out = std::process::Command::new(sync_support::support::netpol_sync_bin())
        .env("NETPOL_SYNC_STATE_KEY", sync_support::support::state_key())
        .args([
            "plan",
            "--repo",
            repo.path().to_str().unwrap(),
            "--trust-anchor",
            repo.anchor.to_str().unwrap(),
        ])
        .arg("--kubeconfig")
        .arg(&cluster.kubeconfig)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("+ create payments/api"), "{text}");
    assert!(cluster
        .emu()
        .requests()
        .iter()
        .skip(requests)
        .all(|r| r.method == "GET"));
}
