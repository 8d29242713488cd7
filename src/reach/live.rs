//! Workloads from a live cluster: its namespaces (with labels) and its pods, grouped by the
//! controller that owns them into the same [`Workloads`] the YAML files give
//! (docs/reachability.md, "Workloads from a live cluster").
//!
//! A pod owned by a ReplicaSet named `<deployment>-<pod-template-hash>` stands for the
//! Deployment; one owned by a StatefulSet, DaemonSet, ReplicaSet or Job for that owner; a
//! Job named `<cronjob>-<8 or more digits>` (the CronJob controller's names) for the
//! CronJob; a pod without a controller (or a static pod, owned by its Node) for itself.
//! Pods that ended (phase Succeeded or Failed) have no traffic and are left out.
//!
//! Replicas normally differ only in the labels their controller sets per pod
//! ([`PER_REPLICA_LABELS`]); those are dropped where the replicas disagree. Replicas that
//! still differ in labels or container ports (a rollout in progress, a hand edit) are
//! never merged into one guess: each distinct set becomes its own workload, `NAME#1`,
//! `NAME#2`, and a warning says so.

use super::workloads::Workloads;
use super::ReachError;
use crate::kube_client::error_chain;
use crate::kube_client::pods::{read_namespaces, read_pods, ListedNamespace, ListedPod};
use netpol_reach::{ContainerPort, Pod, Protocol};
use std::collections::{BTreeMap, BTreeSet};

/// Labels a controller gives each of its pods a value of its own (or each rollout's pods):
/// they tell replicas apart, not workloads.
pub const PER_REPLICA_LABELS: &[&str] = &[
    "pod-template-hash",
    "controller-revision-hash",
    "pod-template-generation",
    "statefulset.kubernetes.io/pod-name",
    "apps.kubernetes.io/pod-index",
    "job-name",
    "batch.kubernetes.io/job-name",
    "controller-uid",
    "batch.kubernetes.io/controller-uid",
    "batch.kubernetes.io/job-completion-index",
];

/// Digits a CronJob's Job name ends with: the scheduled time in minutes since the epoch,
/// eight digits since 1989. A shorter suffix (`migrate-2`) is a Job of its own.
const CRONJOB_SUFFIX_DIGITS: usize = 8;

/// The namespaces and the pods of the cluster `client` talks to, grouped into workloads.
/// `Workloads::warnings` says what was split or guessed; `Workloads::skipped` names the
/// pods left out because they ended.
pub async fn workloads_from_cluster(client: &kube::Client) -> Result<Workloads, ReachError> {
    let cluster = |what: &str, e: &dyn std::error::Error| {
        ReachError::Cluster(format!("listing {what}: {}", error_chain(e)))
    };
    let namespaces = read_namespaces(client)
        .await
        .map_err(|e| cluster("namespaces", &e))?;
    let pods = read_pods(client).await.map_err(|e| cluster("pods", &e))?;
    group(namespaces, pods)
}

/// What owns a pod, as a workload.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Owner {
    namespace: String,
    kind: String,
    name: String,
}

/// One pod as the model sees it.
struct Replica {
    owner: Owner,
    labels: BTreeMap<String, String>,
    ports: Vec<ContainerPort>,
}

/// Group listed pods into workloads (no I/O: the cluster has been read).
pub fn group(
    namespaces: Vec<ListedNamespace>,
    pods: Vec<ListedPod>,
) -> Result<Workloads, ReachError> {
    let mut w = Workloads::default();
    for ns in namespaces {
        let Some(name) = ns.metadata.name.filter(|n| !n.is_empty()) else {
            return Err(bad("a Namespace without metadata.name".into()));
        };
        w.namespaces
            .insert(name, ns.metadata.labels.unwrap_or_default());
    }
    let mut replicas = Vec::new();
    for pod in pods {
        if let Some(r) = replica(pod, &mut w)? {
            replicas.push(r);
        }
    }
    let mut by_owner: BTreeMap<Owner, Vec<Replica>> = BTreeMap::new();
    for r in replicas {
        by_owner.entry(r.owner.clone()).or_default().push(r);
    }
    // Two owners of different kinds with one name (a Deployment and a StatefulSet `db`):
    // both are named by kind and name, `deployment/db`.
    let mut kinds: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for o in by_owner.keys() {
        kinds
            .entry((o.namespace.clone(), o.name.clone()))
            .or_default()
            .insert(o.kind.clone());
    }
    for ((namespace, name), k) in &kinds {
        if k.len() > 1 {
            w.warnings.push(format!(
                "{namespace}/{name} names {} workloads ({}); each is named KIND/NAME",
                k.len(),
                k.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    for (owner, replicas) in by_owner {
        let name = if kinds[&(owner.namespace.clone(), owner.name.clone())].len() > 1 {
            format!("{}/{}", owner.kind.to_ascii_lowercase(), owner.name)
        } else {
            owner.name.clone()
        };
        let count = replicas.len();
        let variants = variants(replicas);
        if variants.len() > 1 {
            w.warnings.push(format!(
                "workload {}/{name}: its {count} pods have {} different sets of labels or container ports (a rollout in progress?); each set is analysed as its own workload, {}",
                owner.namespace,
                variants.len(),
                (1..=variants.len())
                    .map(|i| format!("{}/{name}#{i}", owner.namespace))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let numbered = variants.len() > 1;
        for (i, (labels, ports)) in variants.into_iter().enumerate() {
            w.pods.push(Pod {
                namespace: owner.namespace.clone(),
                name: if numbered {
                    format!("{name}#{}", i + 1)
                } else {
                    name.clone()
                },
                labels,
                ports,
            });
        }
    }
    w.pods
        .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    Ok(w)
}

fn bad(message: String) -> ReachError {
    ReachError::Input {
        file: "the cluster".into(),
        message,
    }
}

/// A pod as a replica of its owner, or `None` when it ended.
fn replica(pod: ListedPod, w: &mut Workloads) -> Result<Option<Replica>, ReachError> {
    let meta = pod.metadata;
    let (Some(namespace), Some(name)) = (
        meta.namespace.filter(|n| !n.is_empty()),
        meta.name.filter(|n| !n.is_empty()),
    ) else {
        return Err(bad(
            "a Pod without metadata.name or metadata.namespace".into()
        ));
    };
    let shown = format!("pod {namespace}/{name}");
    if let Some(phase) = pod
        .status
        .and_then(|s| s.phase)
        .filter(|p| p == "Succeeded" || p == "Failed")
    {
        w.skipped.push(format!("{shown}: phase {phase}"));
        return Ok(None);
    }
    let labels = meta.labels.unwrap_or_default();
    let controllers: Vec<_> = meta
        .owner_references
        .unwrap_or_default()
        .into_iter()
        .filter(|o| o.controller == Some(true))
        .collect();
    if controllers.len() > 1 {
        return Err(bad(format!(
            "{shown} has {} controller owner references; Kubernetes allows one",
            controllers.len()
        )));
    }
    let owner = match controllers.into_iter().next() {
        None => Owner {
            namespace: namespace.clone(),
            kind: "Pod".into(),
            name: name.clone(),
        },
        Some(o) => {
            if o.name.is_empty() || o.kind.is_empty() {
                return Err(bad(format!(
                    "{shown}: a controller owner reference without a kind or a name"
                )));
            }
            let (kind, owner_name) = match o.kind.as_str() {
                "ReplicaSet" => match labels
                    .get("pod-template-hash")
                    .filter(|h| !h.is_empty())
                    .and_then(|h| o.name.strip_suffix(&format!("-{h}")))
                    .filter(|d| !d.is_empty())
                {
                    Some(deployment) => ("Deployment".to_string(), deployment.to_string()),
                    None => ("ReplicaSet".to_string(), o.name.clone()),
                },
                "Job" => match cronjob_of(&o.name) {
                    Some(cronjob) => ("CronJob".to_string(), cronjob.to_string()),
                    None => ("Job".to_string(), o.name.clone()),
                },
                "StatefulSet" | "DaemonSet" => (o.kind.clone(), o.name.clone()),
                // A static pod's mirror is owned by its Node: the pod is its own workload.
                "Node" => ("Pod".to_string(), name.clone()),
                other => {
                    w.warnings.push(format!(
                        "{shown} is controlled by {other} {} ({}), a kind netpol-sync does not know; its pods are grouped under that owner",
                        o.name, o.api_version
                    ));
                    (other.to_string(), o.name.clone())
                }
            };
            Owner {
                namespace: namespace.clone(),
                kind,
                name: owner_name,
            }
        }
    };
    let mut ports = Vec::new();
    let spec = pod.spec.unwrap_or_default();
    for c in spec
        .containers
        .into_iter()
        .flatten()
        .chain(spec.init_containers.into_iter().flatten())
    {
        for p in c.ports.into_iter().flatten() {
            let port = p
                .container_port
                .and_then(|n| u16::try_from(n).ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    bad(format!(
                        "{shown}: container {}: containerPort {} is not a port number",
                        c.name.as_deref().unwrap_or("?"),
                        p.container_port
                            .map(|n| n.to_string())
                            .unwrap_or_else(|| "(none)".into())
                    ))
                })?;
            let protocol = match p.protocol.as_deref() {
                None => Protocol::Tcp,
                Some(s) => Protocol::parse(s)
                    .ok_or_else(|| bad(format!("{shown}: unknown protocol {s:?}")))?,
            };
            ports.push(ContainerPort {
                name: p.name,
                port,
                protocol,
            });
        }
    }
    w.namespaces.entry(namespace).or_default();
    Ok(Some(Replica {
        owner,
        labels,
        ports,
    }))
}

/// `<cronjob>` of a Job named `<cronjob>-<digits>`.
fn cronjob_of(job: &str) -> Option<&str> {
    let (prefix, digits) = job.rsplit_once('-')?;
    (!prefix.is_empty()
        && digits.len() >= CRONJOB_SUFFIX_DIGITS
        && digits.bytes().all(|b| b.is_ascii_digit()))
    .then_some(prefix)
}

type Variant = (BTreeMap<String, String>, Vec<ContainerPort>);

/// A container port as an ordered key: number, protocol, name.
type PortKey = (u16, Protocol, Option<String>);

/// What tells replicas apart: their labels and their ports.
type VariantKey = (BTreeMap<String, String>, Vec<PortKey>);

/// The distinct (labels, ports) of one owner's replicas, in the order of their labels
/// then ports. The per-replica labels are dropped where the replicas do not all agree on
/// them.
fn variants(replicas: Vec<Replica>) -> Vec<Variant> {
    let varying: BTreeSet<&str> = PER_REPLICA_LABELS
        .iter()
        .copied()
        .filter(|k| {
            let first = replicas[0].labels.get(*k);
            replicas.iter().any(|r| r.labels.get(*k) != first)
        })
        .collect();
    let mut distinct: BTreeMap<VariantKey, Vec<ContainerPort>> = BTreeMap::new();
    for r in replicas {
        let labels: BTreeMap<String, String> = r
            .labels
            .into_iter()
            .filter(|(k, _)| !varying.contains(k.as_str()))
            .collect();
        let mut ports = r.ports;
        ports.sort_by(|a, b| (a.port, a.protocol, &a.name).cmp(&(b.port, b.protocol, &b.name)));
        ports.dedup();
        let key: Vec<PortKey> = ports
            .iter()
            .map(|p| (p.port, p.protocol, p.name.clone()))
            .collect();
        distinct.entry((labels, key)).or_insert(ports);
    }
    distinct
        .into_iter()
        .map(|((labels, _), ports)| (labels, ports))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(ns: &str, name: &str, labels: serde_json::Value, owner: serde_json::Value) -> ListedPod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": ns, "labels": labels, "ownerReferences": owner},
            "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 8080, "name": "http"}]}]}
        }))
        .unwrap()
    }

    fn ctl(kind: &str, name: &str) -> serde_json::Value {
        json!([{"apiVersion": "apps/v1", "kind": kind, "name": name, "controller": true}])
    }

    fn names(w: &Workloads) -> Vec<String> {
        w.pods
            .iter()
            .map(|p| format!("{}/{}", p.namespace, p.name))
            .collect()
    }

    #[test]
    fn pods_are_grouped_by_their_controller() {
        let pods = vec![
            pod(
                "a",
                "web-5d8f-x1",
                json!({"app": "web", "pod-template-hash": "5d8f"}),
                ctl("ReplicaSet", "web-5d8f"),
            ),
            pod(
                "a",
                "web-5d8f-x2",
                json!({"app": "web", "pod-template-hash": "5d8f"}),
                ctl("ReplicaSet", "web-5d8f"),
            ),
            pod(
                "a",
                "db-0",
                json!({"app": "db", "statefulset.kubernetes.io/pod-name": "db-0"}),
                ctl("StatefulSet", "db"),
            ),
            pod(
                "a",
                "db-1",
                json!({"app": "db", "statefulset.kubernetes.io/pod-name": "db-1"}),
                ctl("StatefulSet", "db"),
            ),
            pod(
                "a",
                "report-29000000-abc",
                json!({"job-name": "report-29000000"}),
                ctl("Job", "report-29000000"),
            ),
            pod("a", "migrate-2-abc", json!({}), ctl("Job", "migrate-2")),
            pod("a", "lonely", json!({"app": "lonely"}), json!(null)),
            pod(
                "a",
                "bare-rs-x",
                json!({"app": "rs"}),
                ctl("ReplicaSet", "bare-rs"),
            ),
            pod(
                "kube-system",
                "etcd-node1",
                json!({}),
                json!([{"apiVersion": "v1", "kind": "Node", "name": "node1", "controller": true}]),
            ),
        ];
        let w = group(Vec::new(), pods).unwrap();
        assert_eq!(
            names(&w),
            [
                "a/bare-rs",
                "a/db",
                "a/lonely",
                "a/migrate-2",
                "a/report",
                "a/web",
                "kube-system/etcd-node1"
            ]
        );
        let db = w.pods.iter().find(|p| p.name == "db").unwrap();
        assert_eq!(db.labels, [("app".to_string(), "db".to_string())].into());
        let web = w.pods.iter().find(|p| p.name == "web").unwrap();
        assert_eq!(
            web.labels["pod-template-hash"], "5d8f",
            "kept: every replica agrees"
        );
        assert_eq!(web.ports[0].name.as_deref(), Some("http"));
        assert!(w.warnings.is_empty(), "{:?}", w.warnings);
        assert!(w.namespaces.contains_key("kube-system"));
    }

    #[test]
    fn replicas_that_disagree_are_split_with_a_warning_never_merged() {
        let pods = vec![
            pod(
                "a",
                "web-1-x",
                json!({"app": "web", "pod-template-hash": "1", "v": "1"}),
                ctl("ReplicaSet", "web-1"),
            ),
            pod(
                "a",
                "web-2-x",
                json!({"app": "web", "pod-template-hash": "2", "v": "2"}),
                ctl("ReplicaSet", "web-2"),
            ),
        ];
        let w = group(Vec::new(), pods).unwrap();
        assert_eq!(names(&w), ["a/web#1", "a/web#2"]);
        assert!(
            w.warnings[0].contains("2 different sets of labels"),
            "{:?}",
            w.warnings
        );
        assert!(!w.pods[0].labels.contains_key("pod-template-hash"));
    }

    #[test]
    fn ended_pods_are_left_out_and_hostile_pods_are_errors_or_warnings() {
        let mut done = pod("a", "x", json!({}), json!(null));
        done.status = Some(crate::kube_client::pods::PodStatus {
            phase: Some("Succeeded".into()),
        });
        let w = group(Vec::new(), vec![done]).unwrap();
        assert!(w.pods.is_empty());
        assert_eq!(w.skipped, ["pod a/x: phase Succeeded"]);

        let odd = pod(
            "a",
            "o-1",
            json!({}),
            json!([{"apiVersion": "x.io/v1", "kind": "Rollout", "name": "o", "controller": true}]),
        );
        let w = group(Vec::new(), vec![odd]).unwrap();
        assert_eq!(names(&w), ["a/o"]);
        assert!(
            w.warnings[0].contains("Rollout o (x.io/v1)"),
            "{:?}",
            w.warnings
        );

        let two = pod(
            "a",
            "t",
            json!({}),
            json!([
            {"kind": "ReplicaSet", "name": "a", "controller": true},
            {"kind": "ReplicaSet", "name": "b", "controller": true}]),
        );
        assert!(group(Vec::new(), vec![two])
            .unwrap_err()
            .to_string()
            .contains("2 controller owner references"));

        let mut port: ListedPod = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "a"},
            "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 70000}]}]}
        }))
        .unwrap();
        assert!(group(Vec::new(), vec![port.clone()])
            .unwrap_err()
            .to_string()
            .contains("containerPort 70000 is not a port number"));
        port.metadata.name = None;
        assert!(group(Vec::new(), vec![port])
            .unwrap_err()
            .to_string()
            .contains("without metadata.name"));
    }

    #[test]
    fn two_kinds_with_one_name_are_named_by_kind() {
        let pods = vec![
            pod("a", "db-0", json!({"app": "db"}), ctl("StatefulSet", "db")),
            pod(
                "a",
                "db-7f-x",
                json!({"app": "db", "pod-template-hash": "7f"}),
                ctl("ReplicaSet", "db-7f"),
            ),
        ];
        let w = group(Vec::new(), pods).unwrap();
        assert_eq!(names(&w), ["a/deployment/db", "a/statefulset/db"]);
        assert_eq!(w.warnings.len(), 1, "{:?}", w.warnings);
    }
}
