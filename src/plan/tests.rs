//! Plan computation over typed live objects: no cluster, no repository.

use super::*;
use crate::marks::{MANAGED_BY_LABEL, MANAGED_BY_VALUE};
use k8s_openapi::api::networking::v1::{NetworkPolicyPort, NetworkPolicySpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, ManagedFieldsEntry, ObjectMeta,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

pub(crate) fn policy(ns: &str, name: &str, port: i32) -> NetworkPolicy {
    NetworkPolicy {
        metadata: ObjectMeta {
            namespace: Some(ns.into()),
            name: Some(name.into()),
            ..Default::default()
        },
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(vec!["Ingress".into()]),
            ingress: Some(vec![
                k8s_openapi::api::networking::v1::NetworkPolicyIngressRule {
                    ports: Some(vec![NetworkPolicyPort {
                        port: Some(IntOrString::Int(port)),
                        protocol: Some("TCP".into()),
                        ..Default::default()
                    }]),
                    ..Default::default()
                },
            ]),
            ..Default::default()
        }),
    }
}

pub(crate) fn desired(bundle: &str, ns: &str, name: &str, port: i32) -> DesiredPolicy {
    let object = policy(ns, name, port);
    DesiredPolicy::for_test(bundle, &object, &format!("{ns}/{name}.yaml"))
}

pub(crate) struct Fixture {
    pub name: String,
    pub namespaces: BTreeSet<String>,
    pub allow_open: BTreeSet<String>,
    pub policies: Vec<DesiredPolicy>,
}

pub(crate) fn bundle(name: &str, namespaces: &[&str], policies: Vec<DesiredPolicy>) -> Fixture {
    Fixture {
        name: name.into(),
        namespaces: namespaces.iter().map(|s| s.to_string()).collect(),
        allow_open: BTreeSet::new(),
        policies,
    }
}

pub(crate) fn revision(n: u8) -> git2::Oid {
    git2::Oid::from_bytes(&[n; 20]).unwrap()
}

pub(crate) fn plan_for(
    rev: git2::Oid,
    fixtures: &[Fixture],
    live: &LiveSet,
    inventory: Option<&BTreeSet<ObjectKey>>,
) -> Plan {
    let views: Vec<BundleView<'_>> = fixtures
        .iter()
        .map(|f| BundleView {
            name: &f.name,
            digest: format!("sha256:{}", "0".repeat(64)).into(),
            namespaces: &f.namespaces,
            allow_open: &f.allow_open,
            signers: Vec::new(),
            policies: f.policies.iter().collect(),
        })
        .collect();
    Plan::from_views(rev, &views, live, inventory, super::naming::Naming::Plain)
}

/// What the API server would hold after netpol-sync wrote `plan`'s creates and updates.
pub(crate) fn written_objects(plan: &Plan) -> Vec<NetworkPolicy> {
    plan.writes()
        .iter()
        .filter_map(|w| w.desired.as_ref())
        .enumerate()
        .map(|(i, d)| {
            let mut o = d.object();
            o.metadata.uid = Some(format!("uid-{i}"));
            o.metadata.resource_version = Some(format!("{}", i + 1));
            o
        })
        .collect()
}

fn governed(namespaces: &[&str]) -> BTreeSet<String> {
    namespaces.iter().map(|s| s.to_string()).collect()
}

fn actions(plan: &Plan) -> Vec<(Action, String)> {
    plan.writes()
        .iter()
        .map(|w| (w.action, w.key.to_string()))
        .collect()
}

#[test]
fn empty_cluster_plans_a_create_per_policy_marked_with_our_label_and_annotations() {
    let b = [bundle(
        "prod",
        &["a", "b"],
        vec![
            desired("prod", "a", "p1", 80),
            desired("prod", "b", "p2", 443),
        ],
    )];
    let plan = plan_for(revision(1), &b, &LiveSet::default(), None);
    assert_eq!(
        plan.counts(),
        Counts {
            created: 2,
            updated: 0,
            deleted: 0,
            unchanged: 0
        }
    );
    let obj = &plan.writes()[0].desired.as_ref().unwrap().object();
    let labels = obj.metadata.labels.as_ref().unwrap();
    assert_eq!(
        labels
            .get("app.kubernetes.io/managed-by")
            .map(String::as_str),
        Some("netpol-sync")
    );
    let ann = obj.metadata.annotations.as_ref().unwrap();
    assert_eq!(
        ann.get("netpol-sync.io/revision"),
        Some(&revision(1).to_string())
    );
    assert_eq!(
        ann.get("netpol-sync.io/bundle").map(String::as_str),
        Some("prod")
    );
    assert!(ann
        .get("netpol-sync.io/bundle-digest")
        .unwrap()
        .starts_with("sha256:"));
    assert_eq!(
        ann.get("netpol-sync.io/content-hash").map(String::as_str),
        Some(b[0].policies[0].content_hash())
    );
    assert!(plan.drift().is_empty());
}

#[test]
fn cluster_already_at_the_revision_plans_nothing() {
    let b = [bundle("prod", &["a"], vec![desired("prod", "a", "p1", 80)])];
    let first = plan_for(revision(1), &b, &LiveSet::default(), None);
    let live = LiveSet::from_objects(&written_objects(&first), &governed(&["a"]));
    // A later revision with the same content must not rewrite the object either.
    let again = plan_for(revision(2), &b, &live, None);
    assert!(again.is_empty(), "{:?}", actions(&again));
    assert_eq!(again.counts().unchanged, 1);
}

#[test]
fn revision_change_is_an_update_without_drift() {
    let old = [bundle("prod", &["a"], vec![desired("prod", "a", "p1", 80)])];
    let new = [bundle(
        "prod",
        &["a"],
        vec![desired("prod", "a", "p1", 8080)],
    )];
    let first = plan_for(revision(1), &old, &LiveSet::default(), None);
    let live = LiveSet::from_objects(&written_objects(&first), &governed(&["a"]));
    let plan = plan_for(revision(2), &new, &live, None);
    assert_eq!(actions(&plan), vec![(Action::Update, "a/p1".to_string())]);
    let w = &plan.writes()[0];
    assert_eq!(
        w.live.as_ref().unwrap().resource_version.as_deref(),
        Some("1")
    );
    assert!(plan.drift().is_empty());
}

#[test]
fn hand_edit_is_reverted_and_reported_with_its_field_manager() {
    let b = [bundle("prod", &["a"], vec![desired("prod", "a", "p1", 80)])];
    let first = plan_for(revision(1), &b, &LiveSet::default(), None);
    let mut objects = written_objects(&first);
    objects[0] = {
        let mut edited = policy("a", "p1", 22);
        edited.metadata = objects[0].metadata.clone();
        edited.metadata.managed_fields = Some(vec![ManagedFieldsEntry {
            manager: Some("kubectl-edit".into()),
            operation: Some("Update".into()),
            ..Default::default()
        }]);
        edited
    };
    let live = LiveSet::from_objects(&objects, &governed(&["a"]));
    let plan = plan_for(revision(1), &b, &live, None);
    assert_eq!(actions(&plan), vec![(Action::Update, "a/p1".to_string())]);
    assert_eq!(
        plan.drift(),
        &[Drift {
            kind: DriftKind::Modified,
            namespace: "a".into(),
            name: "p1".into(),
            field_manager: Some("kubectl-edit".into()),
            finalizers: Vec::new(),
        }]
    );
}

#[test]
fn hand_made_debug_hole_in_governed_namespace_is_deleted_and_reported() {
    let b = [bundle("prod", &["a"], vec![desired("prod", "a", "p1", 80)])];
    let first = plan_for(revision(1), &b, &LiveSet::default(), None);
    let mut objects = written_objects(&first);
    let mut hole = policy("a", "debug-allow-all", 1);
    hole.metadata.uid = Some("hole".into());
    hole.metadata.resource_version = Some("9".into());
    objects.push(hole);
    let live = LiveSet::from_objects(&objects, &governed(&["a"]));
    let plan = plan_for(revision(1), &b, &live, None);
    assert_eq!(
        actions(&plan),
        vec![(Action::Delete, "a/debug-allow-all".to_string())]
    );
    let w = &plan.writes()[0];
    assert_eq!(w.live.as_ref().unwrap().uid.as_deref(), Some("hole"));
    assert_eq!(
        w.live.as_ref().unwrap().resource_version.as_deref(),
        Some("9")
    );
    assert_eq!(plan.drift()[0].kind, DriftKind::Created);
}

#[test]
fn deletion_of_an_applied_policy_is_recreated_and_reported_when_inventory_is_known() {
    let b = [bundle(
        "prod",
        &["a"],
        vec![
            desired("prod", "a", "p1", 80),
            desired("prod", "a", "p2", 81),
        ],
    )];
    let first = plan_for(revision(1), &b, &LiveSet::default(), None);
    let objects: Vec<_> = written_objects(&first)
        .into_iter()
        .filter(|o| o.metadata.name.as_deref() == Some("p1"))
        .collect();
    let live = LiveSet::from_objects(&objects, &governed(&["a"]));
    let inventory: BTreeSet<ObjectKey> = first.inventory().keys().cloned().collect();
    let plan = plan_for(revision(1), &b, &live, Some(&inventory));
    assert_eq!(actions(&plan), vec![(Action::Create, "a/p2".to_string())]);
    assert_eq!(plan.drift()[0].kind, DriftKind::Deleted);
    // Without an inventory (state lost) the same create is planned, but nobody is blamed.
    let plan = plan_for(revision(1), &b, &live, None);
    assert_eq!(actions(&plan), vec![(Action::Create, "a/p2".to_string())]);
    assert!(plan.drift().is_empty());
}

/// `policies` as written by a first sync of `old`, and that sync's inventory.
fn applied(old: &[Fixture]) -> (Vec<NetworkPolicy>, BTreeSet<ObjectKey>) {
    let first = plan_for(revision(1), old, &LiveSet::default(), None);
    let inventory = first.inventory().keys().cloned().collect();
    (written_objects(&first), inventory)
}

fn key(ns: &str, name: &str) -> ObjectKey {
    ObjectKey {
        namespace: ns.into(),
        name: name.into(),
    }
}

fn forbidden(plan: &Plan) -> Vec<(String, Option<String>)> {
    plan.forbidden_openings()
        .iter()
        .map(|w| (w.namespace.clone(), w.bundle.clone()))
        .collect()
}

#[test]
fn namespace_leaving_scope_has_the_policies_we_wrote_pruned_without_drift_when_allow_open_names_it()
{
    let old = [bundle(
        "prod",
        &["a", "b"],
        vec![
            desired("prod", "a", "p1", 80),
            desired("prod", "b", "p2", 80),
        ],
    )];
    let (objects, inventory) = applied(&old);
    let live = LiveSet::from_objects(&objects, &governed(&["a"]));
    let mut new = bundle("prod", &["a"], vec![desired("prod", "a", "p1", 80)]);
    new.allow_open.insert("b".into());
    let plan = plan_for(revision(2), &[new], &live, Some(&inventory));
    assert_eq!(actions(&plan), vec![(Action::Delete, "b/p2".to_string())]);
    assert!(plan.drift().is_empty());
    assert_eq!(plan.would_open().len(), 1);
    let w = &plan.would_open()[0];
    assert_eq!((w.namespace.as_str(), w.bundle.as_deref()), ("b", None));
    assert!(w.allowed && w.allowed_by.as_deref() == Some("prod"));
}

#[test]
fn dropping_a_namespace_from_scope_would_open_it_without_allow_open() {
    let old = [bundle(
        "prod",
        &["a", "b"],
        vec![
            desired("prod", "a", "p1", 80),
            desired("prod", "b", "p2", 80),
            desired("prod", "b", "p3", 81),
        ],
    )];
    let (objects, inventory) = applied(&old);
    let live = LiveSet::from_objects(&objects, &governed(&["a"]));
    let new = [bundle("prod", &["a"], vec![desired("prod", "a", "p1", 80)])];
    let plan = plan_for(revision(2), &new, &live, Some(&inventory));
    assert_eq!(forbidden(&plan), vec![("b".to_string(), None)]);
    assert_eq!(plan.would_open()[0].live_policies, 2);
}

#[test]
fn deleting_a_bundle_would_open_its_namespaces_unless_another_bundle_allows_it() {
    let old = [
        bundle("prod", &["a"], vec![desired("prod", "a", "p1", 80)]),
        bundle("infra", &["b"], vec![desired("infra", "b", "dns", 53)]),
    ];
    let (objects, inventory) = applied(&old);
    let live = LiveSet::from_objects(&objects, &governed(&["a"]));
    let only_prod = [bundle("prod", &["a"], vec![desired("prod", "a", "p1", 80)])];
    let plan = plan_for(revision(2), &only_prod, &live, Some(&inventory));
    assert_eq!(forbidden(&plan), vec![("b".to_string(), None)]);

    // The acknowledgement may come from any selected bundle (bundle.yaml is signed).
    let mut acknowledged = bundle("prod", &["a"], vec![desired("prod", "a", "p1", 80)]);
    acknowledged.allow_open.insert("b".into());
    let plan = plan_for(revision(2), &[acknowledged], &live, Some(&inventory));
    assert!(forbidden(&plan).is_empty());
    assert_eq!(actions(&plan), vec![(Action::Delete, "b/dns".to_string())]);
}

#[test]
fn a_revision_without_bundles_never_prunes_a_namespace_that_has_policies() {
    let old = [
        bundle("prod", &["a"], vec![desired("prod", "a", "p1", 80)]),
        bundle("infra", &["b"], vec![desired("infra", "b", "dns", 53)]),
    ];
    let (objects, inventory) = applied(&old);
    let live = LiveSet::from_objects(&objects, &BTreeSet::new());
    let plan = plan_for(revision(2), &[], &live, Some(&inventory));
    assert_eq!(
        forbidden(&plan),
        vec![("a".to_string(), None), ("b".to_string(), None)]
    );
}

#[test]
fn allow_open_in_another_bundle_acknowledges_emptying_a_governed_namespace() {
    let old = [
        bundle("prod", &["a"], vec![desired("prod", "a", "p1", 80)]),
        bundle("infra", &["b"], vec![desired("infra", "b", "dns", 53)]),
    ];
    let (objects, inventory) = applied(&old);
    let live = LiveSet::from_objects(&objects, &governed(&["a", "b"]));
    let mut infra = bundle("infra", &["b"], vec![desired("infra", "b", "dns", 53)]);
    infra.allow_open.insert("a".into());
    let new = [bundle("prod", &["a"], vec![]), infra];
    let plan = plan_for(revision(2), &new, &live, Some(&inventory));
    assert!(forbidden(&plan).is_empty());
    let w = &plan.would_open()[0];
    assert_eq!(
        (w.bundle.as_deref(), w.allowed_by.as_deref()),
        (Some("prod"), Some("infra"))
    );
}

#[test]
fn our_label_outside_the_scope_is_not_ours_without_the_inventory_saying_so() {
    let b = [bundle("prod", &["a"], vec![desired("prod", "a", "p1", 80)])];
    let (mut objects, inventory) = applied(&b);
    let mut theirs = policy("team-b", "theirs", 443);
    theirs.metadata.labels =
        Some([(MANAGED_BY_LABEL.to_string(), MANAGED_BY_VALUE.to_string())].into());
    objects.push(theirs);
    let live = LiveSet::from_objects(&objects, &governed(&["a"]));
    for known in [Some(&inventory), None] {
        let plan = plan_for(revision(1), &b, &live, known);
        assert!(plan.is_empty(), "{:?}", actions(&plan));
        assert_eq!(plan.foreign_labelled(), &[key("team-b", "theirs")]);
        assert!(plan.would_open().is_empty());
        assert_eq!(
            serde_json::to_value(plan.foreign_labelled()).unwrap(),
            serde_json::json!([{"namespace": "team-b", "name": "theirs"}])
        );
    }
}

#[test]
fn without_an_inventory_nothing_outside_the_governed_namespaces_is_deleted() {
    let old = [bundle(
        "prod",
        &["a", "b"],
        vec![
            desired("prod", "a", "p1", 80),
            desired("prod", "b", "p2", 80),
        ],
    )];
    let (objects, _) = applied(&old);
    let live = LiveSet::from_objects(&objects, &governed(&["a"]));
    let mut new = bundle("prod", &["a"], vec![desired("prod", "a", "p1", 80)]);
    new.allow_open.insert("b".into());
    let plan = plan_for(revision(2), &[new], &live, None);
    assert!(plan.is_empty(), "{:?}", actions(&plan));
    assert_eq!(plan.foreign_labelled(), &[key("b", "p2")]);
}

#[test]
fn our_label_forged_in_a_governed_namespace_is_deleted_and_reported_as_drift() {
    let b = [bundle("prod", &["a"], vec![desired("prod", "a", "p1", 80)])];
    let (mut objects, inventory) = applied(&b);
    let mut forged = policy("a", "allow-all", 1);
    forged.metadata.labels =
        Some([(MANAGED_BY_LABEL.to_string(), MANAGED_BY_VALUE.to_string())].into());
    objects.push(forged);
    let live = LiveSet::from_objects(&objects, &governed(&["a"]));
    let plan = plan_for(revision(1), &b, &live, Some(&inventory));
    assert_eq!(
        actions(&plan),
        vec![(Action::Delete, "a/allow-all".to_string())]
    );
    assert_eq!(plan.drift()[0].kind, DriftKind::Created);
    // Without an inventory the label is all there is: deleted, not blamed.
    let plan = plan_for(revision(1), &b, &live, None);
    assert_eq!(
        actions(&plan),
        vec![(Action::Delete, "a/allow-all".to_string())]
    );
    assert!(plan.drift().is_empty());
}

fn terminating(mut np: NetworkPolicy, finalizers: &[&str]) -> NetworkPolicy {
    np.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        "2026-01-01T00:00:00Z".parse().unwrap(),
    ));
    np.metadata.finalizers = Some(finalizers.iter().map(|f| f.to_string()).collect());
    np.metadata.uid = Some("held-uid".into());
    np.metadata.resource_version = Some("42".into());
    np
}

#[test]
fn hand_made_hole_held_by_a_foreign_finalizer_is_reported_every_time_not_taken_as_gone() {
    let b = [bundle("prod", &["a"], vec![desired("prod", "a", "p1", 80)])];
    let (mut objects, inventory) = applied(&b);
    objects.push(terminating(
        policy("a", "allow-all", 1),
        &["example.com/keep"],
    ));
    let live = LiveSet::from_objects(&objects, &governed(&["a"]));
    for _ in 0..2 {
        let plan = plan_for(revision(1), &b, &live, Some(&inventory));
        assert!(plan.is_empty(), "{:?}", actions(&plan));
        assert_eq!(plan.held().len(), 1);
        let h = &plan.held()[0];
        assert_eq!(h.to_string(), "a/allow-all [example.com/keep]");
        assert_eq!(
            (h.uid.as_deref(), h.resource_version.as_deref()),
            (Some("held-uid"), Some("42"))
        );
        assert_eq!(plan.drift().len(), 1);
        assert_eq!(plan.drift()[0].kind, DriftKind::Held);
        assert_eq!(plan.drift()[0].finalizers, vec!["example.com/keep"]);
        assert_eq!(
            serde_json::to_value(plan.held()).unwrap(),
            serde_json::json!([{"namespace": "a", "name": "allow-all", "finalizers": ["example.com/keep"]}])
        );
    }
}

#[test]
fn held_policy_outside_the_scope_is_ours_only_by_the_inventory() {
    let b = [bundle("prod", &["a"], vec![desired("prod", "a", "p1", 80)])];
    let (mut objects, mut inventory) = applied(&b);
    let mut gone = policy("left", "old", 1);
    gone.metadata.labels =
        Some([(MANAGED_BY_LABEL.to_string(), MANAGED_BY_VALUE.to_string())].into());
    objects.push(terminating(gone, &["example.com/keep"]));
    let live = LiveSet::from_objects(&objects, &governed(&["a"]));
    let plan = plan_for(revision(1), &b, &live, Some(&inventory));
    assert!(plan.held().is_empty());
    assert_eq!(plan.foreign_labelled(), &[key("left", "old")]);
    inventory.insert(key("left", "old"));
    let plan = plan_for(revision(1), &b, &live, Some(&inventory));
    assert_eq!(plan.held().len(), 1);
    assert!(plan.foreign_labelled().is_empty());
}

#[test]
fn a_policy_being_deleted_without_finalizers_is_not_held() {
    let b = [bundle("prod", &["a"], vec![desired("prod", "a", "p1", 80)])];
    let (mut objects, inventory) = applied(&b);
    objects.push(terminating(policy("a", "going", 1), &[]));
    let live = LiveSet::from_objects(&objects, &governed(&["a"]));
    let plan = plan_for(revision(1), &b, &live, Some(&inventory));
    assert!(plan.is_empty() && plan.held().is_empty() && plan.drift().is_empty());
}

#[test]
fn missing_governed_namespace_is_skipped_and_its_policies_are_plain_creates_when_it_appears() {
    let b = [
        bundle(
            "prod",
            &["a", "gone"],
            vec![
                desired("prod", "a", "p1", 80),
                desired("prod", "gone", "p", 1),
                desired("prod", "gone", "q", 2),
            ],
        ),
        bundle("infra", &["b"], vec![desired("infra", "b", "dns", 53)]),
    ];
    let active = |names: &[&str]| -> BTreeMap<String, NamespacePhase> {
        names
            .iter()
            .map(|n| (n.to_string(), NamespacePhase::Active))
            .collect()
    };
    let live = LiveSet::default().with_namespaces(active(&["a", "b"]));
    let plan = plan_for(revision(1), &b, &live, None);
    assert_eq!(
        actions(&plan),
        vec![
            (Action::Create, "a/p1".to_string()),
            (Action::Create, "b/dns".to_string())
        ]
    );
    assert!(plan.blockers().is_empty());
    assert_eq!(
        plan.skipped_namespaces(),
        &[SkippedNamespace {
            namespace: "gone".into(),
            reason: SkipReason::Missing,
            policies: 2,
        }]
    );
    assert!(!plan.inventory().keys().any(|k| k.namespace == "gone"));
    assert_eq!(
        serde_json::to_value(plan.skipped_namespaces()).unwrap(),
        serde_json::json!([{"namespace": "gone", "reason": "missing", "policies": 2}])
    );

    // The namespace appears: ordinary creates, nobody blamed for "deleting" them.
    let inventory: BTreeSet<ObjectKey> = plan.inventory().keys().cloned().collect();
    let live = LiveSet::from_objects(&written_objects(&plan), &governed(&["a", "b", "gone"]))
        .with_namespaces(active(&["a", "b", "gone"]));
    let next = plan_for(revision(1), &b, &live, Some(&inventory));
    assert_eq!(
        actions(&next),
        vec![
            (Action::Create, "gone/p".to_string()),
            (Action::Create, "gone/q".to_string())
        ]
    );
    assert!(next.drift().is_empty(), "{:?}", next.drift());
    assert!(next.skipped_namespaces().is_empty());
}

#[test]
fn terminating_governed_namespace_is_skipped_whole_and_opens_nothing() {
    let b = [bundle(
        "prod",
        &["a", "dying"],
        vec![
            desired("prod", "a", "p1", 80),
            desired("prod", "dying", "p", 1),
        ],
    )];
    let (mut objects, inventory) = applied(&b);
    objects.push(policy("dying", "hand-made", 9));
    let namespaces = [
        ("a".to_string(), NamespacePhase::Active),
        ("dying".to_string(), NamespacePhase::Terminating),
    ]
    .into();
    let live =
        LiveSet::from_objects(&objects, &governed(&["a", "dying"])).with_namespaces(namespaces);
    let emptied = [bundle(
        "prod",
        &["a", "dying"],
        vec![desired("prod", "a", "p1", 80)],
    )];
    for rev in [&b[..], &emptied[..]] {
        let plan = plan_for(revision(2), rev, &live, Some(&inventory));
        assert!(plan.is_empty(), "{:?}", actions(&plan));
        assert!(plan.would_open().is_empty());
        assert_eq!(plan.skipped_namespaces()[0].reason, SkipReason::Terminating);
        assert!(!plan.inventory().keys().any(|k| k.namespace == "dying"));
    }
}

#[test]
fn foreign_policy_outside_the_governed_scope_is_never_touched() {
    let b = [bundle("prod", &["a"], vec![])];
    let objects = [policy("kube-system", "theirs", 53)];
    let live = LiveSet::from_objects(&objects, &governed(&["a"]));
    let plan = plan_for(revision(1), &b, &live, None);
    assert!(plan.is_empty());
}

#[test]
fn writes_are_ordered_creates_then_updates_then_deletes() {
    let old = [bundle(
        "prod",
        &["a"],
        vec![
            desired("prod", "a", "keep", 1),
            desired("prod", "a", "change", 2),
            desired("prod", "a", "drop", 3),
        ],
    )];
    let new = [bundle(
        "prod",
        &["a"],
        vec![
            desired("prod", "a", "keep", 1),
            desired("prod", "a", "change", 20),
            desired("prod", "a", "add", 4),
        ],
    )];
    let first = plan_for(revision(1), &old, &LiveSet::default(), None);
    let live = LiveSet::from_objects(&written_objects(&first), &governed(&["a"]));
    let plan = plan_for(revision(2), &new, &live, None);
    assert_eq!(
        actions(&plan),
        vec![
            (Action::Create, "a/add".to_string()),
            (Action::Update, "a/change".to_string()),
            (Action::Delete, "a/drop".to_string()),
        ]
    );
    assert_eq!(
        plan.counts(),
        Counts {
            created: 1,
            updated: 1,
            deleted: 1,
            unchanged: 1
        }
    );
}

#[test]
fn revision_emptying_a_namespace_with_policies_would_open_it_unless_allow_open_lists_it() {
    let old = [bundle("prod", &["a"], vec![desired("prod", "a", "p1", 80)])];
    let first = plan_for(revision(1), &old, &LiveSet::default(), None);
    let live = LiveSet::from_objects(&written_objects(&first), &governed(&["a"]));

    let empty = [bundle("prod", &["a"], vec![])];
    let plan = plan_for(revision(2), &empty, &live, None);
    assert_eq!(plan.forbidden_openings().len(), 1);
    assert_eq!(plan.would_open()[0].namespace, "a");
    assert_eq!(plan.would_open()[0].live_policies, 1);

    let mut allowed = bundle("prod", &["a"], vec![]);
    allowed.allow_open.insert("a".into());
    let plan = plan_for(revision(2), &[allowed], &live, None);
    assert_eq!(plan.would_open().len(), 1);
    assert!(plan.forbidden_openings().is_empty());
}

#[test]
fn namespace_with_no_policy_today_is_not_opened_by_staying_empty() {
    let empty = [bundle("prod", &["a"], vec![])];
    let plan = plan_for(revision(1), &empty, &LiveSet::default(), None);
    assert!(plan.would_open().is_empty());
}

#[test]
fn a_finalizer_held_object_the_revision_needs_blocks_the_plan() {
    let b = [bundle(
        "prod",
        &["gone", "dying", "ok"],
        vec![
            desired("prod", "gone", "p", 1),
            desired("prod", "dying", "p", 1),
            desired("prod", "ok", "held", 1),
        ],
    )];
    let mut held = policy("ok", "held", 99);
    held.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        "2026-01-01T00:00:00Z".parse().unwrap(),
    ));
    held.metadata.finalizers = Some(vec!["example.com/keep".into()]);
    let namespaces = [
        ("dying".to_string(), NamespacePhase::Terminating),
        ("ok".to_string(), NamespacePhase::Active),
    ]
    .into();
    let live = LiveSet::from_objects(&[held], &governed(&["gone", "dying", "ok"]))
        .with_namespaces(namespaces);
    let plan = plan_for(revision(1), &b, &live, None);
    let text: Vec<String> = plan.blockers().iter().map(|b| b.to_string()).collect();
    // Missing and terminating namespaces are skipped, not blockers.
    assert_eq!(text.len(), 1, "{text:?}");
    assert!(text[0].contains("ok/held") && text[0].contains("example.com/keep"));
    let skipped: Vec<(&str, SkipReason)> = plan
        .skipped_namespaces()
        .iter()
        .map(|s| (s.namespace.as_str(), s.reason))
        .collect();
    assert_eq!(
        skipped,
        vec![
            ("dying", SkipReason::Terminating),
            ("gone", SkipReason::Missing)
        ]
    );
}

#[test]
fn object_being_deleted_that_the_revision_does_not_want_is_left_to_its_finalizers() {
    let b = [bundle("prod", &["a"], vec![desired("prod", "a", "p1", 80)])];
    let first = plan_for(revision(1), &b, &LiveSet::default(), None);
    let mut objects = written_objects(&first);
    let mut going = policy("a", "old", 1);
    going.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        "2026-01-01T00:00:00Z".parse().unwrap(),
    ));
    objects.push(going);
    let live = LiveSet::from_objects(&objects, &governed(&["a"]));
    let plan = plan_for(revision(1), &b, &live, None);
    assert!(plan.is_empty(), "{:?}", actions(&plan));
}

#[test]
fn object_the_revision_wants_is_not_unchanged_while_it_is_being_deleted() {
    let b = [bundle("prod", &["a"], vec![desired("prod", "a", "p1", 80)])];
    let first = plan_for(revision(1), &b, &LiveSet::default(), None);
    let mut objects = written_objects(&first);
    objects[0].metadata.deletion_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            "2026-01-01T00:00:00Z".parse().unwrap(),
        ));
    objects[0].metadata.finalizers = Some(vec!["example.com/keep".into()]);
    let live = LiveSet::from_objects(&objects, &governed(&["a"]));
    let plan = plan_for(revision(1), &b, &live, None);
    assert_eq!(plan.counts().unchanged, 0);
    let text: Vec<String> = plan.blockers().iter().map(|b| b.to_string()).collect();
    assert_eq!(text.len(), 1, "{text:?}");
    assert!(
        text[0].contains("a/p1") && text[0].contains("example.com/keep"),
        "{text:?}"
    );
}

#[test]
fn two_bundles_each_write_their_own_bundle_annotation() {
    let b = [
        bundle("prod", &["a"], vec![desired("prod", "a", "p", 1)]),
        bundle("infra", &["b"], vec![desired("infra", "b", "p", 1)]),
    ];
    let plan = plan_for(revision(1), &b, &LiveSet::default(), None);
    let bundles: Vec<&str> = plan
        .writes()
        .iter()
        .map(|w| w.desired.as_ref().unwrap().bundle.as_str())
        .collect();
    assert_eq!(bundles, vec!["prod", "infra"]);
    assert_eq!(plan.bundles().len(), 2);
}
