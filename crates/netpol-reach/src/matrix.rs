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
/// allowed), otherwise the ports allowed (an interned set) with each end at the other side.
type SidePorts = Option<BTreeMap<u32, u32>>;

/// The interned empty set.
const NONE: u32 = 0;
/// The interned set of every port.
const ALL: u32 = 1;

/// Port sets stored once each, by id: a map over thousands of workloads has millions of
/// pairs but a handful of distinct sets, so pairs carry ids and unions and
/// intersections are computed once per pair of ids.
struct Interner {
    sets: Vec<PortSet>,
    ids: HashMap<PortSet, u32>,
    unions: HashMap<(u32, u32), u32>,
    intersections: HashMap<(u32, u32), u32>,
}

impl Interner {
    fn new() -> Interner {
        let mut i = Interner {
            sets: Vec::new(),
            ids: HashMap::new(),
            unions: HashMap::new(),
            intersections: HashMap::new(),
        };
        i.id(PortSet::empty());
        i.id(PortSet::all());
        i
    }

    fn id(&mut self, set: PortSet) -> u32 {
        if let Some(id) = self.ids.get(&set) {
            return *id;
        }
        let id = self.sets.len() as u32;
        self.sets.push(set.clone());
        self.ids.insert(set, id);
        id
    }

    fn union(&mut self, a: u32, b: u32) -> u32 {
        if a == b || b == NONE || a == ALL {
            return a;
        }
        if a == NONE || b == ALL {
            return b;
        }
        let key = (a.min(b), a.max(b));
        if let Some(id) = self.unions.get(&key) {
            return *id;
        }
        let set = self.sets[a as usize].union(&self.sets[b as usize]);
        let id = self.id(set);
        self.unions.insert(key, id);
        id
    }

    fn intersect(&mut self, a: u32, b: u32) -> u32 {
        if a == b || b == ALL {
            return a;
        }
        if a == ALL {
            return b;
        }
        if a == NONE || b == NONE {
            return NONE;
        }
        let key = (a.min(b), a.max(b));
        if let Some(id) = self.intersections.get(&key) {
            return *id;
        }
        let set = self.sets[a as usize].intersect(&self.sets[b as usize]);
        let id = self.id(set);
        self.intersections.insert(key, id);
        id
    }
}

/// Every allowed connection of a world, compactly: ends by index (the world's pods by id,
/// then the addresses in the order given), port sets by id.
#[derive(Debug, Clone)]
pub struct Matrix {
    pods: usize,
    addresses: Vec<IpAddr>,
    /// (source, destination, port set), sources in end order, then destinations.
    entries: Vec<(u32, u32, u32)>,
    port_sets: Vec<PortSet>,
}

impl Matrix {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// (source, destination, port set id), ends and sets as [`Matrix::endpoint`] and
    /// [`Matrix::port_sets`] name them.
    pub fn entries(&self) -> &[(u32, u32, u32)] {
        &self.entries
    }

    /// The distinct port sets, by id.
    pub fn port_sets(&self) -> &[PortSet] {
        &self.port_sets
    }

    /// The end an index stands for.
    pub fn endpoint(&self, end: u32) -> Endpoint {
        let end = end as usize;
        if end < self.pods {
            Endpoint::Pod(PodId(end))
        } else {
            Endpoint::Address(self.addresses[end - self.pods])
        }
    }

    /// Every entry as ends and ports.
    pub fn iter(&self) -> impl Iterator<Item = (Endpoint, Endpoint, &PortSet)> + '_ {
        self.entries.iter().map(|&(f, t, p)| {
            (
                self.endpoint(f),
                self.endpoint(t),
                &self.port_sets[p as usize],
            )
        })
    }
}

struct Builder<'a> {
    evaluator: &'a Evaluator,
    world: &'a World,
    addresses: &'a [IpAddr],
    pods_by_namespace: HashMap<&'a str, Vec<u32>>,
    namespaces: Vec<(&'a String, &'a BTreeMap<String, String>)>,
    namespace_matches: HashMap<&'a Selector, Rc<Vec<usize>>>,
    targets: HashMap<*const Rule, Rc<Targets>>,
    ports: Interner,
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
        let mut allowed: BTreeMap<u32, u32> = BTreeMap::new();
        for (policy, rules) in evaluator.isolating(world, PodId(pod as usize), direction) {
            isolated = true;
            for rule in rules {
                let targets = self.rule_targets(rule, &policy.reference.namespace);
                let fixed = (!rule.has_named_ports()).then(|| {
                    let set = rule_ports(rule, world, me);
                    self.ports.id(set)
                });
                let ends: Box<dyn Iterator<Item = u32>> = if targets.all {
                    Box::new(0..self.ends() as u32)
                } else {
                    Box::new(targets.ends.iter().copied())
                };
                for end in ends {
                    let ports = match (fixed, direction) {
                        (Some(id), _) => id,
                        (None, Direction::Egress) => {
                            let set = rule_ports(rule, world, self.endpoint(end));
                            self.ports.id(set)
                        }
                        (None, Direction::Ingress) => {
                            let set = rule_ports(rule, world, me);
                            self.ports.id(set)
                        }
                    };
                    if ports == NONE {
                        continue;
                    }
                    let merged = match allowed.get(&end) {
                        Some(&was) => self.ports.union(was, ports),
                        None => ports,
                    };
                    allowed.insert(end, merged);
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
    pub fn matrix(&self, world: &World, addresses: &[IpAddr]) -> Matrix {
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
            ports: Interner::new(),
        };
        let pods = world.len() as u32;
        let egress: Vec<SidePorts> = (0..pods).map(|p| b.side(p, Direction::Egress)).collect();
        let ingress: Vec<SidePorts> = (0..pods).map(|p| b.side(p, Direction::Ingress)).collect();
        let ends = b.ends() as u32;
        let mut entries = Vec::new();
        for from in 0..ends {
            let from_pod = from < pods;
            let out_side = if from_pod {
                egress[from as usize].as_ref()
            } else {
                None
            };
            let candidates: Box<dyn Iterator<Item = (u32, u32)>> = match out_side {
                Some(map) => Box::new(map.iter().map(|(t, p)| (*t, *p))),
                None => Box::new((0..ends).map(|t| (t, ALL))),
            };
            for (to, out_ports) in candidates {
                let to_pod = to < pods;
                if !from_pod && !to_pod {
                    continue;
                }
                let in_ports = match to_pod.then(|| ingress[to as usize].as_ref()).flatten() {
                    None => ALL,
                    Some(map) => match map.get(&from) {
                        Some(p) => *p,
                        None => continue,
                    },
                };
                let ports = b.ports.intersect(out_ports, in_ports);
                if ports != NONE {
                    entries.push((from, to, ports));
                }
            }
        }
        Matrix {
            pods: pods as usize,
            addresses: addresses.to_vec(),
            entries,
            port_sets: b.ports.sets,
        }
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
                &self.matrix(world, addresses),
                &after.matrix(world, addresses),
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
fn whole_changes(before: &Matrix, after: &Matrix, key: impl Fn(&Endpoint) -> usize) -> Vec<Change> {
    let mut all: BTreeMap<_, (Endpoint, Endpoint, PortSet, PortSet)> = BTreeMap::new();
    for (f, t, p) in before.iter() {
        all.insert((key(&f), key(&t)), (f, t, p.clone(), PortSet::empty()));
    }
    for (f, t, p) in after.iter() {
        all.entry((key(&f), key(&t)))
            .and_modify(|e| e.3 = p.clone())
            .or_insert_with(|| (f, t, PortSet::empty(), p.clone()));
    }
    all.into_values().filter(|(_, _, a, b)| a != b).collect()
}
