//! Policies compiled once, then connections decided against a [`World`].

use crate::ports::PortSet;
use crate::selector::Selector;
use crate::world::{Endpoint, Protocol, World};
use crate::ReachError;
use ipnet::IpNet;
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::HashMap;
use std::fmt;

/// `namespace/name` of a NetworkPolicy.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyRef {
    pub namespace: String,
    pub name: String,
}

impl fmt::Display for PolicyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    Ingress,
    Egress,
}

/// One rule of a policy: `ingress[rule]` or `egress[rule]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RuleRef {
    pub policy: PolicyRef,
    pub direction: Direction,
    pub rule: usize,
}

impl fmt::Display for RuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = match self.direction {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        };
        write!(f, "{} {d}[{}]", self.policy, self.rule)
    }
}

/// One end's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Side {
    /// The end is a pod, so policies can isolate it (an address outside the cluster has
    /// no policies of its own: its side always allows).
    pub applies: bool,
    /// Some policy selects the pod for this direction.
    pub isolated: bool,
    pub allowed: bool,
    /// The policies that select the pod for this direction.
    pub isolating: Vec<PolicyRef>,
    /// The rules of those policies that let the connection through.
    pub allowing: Vec<RuleRef>,
}

/// Whether a connection is allowed, and why, on each side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// The source's egress.
    pub egress: Side,
    /// The destination's ingress.
    pub ingress: Side,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NamespaceScope {
    /// The policy's own namespace (a peer with a podSelector alone).
    Own,
    Matching(Selector),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Peer {
    Pods {
        namespaces: NamespaceScope,
        pods: Option<Selector>,
    },
    Block {
        cidr: IpNet,
        except: Vec<IpNet>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PortSpec {
    Any,
    Range(u16, u16),
    Named(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PortMatch {
    pub(crate) protocol: Protocol,
    pub(crate) port: PortSpec,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rule {
    /// `None`: every peer.
    pub(crate) peers: Option<Vec<Peer>>,
    /// `None`: every port.
    pub(crate) ports: Option<Vec<PortMatch>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CompiledPolicy {
    pub(crate) reference: PolicyRef,
    pod_selector: Selector,
    /// `Some` when the policy isolates the pods it selects for ingress.
    ingress: Option<Vec<Rule>>,
    egress: Option<Vec<Rule>>,
}

/// Policies compiled for evaluation.
#[derive(Debug, Clone, Default)]
pub struct Evaluator {
    policies: Vec<CompiledPolicy>,
    by_namespace: HashMap<String, Vec<usize>>,
}

impl Evaluator {
    /// Compile `policies` (defaulted as kube-apiserver defaults them). A policy the API
    /// server would refuse in a way that changes its meaning (an unknown protocol or
    /// selector operator, a peer that names nothing, a bad CIDR) is an error, never a
    /// guess.
    pub fn new<'a>(
        policies: impl IntoIterator<Item = &'a NetworkPolicy>,
    ) -> Result<Evaluator, ReachError> {
        let mut evaluator = Evaluator::default();
        for np in policies {
            let compiled = compile(np)?;
            evaluator
                .by_namespace
                .entry(compiled.reference.namespace.clone())
                .or_default()
                .push(evaluator.policies.len());
            evaluator.policies.push(compiled);
        }
        Ok(evaluator)
    }

    /// Every named port of the policies' rules that no pod of `world` exposes with that
    /// protocol, as `(rule, name, protocol)`: such a port allows nothing, which is rarely
    /// what its author meant.
    pub fn unexposed_named_ports(&self, world: &World) -> Vec<(RuleRef, String, Protocol)> {
        let exposed: std::collections::HashSet<(&str, Protocol)> = world
            .pods()
            .flat_map(|id| world.pod(id).ports.iter())
            .filter_map(|c| c.name.as_deref().map(|n| (n, c.protocol)))
            .collect();
        let mut out = Vec::new();
        for policy in &self.policies {
            for (direction, rules) in [
                (Direction::Ingress, policy.ingress.as_deref()),
                (Direction::Egress, policy.egress.as_deref()),
            ] {
                for (index, rule) in rules.into_iter().flatten().enumerate() {
                    for m in rule.ports.iter().flatten() {
                        if let PortSpec::Named(name) = &m.port {
                            if !exposed.contains(&(name.as_str(), m.protocol)) {
                                out.push((
                                    RuleRef {
                                        policy: policy.reference.clone(),
                                        direction,
                                        rule: index,
                                    },
                                    name.clone(),
                                    m.protocol,
                                ));
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// Every `ipBlock` range and `except` range of the policies.
    pub(crate) fn blocks(&self) -> impl Iterator<Item = IpNet> + '_ {
        self.policies
            .iter()
            .flat_map(|p| p.ingress.iter().flatten().chain(p.egress.iter().flatten()))
            .flat_map(|r| r.peers.iter().flatten())
            .flat_map(|peer| match peer {
                Peer::Block { cidr, except } => std::iter::once(*cidr)
                    .chain(except.iter().copied())
                    .collect(),
                Peer::Pods { .. } => Vec::new(),
            })
    }

    /// Decide the connection `from` → `to` on `protocol`/`port`.
    pub fn decide(
        &self,
        world: &World,
        from: Endpoint,
        to: Endpoint,
        protocol: Protocol,
        port: u16,
    ) -> Decision {
        let conn = Conn {
            world,
            to,
            protocol,
            port,
        };
        let egress = match from {
            Endpoint::Pod(pod) => self.side(world, pod, Direction::Egress, to, &conn),
            Endpoint::Address(_) => open_side(),
        };
        let ingress = match to {
            Endpoint::Pod(pod) => self.side(world, pod, Direction::Ingress, from, &conn),
            Endpoint::Address(_) => open_side(),
        };
        Decision {
            allowed: egress.allowed && ingress.allowed,
            egress,
            ingress,
        }
    }

    /// The verdict of `pod`'s policies for `direction`, with `peer` at the other end.
    fn side(
        &self,
        world: &World,
        pod: crate::PodId,
        direction: Direction,
        peer: Endpoint,
        conn: &Conn<'_>,
    ) -> Side {
        let mut side = Side {
            applies: true,
            ..Side::default()
        };
        for (policy, rules) in self.isolating(world, pod, direction) {
            side.isolating.push(policy.reference.clone());
            for (index, rule) in rules.iter().enumerate() {
                if rule_matches(rule, &policy.reference.namespace, peer, conn) {
                    side.allowing.push(RuleRef {
                        policy: policy.reference.clone(),
                        direction,
                        rule: index,
                    });
                }
            }
        }
        side.isolated = !side.isolating.is_empty();
        side.allowed = !side.isolated || !side.allowing.is_empty();
        side
    }
}

impl Evaluator {
    /// Every (protocol, port) on which `from` may connect to `to`: what the source's egress
    /// allows, intersected with what the destination's ingress allows. A port is in the
    /// set exactly when [`Evaluator::decide`] allows it.
    pub fn allowed_ports(&self, world: &World, from: Endpoint, to: Endpoint) -> PortSet {
        let egress = match from {
            Endpoint::Pod(pod) => self.side_ports(world, pod, Direction::Egress, to, to),
            Endpoint::Address(_) => PortSet::all(),
        };
        let ingress = match to {
            Endpoint::Pod(pod) => self.side_ports(world, pod, Direction::Ingress, from, to),
            Endpoint::Address(_) => PortSet::all(),
        };
        egress.intersect(&ingress)
    }

    fn side_ports(
        &self,
        world: &World,
        pod: crate::PodId,
        direction: Direction,
        peer: Endpoint,
        destination: Endpoint,
    ) -> PortSet {
        let mut isolated = false;
        let mut allowed = PortSet::empty();
        for (policy, rules) in self.isolating(world, pod, direction) {
            isolated = true;
            for rule in rules {
                let peer_ok = match &rule.peers {
                    None => true,
                    Some(peers) => peers
                        .iter()
                        .any(|x| peer_matches(x, &policy.reference.namespace, peer, world)),
                };
                if peer_ok {
                    allowed = allowed.union(&rule_ports(rule, world, destination));
                }
            }
        }
        if isolated {
            allowed
        } else {
            PortSet::all()
        }
    }
}

impl Rule {
    /// Whether the rule's ports depend on the destination (a named port).
    pub(crate) fn has_named_ports(&self) -> bool {
        self.ports
            .iter()
            .flatten()
            .any(|m| matches!(m.port, PortSpec::Named(_)))
    }
}

/// The ports a rule allows towards `destination` (named ports resolve on it).
pub(crate) fn rule_ports(rule: &Rule, world: &World, destination: Endpoint) -> PortSet {
    let Some(ports) = &rule.ports else {
        return PortSet::all();
    };
    let mut set = PortSet::empty();
    for m in ports {
        let add = match &m.port {
            PortSpec::Any => PortSet::all_of(m.protocol),
            PortSpec::Range(lo, hi) => PortSet::range(m.protocol, *lo, *hi),
            PortSpec::Named(name) => match destination {
                Endpoint::Pod(id) => world
                    .pod(id)
                    .ports
                    .iter()
                    .filter(|c| {
                        c.name.as_deref() == Some(name.as_str()) && c.protocol == m.protocol
                    })
                    .fold(PortSet::empty(), |s, c| {
                        s.union(&PortSet::range(m.protocol, c.port, c.port))
                    }),
                Endpoint::Address(_) => PortSet::empty(),
            },
        };
        set = set.union(&add);
    }
    set
}

impl Evaluator {
    /// The policies that select `pod` for `direction`, with their rules for it.
    pub(crate) fn isolating<'s>(
        &'s self,
        world: &'s World,
        pod: crate::PodId,
        direction: Direction,
    ) -> impl Iterator<Item = (&'s CompiledPolicy, &'s [Rule])> + 's {
        let p = world.pod(pod);
        self.by_namespace
            .get(&p.namespace)
            .into_iter()
            .flatten()
            .filter_map(move |&i| {
                let policy = &self.policies[i];
                let rules = match direction {
                    Direction::Ingress => policy.ingress.as_deref(),
                    Direction::Egress => policy.egress.as_deref(),
                }?;
                policy
                    .pod_selector
                    .matches(&p.labels)
                    .then_some((policy, rules))
            })
    }
}

fn open_side() -> Side {
    Side {
        allowed: true,
        ..Side::default()
    }
}

/// The destination and port of a connection: what named ports resolve against.
struct Conn<'w> {
    world: &'w World,
    to: Endpoint,
    protocol: Protocol,
    port: u16,
}

fn rule_matches(rule: &Rule, policy_ns: &str, peer: Endpoint, conn: &Conn<'_>) -> bool {
    let peer_ok = match &rule.peers {
        None => true,
        Some(peers) => peers
            .iter()
            .any(|p| peer_matches(p, policy_ns, peer, conn.world)),
    };
    let port_ok = match &rule.ports {
        None => true,
        Some(ports) => ports.iter().any(|p| port_matches(p, conn)),
    };
    peer_ok && port_ok
}

pub(crate) fn peer_matches(peer: &Peer, policy_ns: &str, end: Endpoint, world: &World) -> bool {
    match (peer, end) {
        (Peer::Pods { namespaces, pods }, Endpoint::Pod(id)) => {
            let pod = world.pod(id);
            let ns_ok = match namespaces {
                NamespaceScope::Own => pod.namespace == policy_ns,
                NamespaceScope::Matching(sel) => world
                    .namespace_labels(&pod.namespace)
                    .is_some_and(|labels| sel.matches(labels)),
            };
            ns_ok && pods.as_ref().is_none_or(|sel| sel.matches(&pod.labels))
        }
        (Peer::Block { cidr, except }, Endpoint::Address(ip)) => {
            cidr.contains(&ip) && !except.iter().any(|e| e.contains(&ip))
        }
        _ => false,
    }
}

fn port_matches(m: &PortMatch, conn: &Conn<'_>) -> bool {
    if m.protocol != conn.protocol {
        return false;
    }
    match &m.port {
        PortSpec::Any => true,
        PortSpec::Range(lo, hi) => (*lo..=*hi).contains(&conn.port),
        PortSpec::Named(name) => match conn.to {
            Endpoint::Pod(id) => conn.world.pod(id).ports.iter().any(|c| {
                c.name.as_deref() == Some(name.as_str())
                    && c.protocol == conn.protocol
                    && c.port == conn.port
            }),
            Endpoint::Address(_) => false,
        },
    }
}

fn compile(np: &NetworkPolicy) -> Result<CompiledPolicy, ReachError> {
    let mut np = np.clone();
    netpol_policy::apply_defaults(&mut np);
    let reference = PolicyRef {
        namespace: np.metadata.namespace.clone().unwrap_or_default(),
        name: np.metadata.name.clone().unwrap_or_default(),
    };
    let shown = reference.to_string();
    let invalid = |field: String, message: String| ReachError::InvalidPolicy {
        policy: shown.clone(),
        field,
        message,
    };
    if reference.namespace.is_empty() || reference.name.is_empty() {
        return Err(invalid(
            "metadata".into(),
            "a policy needs a name and a namespace".into(),
        ));
    }
    let spec = np.spec.unwrap_or_default();
    let pod_selector = Selector::compile(
        &spec.pod_selector.unwrap_or_default(),
        &shown,
        "spec.podSelector",
    )?;
    let types = spec.policy_types.unwrap_or_default();
    for t in &types {
        if t != "Ingress" && t != "Egress" {
            return Err(invalid(
                "spec.policyTypes".into(),
                format!("unsupported value {t:?}"),
            ));
        }
    }
    let mut compiled = CompiledPolicy {
        reference: reference.clone(),
        pod_selector,
        ingress: None,
        egress: None,
    };
    if types.iter().any(|t| t == "Ingress") {
        let mut rules = Vec::new();
        for (i, r) in spec.ingress.unwrap_or_default().into_iter().enumerate() {
            let at = format!("spec.ingress[{i}]");
            rules.push(compile_rule(r.from, r.ports, &shown, &at, "from")?);
        }
        compiled.ingress = Some(rules);
    }
    if types.iter().any(|t| t == "Egress") {
        let mut rules = Vec::new();
        for (i, r) in spec.egress.unwrap_or_default().into_iter().enumerate() {
            let at = format!("spec.egress[{i}]");
            rules.push(compile_rule(r.to, r.ports, &shown, &at, "to")?);
        }
        compiled.egress = Some(rules);
    }
    Ok(compiled)
}

fn compile_rule(
    peers: Option<Vec<NetworkPolicyPeer>>,
    ports: Option<Vec<NetworkPolicyPort>>,
    policy: &str,
    at: &str,
    peers_field: &str,
) -> Result<Rule, ReachError> {
    let invalid = |field: String, message: &str| ReachError::InvalidPolicy {
        policy: policy.to_string(),
        field,
        message: message.to_string(),
    };
    let peers = match peers.filter(|p| !p.is_empty()) {
        None => None,
        Some(list) => {
            let mut out = Vec::with_capacity(list.len());
            for (j, p) in list.iter().enumerate() {
                let field = format!("{at}.{peers_field}[{j}]");
                out.push(compile_peer(p, policy, &field)?);
            }
            Some(out)
        }
    };
    let ports = match ports.filter(|p| !p.is_empty()) {
        None => None,
        Some(list) => {
            let mut out = Vec::with_capacity(list.len());
            for (j, p) in list.iter().enumerate() {
                let field = format!("{at}.ports[{j}]");
                let protocol = Protocol::parse(p.protocol.as_deref().unwrap_or("TCP"))
                    .ok_or_else(|| invalid(format!("{field}.protocol"), "unsupported protocol"))?;
                let number = |n: i32, f: &str| {
                    u16::try_from(n).ok().filter(|n| *n > 0).ok_or_else(|| {
                        invalid(format!("{field}.{f}"), "must be between 1 and 65535")
                    })
                };
                let port = match (&p.port, p.end_port) {
                    (None, None) => PortSpec::Any,
                    (None, Some(_)) => {
                        return Err(invalid(
                            format!("{field}.endPort"),
                            "may not be specified when `port` is not specified",
                        ))
                    }
                    (Some(IntOrString::Int(n)), None) => {
                        let n = number(*n, "port")?;
                        PortSpec::Range(n, n)
                    }
                    (Some(IntOrString::Int(n)), Some(end)) => {
                        let (n, end) = (number(*n, "port")?, number(end, "endPort")?);
                        if end < n {
                            return Err(invalid(
                                format!("{field}.endPort"),
                                "must be greater than or equal to `port`",
                            ));
                        }
                        PortSpec::Range(n, end)
                    }
                    (Some(IntOrString::String(name)), None) => PortSpec::Named(name.clone()),
                    (Some(IntOrString::String(_)), Some(_)) => {
                        return Err(invalid(
                            format!("{field}.endPort"),
                            "may not be specified when `port` is non-numeric",
                        ))
                    }
                };
                out.push(PortMatch { protocol, port });
            }
            Some(out)
        }
    };
    Ok(Rule { peers, ports })
}

fn compile_peer(p: &NetworkPolicyPeer, policy: &str, field: &str) -> Result<Peer, ReachError> {
    let invalid = |f: String, message: String| ReachError::InvalidPolicy {
        policy: policy.to_string(),
        field: f,
        message,
    };
    match (&p.ip_block, &p.namespace_selector, &p.pod_selector) {
        (Some(block), None, None) => {
            let cidr = parse_cidr(&block.cidr).ok_or_else(|| {
                invalid(
                    format!("{field}.ipBlock.cidr"),
                    format!("invalid CIDR {:?}", block.cidr),
                )
            })?;
            let mut except = Vec::new();
            for (k, e) in block.except.iter().flatten().enumerate() {
                except.push(parse_cidr(e).ok_or_else(|| {
                    invalid(
                        format!("{field}.ipBlock.except[{k}]"),
                        format!("invalid CIDR {e:?}"),
                    )
                })?);
            }
            Ok(Peer::Block { cidr, except })
        }
        (Some(_), _, _) => Err(invalid(
            field.to_string(),
            "may not specify more than 1 peer type".into(),
        )),
        (None, None, None) => Err(invalid(field.to_string(), "must specify a peer".into())),
        (None, ns, pods) => Ok(Peer::Pods {
            namespaces: match ns {
                None => NamespaceScope::Own,
                Some(sel) => NamespaceScope::Matching(Selector::compile(
                    sel,
                    policy,
                    &format!("{field}.namespaceSelector"),
                )?),
            },
            pods: pods
                .as_ref()
                .map(|sel| Selector::compile(sel, policy, &format!("{field}.podSelector")))
                .transpose()?,
        }),
    }
}

/// A CIDR as the API takes one; its network is what matches (host bits are ignored).
fn parse_cidr(s: &str) -> Option<IpNet> {
    s.parse::<IpNet>().ok().map(|n| n.trunc())
}
