//! One live NetworkPolicy as a bundle file: what a bundle may say of it (docs/bundles.md,
//! "Policy files": name, namespace, labels, annotations and spec) and nothing the server
//! or netpol-sync wrote.

use crate::marks::{ANNOTATION_PREFIX, MANAGED_BY_LABEL, MANAGED_BY_VALUE, POLICY_LABEL};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use netpol_policy::NetworkPolicy;

/// A live policy made a bundle file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleObject {
    pub namespace: String,
    /// The policy's name in the bundle (for an object written by `--immutable-objects`,
    /// the policy it was written for).
    pub name: String,
    /// The file's text.
    pub yaml: String,
    /// What was left out or renamed, a sentence each.
    pub notes: Vec<String>,
    /// Whether something left out is content: the first sync will change the live
    /// object (its owner references, which a bundle cannot state).
    pub changes_content: bool,
}

/// `np` as a bundle file, or its name and why it cannot be one.
pub fn bundle_object(np: NetworkPolicy) -> Result<BundleObject, (String, String)> {
    let meta = np.metadata;
    let live_name = meta.name.clone().unwrap_or_default();
    let namespace = meta.namespace.clone().unwrap_or_default();
    if live_name.is_empty() || namespace.is_empty() {
        return Err((
            live_name,
            "the API server listed it without a name or namespace".into(),
        ));
    }
    let mut notes = Vec::new();
    let mut labels = meta.labels.unwrap_or_default();
    let ours = labels.get(MANAGED_BY_LABEL).map(String::as_str) == Some(MANAGED_BY_VALUE);
    if let Some(value) = labels.remove(MANAGED_BY_LABEL) {
        if value != MANAGED_BY_VALUE {
            notes.push(format!(
                "label {MANAGED_BY_LABEL}={value} left out: netpol-sync sets that label itself"
            ));
        }
    }
    let mut name = live_name.clone();
    if ours {
        if let Some(policy) = labels.remove(POLICY_LABEL) {
            if policy != live_name {
                notes.push(format!(
                    "imported as {policy}, the policy the object {live_name} was written for (--immutable-objects)"
                ));
                name = policy;
            }
        }
    }
    let mut annotations = meta.annotations.unwrap_or_default();
    annotations.retain(|k, _| !k.starts_with(ANNOTATION_PREFIX));
    let mut changes_content = false;
    if let Some(owners) = meta.owner_references.filter(|o| !o.is_empty()) {
        let named: Vec<String> = owners
            .iter()
            .map(|o| format!("{}/{}", o.kind, o.name))
            .collect();
        notes.push(format!(
            "owner references ({}) left out: a bundle cannot state them, and the first sync removes them, so the owner's deletion no longer deletes it",
            named.join(", ")
        ));
        changes_content = true;
    }
    if let Some(finalizers) = meta.finalizers.filter(|f| !f.is_empty()) {
        notes.push(format!(
            "finalizers ({}) left out: a bundle cannot state them; netpol-sync keeps someone else's finalizers on a policy it writes (docs/sync.md)",
            finalizers.join(", ")
        ));
    }
    let object = NetworkPolicy {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(namespace.clone()),
            labels: (!labels.is_empty()).then_some(labels),
            annotations: (!annotations.is_empty()).then_some(annotations),
            ..ObjectMeta::default()
        },
        spec: np.spec,
    };
    let yaml = serde_yaml::to_string(&object).map_err(|e| (live_name, e.to_string()))?;
    Ok(BundleObject {
        namespace,
        name,
        yaml,
        notes,
        changes_content,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn live(v: serde_json::Value) -> NetworkPolicy {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn server_fields_and_our_marks_are_left_out_and_the_rest_kept() {
        let np = live(json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "api", "namespace": "shop", "uid": "u", "resourceVersion": "7",
                "generation": 2, "creationTimestamp": "2026-01-01T00:00:00Z",
                "managedFields": [{"manager": "kubectl", "operation": "Update"}],
                "labels": {"team": "shop", "app.kubernetes.io/managed-by": "helm"},
                "annotations": {"note": "kept", "netpol-sync.io/revision": "abc"}},
            "spec": {"podSelector": {"matchLabels": {"app": "api"}}, "policyTypes": ["Ingress"],
                "ingress": [{"ports": [{"protocol": "TCP", "port": 8443}]}]}
        }));
        let out = bundle_object(np).unwrap();
        let doc: serde_json::Value = serde_yaml::from_str(&out.yaml).unwrap();
        assert_eq!(
            doc,
            json!({
                "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": "api", "namespace": "shop", "labels": {"team": "shop"},
                    "annotations": {"note": "kept"}},
                "spec": {"podSelector": {"matchLabels": {"app": "api"}}, "policyTypes": ["Ingress"],
                    "ingress": [{"ports": [{"protocol": "TCP", "port": 8443}]}]}
            })
        );
        assert!(!out.changes_content);
        assert_eq!(out.notes.len(), 1, "{:?}", out.notes);
        assert!(out.notes[0].contains("managed-by=helm"), "{:?}", out.notes);
    }

    #[test]
    fn owners_are_content_the_first_sync_changes_and_finalizers_are_named() {
        let np = live(json!({
            "metadata": {"name": "p", "namespace": "a", "finalizers": ["example.com/hold"],
                "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "cm", "uid": "1"}]},
            "spec": {"podSelector": {}}
        }));
        let out = bundle_object(np).unwrap();
        assert!(out.changes_content, "the owner references");
        assert!(
            out.notes.iter().any(|n| n.contains("ConfigMap/cm")),
            "{:?}",
            out.notes
        );
        assert!(
            out.notes.iter().any(|n| n.contains("example.com/hold")),
            "{:?}",
            out.notes
        );
        assert!(!out.yaml.contains("ownerReferences") && !out.yaml.contains("finalizers"));
    }

    #[test]
    fn an_immutable_object_is_imported_under_its_policy_name() {
        let np = live(json!({
            "metadata": {"name": "api-0123456789", "namespace": "a",
                "labels": {"app.kubernetes.io/managed-by": "netpol-sync", "netpol-sync.io/policy": "api"}},
            "spec": {"podSelector": {}}
        }));
        let out = bundle_object(np).unwrap();
        assert_eq!(out.name, "api");
        assert!(!out.yaml.contains("netpol-sync"), "{}", out.yaml);
        // Someone else's label of that key is theirs: kept, and the name too.
        let np = live(json!({
            "metadata": {"name": "x", "namespace": "a", "labels": {"netpol-sync.io/policy": "y"}},
            "spec": {"podSelector": {}}
        }));
        let out = bundle_object(np).unwrap();
        assert_eq!(out.name, "x");
        assert!(
            out.yaml.contains("netpol-sync.io/policy: y"),
            "{}",
            out.yaml
        );
    }

    #[test]
    fn an_object_without_a_name_is_refused() {
        let np = live(json!({"metadata": {"namespace": "a"}, "spec": {"podSelector": {}}}));
        assert!(bundle_object(np).is_err());
    }
}
