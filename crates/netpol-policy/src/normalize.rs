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
use serde_json::Value;
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

/// JSON with object keys sorted and no whitespace, so the bytes depend only on content.
fn write_canonical(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (k, val)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                // Serialising a string to JSON cannot fail.
                let _ = serde_json::to_writer(&mut *out, k);
                out.push(b':');
                write_canonical(val, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        scalar => {
            let _ = serde_json::to_writer(&mut *out, scalar);
        }
    }
}

/// The canonical JSON bytes of [`normalize`]'s output (what [`content_hash`] hashes).
pub fn canonical_json(np: &NetworkPolicy, strip_annotation_prefix: &str) -> Vec<u8> {
    let normalized = normalize(np, strip_annotation_prefix);
    let value = serde_json::to_value(&normalized).unwrap_or(Value::Null);
    let mut out = Vec::with_capacity(512);
    write_canonical(&value, &mut out);
    out
}

/// `sha256:<hex>` of the canonical JSON of [`normalize`].
pub fn content_hash(np: &NetworkPolicy, strip_annotation_prefix: &str) -> String {
    let bytes = canonical_json(np, strip_annotation_prefix);
    format!("sha256:{}", hex::encode(Sha256::digest(&bytes)))
}
