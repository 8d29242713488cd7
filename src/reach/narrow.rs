//! `reach --diff-policies`: what one set of policy files opens and closes against another,
//! parsing only the documents that can change the answer (docs/reachability.md, "What a
//! query reads, and how the map and the diff are computed").
//!
//! A connection is decided by the source's egress, which only the policies of the
//! source's namespace decide, and the destination's ingress, which only those of the
//! destination's namespace decide. So a path can change only when a namespace at one of
//! its ends holds policies that differ, and it does change only when the side decided
//! there changes while the other side lets it through. The diff first compares the two
//! sides' documents by namespace, without parsing them; then it decides the paths with
//! only the differing namespaces' policies (every other namespace lets everything
//! through, so this finds every path whose changed side changed); then it parses the
//! policies of the namespaces at those paths' other ends and decides them exactly.

use super::files::{namespace_hint, Chunk, Files};
use super::{decode_policy, diff, DiffReport, Model, ReachError, Scope, POLICY_KINDS};
use crate::bundle::Limits;
use netpol_policy::NetworkPolicy;
use netpol_reach::{address_classes, Endpoint, Evaluator};
use sha2::Digest;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// What `policies` (the files of the revision looked at) open and close against
/// `compared` (the files of the one compared with), over `model`'s workloads. Also the
/// policies of `policies` that were read, for the warnings about them.
pub fn diff_files(
    model: &Model,
    policies: &[PathBuf],
    compared: &[PathBuf],
    limits: &Limits,
) -> Result<(DiffReport, Vec<NetworkPolicy>), ReachError> {
    let new_files = Files::read(policies, limits)?;
    let old_files = Files::read(compared, limits)?;
    let new_chunks = new_files.chunks(limits, Scope::All, &POLICY_KINDS)?;
    let old_chunks = old_files.chunks(limits, Scope::All, &POLICY_KINDS)?;
    let (Some(new_by_ns), Some(old_by_ns)) = (by_namespace(&new_chunks), by_namespace(&old_chunks))
    else {
        // A document whose namespace does not show without parsing it: every document of
        // both sides is parsed, each text once.
        let cache = super::PolicyDocuments::default();
        let old = old_files.parse(&old_chunks, limits, Some(&cache), decode_policy)?;
        let new = new_files.parse(&new_chunks, limits, Some(&cache), decode_policy)?;
        let report = diff(model, &evaluator(&old, true)?, &evaluator(&new, false)?);
        return Ok((report, new));
    };
    let changed: BTreeSet<&str> = new_by_ns
        .keys()
        .chain(old_by_ns.keys())
        .filter(|ns| new_by_ns.get(*ns).map(Side::texts) != old_by_ns.get(*ns).map(Side::texts))
        .copied()
        .collect();
    let parse = |files: &Files, by_ns: &BTreeMap<&str, Side<'_>>, namespaces: &BTreeSet<&str>| {
        let chunks: Vec<&Chunk<'_>> = namespaces
            .iter()
            .filter_map(|ns| by_ns.get(ns))
            .flat_map(|side| side.chunks.iter().copied())
            .collect();
        files.parse_refs(&chunks, limits, decode_policy)
    };
    let mut old = parse(&old_files, &old_by_ns, &changed)?;
    let mut new = parse(&new_files, &new_by_ns, &changed)?;
    // The paths whose changed side changed, every other namespace letting all through.
    let (old_changed, new_changed) = (evaluator(&old, true)?, evaluator(&new, false)?);
    let addresses: Vec<_> = address_classes(&[&old_changed, &new_changed])
        .iter()
        .map(|c| c.representative)
        .collect();
    let other_ends: BTreeSet<&str> = old_changed
        .matrix_changes(&new_changed, &model.world, &addresses)
        .iter()
        .flat_map(|(from, to, _, _)| [*from, *to])
        .filter_map(|end| match end {
            Endpoint::Pod(id) => Some(model.world.pod(id).namespace.as_str()),
            Endpoint::Address(_) => None,
        })
        .filter(|ns| !changed.contains(ns))
        .collect();
    // Their other ends' namespaces hold the same documents on both sides.
    let shared = parse(&new_files, &new_by_ns, &other_ends)?;
    old.extend(shared.iter().cloned());
    new.extend(shared);
    let report = diff(model, &evaluator(&old, true)?, &evaluator(&new, false)?);
    Ok((report, new))
}

/// The documents of one namespace on one side.
struct Side<'a> {
    chunks: Vec<&'a Chunk<'a>>,
    /// Their texts' SHA-256, sorted: equal for two sides holding the same documents.
    hashes: Vec<[u8; 32]>,
}

impl Side<'_> {
    fn texts(&self) -> &[[u8; 32]] {
        &self.hashes
    }
}

/// The documents by the namespace they plainly name, or `None` when one does not show it.
fn by_namespace<'a>(chunks: &'a [Chunk<'a>]) -> Option<BTreeMap<&'a str, Side<'a>>> {
    let mut out: BTreeMap<&str, Side<'_>> = BTreeMap::new();
    for chunk in chunks {
        let ns = namespace_hint(chunk.text())?;
        let side = out.entry(ns).or_insert_with(|| Side {
            chunks: Vec::new(),
            hashes: Vec::new(),
        });
        side.chunks.push(chunk);
        side.hashes.push(sha2::Sha256::digest(chunk.text()).into());
    }
    for side in out.values_mut() {
        side.hashes.sort_unstable();
    }
    Some(out)
}

fn evaluator(policies: &[NetworkPolicy], compared: bool) -> Result<Evaluator, ReachError> {
    Evaluator::new(policies).map_err(|e| {
        if compared {
            ReachError::Query(format!("the policies compared with: {e}"))
        } else {
            ReachError::Model(e)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reach::workloads::Workloads;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    const NAMESPACES: [&str; 4] = ["a", "b", "c", "d"];

    /// Flow-style YAML of a value with no quotes (every string here is a plain word, a
    /// number-free name or a CIDR), so documents keep their namespace visible unparsed.
    fn flow(v: &Value) -> String {
        match v {
            Value::Object(m) => format!(
                "{{{}}}",
                m.iter()
                    .map(|(k, v)| format!("{k}: {}", flow(v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Value::Array(a) => format!("[{}]", a.iter().map(flow).collect::<Vec<_>>().join(", ")),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }

    fn selector() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(json!({})),
            Just(json!({"matchLabels": {"app": "x"}})),
            Just(json!({"matchLabels": {"app": "y"}})),
        ]
    }

    fn peer() -> impl Strategy<Value = Value> {
        prop_oneof![
            selector().prop_map(|s| json!({"podSelector": s})),
            Just(json!({"namespaceSelector": {"matchLabels": {"team": "t1"}}})),
            selector().prop_map(|s| json!({"namespaceSelector": {}, "podSelector": s})),
            Just(json!({"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.0.1.0/24"]}})),
            Just(json!({"ipBlock": {"cidr": "10.0.0.0/8"}})),
            Just(json!({"ipBlock": {"cidr": "192.168.0.0/24"}})),
            Just(json!({"ipBlock": {"cidr": "fd00::/8"}})),
        ]
    }

    fn ports() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(json!([{"port": 80}])),
            Just(json!([{"port": "http"}])),
            Just(json!([{"port": 8000, "endPort": 8100}])),
            Just(json!([{"protocol": "UDP", "port": 53}])),
        ]
    }

    fn rule(peers_key: &'static str) -> impl Strategy<Value = Value> {
        (
            proptest::option::of(proptest::collection::vec(peer(), 0..3)),
            proptest::option::of(ports()),
        )
            .prop_map(move |(peers, ports)| {
                let mut r = serde_json::Map::new();
                if let Some(p) = peers {
                    r.insert(peers_key.into(), Value::Array(p));
                }
                if let Some(p) = ports {
                    r.insert("ports".into(), p);
                }
                Value::Object(r)
            })
    }

    /// A policy's namespace and its spec.
    fn policy() -> impl Strategy<Value = (usize, Value)> {
        (
            0..NAMESPACES.len(),
            selector(),
            prop_oneof![
                Just(None),
                Just(Some(json!(["Ingress"]))),
                Just(Some(json!(["Egress"]))),
                Just(Some(json!(["Ingress", "Egress"]))),
            ],
            proptest::option::of(proptest::collection::vec(rule("from"), 0..3)),
            proptest::option::of(proptest::collection::vec(rule("to"), 0..3)),
        )
            .prop_map(|(ns, pod_selector, types, ingress, egress)| {
                let mut spec = serde_json::Map::new();
                spec.insert("podSelector".into(), pod_selector);
                if let Some(t) = types {
                    spec.insert("policyTypes".into(), t);
                }
                if let Some(i) = ingress {
                    spec.insert("ingress".into(), Value::Array(i));
                }
                if let Some(e) = egress {
                    spec.insert("egress".into(), Value::Array(e));
                }
                (ns, Value::Object(spec))
            })
    }

    /// One file per namespace, policies `p0`, `p1`, … in order.
    fn write(dir: &std::path::Path, policies: &[Option<(usize, Value)>]) {
        std::fs::create_dir_all(dir).unwrap();
        let mut files: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        for (i, p) in policies.iter().enumerate() {
            let Some((ns, spec)) = p else { continue };
            files.entry(*ns).or_default().push(format!(
                "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: p{i}\n  namespace: {}\nspec: {}\n",
                NAMESPACES[*ns],
                flow(spec)
            ));
        }
        for (ns, docs) in files {
            std::fs::write(
                dir.join(format!("{}.yaml", NAMESPACES[ns])),
                docs.join("---\n"),
            )
            .unwrap();
        }
    }

    fn model() -> Model {
        let mut w = Workloads::default();
        for (i, ns) in NAMESPACES.iter().enumerate() {
            let team = if i % 2 == 0 { "t1" } else { "t2" };
            let doc =
                json!({"kind": "Namespace", "metadata": {"name": ns, "labels": {"team": team}}});
            w.add("w", 0, &doc).unwrap();
            for app in ["x", "y"] {
                let pod = json!({"kind": "Pod", "metadata": {"name": format!("{app}"), "namespace": ns,
                    "labels": {"app": app}},
                    "spec": {"containers": [{"name": "c", "ports": [{"name": "http", "containerPort": if app == "x" { 80 } else { 8080 }}]}]}});
                w.add("w", 0, &pod).unwrap();
            }
        }
        Model::new(&w, Vec::new()).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        /// Reading only the namespaces that can change the answer says exactly what
        /// deciding every pair under every policy says.
        #[test]
        fn the_narrow_diff_is_the_whole_diff(
            old in proptest::collection::vec(proptest::option::of(policy()), 0..8),
            edits in proptest::collection::vec((0usize..10, proptest::option::of(policy())), 1..3),
        ) {
            let mut new = old.clone();
            for (at, replacement) in edits {
                if at < new.len() {
                    new[at] = replacement;
                } else {
                    new.push(replacement);
                }
            }
            let tmp = tempfile::tempdir().unwrap();
            let (old_dir, new_dir) = (tmp.path().join("old"), tmp.path().join("new"));
            write(&old_dir, &old);
            write(&new_dir, &new);
            let limits = Limits::default();
            let model = model();
            let (narrow, _) = diff_files(&model, std::slice::from_ref(&new_dir), std::slice::from_ref(&old_dir), &limits).unwrap();
            let all = |dir: &std::path::Path| {
                crate::reach::policies_from_files(&[dir.to_path_buf()], &limits, Scope::All, None).unwrap()
            };
            let whole = diff(
                &model,
                &Evaluator::new(&all(&old_dir)).unwrap(),
                &Evaluator::new(&all(&new_dir)).unwrap(),
            );
            prop_assert_eq!(narrow, whole);
        }
    }
}
