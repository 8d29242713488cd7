//! The admission lock of deploy/ evaluated by a real kube-apiserver (its CEL, its
//! ValidatingAdmissionPolicy plugin), with the namespace controller and garbage collector of
//! a real kube-controller-manager: `kubectl apply -k deploy/` as an operator runs it, then
//! who may write NetworkPolicies in a governed namespace and who may not. Always on the real
//! server (docs/real-apiserver.md): the emulator evaluates no admission policy.

use crate::sync_support;

use crate::support::poll;
use serde_json::Value;
use std::path::Path;
use std::process::Output;
use std::time::Duration;
use sync_support::*;

pub(crate) const GOVERNED: &str = "payments";
pub(crate) const UNGOVERNED: &str = "sandbox";
/// How often a wait on the server runs kubectl again.
pub(crate) const EVERY: Duration = Duration::from_millis(250);

fn shop() -> BundleSpec {
    BundleSpec::new(
        "shop",
        &[GOVERNED],
        &[(GOVERNED, "default-deny", 1), (GOVERNED, "api", 8443)],
    )
}

pub(crate) fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub(crate) fn policy_doc(ns: &str, name: &str, labels: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels: {{{labels}}}\nspec:\n  podSelector: {{}}\n  policyTypes: [Ingress]\n"
    )
}

/// A real control plane with deploy/ applied as `kubectl apply -k deploy/` does it, the
/// governed namespace labelled, and the lock in force: a developer's server-side dry runs
/// are denied by each admission policy (the plugin loads new policies asynchronously;
/// waiting for that is bounded).
fn locked_cluster() -> (Cluster, PolicyRepo) {
    let cluster = locked_by(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy")));
    let repo = PolicyRepo::new();
    repo.revision(&[shop()], "v1");
    (cluster, repo)
}

/// Until `args` (with `stdin`) as `kubeconfig`'s identity fails saying `denial`, within a
/// minute: the admission plugin loads a new policy asynchronously, so the first requests
/// after an apply may pass.
pub(crate) fn wait_until_denied(
    real: &RealServer,
    kubeconfig: &Path,
    args: &[&str],
    stdin: Option<&str>,
    denial: &str,
) {
    let mut said = String::new();
    let locked = poll(Duration::from_secs(60), EVERY, || {
        let out = real.kubectl_as(kubeconfig, args, stdin);
        said = text(&out);
        !out.status.success() && said.contains(denial)
    });
    assert!(
        locked.is_some(),
        "the admission lock never took effect ({args:?} never said {denial:?}): {said}"
    );
}

/// A real control plane with the kustomization in `dir` applied by cluster-admin, the
/// governed namespace labelled, and deploy/admission-policy.yaml's two policies in force.
pub(crate) fn locked_by(dir: &Path) -> Cluster {
    let cluster = Cluster::start_real(&[GOVERNED, UNGOVERNED]);
    let real = cluster.real().unwrap();
    let out = real.kubectl_as(
        &real.admin_kubeconfig(),
        &["apply", "-k", dir.to_str().unwrap()],
        None,
    );
    assert!(
        out.status.success(),
        "kubectl apply -k {}: {}",
        dir.display(),
        text(&out)
    );
    real.kubectl_ok(&[
        "label",
        "namespace",
        GOVERNED,
        "netpol-sync.io/governed=true",
    ]);
    // Both admission policies in force: each denies its own probe.
    let probes = [
        (
            policy_doc(GOVERNED, "probe", ""),
            "is managed by netpol-sync: change it in Git",
        ),
        (
            policy_doc(
                UNGOVERNED,
                "probe",
                "app.kubernetes.io/managed-by: netpol-sync",
            ),
            "carries netpol-sync's ownership label",
        ),
    ];
    for (probe, denial) in probes {
        wait_until_denied(
            real,
            &real.developer_kubeconfig(),
            &["create", "--dry-run=server", "-f", "-"],
            Some(&probe),
            denial,
        );
    }
    cluster
}

/// The type-checking controller has checked the admission policy `name`'s validations (and
/// their messages) against the NetworkPolicy schema and reports no warning. It does not
/// check matchConditions: the behaviour tests exercise those.
pub(crate) fn assert_type_checked(real: &RealServer, name: &str) {
    let mut vap = Value::Null;
    let checked = poll(Duration::from_secs(60), EVERY, || {
        let out = real.kubectl_ok(&["get", "validatingadmissionpolicy", name, "-o", "json"]);
        vap = serde_json::from_str(&out).unwrap();
        vap["status"]["observedGeneration"] == vap["metadata"]["generation"]
    });
    assert!(checked.is_some(), "{name} was never type-checked: {vap}");
    let status = &vap["status"];
    assert!(
        status["typeChecking"]["expressionWarnings"]
            .as_array()
            .is_none_or(|w| w.is_empty()),
        "{name}: {status}"
    );
}

/// Delete the governed namespace, which holds policies, and wait until it is gone. The
/// namespace controller deletes its policies as
/// system:serviceaccount:kube-system:namespace-controller, which the lock lets through.
pub(crate) fn assert_governed_namespace_deletion_completes(real: &RealServer) {
    real.kubectl_ok(&["delete", "namespace", GOVERNED, "--wait=false"]);
    let mut said = String::new();
    let gone = poll(Duration::from_secs(90), EVERY, || {
        let out = real.kubectl_as(
            &real.admin_kubeconfig(),
            &["get", "namespace", GOVERNED, "-o", "json"],
            None,
        );
        said = text(&out);
        !out.status.success() && said.contains("NotFound")
    });
    assert!(
        gone.is_some(),
        "namespace deletion did not complete: {said}"
    );
}

/// Break-glass creates a policy owned by a ConfigMap in the governed namespace; the
/// ConfigMap is deleted, and the garbage collector deletes the dependent as
/// system:serviceaccount:kube-system:generic-garbage-collector, within a bound.
pub(crate) fn assert_owned_policy_is_collected(cluster: &Cluster) {
    let real = cluster.real().unwrap();
    real.kubectl_ok(&["create", "configmap", "owner", "-n", GOVERNED]);
    let uid = real.kubectl_ok(&[
        "get",
        "configmap",
        "owner",
        "-n",
        GOVERNED,
        "-o",
        "jsonpath={.metadata.uid}",
    ]);
    let owned = format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: owned\n  namespace: {GOVERNED}\n  ownerReferences:\n  - apiVersion: v1\n    kind: ConfigMap\n    name: owner\n    uid: {uid}\nspec:\n  podSelector: {{}}\n"
    );
    let out = real.kubectl_as(
        &real.break_glass_kubeconfig(),
        &["create", "-f", "-"],
        Some(&owned),
    );
    assert!(out.status.success(), "{}", text(&out));
    real.kubectl_ok(&["delete", "configmap", "owner", "-n", GOVERNED]);
    let collected = poll(Duration::from_secs(90), EVERY, || {
        cluster.policy(GOVERNED, "owned").is_none()
    });
    assert!(
        collected.is_some(),
        "the garbage collector could not delete {GOVERNED}/owned"
    );
}

#[test]
fn deploy_is_accepted_by_the_real_server_and_its_admission_policies_type_check() {
    let (cluster, _repo) = locked_cluster();
    let real = cluster.real().unwrap();
    // The controller that type-checks the validations' CEL expressions (and their
    // messages) against the NetworkPolicy schema writes its verdict to each policy's status.
    for name in ["netpol-sync-only-writer", "netpol-sync-ownership"] {
        assert_type_checked(real, name);
    }
    // Every document of deploy/ is there as written.
    for (kind, ns, name) in [
        ("deployment", "netpol-sync", "netpol-sync"),
        ("secret", "netpol-sync", "netpol-sync-state-key"),
        ("networkpolicy", "netpol-sync", "netpol-sync"),
        (
            "validatingadmissionpolicybinding",
            "",
            "netpol-sync-only-writer",
        ),
        (
            "validatingadmissionpolicybinding",
            "",
            "netpol-sync-ownership",
        ),
    ] {
        let mut args = vec!["get", kind, name];
        if !ns.is_empty() {
            args.extend(["-n", ns]);
        }
        real.kubectl_ok(&args);
    }
}

#[test]
fn in_a_governed_namespace_only_netpol_sync_and_break_glass_write_policies() {
    let (cluster, repo) = locked_cluster();
    let real = cluster.real().unwrap();

    // netpol-sync's own identity (deploy/rbac.yaml only) applies the revision.
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    assert_eq!(run.json["verdict"], "applied");

    // A developer with RBAC edit rights on every NetworkPolicy: each write is denied, and
    // the message says where the change belongs.
    let dev = real.developer_kubeconfig();
    let attempts: [(&[&str], Option<String>); 4] = [
        (
            &["create", "-f", "-"],
            Some(policy_doc(GOVERNED, "debug-hole", "")),
        ),
        (
            &["replace", "-f", "-"],
            Some(policy_doc(GOVERNED, "api", "")),
        ),
        (
            &[
                "patch",
                "networkpolicy",
                "api",
                "-n",
                GOVERNED,
                "--type=merge",
                "-p",
                r#"{"spec":{"policyTypes":["Egress"]}}"#,
            ],
            None,
        ),
        (&["delete", "networkpolicy", "api", "-n", GOVERNED], None),
    ];
    // Both admission policies deny a write to a policy of ours in a governed namespace, and
    // the server reports whichever it evaluated first: each message points to Git.
    for (args, stdin) in attempts {
        let out = real.kubectl_as(&dev, args, stdin.as_deref());
        assert!(!out.status.success(), "developer {args:?} went through");
        let said = text(&out);
        assert!(
            said.contains("netpol-sync") && said.contains("change it in Git"),
            "developer {args:?}: {said}"
        );
    }
    // cluster-admin is no exception: the lock is admission, not RBAC.
    let out = real.kubectl_as(
        &real.admin_kubeconfig(),
        &["delete", "networkpolicy", "api", "-n", GOVERNED],
        None,
    );
    assert!(
        !out.status.success(),
        "cluster-admin deleted a governed policy"
    );

    // Outside the governed namespaces a developer writes freely, but never a policy that
    // carries netpol-sync's ownership label (its revision annotations are a witness).
    let out = real.kubectl_as(
        &dev,
        &["create", "-f", "-"],
        Some(&policy_doc(UNGOVERNED, "mine", "")),
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = real.kubectl_as(
        &dev,
        &["create", "-f", "-"],
        Some(&policy_doc(
            UNGOVERNED,
            "forged",
            "app.kubernetes.io/managed-by: netpol-sync",
        )),
    );
    assert!(
        !out.status.success(),
        "a forged ownership label went through"
    );
    assert!(text(&out).contains("ownership label"), "{}", text(&out));

    // Break-glass: on-call may write, and the next cycle puts the revision back.
    let bg = real.break_glass_kubeconfig();
    for (args, stdin) in [
        (
            vec!["create", "-f", "-"],
            Some(policy_doc(GOVERNED, "debug-hole", "")),
        ),
        (vec!["delete", "networkpolicy", "api", "-n", GOVERNED], None),
    ] {
        let out = real.kubectl_as(&bg, &args, stdin.as_deref());
        assert!(out.status.success(), "break-glass {args:?}: {}", text(&out));
    }
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    assert_eq!(run.json["verdict"], "applied", "{}", run.json);
    assert_eq!(
        in_namespaces(&cluster.policy_hashes(), &[GOVERNED]),
        expected_hashes(&[shop()])
    );
}

#[test]
fn deleting_a_governed_namespace_completes_under_the_lock() {
    let (cluster, repo) = locked_cluster();
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    assert_governed_namespace_deletion_completes(cluster.real().unwrap());
}

#[test]
fn garbage_collection_of_an_owned_policy_completes_under_the_lock() {
    let (cluster, _repo) = locked_cluster();
    assert_owned_policy_is_collected(&cluster);
}
