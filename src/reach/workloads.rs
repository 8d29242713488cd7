//! Workloads from the Kubernetes YAML teams already have: Namespaces (their labels), Pods,
//! and the controllers whose pod template decides their pods' labels and ports
//! (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob). Other kinds are skipped
//! with a note; a workload named twice is an error.

use super::ReachError;
use netpol_reach::{ContainerPort, Pod, Protocol};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The kinds read: a List's items are read as documents.
pub const KINDS: &[&str] = &[
    "Namespace",
    "Pod",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
    "List",
];

/// Namespaces (with labels) and workloads, as read.
#[derive(Debug, Clone, Default)]
pub struct Workloads {
    pub namespaces: BTreeMap<String, BTreeMap<String, String>>,
    pub pods: Vec<Pod>,
    /// What was read but not used: documents of another kind (`file: kind name`), or pods
    /// of a live cluster that ended (`pod ns/name: phase Succeeded`).
    pub skipped: Vec<String>,
    /// What the reader could not take as given and how it was read instead (replicas
    /// that disagree, an owner of an unknown kind): printed with every answer.
    pub warnings: Vec<String>,
    /// `namespace/name` of every workload so far.
    names: BTreeSet<(String, String)>,
}

impl Workloads {
    /// Add one document of `file`.
    pub fn add(&mut self, file: &str, index: usize, doc: &Value) -> Result<(), ReachError> {
        let bad = |message: String| ReachError::Input {
            file: file.to_string(),
            message: format!("document {index}: {message}"),
        };
        let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("");
        let meta = doc.get("metadata");
        let name = meta
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("");
        if kind == "List" {
            // An item is named by the List's document in messages.
            for item in doc
                .get("items")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                self.add(file, index, item)?;
            }
            return Ok(());
        }
        let template = match kind {
            "Namespace" => {
                if name.is_empty() {
                    return Err(bad("a Namespace without metadata.name".into()));
                }
                let labels = string_map(meta.and_then(|m| m.get("labels")))
                    .map_err(|e| bad(format!("metadata.labels: {e}")))?;
                self.namespaces
                    .entry(name.to_string())
                    .or_default()
                    .extend(labels);
                return Ok(());
            }
            "Pod" => Some(doc),
            "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
                doc.get("spec").and_then(|s| s.get("template"))
            }
            "CronJob" => doc
                .get("spec")
                .and_then(|s| s.get("jobTemplate"))
                .and_then(|j| j.get("spec"))
                .and_then(|s| s.get("template")),
            _ => {
                self.skipped.push(format!("{file}: {kind} {name}"));
                return Ok(());
            }
        };
        let Some(template) = template else {
            return Err(bad(format!("{kind} {name} has no pod template")));
        };
        if name.is_empty() {
            return Err(bad(format!("a {kind} without metadata.name")));
        }
        let namespace = meta
            .and_then(|m| m.get("namespace"))
            .and_then(Value::as_str)
            .unwrap_or("default")
            .to_string();
        let labels = string_map(template.get("metadata").and_then(|m| m.get("labels")))
            .map_err(|e| bad(format!("pod template labels: {e}")))?;
        let mut ports = Vec::new();
        let spec = template.get("spec");
        for list in ["containers", "initContainers"] {
            for c in spec
                .and_then(|s| s.get(list))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                for p in c
                    .get("ports")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    ports.push(container_port(p).map_err(|e| bad(format!("{kind} {name}: {e}")))?);
                }
            }
        }
        self.namespaces.entry(namespace.clone()).or_default();
        if !self.names.insert((namespace.clone(), name.to_string())) {
            return Err(bad(format!("workload {namespace}/{name} is given twice")));
        }
        self.pods.push(Pod {
            namespace,
            name: name.to_string(),
            labels,
            ports,
        });
        Ok(())
    }
}

fn string_map(v: Option<&Value>) -> Result<BTreeMap<String, String>, String> {
    match v {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                other => Err(format!("the value of {k} is {other}, not a string")),
            })
            .collect(),
        Some(other) => Err(format!("{other} is not a map of strings")),
    }
}

fn container_port(p: &Value) -> Result<ContainerPort, String> {
    let port = p
        .get("containerPort")
        .and_then(Value::as_u64)
        .and_then(|n| u16::try_from(n).ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            format!(
                "containerPort {} is not a port number",
                p.get("containerPort").unwrap_or(&Value::Null)
            )
        })?;
    let protocol = match p.get("protocol").and_then(Value::as_str) {
        None => Protocol::Tcp,
        Some(s) => Protocol::parse(s).ok_or_else(|| format!("unknown protocol {s:?}"))?,
    };
    Ok(ContainerPort {
        name: p.get("name").and_then(Value::as_str).map(str::to_string),
        port,
        protocol,
    })
}
