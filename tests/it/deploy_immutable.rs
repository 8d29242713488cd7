//! deploy/immutable/, the lock for the immutable-objects mode (docs/operations.md, "The
//! immutable-objects lock"), rendered with kubectl's kustomize as an operator uses it: a
//! kustomization of their own naming deploy/ as its base and deploy/immutable as a
//! component (kustomize refuses an overlay inside its base, so it cannot be one).

use crate::deploy_manifests::{check_document, deploy_dir, documents};
use k8s_openapi::api::admissionregistration::v1::{
    ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

pub(crate) const IMMUTABLE_LOCK: &str = "netpol-sync-immutable-objects";

/// `to` relative to `from`, both absolute: kustomize takes no absolute resource paths.
fn relative(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<Component> = from.components().collect();
    let to: Vec<Component> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut path: PathBuf = from[common..].iter().map(|_| "..").collect();
    path.extend(&to[common..]);
    path
}

/// A directory holding the operator's kustomization: deploy/ as the base, deploy/immutable as
/// a component. Gone when the value drops.
pub(crate) fn immutable_kustomization() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("immutable-overlay")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let deploy = relative(
        &dir.path().canonicalize().unwrap(),
        &deploy_dir().canonicalize().unwrap(),
    );
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        format!(
            "resources:\n  - {}\ncomponents:\n  - {}\n",
            deploy.display(),
            deploy.join("immutable").display()
        ),
    )
    .unwrap();
    dir
}

fn kustomize(dir: &Path) -> Vec<Value> {
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("kubectl is installed");
    assert!(
        out.status.success(),
        "kubectl kustomize {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    documents(&String::from_utf8(out.stdout).unwrap())
}

fn named<'a>(docs: &'a [Value], kind: &str, name: &str) -> Option<&'a Value> {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
}

fn container_args(docs: &[Value]) -> Vec<String> {
    let deployment = named(docs, "Deployment", "netpol-sync").expect("the Deployment");
    let containers = deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    let container = containers
        .iter()
        .find(|c| c["name"] == "netpol-sync")
        .expect("the netpol-sync container");
    container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_immutable_component_lists_every_file_it_holds() {
    let dir = deploy_dir().join("immutable");
    let kustomization: Value =
        serde_yaml::from_str(&std::fs::read_to_string(dir.join("kustomization.yaml")).unwrap())
            .unwrap();
    assert_eq!(kustomization["kind"], "Component");
    let mut listed: BTreeSet<String> = kustomization["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect();
    listed.extend(
        kustomization["patches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["path"].as_str().unwrap().to_string()),
    );
    let present: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|f| f != "kustomization.yaml")
        .collect();
    assert_eq!(listed, present);
}

#[test]
fn the_immutable_overlay_renders_the_lock_and_the_flag_once() {
    let overlay = immutable_kustomization();
    let rendered = kustomize(overlay.path());
    for doc in &rendered {
        check_document(
            doc,
            &format!("rendered {} {}", doc["kind"], doc["metadata"]["name"]),
        );
    }
    // Everything deploy/ renders is still there, the existing lock included.
    let base = kustomize(&deploy_dir());
    for doc in &base {
        let (kind, name) = (doc["kind"].as_str().unwrap(), &doc["metadata"]["name"]);
        assert!(
            rendered
                .iter()
                .any(|d| d["kind"] == kind && &d["metadata"]["name"] == name),
            "the overlay lost {kind} {name}"
        );
    }
    for name in ["netpol-sync-only-writer", "netpol-sync-ownership"] {
        assert!(named(&rendered, "ValidatingAdmissionPolicy", name).is_some());
        assert!(named(&rendered, "ValidatingAdmissionPolicyBinding", name).is_some());
    }
    assert_eq!(rendered.len(), base.len() + 2, "the lock and its binding");

    // The new policy: UPDATE only, failing closed, exempting only Kubernetes' own
    // controllers, never netpol-sync or break-glass.
    let policy: ValidatingAdmissionPolicy = serde_json::from_value(
        named(&rendered, "ValidatingAdmissionPolicy", IMMUTABLE_LOCK)
            .expect("the immutable lock")
            .clone(),
    )
    .unwrap();
    let spec = policy.spec.unwrap();
    assert_eq!(spec.failure_policy.as_deref(), Some("Fail"));
    let rules = spec.match_constraints.unwrap().resource_rules.unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].operations, Some(vec!["UPDATE".to_string()]));
    assert_eq!(
        rules[0].resources,
        Some(vec!["networkpolicies".to_string()])
    );
    assert!(spec.match_conditions.unwrap_or_default().is_empty());
    let validations = spec.validations.unwrap();
    assert_eq!(validations.len(), 1);
    let cel = &validations[0].expression;
    for exempt in [
        "'system:serviceaccount:kube-system:generic-garbage-collector'",
        "'system:serviceaccount:kube-system:namespace-controller'",
        "'system:kube-controller-manager'",
        "object.spec == oldObject.spec",
    ] {
        assert!(cel.contains(exempt), "{exempt} missing from {cel}");
    }
    for never in ["netpol-sync:netpol-sync", "break-glass", "groups"] {
        assert!(!cel.contains(never), "{never} exempted in {cel}");
    }

    let binding: ValidatingAdmissionPolicyBinding = serde_json::from_value(
        named(
            &rendered,
            "ValidatingAdmissionPolicyBinding",
            IMMUTABLE_LOCK,
        )
        .expect("the immutable lock's binding")
        .clone(),
    )
    .unwrap();
    let bspec = binding.spec.unwrap();
    assert_eq!(bspec.policy_name.as_deref(), Some(IMMUTABLE_LOCK));
    assert_eq!(bspec.validation_actions, Some(vec!["Deny".to_string()]));
    let selector = bspec.match_resources.unwrap().namespace_selector.unwrap();
    assert_eq!(
        selector.match_labels,
        Some([("netpol-sync.io/governed".to_string(), "true".to_string())].into())
    );
    assert!(selector.match_expressions.is_none());

    // The mode is on: deploy/'s args with the flag appended, once.
    let args = container_args(&rendered);
    let mut expected = container_args(&base);
    assert!(!expected.iter().any(|a| a == "--immutable-objects"));
    expected.push("--immutable-objects".to_string());
    assert_eq!(args, expected);
}
