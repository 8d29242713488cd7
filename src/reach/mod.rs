//! `netpol-sync reach`: who can reach whom under a revision's policies (or a draft's), over
//! workloads read from Kubernetes YAML. Analysis only: nothing here writes to a cluster.
//! The evaluator is `crates/netpol-reach` (docs/reachability.md); this module builds its
//! inputs from the repository and files, and answers in typed reports that the command
//! line renders.

pub mod assertions;
pub mod exposure;
mod files;
pub mod live;
mod narrow;
#[cfg(feature = "fuzzing")]
pub use files::check_split_and_hints;
pub use files::Scope;
pub use narrow::diff_files;

/// Whether a reader of files takes documents of this kind (any other is never parsed).
#[cfg(any(test, feature = "fuzzing"))]
fn reads_kind(kind: &str) -> bool {
    kind == netpol_policy::KIND || workloads::KINDS.contains(&kind)
}

/// Policy documents already decoded, shared by the two sides of a diff.
pub type PolicyDocuments = files::DocumentCache<netpol_policy::NetworkPolicy>;
pub mod workloads;

use crate::bundle::Limits;
use ipnet::IpNet;
use netpol_reach::{
    address_classes, AddressClass, Decision, Endpoint, Evaluator, Pod, PortSet, Protocol, World,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use workloads::Workloads;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReachError {
    #[error("{file}: {message}")]
    Input { file: String, message: String },
    #[error(transparent)]
    Model(#[from] netpol_reach::ReachError),
    #[error("{0}")]
    Query(String),
    /// The cluster could not be read (unreachable, refused, a page it would not serve).
    #[error("reading the cluster: {0}")]
    Cluster(String),
}

/// NetworkPolicies of plain files (a draft, unverified): every `networking.k8s.io/v1`
/// NetworkPolicy document (in `scope`), decoded as strictly as a bundle's; other kinds are
/// skipped.
pub fn policies_from_files(
    paths: &[PathBuf],
    limits: &Limits,
    scope: Scope<'_>,
    cache: Option<&PolicyDocuments>,
) -> Result<Vec<netpol_policy::NetworkPolicy>, ReachError> {
    files::read(paths, limits, scope, &POLICY_KINDS, cache, decode_policy)
}

/// The kinds a reader of policies takes.
const POLICY_KINDS: [&str; 1] = [netpol_policy::KIND];

/// One document of a policy file: a NetworkPolicy decoded strictly (its namespace
/// `default` when it names none), or `None` for another kind.
fn decode_policy(
    file: &str,
    index: usize,
    mut doc: serde_json::Value,
) -> Result<Option<netpol_policy::NetworkPolicy>, ReachError> {
    if doc.get("kind").and_then(|k| k.as_str()) != Some(netpol_policy::KIND) {
        return Ok(None);
    }
    if let Some(meta) = doc.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        meta.entry("namespace")
            .or_insert_with(|| serde_json::Value::String("default".into()));
    }
    netpol_policy::decode_strict(doc)
        .map(Some)
        .map_err(|errors| ReachError::Input {
            file: file.to_string(),
            message: format!(
                "document {index}: {}",
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        })
}

/// The policies of a verified revision's bundles.
pub fn policies_of(bundles: &crate::bundle::VerifiedBundles) -> Vec<netpol_policy::NetworkPolicy> {
    bundles.policies().map(|p| p.object().decode()).collect()
}

/// Workloads and namespaces from Kubernetes YAML files (the documents in `scope`).
pub fn workloads_from_files(
    paths: &[PathBuf],
    limits: &Limits,
    scope: Scope<'_>,
) -> Result<Workloads, ReachError> {
    let files = files::Files::read(paths, limits)?;
    workloads_of(&files, limits, scope)
}

/// Policies and workloads from the same files (`--policies DIR --workloads DIR`): the
/// files are read once, and each reader parses only its own kinds.
pub fn policies_and_workloads_from_files(
    paths: &[PathBuf],
    limits: &Limits,
    scope: Scope<'_>,
) -> Result<(Vec<netpol_policy::NetworkPolicy>, Workloads), ReachError> {
    let files = files::Files::read(paths, limits)?;
    let mut split = files.chunks_for(limits, scope, &[&POLICY_KINDS, workloads::KINDS])?;
    let (workload_chunks, policy_chunks) = (split.pop(), split.pop());
    let policies = files.parse(
        &policy_chunks.unwrap_or_default(),
        limits,
        None,
        decode_policy,
    )?;
    let workloads = workloads_in(&files, &workload_chunks.unwrap_or_default(), limits)?;
    Ok((policies, workloads))
}

fn workloads_of(
    files: &files::Files,
    limits: &Limits,
    scope: Scope<'_>,
) -> Result<Workloads, ReachError> {
    let chunks = files.chunks(limits, scope, workloads::KINDS)?;
    workloads_in(files, &chunks, limits)
}

fn workloads_in(
    files: &files::Files,
    chunks: &[files::Chunk<'_>],
    limits: &Limits,
) -> Result<Workloads, ReachError> {
    let docs = files.parse(chunks, limits, None, |file, index, doc| {
        Ok(Some((file.to_string(), index, doc)))
    })?;
    let mut w = Workloads::default();
    for (file, index, doc) in docs {
        w.add(&file, index, &doc)?;
    }
    Ok(w)
}

/// A name in the reports: a workload `namespace/name`, pods chosen by labels
/// `namespace/k=v,…`, or an address class (its CIDR ranges).
pub type NodeName = String;

/// What the analyses run over.
pub struct Model {
    world: World,
    names: BTreeMap<netpol_reach::PodId, NodeName>,
}

impl Model {
    /// The workloads, plus the pods a query names by labels.
    pub fn new(workloads: &Workloads, extra: Vec<Pod>) -> Result<Model, ReachError> {
        let mut namespaces = workloads.namespaces.clone();
        for p in &extra {
            namespaces.entry(p.namespace.clone()).or_default();
        }
        // Pods by name, so that everything listed by pod id (the map) is in name order.
        let mut pods: Vec<Pod> = workloads.pods.iter().cloned().chain(extra).collect();
        pods.sort_by_cached_key(|p| format!("{}/{}", p.namespace, p.name));
        let world = World::new(namespaces, pods)?;
        let names = world
            .pods()
            .map(|id| {
                let p = world.pod(id);
                (id, format!("{}/{}", p.namespace, p.name))
            })
            .collect();
        Ok(Model { world, names })
    }

    /// Whether the model has no pods at all.
    pub fn is_empty(&self) -> bool {
        self.world.len() == 0
    }

    /// The named ports of `evaluator`'s rules that no workload of the model exposes.
    pub fn unexposed_named_ports(
        &self,
        evaluator: &Evaluator,
    ) -> Vec<(netpol_reach::RuleRef, String, Protocol)> {
        evaluator.unexposed_named_ports(&self.world)
    }
}

/// One end of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryEnd {
    Workload {
        namespace: String,
        name: String,
    },
    Labels {
        namespace: String,
        labels: BTreeMap<String, String>,
    },
    Address(IpAddr),
    /// Every address of a CIDR range (docs/reachability.md: allowed only when every
    /// address of it is).
    Range(IpNet),
}

impl QueryEnd {
    /// `NS/NAME`, `NS/k=v,k2=v2`, an IP address or a CIDR range.
    pub fn parse(s: &str) -> Result<QueryEnd, ReachError> {
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(QueryEnd::Address(ip));
        }
        if let Ok(net) = s.parse::<IpNet>() {
            // A namespace name has no dots, so `NS/NAME` never parses as a range.
            if net.trunc() != net {
                return Err(ReachError::Query(format!(
                    "{s:?} has bits set past its prefix length: did you mean {}?",
                    net.trunc()
                )));
            }
            return Ok(QueryEnd::Range(net));
        }
        let Some((namespace, rest)) = s.split_once('/') else {
            return Err(ReachError::Query(format!(
                "{s:?} is neither NAMESPACE/WORKLOAD, NAMESPACE/label=value,… nor an IP address"
            )));
        };
        if namespace.is_empty() || rest.is_empty() {
            return Err(ReachError::Query(format!(
                "{s:?} names no namespace or no pods"
            )));
        }
        if !rest.contains('=') {
            return Ok(QueryEnd::Workload {
                namespace: namespace.into(),
                name: rest.into(),
            });
        }
        let mut labels = BTreeMap::new();
        for pair in rest.split(',') {
            let Some((k, v)) = pair.split_once('=') else {
                return Err(ReachError::Query(format!(
                    "{pair:?} in {s:?} is not label=value"
                )));
            };
            if k.is_empty() || labels.insert(k.to_string(), v.to_string()).is_some() {
                return Err(ReachError::Query(format!(
                    "{pair:?} in {s:?}: an empty or repeated label"
                )));
            }
        }
        Ok(QueryEnd::Labels {
            namespace: namespace.into(),
            labels,
        })
    }

    /// The namespace of a pod end (`None` for an address).
    pub fn namespace(&self) -> Option<&str> {
        match self {
            QueryEnd::Workload { namespace, .. } | QueryEnd::Labels { namespace, .. } => {
                Some(namespace)
            }
            QueryEnd::Address(_) | QueryEnd::Range(_) => None,
        }
    }

    fn label(&self) -> String {
        match self {
            QueryEnd::Workload { namespace, name } => format!("{namespace}/{name}"),
            QueryEnd::Labels { namespace, labels } => {
                let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("{namespace}/{}", pairs.join(","))
            }
            QueryEnd::Address(ip) => ip.to_string(),
            QueryEnd::Range(net) => net.to_string(),
        }
    }

    fn is_outside(&self) -> bool {
        matches!(self, QueryEnd::Address(_) | QueryEnd::Range(_))
    }

    /// The pod a label query stands for (a synthetic pod with those labels).
    pub fn synthetic_pod(&self) -> Option<Pod> {
        match self {
            QueryEnd::Labels { namespace, labels } => Some(Pod {
                namespace: namespace.clone(),
                name: self
                    .label()
                    .split_once('/')
                    .map(|x| x.1.to_string())
                    .unwrap_or_default(),
                labels: labels.clone(),
                ports: Vec::new(),
            }),
            _ => None,
        }
    }

    fn endpoint(&self, model: &Model) -> Result<Endpoint, ReachError> {
        match self {
            QueryEnd::Address(ip) => Ok(Endpoint::Address(*ip)),
            QueryEnd::Range(net) => Err(ReachError::Query(format!(
                "internal: the range {net} is decided class by class"
            ))),
            QueryEnd::Workload { namespace, name } => model
                .world
                .find(namespace, name)
                .map(Endpoint::Pod)
                .ok_or_else(|| {
                    ReachError::Query(format!(
                        "no workload {namespace}/{name} in the workloads given (name pods by labels, NAMESPACE/app=web, to query without a workload)"
                    ))
                }),
            QueryEnd::Labels { namespace, .. } => {
                let name = self.label().split_once('/').map(|x| x.1.to_string()).unwrap_or_default();
                model.world.find(namespace, &name).map(Endpoint::Pod).ok_or_else(|| {
                    ReachError::Query(format!("internal: the pods {} are not in the model", self.label()))
                })
            }
        }
    }
}

/// One side of a query's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SideReport {
    /// The end is a pod (an address has no policies of its own).
    pub applies: bool,
    pub isolated: bool,
    pub allowed: bool,
    /// The policies that isolate this end (`namespace/name`).
    pub policies: Vec<String>,
    /// The rules that let the connection through (`namespace/name ingress[0]`).
    pub rules: Vec<String>,
}

/// A query's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueryReport {
    pub allowed: bool,
    pub from: String,
    pub to: String,
    pub protocol: String,
    pub port: u16,
    pub egress: SideReport,
    pub ingress: SideReport,
    /// Every port the source may use towards the destination.
    pub allowed_ports: String,
    /// With a CIDR end: its sub-ranges the policies tell apart, each decided on its own.
    /// The query is allowed only when every one is; `egress`/`ingress` are the first
    /// denied sub-range's (or the first's), `allowed_ports` the ports every one allows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ranges: Option<Vec<RangeReport>>,
}

/// One sub-range of a CIDR end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RangeReport {
    /// The addresses of the CIDR in one class of the policies, as CIDR ranges.
    pub range: String,
    pub allowed: bool,
    pub allowed_ports: String,
}

fn side_report(s: &netpol_reach::Side) -> SideReport {
    SideReport {
        applies: s.applies,
        isolated: s.isolated,
        allowed: s.allowed,
        policies: s.isolating.iter().map(ToString::to_string).collect(),
        rules: s.allowing.iter().map(ToString::to_string).collect(),
    }
}

/// Answer `from` → `to` on `protocol`/`port`.
pub fn query(
    model: &Model,
    evaluator: &Evaluator,
    from: &QueryEnd,
    to: &QueryEnd,
    protocol: Protocol,
    port: u16,
) -> Result<QueryReport, ReachError> {
    if from.is_outside() && to.is_outside() {
        return Err(ReachError::Query(
            "both ends are addresses outside the cluster: no NetworkPolicy applies".into(),
        ));
    }
    if let QueryEnd::Range(net) = from {
        let t = to.endpoint(model)?;
        return query_range(
            model,
            evaluator,
            (from, to),
            *net,
            |a| (a, t),
            protocol,
            port,
        );
    }
    if let QueryEnd::Range(net) = to {
        let f = from.endpoint(model)?;
        return query_range(
            model,
            evaluator,
            (from, to),
            *net,
            |a| (f, a),
            protocol,
            port,
        );
    }
    let (f, t) = (from.endpoint(model)?, to.endpoint(model)?);
    let d: Decision = evaluator.decide(&model.world, f, t, protocol, port);
    Ok(QueryReport {
        allowed: d.allowed,
        from: from.label(),
        to: to.label(),
        protocol: protocol.as_str().into(),
        port,
        egress: side_report(&d.egress),
        ingress: side_report(&d.ingress),
        allowed_ports: evaluator.allowed_ports(&model.world, f, t).to_string(),
        ranges: None,
    })
}

/// The addresses of `net` within `class`, as CIDR ranges (two CIDR ranges either nest or
/// are disjoint).
fn within(class: &AddressClass, net: IpNet) -> Vec<IpNet> {
    class
        .cidrs
        .iter()
        .filter_map(|c| {
            if c.contains(&net) {
                Some(net)
            } else if net.contains(c) {
                Some(*c)
            } else {
                None
            }
        })
        .collect()
}

/// A query with a CIDR end: split along the classes of addresses the policies tell apart
/// (every address of a class gets the same verdict), decide each class that meets the
/// range by its representative.
fn query_range(
    model: &Model,
    evaluator: &Evaluator,
    (from, to): (&QueryEnd, &QueryEnd),
    net: IpNet,
    ends: impl Fn(Endpoint) -> (Endpoint, Endpoint),
    protocol: Protocol,
    port: u16,
) -> Result<QueryReport, ReachError> {
    let mut ranges = Vec::new();
    let mut shown: Option<Decision> = None;
    let mut every = PortSet::all();
    for class in address_classes(&[evaluator]) {
        let parts = within(&class, net);
        if parts.is_empty() {
            continue;
        }
        let (f, t) = ends(Endpoint::Address(class.representative));
        let d = evaluator.decide(&model.world, f, t, protocol, port);
        let ports = evaluator.allowed_ports(&model.world, f, t);
        every = every.intersect(&ports);
        ranges.push(RangeReport {
            range: parts
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(","),
            allowed: d.allowed,
            allowed_ports: ports.to_string(),
        });
        if shown.as_ref().is_none_or(|s| s.allowed && !d.allowed) {
            shown = Some(d);
        }
    }
    let d = shown.ok_or_else(|| ReachError::Query(format!("internal: no class meets {net}")))?;
    Ok(QueryReport {
        allowed: ranges.iter().all(|r| r.allowed),
        from: from.label(),
        to: to.label(),
        protocol: protocol.as_str().into(),
        port,
        egress: side_report(&d.egress),
        ingress: side_report(&d.ingress),
        allowed_ports: every.to_string(),
        ranges: Some(ranges),
    })
}

/// One allowed path of the map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Connection {
    pub from: NodeName,
    pub to: NodeName,
    /// `all`, or `TCP 80,443; UDP 53`.
    pub ports: String,
}

/// Who can reach whom: every pair of workloads, and workloads to and from each class of
/// addresses the policies distinguish, with the ports allowed; pairs with none are left
/// out. Held compactly (a map over thousands of workloads has millions of paths but few
/// distinct port sets): ends and port sets by index, names rendered once each. It
/// serialises as `workloads`, `addresses` and `connections` of `from`, `to`, `ports`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapReport {
    pub workloads: Vec<NodeName>,
    pub addresses: Vec<NodeName>,
    /// The names of the matrix's ends: the workloads, then the addresses.
    ends: Vec<NodeName>,
    /// Each distinct port set, rendered (`all`, `TCP 80,443; UDP 53`).
    ports: Vec<String>,
    /// (from, to, ports) by index: sources in end order, then destinations.
    paths: Vec<(u32, u32, u32)>,
}

impl MapReport {
    /// How many paths are allowed.
    pub fn len(&self) -> usize {
        self.paths.len()
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// Every allowed path as (from, to, ports), workloads (by name) before addresses.
    pub fn connections(&self) -> impl Iterator<Item = (&str, &str, &str)> + '_ {
        self.paths.iter().map(|&(f, t, p)| {
            (
                self.ends[f as usize].as_str(),
                self.ends[t as usize].as_str(),
                self.ports[p as usize].as_str(),
            )
        })
    }
}

impl Serialize for MapReport {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        #[derive(Serialize)]
        struct Path<'a> {
            from: &'a str,
            to: &'a str,
            ports: &'a str,
        }
        struct Paths<'a>(&'a MapReport);
        impl Serialize for Paths<'_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_seq(self.0.connections().map(|(from, to, ports)| Path {
                    from,
                    to,
                    ports,
                }))
            }
        }
        let mut st = serializer.serialize_struct("MapReport", 3)?;
        st.serialize_field("workloads", &self.workloads)?;
        st.serialize_field("addresses", &self.addresses)?;
        st.serialize_field("connections", &Paths(self))?;
        st.end()
    }
}

pub fn map(model: &Model, evaluator: &Evaluator) -> MapReport {
    let classes = address_classes(&[evaluator]);
    let addresses: Vec<IpAddr> = classes.iter().map(|c| c.representative).collect();
    let matrix = evaluator.matrix(&model.world, &addresses);
    let workloads: Vec<NodeName> = model.names.values().cloned().collect();
    let address_names: Vec<NodeName> = classes.iter().map(AddressClass::label).collect();
    // The matrix's ends are the world's pods by id (the model's names, in id order), then
    // the addresses in the order given.
    let ends = workloads.iter().chain(&address_names).cloned().collect();
    MapReport {
        ends,
        ports: matrix.port_sets().iter().map(ToString::to_string).collect(),
        paths: matrix.entries().to_vec(),
        workloads,
        addresses: address_names,
    }
}

/// A path whose ports differ between two revisions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Changed {
    pub from: NodeName,
    pub to: NodeName,
    pub before: String,
    pub after: String,
}

/// What a revision opens and closes against another, over the same workloads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct DiffReport {
    /// Paths the new policies open that the old did not allow at all.
    pub added: Vec<Connection>,
    /// Paths the old policies allowed and the new allow on no port.
    pub removed: Vec<Connection>,
    /// Paths allowed by both, on different ports.
    pub changed: Vec<Changed>,
}

/// What `new` opens and closes against `old` over the model's workloads. The addresses a
/// workload gains or loses the same ports to (or from) are one row, their ranges merged:
/// how finely the rules of other workloads split the addresses does not show (and a diff
/// that reads only some namespaces' policies, `diff_files`, says exactly the same).
pub fn diff(model: &Model, old: &Evaluator, new: &Evaluator) -> DiffReport {
    let classes = address_classes(&[old, new]);
    let addresses: Vec<IpAddr> = classes.iter().map(|c| c.representative).collect();
    let class_of: std::collections::HashMap<IpAddr, &AddressClass> =
        classes.iter().map(|c| (c.representative, c)).collect();
    let pod = |id: netpol_reach::PodId| model.names.get(&id).cloned().unwrap_or_default();
    // A pod end, the address end's side (to it: true), and the ports before and after.
    type Key = (NodeName, bool, String, String);
    let mut to_addresses: BTreeMap<Key, (PortSet, PortSet, Vec<&AddressClass>)> = BTreeMap::new();
    let mut changes: Vec<(NodeName, NodeName, PortSet, PortSet)> = Vec::new();
    for (from, to, was, now) in old.matrix_changes(new, &model.world, &addresses) {
        let (pod_end, towards, address) = match (from, to) {
            (Endpoint::Pod(f), Endpoint::Pod(t)) => {
                changes.push((pod(f), pod(t), was, now));
                continue;
            }
            (Endpoint::Pod(f), Endpoint::Address(a)) => (f, true, a),
            (Endpoint::Address(a), Endpoint::Pod(t)) => (t, false, a),
            (Endpoint::Address(_), Endpoint::Address(_)) => continue,
        };
        let key = (pod(pod_end), towards, was.to_string(), now.to_string());
        to_addresses
            .entry(key)
            .or_insert_with(|| (was, now, Vec::new()))
            .2
            .extend(class_of.get(&address));
    }
    for ((pod, towards, _, _), (was, now, classes)) in to_addresses {
        for merged in netpol_reach::address_union(&classes) {
            let (from, to) = if towards {
                (pod.clone(), merged.label())
            } else {
                (merged.label(), pod.clone())
            };
            changes.push((from, to, was.clone(), now.clone()));
        }
    }
    changes.sort_by_cached_key(|(from, to, was, now)| {
        (from.clone(), to.clone(), was.to_string(), now.to_string())
    });
    let mut report = DiffReport {
        added: Vec::new(),
        removed: Vec::new(),
        changed: Vec::new(),
    };
    for (from, to, was, now) in changes {
        if was.is_empty() {
            report.added.push(Connection {
                from,
                to,
                ports: now.to_string(),
            });
        } else if now.is_empty() {
            report.removed.push(Connection {
                from,
                to,
                ports: was.to_string(),
            });
        } else {
            report.changed.push(Changed {
                from,
                to,
                before: was.to_string(),
                after: now.to_string(),
            });
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cidr_end_parses_and_meets_the_classes_it_overlaps() {
        let net: IpNet = "10.0.0.0/8".parse().unwrap();
        assert_eq!(QueryEnd::parse("10.0.0.0/8").unwrap(), QueryEnd::Range(net));
        assert!(QueryEnd::parse("10.0.0.1/8")
            .unwrap_err()
            .to_string()
            .contains("did you mean 10.0.0.0/8?"));
        assert_eq!(
            QueryEnd::parse("shop/web").unwrap(),
            QueryEnd::Workload {
                namespace: "shop".into(),
                name: "web".into()
            }
        );
        let np: netpol_policy::NetworkPolicy = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "a"},
            "spec": {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/16"}}]}]}
        }))
        .unwrap();
        let e = Evaluator::new([&np]).unwrap();
        let classes = address_classes(&[&e]);
        let parts: Vec<Vec<IpNet>> = classes.iter().map(|c| within(c, net)).collect();
        // 10/8 meets the class outside 10.0/16 (as its CIDRs) and the class 10.0/16 itself.
        assert!(
            parts.contains(&vec!["10.0.0.0/16".parse().unwrap()]),
            "{parts:?}"
        );
        let outside: usize = parts.iter().filter(|p| p.len() > 1).map(Vec::len).sum();
        assert_eq!(outside, 8, "10.1/16 … 10.128/9: {parts:?}");
        assert!(parts.iter().any(Vec::is_empty), "IPv6 does not meet it");
    }
}
