//! The comparable form of a NetworkPolicy and its content hash.
//!
//! Two policies are "the same" for netpol-sync when the apiserver would store the same
//! user-owned content for them. So the form is: defaults applied; server-owned metadata
//! dropped (uid, resourceVersion, generation, creationTimestamp, deletionTimestamp,
//! deletionGracePeriodSeconds, managedFields, selfLink) and generateName (meaningless once
//! a name exists); netpol-sync's own marks dropped (annotations under the given prefix and
//! the `app.kubernetes.io/managed-by` label); and empty lists and maps folded to absent
//! exactly where Go's `omitempty` drops them, so `ingress: []` equals no `ingress`.
//!
//! Kept on purpose: `ownerReferences` and `finalizers`. An owner reference lets the garbage
//! collector delete the policy with its owner, and a finalizer can hold its deletion, so a
//! hand-added one changes what the cluster will do and is drift to revert.
//!
//! Never folded: an empty `podSelector` (selects every pod in the namespace) or an empty
//! `namespaceSelector`/peer `podSelector` (selects everything): there `{}` is meaningful.

use k8s_openapi::api::networking::v1::{NetworkPolicyPeer, NetworkPolicySpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use sha2::{Digest, Sha256};

use crate::NetworkPolicy;

/// The label netpol-sync puts on what it owns; not content.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";

fn fold_vec<T>(v: &mut Option<Vec<T>>) {
    if v.as_ref().is_some_and(Vec::is_empty) {
        *v = None;
    }
}

fn fold_map<K, V>(m: &mut Option<std::collections::BTreeMap<K, V>>) {
    if m.as_ref().is_some_and(std::collections::BTreeMap::is_empty) {
        *m = None;
    }
}

fn normalize_selector(sel: &mut LabelSelector) {
    fold_map(&mut sel.match_labels);
    for expr in sel.match_expressions.iter_mut().flatten() {
        fold_vec(&mut expr.values);
    }
    fold_vec(&mut sel.match_expressions);
}

fn normalize_peer(peer: &mut NetworkPolicyPeer) {
    if let Some(sel) = &mut peer.pod_selector {
        normalize_selector(sel);
    }
    if let Some(sel) = &mut peer.namespace_selector {
        normalize_selector(sel);
    }
    if let Some(block) = &mut peer.ip_block {
        fold_vec(&mut block.except);
    }
}

fn normalize_spec(spec: &mut NetworkPolicySpec) {
    if let Some(sel) = &mut spec.pod_selector {
        normalize_selector(sel);
    }
    for rule in spec.ingress.iter_mut().flatten() {
        rule.from.iter_mut().flatten().for_each(normalize_peer);
        fold_vec(&mut rule.from);
        fold_vec(&mut rule.ports);
    }
    for rule in spec.egress.iter_mut().flatten() {
        rule.to.iter_mut().flatten().for_each(normalize_peer);
        fold_vec(&mut rule.to);
        fold_vec(&mut rule.ports);
    }
    fold_vec(&mut spec.ingress);
    fold_vec(&mut spec.egress);
    fold_vec(&mut spec.policy_types);
}

fn normalize_meta(meta: &ObjectMeta, strip_annotation_prefix: &str) -> ObjectMeta {
    let mut labels = meta.labels.clone();
    if let Some(l) = &mut labels {
        l.remove(MANAGED_BY_LABEL);
    }
    fold_map(&mut labels);
    let mut annotations = meta.annotations.clone();
    if let Some(a) = &mut annotations {
        if !strip_annotation_prefix.is_empty() {
            a.retain(|k, _| !k.starts_with(strip_annotation_prefix));
        }
    }
    fold_map(&mut annotations);
    let mut owner_references = meta.owner_references.clone();
    fold_vec(&mut owner_references);
    let mut finalizers = meta.finalizers.clone();
    fold_vec(&mut finalizers);
    ObjectMeta {
        name: meta.name.clone().filter(|n| !n.is_empty()),
        namespace: meta.namespace.clone().filter(|n| !n.is_empty()),
        labels,
        annotations,
        owner_references,
        finalizers,
        ..ObjectMeta::default()
    }
}

/// The comparable form: defaulted, server-owned metadata removed, annotations starting
/// with `strip_annotation_prefix` removed (none when it is empty), the managed-by label
/// removed, empty lists/maps folded where the apiserver would omit them.
pub fn normalize(np: &NetworkPolicy, strip_annotation_prefix: &str) -> NetworkPolicy {
    let mut spec = np.spec.clone();
    let mut out = NetworkPolicy {
        metadata: normalize_meta(&np.metadata, strip_annotation_prefix),
        spec: spec.take(),
    };
    crate::apply_defaults(&mut out);
    if let Some(spec) = &mut out.spec {
        normalize_spec(spec);
    }
    out
}

/// The canonical JSON bytes of [`normalize`]'s output (what [`content_hash`] hashes):
/// compact, object keys in sorted order. k8s-openapi writes struct fields in sorted JSON
/// name order and maps are BTreeMaps, so serialising directly is canonical; a test checks
/// this against an explicitly sorting writer.
pub fn canonical_json(np: &NetworkPolicy, strip_annotation_prefix: &str) -> Vec<u8> {
    let normalized = normalize(np, strip_annotation_prefix);
    // Serialising these types to memory has no failure path.
    serde_json::to_vec(&normalized).unwrap_or_default()
}

/// `sha256:<hex>` of the canonical JSON of [`normalize`].
pub fn content_hash(np: &NetworkPolicy, strip_annotation_prefix: &str) -> String {
    let bytes = canonical_json(np, strip_annotation_prefix);
    format!("sha256:{}", hex::encode(Sha256::digest(&bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// JSON with object keys sorted explicitly, whatever order the map type keeps.
    fn write_sorted(v: &Value, out: &mut Vec<u8>) {
        match v {
            Value::Object(map) => {
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                out.push(b'{');
                for (i, (k, val)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend(serde_json::to_vec(k).expect("string"));
                    out.push(b':');
                    write_sorted(val, out);
                }
                out.push(b'}');
            }
            Value::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_sorted(item, out);
                }
                out.push(b']');
            }
            scalar => out.extend(serde_json::to_vec(scalar).expect("scalar")),
        }
    }

    #[test]
    fn direct_serialisation_is_key_sorted() {
        let mut everything = live_copy();
        everything.metadata.owner_references = Some(vec![serde_json::from_value(json!(
            {"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "uid": "u", "controller": true, "blockOwnerDeletion": false}
        )).expect("owner reference")]);
        everything.metadata.finalizers = Some(vec!["example.com/f".into()]);
        if let Some(spec) = everything.spec.as_mut() {
            *spec = serde_json::from_value(json!({
                "podSelector": {"matchLabels": {"b": "1", "a": "2"}, "matchExpressions": [{"key": "k", "operator": "In", "values": ["z", "y"]}]},
                "policyTypes": ["Egress", "Ingress"],
                "ingress": [{"ports": [{"protocol": "UDP", "port": 53, "endPort": 60}],
                             "from": [{"podSelector": {}, "namespaceSelector": {"matchLabels": {"x": "y"}}},
                                      {"ipBlock": {"except": ["10.1.0.0/16"], "cidr": "10.0.0.0/8"}}]}],
                "egress": [{"to": [{"ipBlock": {"cidr": "::/0"}}], "ports": [{"port": "dns"}]}]
            })).expect("spec");
        }
        let direct = canonical_json(&everything, PREFIX);
        let mut sorted = Vec::new();
        write_sorted(&serde_json::from_slice(&direct).expect("json"), &mut sorted);
        assert_eq!(
            String::from_utf8(direct).expect("utf-8"),
            String::from_utf8(sorted).expect("utf-8")
        );
    }

    const PREFIX: &str = "netpol-sync.io/";

    fn np(v: serde_json::Value) -> NetworkPolicy {
        serde_json::from_value(v).expect("fixture is a NetworkPolicy")
    }

    fn live_copy() -> NetworkPolicy {
        np(
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "web", "namespace": "shop", "uid": "u-1", "resourceVersion": "42", "generation": 3,
                         "creationTimestamp": "2026-01-01T00:00:00Z", "selfLink": "/x",
                         "managedFields": [{"manager": "netpol-sync", "operation": "Update", "apiVersion": "networking.k8s.io/v1"}],
                         "labels": {"app.kubernetes.io/managed-by": "netpol-sync", "team": "a"},
                         "annotations": {"netpol-sync.io/revision": "abc", "note": "kept"}},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"],
                     "ingress": [{"from": [{"namespaceSelector": {}}], "ports": [{"port": 80, "protocol": "TCP"}]}]}}),
        )
    }

    fn bundle_copy() -> NetworkPolicy {
        np(
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "web", "namespace": "shop", "labels": {"team": "a"}, "annotations": {"note": "kept"}},
            "spec": {"egress": [], "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {}}}], "ports": [{"port": 80}]}]}}),
        )
    }

    #[test]
    fn live_object_and_bundle_document_hash_the_same() {
        assert_eq!(
            normalize(&live_copy(), PREFIX),
            normalize(&bundle_copy(), PREFIX)
        );
        assert_eq!(
            content_hash(&live_copy(), PREFIX),
            content_hash(&bundle_copy(), PREFIX)
        );
    }

    #[test]
    fn normalized_form_keeps_content_and_drops_server_fields() {
        let n = normalize(&live_copy(), PREFIX);
        let v = serde_json::to_value(&n).expect("serialisable");
        assert_eq!(
            v,
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": "web", "namespace": "shop", "labels": {"team": "a"}, "annotations": {"note": "kept"}},
                "spec": {"podSelector": {}, "policyTypes": ["Ingress"],
                         "ingress": [{"from": [{"namespaceSelector": {}}], "ports": [{"port": 80, "protocol": "TCP"}]}]}})
        );
    }

    #[test]
    fn empty_selectors_stay_meaningful() {
        let all_namespaces = np(
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "a", "namespace": "n"}, "spec": {"ingress": [{"from": [{"namespaceSelector": {}}]}]}}),
        );
        let no_peer_rule = np(
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "a", "namespace": "n"}, "spec": {"ingress": [{"from": [{}]}]}}),
        );
        assert_ne!(
            content_hash(&all_namespaces, PREFIX),
            content_hash(&no_peer_rule, PREFIX)
        );
        let deny_all = np(
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "a", "namespace": "n"}, "spec": {"podSelector": {}}}),
        );
        let allow_all = np(
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "a", "namespace": "n"}, "spec": {"podSelector": {}, "ingress": [{}]}}),
        );
        assert_ne!(
            content_hash(&deny_all, PREFIX),
            content_hash(&allow_all, PREFIX)
        );
    }

    #[test]
    fn owner_references_and_finalizers_are_content() {
        let mut owned = bundle_copy();
        owned.metadata.finalizers = Some(vec!["example.com/hold".into()]);
        assert_ne!(
            content_hash(&owned, PREFIX),
            content_hash(&bundle_copy(), PREFIX)
        );
    }

    #[test]
    fn empty_prefix_strips_no_annotation() {
        let n = normalize(&live_copy(), "");
        let annotations = n.metadata.annotations.expect("kept");
        assert!(annotations.contains_key("netpol-sync.io/revision"));
    }

    #[test]
    fn hash_is_sha256_of_sorted_compact_json() {
        let bytes = canonical_json(&bundle_copy(), PREFIX);
        let text = String::from_utf8(bytes.clone()).expect("utf-8");
        assert!(text.starts_with("{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\",\"metadata\":{"), "{text}");
        assert!(!text.contains(' '));
        assert_eq!(
            content_hash(&bundle_copy(), PREFIX),
            format!("sha256:{}", hex::encode(Sha256::digest(&bytes)))
        );
    }
}
