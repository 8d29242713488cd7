//! The lock of the immutable-objects mode (deploy/immutable, docs/operations.md "The
//! immutable-objects lock") evaluated by a real kube-apiserver, with the namespace
//! controller and garbage collector of a real kube-controller-manager: deploy/ with the
//! deploy/immutable component applied as an operator applies it, then nobody updates a
//! NetworkPolicy in a governed namespace (netpol-sync and break-glass included), creating
//! and deleting work as before, and Kubernetes' own finalizer and deletion work still
//! completes. Always on the real server, like real_admission.rs (docs/real-apiserver.md):
//! the emulator evaluates no admission policy.

use crate::deploy_immutable::{immutable_kustomization, IMMUTABLE_LOCK};
use crate::real_admission::{
    assert_governed_namespace_deletion_completes, assert_owned_policy_is_collected,
    assert_type_checked, locked_by, policy_doc, text, wait_until_denied, EVERY, GOVERNED,
};
use crate::support::poll;
use crate::sync_support::{Cluster, RealServer};
use std::path::Path;
use std::time::Duration;

const OURS: &str = "app.kubernetes.io/managed-by: netpol-sync";
const GC: &str = "system:serviceaccount:kube-system:generic-garbage-collector";

/// What the server says when this lock denies a request: it names the policy.
fn denied_by_the_lock(said: &str) -> bool {
    said.contains(&format!("ValidatingAdmissionPolicy '{IMMUTABLE_LOCK}'"))
        && said.contains("is immutable")
}

/// A real control plane with deploy/ and the deploy/immutable component applied, the
/// governed namespace labelled, and all three admission policies in force. The immutable
/// lock is proven in force by its own denial: break-glass (whom the other two policies let
/// through) labelling a policy in a server-side dry run.
fn immutable_cluster() -> Cluster {
    let overlay = immutable_kustomization();
    let cluster = locked_by(overlay.path());
    let real = cluster.real().unwrap();
    create_as(real, &real.netpol_sync_kubeconfig(), "probe-0000", OURS);
    wait_until_denied(
        real,
        &real.break_glass_kubeconfig(),
        &[
            "label",
            "--dry-run=server",
            "networkpolicy",
            "probe-0000",
            "-n",
            GOVERNED,
            "probe=1",
        ],
        None,
        &format!("ValidatingAdmissionPolicy '{IMMUTABLE_LOCK}'"),
    );
    cluster
}

fn create_as(real: &RealServer, kubeconfig: &Path, name: &str, labels: &str) {
    let out = real.kubectl_as(
        kubeconfig,
        &["create", "-f", "-"],
        Some(&policy_doc(GOVERNED, name, labels)),
    );
    assert!(out.status.success(), "create {name}: {}", text(&out));
}

/// The policy's resourceVersion: unchanged means no write went through.
fn version(cluster: &Cluster, name: &str) -> String {
    let policy = cluster
        .policy(GOVERNED, name)
        .unwrap_or_else(|| panic!("{GOVERNED}/{name} is gone"));
    policy["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string()
}

/// `args` (with `stdin`) as `kubeconfig`'s identity is denied by this lock, and changes
/// nothing.
fn assert_update_denied(
    cluster: &Cluster,
    kubeconfig: &Path,
    name: &str,
    args: &[&str],
    stdin: Option<&str>,
) {
    let real = cluster.real().unwrap();
    let before = version(cluster, name);
    let out = real.kubectl_as(kubeconfig, args, stdin);
    let said = text(&out);
    assert!(!out.status.success(), "{args:?} went through: {said}");
    assert!(denied_by_the_lock(&said), "{args:?}: {said}");
    assert_eq!(version(cluster, name), before, "{args:?} changed {name}");
}

/// Every kind of update to `name` in the governed namespace: a replace that changes the
/// spec, one that changes nothing, and (where RBAC grants patch) patches of the spec, the
/// labels and the annotations.
fn updates(name: &str, with_patch: bool) -> Vec<(Vec<String>, Option<String>)> {
    let changed = policy_doc(GOVERNED, name, OURS).replace("[Ingress]", "[Ingress, Egress]");
    let same = policy_doc(GOVERNED, name, OURS);
    let mut all = vec![
        (
            vec!["replace".into(), "-f".into(), "-".into()],
            Some(changed),
        ),
        (vec!["replace".into(), "-f".into(), "-".into()], Some(same)),
    ];
    if with_patch {
        let target = ["networkpolicy", name, "-n", GOVERNED].map(String::from);
        for patch in [
            r#"{"spec":{"policyTypes":["Egress"]}}"#,
            r#"{"metadata":{"labels":{"tier":"debug"}}}"#,
            r#"{"metadata":{"annotations":{"note":"hand edit"}}}"#,
        ] {
            let mut args = vec!["patch".to_string()];
            args.extend(target.iter().cloned());
            args.extend(["--type=merge".into(), "-p".into(), patch.into()]);
            all.push((args, None));
        }
    }
    all
}

#[test]
fn nobody_updates_a_governed_policy_not_netpol_sync_nor_break_glass() {
    let cluster = immutable_cluster();
    let real = cluster.real().unwrap();
    assert_type_checked(real, IMMUTABLE_LOCK);
    create_as(real, &real.netpol_sync_kubeconfig(), "api-1a2b3c", OURS);

    // netpol-sync's own identity (deploy/rbac.yaml grants update, not patch): even a
    // replace that changes nothing is an UPDATE, and denied.
    for (args, stdin) in updates("api-1a2b3c", false) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_update_denied(
            &cluster,
            &real.netpol_sync_kubeconfig(),
            "api-1a2b3c",
            &args,
            stdin.as_deref(),
        );
    }
    // Break-glass: the other two policies let it write, this one does not let it update.
    for (args, stdin) in updates("api-1a2b3c", true) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_update_denied(
            &cluster,
            &real.break_glass_kubeconfig(),
            "api-1a2b3c",
            &args,
            stdin.as_deref(),
        );
    }
}

#[test]
fn netpol_sync_still_creates_and_deletes_and_a_developer_still_cannot_create() {
    let cluster = immutable_cluster();
    let real = cluster.real().unwrap();
    let sa = real.netpol_sync_kubeconfig();

    // A changed policy is a new object and the old one's deletion: both go through.
    create_as(real, &sa, "api-1a2b3c", OURS);
    create_as(real, &sa, "api-4d5e6f", OURS);
    let out = real.kubectl_as(
        &sa,
        &["delete", "networkpolicy", "api-1a2b3c", "-n", GOVERNED],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(cluster.policy(GOVERNED, "api-1a2b3c").is_none());
    assert!(cluster.policy(GOVERNED, "api-4d5e6f").is_some());

    // The existing lock still stands: a developer creates nothing in a governed namespace.
    let out = real.kubectl_as(
        &real.developer_kubeconfig(),
        &["create", "-f", "-"],
        Some(&policy_doc(GOVERNED, "debug-hole", "")),
    );
    let said = text(&out);
    assert!(
        !out.status.success(),
        "a developer created a policy: {said}"
    );
    assert!(
        said.contains("ValidatingAdmissionPolicy 'netpol-sync-only-writer'")
            && said.contains("change it in Git"),
        "{said}"
    );
    assert!(cluster.policy(GOVERNED, "debug-hole").is_none());
}

#[test]
fn the_garbage_collector_may_change_finalizers_but_nothing_netpol_sync_wrote() {
    let cluster = immutable_cluster();
    let real = cluster.real().unwrap();
    create_as(real, &real.netpol_sync_kubeconfig(), "api-1a2b3c", OURS);
    let admin = real.admin_kubeconfig();
    let as_gc = format!("--as={GC}");
    let patch = |body: &str| {
        [
            as_gc.as_str(),
            "patch",
            "networkpolicy",
            "api-1a2b3c",
            "-n",
            GOVERNED,
            "--type=merge",
            "-p",
        ]
        .into_iter()
        .map(String::from)
        .chain([body.to_string()])
        .collect::<Vec<String>>()
    };

    // The exemption is for bookkeeping only: the collector's identity may not touch the
    // spec, the labels or the annotations.
    for body in [
        r#"{"spec":{"policyTypes":["Egress"]}}"#,
        r#"{"metadata":{"labels":{"app.kubernetes.io/managed-by":"someone"}}}"#,
        r#"{"metadata":{"annotations":{"note":"changed"}}}"#,
    ] {
        let args = patch(body);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_update_denied(&cluster, &admin, "api-1a2b3c", &args, None);
    }
    // It may add and remove a finalizer.
    for body in [
        r#"{"metadata":{"finalizers":["netpol-sync.io/test-hold"]}}"#,
        r#"{"metadata":{"finalizers":null}}"#,
    ] {
        let args = patch(body);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = real.kubectl_as(&admin, &args, None);
        assert!(out.status.success(), "{body}: {}", text(&out));
    }

    // The real collector's own update: a foreground deletion marks the policy with the
    // `foregroundDeletion` finalizer, which the garbage collector removes by updating the
    // policy; the deletion completes only if the lock lets that update through.
    let out = real.kubectl_as(
        &real.netpol_sync_kubeconfig(),
        &[
            "delete",
            "networkpolicy",
            "api-1a2b3c",
            "-n",
            GOVERNED,
            "--cascade=foreground",
            "--wait=false",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let mut last = None;
    let gone = poll(Duration::from_secs(90), EVERY, || {
        last = cluster.policy(GOVERNED, "api-1a2b3c");
        last.is_none()
    });
    assert!(
        gone.is_some(),
        "the foreground deletion never completed: {last:?}"
    );
}

#[test]
fn deleting_a_governed_namespace_completes_under_the_immutable_lock() {
    let cluster = immutable_cluster();
    let real = cluster.real().unwrap();
    create_as(real, &real.netpol_sync_kubeconfig(), "api-1a2b3c", OURS);
    create_as(real, &real.break_glass_kubeconfig(), "debug-hole", "");
    assert_governed_namespace_deletion_completes(real);
}

#[test]
fn garbage_collection_of_an_owned_policy_completes_under_the_immutable_lock() {
    let cluster = immutable_cluster();
    assert_owned_policy_is_collected(&cluster);
}

/// netpol-sync itself, under deploy/rbac.yaml's identity and this lock, syncs a changed
/// policy with `--immutable-objects`: the new object is created and the old one deleted,
/// nothing is updated, and the lock lets all of it through (docs/sync.md, "Immutable
/// objects").
#[test]
fn netpol_sync_syncs_a_change_through_the_lock_with_immutable_objects() {
    use crate::sync_support::{
        expected_immutable, in_namespaces, sync, write_actions, BundleSpec, PolicyRepo,
    };
    use netpol_sync::plan::Action;
    let cluster = immutable_cluster();
    let spec = |port| BundleSpec::new("shop", &[GOVERNED], &[(GOVERNED, "api", port)]);
    let repo = PolicyRepo::new();
    repo.revision(&[spec(8443)], "v1");
    let run = sync(&repo, &cluster, &["--immutable-objects"]);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    assert_eq!(
        in_namespaces(&cluster.policy_hashes(), &[GOVERNED]),
        expected_immutable(&[spec(8443)])
    );

    repo.revision(&[spec(9443)], "v2");
    let from = cluster.history_len();
    let run = sync(&repo, &cluster, &["--immutable-objects"]);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    assert_eq!(run.json["verdict"], "applied", "{}", run.json);
    assert_eq!(
        write_actions(&cluster, from),
        vec![Action::Create, Action::Delete]
    );
    assert_eq!(
        in_namespaces(&cluster.policy_hashes(), &[GOVERNED]),
        expected_immutable(&[spec(9443)])
    );
}
