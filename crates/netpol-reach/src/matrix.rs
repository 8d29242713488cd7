//! Every allowed connection of a world at once: what [`Evaluator::allowed_ports`] answers
//! for each pair, computed rule by rule instead of pair by pair.
//!
//! Pair by pair costs (ends²) × (the rules isolating each end). Here each rule's peers are
//! matched once (a namespace selector once per distinct selector), each isolated end
//! collects the ports its rules allow towards the ends they match, and a pair only costs
//! a lookup and an intersection. Whatever the order of work, the answer for a pair is the
//! same set `allowed_ports` gives (tests/properties.rs checks it on random worlds).

use crate::eval::{peer_matches, rule_ports, Direction, Evaluator, NamespaceScope, Peer, Rule};
use crate::ports::PortSet;
use crate::selector::Selector;
use crate::world::{Endpoint, PodId, World};
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::rc::Rc;

/// The ends a rule's peers match: indexes into the matrix's ends (pods, then addresses).
struct Targets {
    /// The rule has no `from`/`to`: every end.
    all: bool,
    ends: Vec<u32>,
}

/// One end's side for a direction: `None` when no policy isolates it (everything
/// allowed), otherwise the ports allowed with each end at the other side.
type SidePorts = Option<BTreeMap<u32, PortSet>>;

struct Builder<'a> {
    evaluator: &'a Evaluator,
    world: &'a World,
    addresses: &'a [IpAddr],
    pods_by_namespace: HashMap<&'a str, Vec<u32>>,
    namespaces: Vec<(&'a String, &'a BTreeMap<String, String>)>,
    namespace_matches: HashMap<&'a Selector, Rc<Vec<usize>>>,
    targets: HashMap<*const Rule, Rc<Targets>>,
}

impl<'a> Builder<'a> {
    fn ends(&self) -> usize {
        self.world.len() + self.addresses.len()
    }

    fn endpoint(&self, end: u32) -> Endpoint {
        let end = end as usize;
        if end < self.world.len() {
            Endpoint::Pod(PodId(end))
        } else {
            Endpoint::Address(self.addresses[end - self.world.len()])
        }
    }

    /// The namespaces (by index into `namespaces`) a selector matches, once per selector.
    fn namespaces_matching(&mut self, selector: &'a Selector) -> Rc<Vec<usize>> {
        if let Some(found) = self.namespace_matches.get(selector) {
            return found.clone();
        }
        let found: Rc<Vec<usize>> = Rc::new(
            self.namespaces
                .iter()
                .enumerate()
                .filter(|(_, (_, labels))| selector.matches(labels))
                .map(|(i, _)| i)
                .collect(),
        );
        self.namespace_matches.insert(selector, found.clone());
        found
    }

    fn peer_ends(&mut self, peer: &'a Peer, policy_ns: &str, out: &mut Vec<u32>) {
        match peer {
            Peer::Pods { namespaces, pods } => {
                let matching = match namespaces {
                    NamespaceScope::Own => None,
                    NamespaceScope::Matching(sel) => Some(self.namespaces_matching(sel)),
                };
                let names: Vec<&str> = match &matching {
                    None => vec![policy_ns],
                    Some(found) => found
                        .iter()
                        .map(|&i| self.namespaces[i].0.as_str())
                        .collect(),
                };
                for name in names {
                    for &pod in self.pods_by_namespace.get(name).into_iter().flatten() {
                        let labels = &self.world.pod(PodId(pod as usize)).labels;
                        if pods.as_ref().is_none_or(|sel| sel.matches(labels)) {
                            out.push(pod);
                        }
                    }
                }
            }
            Peer::Block { .. } => {
                let first = self.world.len();
                for (i, ip) in self.addresses.iter().enumerate() {
                    if peer_matches(peer, policy_ns, Endpoint::Address(*ip), self.world) {
                        out.push((first + i) as u32);
                    }
                }
            }
        }
    }

    /// The ends `rule` (of a policy in `policy_ns`) lets through, once per rule.
    fn rule_targets(&mut self, rule: &'a Rule, policy_ns: &str) -> Rc<Targets> {
        let key = rule as *const Rule;
        if let Some(found) = self.targets.get(&key) {
            return found.clone();
        }
        let targets = match &rule.peers {
            None => Targets {
                all: true,
                ends: Vec::new(),
            },
            Some(peers) => {
                let mut ends = Vec::new();
                for peer in peers {
                    self.peer_ends(peer, policy_ns, &mut ends);
                }
                ends.sort_unstable();
                ends.dedup();
                Targets { all: false, ends }
            }
        };
        let targets = Rc::new(targets);
        self.targets.insert(key, targets.clone());
        targets
    }

    /// `pod`'s side for `direction`: for each end at the other side, the ports its rules
    /// allow. Named ports resolve on the destination: the other end for egress, `pod`
    /// itself for ingress.
    fn side(&mut self, pod: u32, direction: Direction) -> SidePorts {
        let evaluator = self.evaluator;
        let world = self.world;
        let me = Endpoint::Pod(PodId(pod as usize));
        let mut isolated = false;
        let mut allowed: BTreeMap<u32, PortSet> = BTreeMap::new();
        for (policy, rules) in evaluator.isolating(world, PodId(pod as usize), direction) {
            isolated = true;
            for rule in rules {
                let targets = self.rule_targets(rule, &policy.reference.namespace);
                let named = rule.has_named_ports();
                let fixed = (!named).then(|| rule_ports(rule, world, me));
                let ends: Box<dyn Iterator<Item = u32>> = if targets.all {
                    Box::new(0..self.ends() as u32)
                } else {
                    Box::new(targets.ends.iter().copied())
                };
                for end in ends {
                    let ports = match (&fixed, direction) {
                        (Some(p), _) => p.clone(),
                        (None, Direction::Egress) => rule_ports(rule, world, self.endpoint(end)),
                        (None, Direction::Ingress) => rule_ports(rule, world, me),
                    };
                    if ports.is_empty() {
                        continue;
                    }
                    allowed
                        .entry(end)
                        .and_modify(|p| *p = p.union(&ports))
                        .or_insert(ports);
                }
            }
        }
        isolated.then_some(allowed)
    }
}

impl Evaluator {
    /// Every connection allowed between the pods of `world` and `addresses` (addresses
    /// outside the cluster; two addresses are never paired), with its ports: exactly the
    /// pairs for which [`Evaluator::allowed_ports`] is not empty, pods first (by id), then
    /// addresses in the order given, sources before destinations.
    pub fn matrix(
        &self,
        world: &World,
        addresses: &[IpAddr],
    ) -> Vec<(Endpoint, Endpoint, PortSet)> {
        let mut pods_by_namespace: HashMap<&str, Vec<u32>> = HashMap::new();
        for id in world.pods() {
            pods_by_namespace
                .entry(world.pod(id).namespace.as_str())
                .or_default()
                .push(id.0 as u32);
        }
        let mut b = Builder {
            evaluator: self,
            world,
            addresses,
            pods_by_namespace,
            namespaces: world.namespaces().collect(),
            namespace_matches: HashMap::new(),
            targets: HashMap::new(),
        };
        let pods = world.len() as u32;
        let egress: Vec<SidePorts> = (0..pods).map(|p| b.side(p, Direction::Egress)).collect();
        let ingress: Vec<SidePorts> = (0..pods).map(|p| b.side(p, Direction::Ingress)).collect();
        let all = PortSet::all();
        let ends = b.ends() as u32;
        let mut out = Vec::new();
        for from in 0..ends {
            let from_pod = from < pods;
            let out_side = if from_pod {
                egress[from as usize].as_ref()
            } else {
                None
            };
            let candidates: Box<dyn Iterator<Item = (u32, &PortSet)>> = match out_side {
                Some(map) => Box::new(map.iter().map(|(t, p)| (*t, p))),
                None => Box::new((0..ends).map(|t| (t, &all))),
            };
            for (to, out_ports) in candidates {
                let to_pod = to < pods;
                if !from_pod && !to_pod {
                    continue;
                }
                let in_ports = match to_pod.then(|| ingress[to as usize].as_ref()).flatten() {
                    None => &all,
                    Some(map) => match map.get(&from) {
                        Some(p) => p,
                        None => continue,
                    },
                };
                let ports = if out_ports.is_all() {
                    in_ports.clone()
                } else if in_ports.is_all() {
                    out_ports.clone()
                } else {
                    out_ports.intersect(in_ports)
                };
                if !ports.is_empty() {
                    out.push((b.endpoint(from), b.endpoint(to), ports));
                }
            }
        }
        out
    }
}

/// A pair whose allowed ports differ between two sets of policies.
pub type Change = (Endpoint, Endpoint, PortSet, PortSet);

impl Evaluator {
    /// Every pair of [`Evaluator::matrix`]'s ends whose allowed ports differ between
    /// `self` (before) and `after`, with both port sets, in the matrix's order.
    ///
    /// A pod's side for a direction is decided by the policies isolating it, so when they
    /// are the same policies, equal in every rule, before and after, that side is the same
    /// towards every end. Only pairs with a changed side are decided again, pair by pair;
    /// when most sides changed, both whole matrices are compared instead.
    pub fn matrix_changes(
        &self,
        after: &Evaluator,
        world: &World,
        addresses: &[IpAddr],
    ) -> Vec<Change> {
        let changed = |direction: Direction| -> Vec<bool> {
            world
                .pods()
                .map(|pod| {
                    let before = self.isolating(world, pod, direction);
                    let now = after.isolating(world, pod, direction);
                    !before.map(|(p, _)| p).eq(now.map(|(p, _)| p))
                })
                .collect()
        };
        let (egress, ingress) = (changed(Direction::Egress), changed(Direction::Ingress));
        let pods = world.len();
        let ends: Vec<Endpoint> = world
            .pods()
            .map(Endpoint::Pod)
            .chain(addresses.iter().map(|a| Endpoint::Address(*a)))
            .collect();
        let sides = egress.iter().chain(&ingress).filter(|c| **c).count();
        if sides.saturating_mul(4) > pods {
            let index: HashMap<IpAddr, usize> = addresses
                .iter()
                .enumerate()
                .map(|(i, a)| (*a, pods + i))
                .collect();
            let key = |e: &Endpoint| match e {
                Endpoint::Pod(p) => p.0,
                Endpoint::Address(a) => index.get(a).copied().unwrap_or(usize::MAX),
            };
            return whole_changes(
                self.matrix(world, addresses),
                after.matrix(world, addresses),
                key,
            );
        }
        let mut out = Vec::new();
        for (f, &from) in ends.iter().enumerate() {
            for (t, &to) in ends.iter().enumerate() {
                if f >= pods && t >= pods {
                    continue;
                }
                let from_changed = f < pods && egress[f];
                let to_changed = t < pods && ingress[t];
                if !from_changed && !to_changed {
                    continue;
                }
                let (was, now) = (
                    self.allowed_ports(world, from, to),
                    after.allowed_ports(world, from, to),
                );
                if was != now {
                    out.push((from, to, was, now));
                }
            }
        }
        out
    }
}

/// The differing pairs of two whole matrices (both in the matrix's order).
fn whole_changes(
    before: Vec<(Endpoint, Endpoint, PortSet)>,
    after: Vec<(Endpoint, Endpoint, PortSet)>,
    key: impl Fn(&Endpoint) -> usize,
) -> Vec<Change> {
    let mut all: BTreeMap<_, (Endpoint, Endpoint, PortSet, PortSet)> = BTreeMap::new();
    for (f, t, p) in before {
        all.insert((key(&f), key(&t)), (f, t, p, PortSet::empty()));
    }
    for (f, t, p) in after {
        all.entry((key(&f), key(&t)))
            .and_modify(|e| e.3 = p.clone())
            .or_insert((f, t, PortSet::empty(), p));
    }
    all.into_values().filter(|(_, _, a, b)| a != b).collect()
}
