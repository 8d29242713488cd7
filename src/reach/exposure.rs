//! `netpol-sync reach --exposure`: for each workload, who may reach it and whom it may
//! reach beyond the workloads given, as the rules of the policies isolating it state it
//! (docs/reachability.md, "Exposure"). The evaluator's `Evaluator::exposure` computes it;
//! this module names it for the reports.

use super::{Model, NodeName};
use netpol_reach::{Direction, Evaluator, ExposedTo, Exposure, NamespaceScopeText};
use serde::Serialize;

/// One kind of peer of one workload's side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExposureEntry {
    /// `not-isolated`, `everything`, `all-pods`, `addresses` or `pods`.
    pub kind: &'static str,
    /// The peer as text: `10.0.0.0/8 except 10.1.0.0/16`, `pods app=lb in namespace shop`.
    pub peer: String,
    /// `all`, `TCP 80,443; UDP 53`; an egress rule's named port as `TCP named http`.
    pub ports: String,
    /// The rules that admit it (`namespace/name ingress[0]`).
    pub rules: Vec<String>,
}

/// One workload's exposure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkloadExposure {
    pub workload: NodeName,
    /// Who may connect to it. Empty: nobody (isolated, no rule admits anything).
    pub ingress: Vec<ExposureEntry>,
    /// Where it may connect.
    pub egress: Vec<ExposureEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExposureReport {
    pub workloads: Vec<WorkloadExposure>,
}

pub fn exposure(model: &Model, evaluator: &Evaluator) -> ExposureReport {
    let workloads = model
        .names
        .iter()
        .map(|(id, name)| WorkloadExposure {
            workload: name.clone(),
            ingress: entries(evaluator.exposure(&model.world, *id, Direction::Ingress)),
            egress: entries(evaluator.exposure(&model.world, *id, Direction::Egress)),
        })
        .collect();
    ExposureReport { workloads }
}

fn entries(list: Vec<Exposure>) -> Vec<ExposureEntry> {
    list.into_iter().map(entry).collect()
}

fn entry(e: Exposure) -> ExposureEntry {
    let (kind, peer) = match &e.to {
        ExposedTo::NotIsolated => ("not-isolated", "anything (no policy isolates it)".into()),
        ExposedTo::Everything => ("everything", "any address and any pod".into()),
        ExposedTo::AllPods => ("all-pods", "any pod of the cluster".into()),
        ExposedTo::Addresses { cidr, except } => (
            "addresses",
            if except.is_empty() {
                cidr.to_string()
            } else {
                format!(
                    "{cidr} except {}",
                    except
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(",")
                )
            },
        ),
        ExposedTo::Pods { namespaces, pods } => {
            let who = match pods {
                None => "any pod".to_string(),
                Some(sel) => format!("pods {sel}"),
            };
            let place = match namespaces {
                NamespaceScopeText::Named(ns) => format!("in namespace {ns}"),
                NamespaceScopeText::Matching(sel) if sel == "{}" => "in any namespace".into(),
                NamespaceScopeText::Matching(sel) => format!("in namespaces {sel}"),
            };
            ("pods", format!("{who} {place}"))
        }
    };
    let mut ports: Vec<String> = Vec::new();
    if !e.ports.is_empty() {
        ports.push(e.ports.to_string());
    }
    ports.extend(
        e.named_ports
            .iter()
            .map(|(p, n)| format!("{} named {n}", p.as_str())),
    );
    ExposureEntry {
        kind,
        peer,
        ports: ports.join("; "),
        rules: e.rules.iter().map(ToString::to_string).collect(),
    }
}
