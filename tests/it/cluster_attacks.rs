//! Attacks from the cluster side, end to end against apiserver-emu with signed
//! repositories and the real binary: emptying a namespace by narrowing the scope or
//! deleting bundles, a hand-made hole kept alive by a foreign finalizer, our label on
//! another team's policy, a governed namespace deleted to block every revision, and a
//! bundle governing netpol-sync's own state namespace. Each is refused, reported or
//! contained, and a refusal writes nothing.

use crate::sync_support;

use serde_json::Value;
use std::collections::BTreeSet;
use sync_support::*;

const FINALIZER: &str = "example.com/keep-me";

fn shop() -> BundleSpec {
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

fn infra() -> BundleSpec {
    BundleSpec::new("infra", &["infra"], &[("infra", "dns", 53)])
}

fn message(run: &Run) -> String {
    run.json["message"].as_str().unwrap_or_default().to_string()
}

/// NetworkPolicy changes recorded since history position `from`: any write at all.
fn policy_changes_since(cluster: &Cluster, from: usize) -> usize {
    cluster.changes_since(from).len()
}

/// `sync` that must be refused with `reason`, exit 1, and change no NetworkPolicy.
fn assert_refused(repo: &PolicyRepo, cluster: &Cluster, extra: &[&str], reason: &str) -> Run {
    let before = cluster.policy_hashes();
    let from = cluster.history_len();
    let requests = cluster.write_mark();
    let run = sync(repo, cluster, extra);
    assert_eq!(run.code, 1, "{}\n{}", run.json, run.stderr);
    assert_eq!(run.json["verdict"], "rejected", "{}", run.json);
    assert_eq!(run.json["reason"], reason, "{}", run.json);
    assert_eq!(
        policy_changes_since(cluster, from),
        0,
        "a refusal writes nothing"
    );
    assert!(
        cluster.policy_writes_since(requests).is_empty(),
        "not even a dry run: {:?}",
        cluster.policy_writes_since(requests)
    );
    assert_eq!(cluster.policy_hashes(), before);
    run
}

fn would_open(run: &Run) -> Vec<(String, Value)> {
    run.json["extra"]["wouldOpen"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|w| {
            (
                w["namespace"].as_str().unwrap().to_string(),
                w["bundle"].clone(),
            )
        })
        .collect()
}

fn create(cluster: &Cluster, doc: &Value) {
    let out = cluster.kubectl(&["create", "-f", "-"], Some(&doc.to_string()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An allow-all ingress policy, made by hand.
fn allow_all(ns: &str, name: &str) -> Value {
    serde_json::json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{}]}
    })
}

fn key(ns: &str, name: &str) -> netpol_sync::plan::ObjectKey {
    netpol_sync::plan::ObjectKey {
        namespace: ns.into(),
        name: name.into(),
    }
}

fn keys(list: &[(&str, &str)]) -> BTreeSet<netpol_sync::plan::ObjectKey> {
    list.iter().map(|(ns, n)| key(ns, n)).collect()
}

fn names(run: &Run, field: &str) -> Vec<String> {
    run.json["extra"][field]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| {
            format!(
                "{}/{}",
                e["namespace"].as_str().unwrap_or("?"),
                e["name"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

// --- 1. would-open-namespace, whatever the reason -------------------------------------

#[test]
fn dropping_a_namespace_from_scope_is_refused_without_allow_open() {
    let cluster = Cluster::start(&["frontend", "payments"]);
    let repo = PolicyRepo::new();
    repo.revision(&[shop()], "v1");
    assert_eq!(sync(&repo, &cluster, &[]).code, 0);

    // payments leaves `namespaces:` with its policies: nothing would govern it, and every
    // pod in it would be open.
    let frontend_only = BundleSpec::new(
        "shop",
        &["frontend"],
        &[("frontend", "default-deny", 1), ("frontend", "web", 80)],
    );
    repo.revision(std::slice::from_ref(&frontend_only), "payments leaves");
    let run = assert_refused(&repo, &cluster, &[], "would-open-namespace");
    assert_eq!(would_open(&run), vec![("payments".into(), Value::Null)]);
    assert!(message(&run).contains("payments"), "{}", message(&run));
    let plan = plan(&repo, &cluster, &[]);
    assert_eq!(plan.json["reason"], "would-open-namespace", "{}", plan.json);

    // Variant: payments stays in scope but every one of its policies goes.
    let emptied = BundleSpec::new(
        "shop",
        &["frontend", "payments"],
        &[("frontend", "default-deny", 1), ("frontend", "web", 80)],
    );
    repo.revision(std::slice::from_ref(&emptied), "payments emptied");
    let run = assert_refused(&repo, &cluster, &[], "would-open-namespace");
    assert_eq!(would_open(&run), vec![("payments".into(), "shop".into())]);

    // Acknowledged, signed: allowOpen names it although it is no longer governed.
    let mut acknowledged = frontend_only.clone();
    acknowledged.allow_open = vec!["payments".into()];
    repo.revision(std::slice::from_ref(&acknowledged), "payments may open");
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    assert_eq!(run.json["deleted"], 2, "{}", run.json);
    assert!(cluster.policy("payments", "api").is_none());
    assert!(cluster.policy("payments", "default-deny").is_none());
    assert_eq!(
        in_namespaces(&cluster.policy_hashes(), &["frontend", "payments"]),
        expected_hashes(&[acknowledged])
    );
}

#[test]
fn deleting_a_bundle_is_refused_without_allow_open() {
    let cluster = Cluster::start(&["frontend", "payments", "infra"]);
    let repo = PolicyRepo::new();
    repo.revision(&[shop(), infra()], "v1");
    assert_eq!(sync(&repo, &cluster, &[]).code, 0);

    repo.remove_bundle("infra");
    repo.commit("infra bundle deleted");
    let run = assert_refused(&repo, &cluster, &[], "would-open-namespace");
    assert_eq!(would_open(&run), vec![("infra".into(), Value::Null)]);
    assert!(cluster.policy("infra", "dns").is_some());

    // Variant: the bundle is still there but no longer selected.
    repo.write_bundle(&infra());
    repo.commit("infra is back");
    assert_eq!(sync(&repo, &cluster, &[]).code, 0);
    let run = assert_refused(
        &repo,
        &cluster,
        &["--bundle", "shop"],
        "would-open-namespace",
    );
    assert_eq!(would_open(&run), vec![("infra".into(), Value::Null)]);
}

#[test]
fn deleting_every_bundle_is_refused_and_nothing_can_acknowledge_it() {
    let cluster = Cluster::start(&["frontend", "payments", "infra"]);
    let repo = PolicyRepo::new();
    let mut shop_open = shop();
    // An allowOpen in a bundle that is deleted acknowledges nothing.
    shop_open.allow_open = vec!["frontend".into(), "payments".into(), "infra".into()];
    repo.revision(&[shop_open, infra()], "v1");
    assert_eq!(sync(&repo, &cluster, &[]).code, 0);
    let before = cluster.policy_hashes();

    repo.remove_bundle("shop");
    repo.remove_bundle("infra");
    repo.commit("an empty repository");
    let run = assert_refused(&repo, &cluster, &[], "would-open-namespace");
    let opened: Vec<String> = would_open(&run).into_iter().map(|(ns, _)| ns).collect();
    assert_eq!(opened, ["frontend", "infra", "payments"]);
    assert!(
        message(&run).contains("nothing can acknowledge"),
        "{}",
        message(&run)
    );
    assert_eq!(cluster.policy_hashes(), before);
    // Every cycle: the daemon's next attempt is refused the same way.
    assert_refused(&repo, &cluster, &[], "would-open-namespace");
}

#[test]
fn allow_open_in_another_bundle_acknowledges_deleting_a_bundle_or_emptying_a_namespace() {
    let cluster = Cluster::start(&["frontend", "payments", "infra"]);
    let repo = PolicyRepo::new();
    repo.revision(&[shop(), infra()], "v1");
    assert_eq!(sync(&repo, &cluster, &[]).code, 0);

    // infra's bundle goes; shop's (signed) allowOpen acknowledges it.
    let mut shop_ack = shop();
    shop_ack.allow_open = vec!["infra".into()];
    repo.remove_bundle("infra");
    repo.revision(
        std::slice::from_ref(&shop_ack),
        "infra goes, acknowledged by shop",
    );
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    assert!(cluster.policy("infra", "dns").is_none());
    assert_eq!(run.json["extra"]["wouldOpen"][0]["allowed_by"], "shop");

    // payments is emptied in shop; a new bundle acknowledges it.
    let mut ops = BundleSpec::new("ops", &["infra"], &[("infra", "dns", 53)]);
    ops.allow_open = vec!["payments".into()];
    let mut emptied = shop();
    emptied.policies.retain(|p| p.0 != "payments");
    repo.revision(
        &[emptied.clone(), ops.clone()],
        "payments emptied, ops says so",
    );
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    assert_eq!(
        in_namespaces(&cluster.policy_hashes(), &["frontend", "payments", "infra"]),
        expected_hashes(&[emptied, ops])
    );
}

// --- 2. a hand-made hole kept alive by someone else's finalizer -----------------------

#[test]
fn hand_made_allow_all_with_foreign_finalizer_is_reported_every_cycle() {
    let cluster = Cluster::start(&["frontend", "payments"]);
    let repo = PolicyRepo::new();
    repo.revision(&[shop()], "v1");
    assert_eq!(sync(&repo, &cluster, &[]).code, 0);
    let mut hole = allow_all("payments", "debug-allow-all");
    hole["metadata"]["finalizers"] = serde_json::json!([FINALIZER]);
    create(&cluster, &hole);

    for cycle in 1..=2 {
        let requests = cluster.write_mark();
        let run = sync(&repo, &cluster, &[]);
        assert_eq!(run.code, 2, "cycle {cycle}: {}\n{}", run.json, run.stderr);
        assert_eq!(run.json["verdict"], "error", "cycle {cycle}");
        assert_eq!(run.json["reason"], "held-by-finalizer", "cycle {cycle}");
        let text = message(&run);
        assert!(
            text.contains("payments/debug-allow-all") && text.contains(FINALIZER),
            "cycle {cycle}: {text}"
        );
        assert_eq!(
            run.json["extra"]["held"],
            serde_json::json!([{"namespace": "payments", "name": "debug-allow-all", "finalizers": [FINALIZER]}]),
            "cycle {cycle}"
        );
        let drift = &run.json["extra"]["drift"];
        assert!(
            drift.as_array().unwrap().iter().any(|d| d["kind"] == "held"
                && d["name"] == "debug-allow-all"
                && d["finalizers"] == serde_json::json!([FINALIZER])),
            "cycle {cycle}: {drift}"
        );
        // It is still there, marked, and still applies.
        let held = cluster.policy("payments", "debug-allow-all").unwrap();
        assert!(held["metadata"]["deletionTimestamp"].is_string(), "{held}");
        if cycle == 2 {
            assert!(cluster.policy_writes_since(requests).is_empty());
        }
    }
    // `plan` says so too, and `status` lists it from the recorded failure.
    let planned = plan(&repo, &cluster, &[]);
    assert_eq!(
        planned.json["reason"], "held-by-finalizer",
        "{}",
        planned.json
    );
    let kc = cluster.kubeconfig.display().to_string();
    let key_file = cluster.state_key.display().to_string();
    let status = netpol_sync(&[
        "status",
        "--kubeconfig",
        &kc,
        "--state-key",
        &key_file,
        "--output",
        "json",
    ]);
    assert_eq!(
        status.json["extra"]["lastFailure"]["reason"],
        "held-by-finalizer"
    );
    assert_eq!(names(&status, "held"), ["payments/debug-allow-all"]);

    // Its owner lets go: the next cycle succeeds.
    cluster.set_finalizers(&keys(&[("payments", "debug-allow-all")]), None);
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    assert!(run.json["extra"].get("held").is_none(), "{}", run.json);
}

#[test]
fn a_pruned_policy_of_ours_held_by_a_controller_is_reported_every_cycle() {
    let cluster = Cluster::start(&["frontend", "payments"]);
    let repo = PolicyRepo::new();
    repo.revision(&[shop()], "v1");
    assert_eq!(sync(&repo, &cluster, &[]).code, 0);
    cluster.set_finalizers(&keys(&[("payments", "api")]), Some(&[FINALIZER]));
    let mut without_api = shop();
    without_api.policies.retain(|p| p.1 != "api");
    repo.revision(&[without_api.clone()], "api goes");
    for cycle in 1..=2 {
        let run = sync(&repo, &cluster, &[]);
        assert_eq!(run.code, 2, "cycle {cycle}: {}", run.json);
        assert_eq!(run.json["reason"], "held-by-finalizer");
        assert_eq!(names(&run, "held"), ["payments/api"], "cycle {cycle}");
    }
    // Everything else of the revision is applied and recorded: once the controller lets
    // go, the next cycle has nothing to write.
    cluster.set_finalizers(&keys(&[("payments", "api")]), None);
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.json["verdict"], "unchanged", "{}", run.json);
    assert_eq!(
        in_namespaces(&cluster.policy_hashes(), &["frontend", "payments"]),
        expected_hashes(&[without_api])
    );
}

#[test]
fn hand_made_allow_all_with_foreign_finalizer_is_removed_with_remove_foreign_finalizers() {
    let cluster = Cluster::start_emulator(&["frontend", "payments"]);
    let repo = PolicyRepo::new();
    repo.revision(&[shop()], "v1");
    assert_eq!(sync(&repo, &cluster, &[]).code, 0);
    let mut hole = allow_all("payments", "debug-allow-all");
    hole["metadata"]["finalizers"] = serde_json::json!([FINALIZER]);
    create(&cluster, &hole);

    // Deleted, found held, its finalizers removed, gone: drift reverted, applied.
    let run = sync(&repo, &cluster, &["--remove-foreign-finalizers"]);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    assert_eq!(run.json["verdict"], "applied", "{}", run.json);
    assert!(run.json["extra"].get("held").is_none(), "{}", run.json);
    assert!(run.json["extra"]["drift"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["kind"] == "held" && d["name"] == "debug-allow-all"));
    assert!(cluster.policy("payments", "debug-allow-all").is_none());
    let again = sync(&repo, &cluster, &["--remove-foreign-finalizers"]);
    assert_eq!(again.json["verdict"], "unchanged", "{}", again.json);

    // Variant: one already held when the option is turned on (found held by the plan).
    let mut hole = allow_all("payments", "second-hole");
    hole["metadata"]["finalizers"] = serde_json::json!([FINALIZER, "example.com/other"]);
    create(&cluster, &hole);
    assert_eq!(
        sync(&repo, &cluster, &[]).json["reason"],
        "held-by-finalizer"
    );
    let run = sync(&repo, &cluster, &["--remove-foreign-finalizers"]);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    assert_eq!(run.json["verdict"], "applied", "{}", run.json);
    assert!(cluster.policy("payments", "second-hole").is_none());
    assert_eq!(
        in_namespaces(&cluster.policy_hashes(), &["frontend", "payments"]),
        expected_hashes(&[shop()])
    );

    // Variant: the API server refuses the removal. The rest of the revision is applied
    // all the same, and the policy is reported held, with why.
    let mut hole = allow_all("payments", "third-hole");
    hole["metadata"]["finalizers"] = serde_json::json!([FINALIZER]);
    create(&cluster, &hole);
    cluster.emu().inject(
        apiserver_emu::FaultRule::new(
            "/apis/networking.k8s.io/v1/namespaces/payments/networkpolicies/third-hole",
            apiserver_emu::FaultAction::Status(403),
        )
        .method("PUT"),
    );
    let mut v2 = shop();
    v2.policies
        .push(("frontend".into(), "metrics".into(), 9090));
    repo.revision(std::slice::from_ref(&v2), "v2");
    let run = sync(&repo, &cluster, &["--remove-foreign-finalizers"]);
    cluster.emu().clear_faults();
    assert_eq!(run.code, 2, "{}\n{}", run.json, run.stderr);
    assert_eq!(run.json["reason"], "held-by-finalizer", "{}", run.json);
    assert!(
        message(&run).contains("removing their finalizers failed"),
        "{}",
        message(&run)
    );
    assert_eq!(names(&run, "held"), ["payments/third-hole"]);
    assert!(cluster.policy("frontend", "metrics").is_some());
}

// --- 3. ownership is the inventory, not a label ---------------------------------------

fn labelled_as_ours(ns: &str, name: &str) -> Value {
    let mut doc: Value = serde_yaml::from_str(&policy_yaml(ns, name, 5432)).unwrap();
    doc["metadata"]["labels"] = serde_json::json!({"app.kubernetes.io/managed-by": "netpol-sync"});
    doc
}

#[test]
fn our_label_on_another_teams_policy_outside_scope_is_not_deleted() {
    let cluster = Cluster::start(&["frontend", "payments", "team-b"]);
    let repo = PolicyRepo::new();
    repo.revision(&[shop()], "v1");
    // Before the first sync (no inventory) and after it (an inventory without it).
    create(&cluster, &labelled_as_ours("team-b", "theirs"));
    for cycle in 1..=2 {
        let run = sync(&repo, &cluster, &[]);
        assert_eq!(run.code, 0, "cycle {cycle}: {}\n{}", run.json, run.stderr);
        assert_eq!(names(&run, "ignored"), ["team-b/theirs"], "cycle {cycle}");
        assert!(
            run.stderr.contains("team-b/theirs"),
            "a warning: {}",
            run.stderr
        );
        assert!(
            cluster.policy("team-b", "theirs").is_some(),
            "cycle {cycle}"
        );
    }
    // Even with a forged netpol-sync annotation set.
    let mut forged = labelled_as_ours("team-b", "forged");
    forged["metadata"]["annotations"] = serde_json::json!({
        "netpol-sync.io/bundle": "shop",
        "netpol-sync.io/revision": repo.repo.head(),
    });
    create(&cluster, &forged);
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 0, "{}", run.json);
    assert!(cluster.policy("team-b", "forged").is_some());
    assert_eq!(names(&run, "ignored"), ["team-b/forged", "team-b/theirs"]);
}

#[test]
fn our_label_on_a_policy_inside_scope_is_drift_as_before() {
    let cluster = Cluster::start(&["frontend", "payments"]);
    let repo = PolicyRepo::new();
    repo.revision(&[shop()], "v1");
    assert_eq!(sync(&repo, &cluster, &[]).code, 0);
    create(&cluster, &labelled_as_ours("payments", "sneaky"));
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    assert!(cluster.policy("payments", "sneaky").is_none());
    let drift = &run.json["extra"]["drift"];
    assert!(
        drift
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["kind"] == "created" && d["name"] == "sneaky"),
        "{drift}"
    );
}

#[test]
fn a_policy_in_the_inventory_outside_scope_is_deleted_when_its_namespace_leaves_scope() {
    let cluster = Cluster::start(&["frontend", "payments"]);
    let repo = PolicyRepo::new();
    repo.revision(&[shop()], "v1");
    assert_eq!(sync(&repo, &cluster, &[]).code, 0);
    let mut frontend_only = BundleSpec::new(
        "shop",
        &["frontend"],
        &[("frontend", "default-deny", 1), ("frontend", "web", 80)],
    );
    frontend_only.allow_open = vec!["payments".into()];
    repo.revision(
        std::slice::from_ref(&frontend_only),
        "payments leaves, acknowledged",
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
    assert_eq!(deleted, ["payments/api", "payments/default-deny"]);
    assert!(cluster.policy("payments", "api").is_none());
}

#[test]
fn a_policy_of_ours_held_outside_scope_stays_reported_until_it_goes() {
    let cluster = Cluster::start(&["frontend", "payments"]);
    let repo = PolicyRepo::new();
    repo.revision(&[shop()], "v1");
    assert_eq!(sync(&repo, &cluster, &[]).code, 0);
    cluster.set_finalizers(&keys(&[("payments", "api")]), Some(&[FINALIZER]));
    let mut frontend_only = BundleSpec::new(
        "shop",
        &["frontend"],
        &[("frontend", "default-deny", 1), ("frontend", "web", 80)],
    );
    frontend_only.allow_open = vec!["payments".into()];
    repo.revision(
        std::slice::from_ref(&frontend_only),
        "payments leaves, acknowledged",
    );
    // Outside the scope it is ours only by the inventory, which keeps it while it is held:
    // every cycle reports it, none takes it for another team's.
    for cycle in 1..=2 {
        let run = sync(&repo, &cluster, &[]);
        assert_eq!(
            run.json["reason"], "held-by-finalizer",
            "cycle {cycle}: {}",
            run.json
        );
        assert_eq!(names(&run, "held"), ["payments/api"], "cycle {cycle}");
        assert!(
            run.json["extra"].get("ignored").is_none(),
            "cycle {cycle}: {}",
            run.json
        );
    }
    let run = sync(&repo, &cluster, &["--remove-foreign-finalizers"]);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    assert!(cluster.policy("payments", "api").is_none());
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    assert!(run.json["extra"].get("held").is_none(), "{}", run.json);
}

#[test]
fn without_an_inventory_nothing_outside_scope_is_deleted() {
    let cluster = Cluster::start(&["frontend", "payments"]);
    let repo = PolicyRepo::new();
    repo.revision(&[shop()], "v1");
    assert_eq!(sync(&repo, &cluster, &[]).code, 0);
    // The record is lost: the inventory with it.
    let out = cluster.kubectl(
        &["delete", "configmap", "netpol-sync-state", "-n", STATE_NS],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut frontend_only = BundleSpec::new(
        "shop",
        &["frontend"],
        &[("frontend", "default-deny", 1), ("frontend", "web", 80)],
    );
    frontend_only.allow_open = vec!["payments".into()];
    repo.revision(
        std::slice::from_ref(&frontend_only),
        "payments leaves, acknowledged",
    );
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    assert_eq!(run.json["deleted"], 0, "{}", run.json);
    assert_eq!(
        names(&run, "ignored"),
        ["payments/api", "payments/default-deny"]
    );
    assert!(cluster.policy("payments", "api").is_some());
}

// --- 4. a deleted governed namespace blocks nothing else ------------------------------

#[test]
fn missing_governed_namespace_is_skipped_and_created_when_it_appears() {
    let cluster = Cluster::start(&["frontend", "infra"]);
    let repo = PolicyRepo::new();
    repo.revision(&[shop(), infra()], "v1");
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    assert_eq!(run.json["verdict"], "applied");
    assert_eq!(
        run.json["extra"]["skippedNamespaces"],
        serde_json::json!([{"namespace": "payments", "reason": "missing", "policies": 2}])
    );
    assert!(message(&run).contains("payments"), "{}", message(&run));
    assert_eq!(run.json["created"], 3, "{}", run.json);
    assert!(cluster.policy("infra", "dns").is_some());
    assert!(cluster.policy("frontend", "web").is_some());

    // An urgent fix elsewhere goes through while payments is still missing.
    let fixed_infra = BundleSpec::new("infra", &["infra"], &[("infra", "dns", 5353)]);
    repo.revision(&[shop(), fixed_infra.clone()], "urgent dns fix");
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    assert_eq!(run.json["updated"], 1, "{}", run.json);

    // The namespace appears: ordinary creates, not "deleted by hand" drift.
    cluster.create_namespace("payments");
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    assert_eq!(run.json["created"], 2, "{}", run.json);
    assert_eq!(
        run.json["extra"]["drift"],
        serde_json::json!([]),
        "{}",
        run.json
    );
    assert!(run.json["extra"].get("skippedNamespaces").is_none());
    assert_eq!(
        in_namespaces(&cluster.policy_hashes(), &["frontend", "payments", "infra"]),
        expected_hashes(&[shop(), fixed_infra])
    );
}

#[test]
fn a_governed_namespace_deleted_after_a_sync_is_skipped_and_recreated_without_drift() {
    let cluster = Cluster::start(&["frontend", "payments"]);
    let repo = PolicyRepo::new();
    repo.revision(&[shop()], "v1");
    assert_eq!(sync(&repo, &cluster, &[]).code, 0);
    let out = cluster.kubectl(&["delete", "namespace", "payments"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(cluster.policy("payments", "api").is_none());
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    assert_eq!(run.json["verdict"], "unchanged", "{}", run.json);
    assert_eq!(
        run.json["extra"]["skippedNamespaces"][0]["namespace"],
        "payments"
    );
    cluster.create_namespace("payments");
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.json["created"], 2, "{}", run.json);
    assert_eq!(
        run.json["extra"]["drift"],
        serde_json::json!([]),
        "{}",
        run.json
    );
}

#[test]
fn terminating_governed_namespace_is_skipped_and_the_rest_applied() {
    let cluster = Cluster::start_emulator(&["frontend", "payments"]);
    let repo = PolicyRepo::new();
    repo.revision(&[shop()], "v1");
    cluster.emu().set_namespace_terminating("payments");
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    assert_eq!(
        run.json["extra"]["skippedNamespaces"][0]["reason"],
        "terminating"
    );
    assert!(cluster.policy("frontend", "web").is_some());
    assert!(cluster.policy("payments", "api").is_none());
}

// --- 5. the state namespace is never governed -----------------------------------------

#[test]
fn bundle_governing_the_state_namespace_is_refused() {
    let cluster = Cluster::start(&["frontend", "payments"]);
    let repo = PolicyRepo::new();
    repo.revision(&[shop()], "v1");
    assert_eq!(sync(&repo, &cluster, &[]).code, 0);

    // A bundle that governs only netpol-sync's namespace, with a deny-all.
    let lockout = BundleSpec::new("lockout", &[STATE_NS], &[(STATE_NS, "deny-all", 1)]);
    repo.revision(&[shop(), lockout], "lock netpol-sync out");
    let run = assert_refused(&repo, &cluster, &[], "governs-state-namespace");
    assert_eq!(run.json["location"]["bundle"], "lockout");
    assert!(message(&run).contains("lockout") && message(&run).contains(STATE_NS));
    let planned = plan(&repo, &cluster, &[]);
    assert_eq!(planned.code, 1);
    assert_eq!(planned.json["reason"], "governs-state-namespace");

    // Variant: an existing bundle grows the state namespace into its scope.
    repo.remove_bundle("lockout");
    let mut grown = shop();
    grown.namespaces.push(STATE_NS.into());
    repo.revision(&[grown], "shop governs netpol-sync too");
    let run = assert_refused(&repo, &cluster, &[], "governs-state-namespace");
    assert_eq!(run.json["location"]["bundle"], "shop");

    // Variant: a non-default state namespace is protected the same way.
    let ops = BundleSpec::new("ops", &["payments"], &[("payments", "api", 8443)]);
    repo.remove_bundle("shop");
    repo.revision(&[ops], "ops governs payments");
    cluster.allow_state_namespace("payments");
    let run = assert_refused(
        &repo,
        &cluster,
        &["--state-namespace", "payments"],
        "governs-state-namespace",
    );
    assert_eq!(run.json["location"]["bundle"], "ops");
}
