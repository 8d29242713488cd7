//! The evaluator against a deliberately naive reference: the Kubernetes documentation's
//! rules written out literally over the API types, no compilation, no index, its own
//! selector matching and defaulting. Random namespaces, pods with named ports, policies
//! (selectors with every operator, peers of every kind, ipBlocks with except, numbered,
//! ranged and named ports, all protocols, policyTypes given or defaulted) and every
//! connection between the pods and a few addresses must get the same verdict from both.

use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, LabelSelectorRequirement, ObjectMeta,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use netpol_reach::{ContainerPort, Endpoint, Evaluator, Pod, Protocol, World};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::net::IpAddr;

const NAMESPACES: [&str; 3] = ["a", "b", "c"];
const ADDRESSES: [&str; 6] = [
    "10.1.2.3",
    "10.2.0.1",
    "192.168.0.9",
    "8.8.8.8",
    "2001:db8::1",
    "2001:db8:1::1",
];
const CIDRS: [(&str, &[&str]); 4] = [
    ("10.0.0.0/8", &["10.1.0.0/16"]),
    ("192.168.0.0/24", &[]),
    ("2001:db8::/32", &["2001:db8:1::/48"]),
    ("0.0.0.0/0", &["10.0.0.0/8"]),
];
const PORTS: [u16; 5] = [53, 80, 8000, 8080, 9090];

// ---- the naive reference ----------------------------------------------------------

/// A rule as (peers, ports), whichever the direction.
type Rule = (
    Option<Vec<NetworkPolicyPeer>>,
    Option<Vec<NetworkPolicyPort>>,
);

#[derive(Debug, Clone)]
struct NaiveWorld {
    ns_labels: BTreeMap<String, BTreeMap<String, String>>,
    pods: Vec<Pod>,
}

#[derive(Debug, Clone, Copy)]
enum End {
    Pod(usize),
    Ip(IpAddr),
}

fn naive_selects(sel: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    for (k, v) in sel.match_labels.clone().unwrap_or_default() {
        if labels.get(&k) != Some(&v) {
            return false;
        }
    }
    for e in sel.match_expressions.clone().unwrap_or_default() {
        let values = e.values.clone().unwrap_or_default();
        let have = labels.get(&e.key);
        let ok = match e.operator.as_str() {
            "In" => have.is_some() && values.contains(have.unwrap()),
            "NotIn" => have.is_none() || !values.contains(have.unwrap()),
            "Exists" => have.is_some(),
            "DoesNotExist" => have.is_none(),
            _ => panic!("generated operators only"),
        };
        if !ok {
            return false;
        }
    }
    true
}

fn naive_types(spec: &NetworkPolicySpec) -> Vec<String> {
    match &spec.policy_types {
        Some(t) if !t.is_empty() => t.clone(),
        _ => {
            let mut t = vec!["Ingress".to_string()];
            if spec.egress.as_ref().map(|e| !e.is_empty()).unwrap_or(false) {
                t.push("Egress".to_string());
            }
            t
        }
    }
}

fn in_cidr(ip: IpAddr, cidr: &str) -> bool {
    let net: ipnet_like::Net = cidr.parse().unwrap();
    net.contains(ip)
}

/// A CIDR check written out by hand for the reference, apart from the evaluator's crate.
mod ipnet_like {
    use std::net::IpAddr;
    pub struct Net {
        addr: IpAddr,
        prefix: u32,
    }
    impl std::str::FromStr for Net {
        type Err = ();
        fn from_str(s: &str) -> Result<Net, ()> {
            let (a, p) = s.split_once('/').ok_or(())?;
            Ok(Net {
                addr: a.parse().map_err(|_| ())?,
                prefix: p.parse().map_err(|_| ())?,
            })
        }
    }
    impl Net {
        pub fn contains(&self, ip: IpAddr) -> bool {
            match (self.addr, ip) {
                (IpAddr::V4(n), IpAddr::V4(i)) => {
                    let mask = if self.prefix == 0 {
                        0
                    } else {
                        u32::MAX << (32 - self.prefix)
                    };
                    u32::from(n) & mask == u32::from(i) & mask
                }
                (IpAddr::V6(n), IpAddr::V6(i)) => {
                    let mask = if self.prefix == 0 {
                        0
                    } else {
                        u128::MAX << (128 - self.prefix)
                    };
                    u128::from(n) & mask == u128::from(i) & mask
                }
                _ => false,
            }
        }
    }
}

fn naive_peer(w: &NaiveWorld, policy_ns: &str, peer: &NetworkPolicyPeer, end: End) -> bool {
    if let Some(block) = &peer.ip_block {
        return match end {
            End::Ip(ip) => {
                in_cidr(ip, &block.cidr)
                    && !block
                        .except
                        .clone()
                        .unwrap_or_default()
                        .iter()
                        .any(|e| in_cidr(ip, e))
            }
            End::Pod(_) => false,
        };
    }
    let End::Pod(i) = end else { return false };
    let pod = &w.pods[i];
    let ns_ok = match &peer.namespace_selector {
        None => pod.namespace == policy_ns,
        Some(sel) => naive_selects(sel, &w.ns_labels[&pod.namespace]),
    };
    let pod_ok = match &peer.pod_selector {
        None => true,
        Some(sel) => naive_selects(sel, &pod.labels),
    };
    ns_ok && pod_ok
}

fn naive_port(w: &NaiveWorld, p: &NetworkPolicyPort, to: End, proto: &str, port: u16) -> bool {
    if p.protocol.clone().unwrap_or_else(|| "TCP".into()) != proto {
        return false;
    }
    match &p.port {
        None => true,
        Some(IntOrString::Int(n)) => match p.end_port {
            None => i32::from(port) == *n,
            Some(end) => *n <= i32::from(port) && i32::from(port) <= end,
        },
        Some(IntOrString::String(name)) => match to {
            End::Pod(i) => w.pods[i].ports.iter().any(|c| {
                c.name.as_deref() == Some(name.as_str())
                    && c.protocol.as_str() == proto
                    && c.port == port
            }),
            End::Ip(_) => false,
        },
    }
}

fn naive_allowed(
    w: &NaiveWorld,
    policies: &[NetworkPolicy],
    from: End,
    to: End,
    proto: &str,
    port: u16,
) -> bool {
    let ports_ok = |ports: &Option<Vec<NetworkPolicyPort>>| match ports {
        None => true,
        Some(list) if list.is_empty() => true,
        Some(list) => list.iter().any(|p| naive_port(w, p, to, proto, port)),
    };
    // Each side: the pod's own end, the peer at the other end, the direction's rules as
    // (peers, ports) pairs.
    let side = |end: End, peer: End, direction: &str| -> bool {
        let End::Pod(i) = end else { return true };
        let mut isolated = false;
        let mut allowed = false;
        for np in policies {
            let ns = np.metadata.namespace.as_deref().unwrap();
            let spec = np.spec.clone().unwrap();
            if ns != w.pods[i].namespace
                || !naive_types(&spec).contains(&direction.to_string())
                || !naive_selects(
                    &spec.pod_selector.clone().unwrap_or_default(),
                    &w.pods[i].labels,
                )
            {
                continue;
            }
            isolated = true;
            let rules: Vec<Rule> = if direction == "Egress" {
                spec.egress
                    .clone()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|r| (r.to, r.ports))
                    .collect()
            } else {
                spec.ingress
                    .clone()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|r| (r.from, r.ports))
                    .collect()
            };
            for (peers, ports) in rules {
                let peers_ok = match &peers {
                    None => true,
                    Some(list) if list.is_empty() => true,
                    Some(list) => list.iter().any(|p| naive_peer(w, ns, p, peer)),
                };
                if peers_ok && ports_ok(&ports) {
                    allowed = true;
                }
            }
        }
        !isolated || allowed
    };
    side(from, to, "Egress") && side(to, from, "Ingress")
}

// ---- generators ---------------------------------------------------------------------

fn label_map() -> impl Strategy<Value = BTreeMap<String, String>> {
    (
        prop::option::of(prop::sample::select(vec!["p", "q", "r"])),
        prop::option::of(prop::sample::select(vec!["front", "back"])),
    )
        .prop_map(|(app, tier)| {
            let mut m = BTreeMap::new();
            if let Some(a) = app {
                m.insert("app".to_string(), a.to_string());
            }
            if let Some(t) = tier {
                m.insert("tier".to_string(), t.to_string());
            }
            m
        })
}

fn selector() -> impl Strategy<Value = LabelSelector> {
    let requirement = (
        prop::sample::select(vec!["app", "tier", "team"]),
        prop::sample::select(vec!["In", "NotIn", "Exists", "DoesNotExist"]),
        prop::sample::subsequence(vec!["p", "q", "front", "x"], 1..3),
    )
        .prop_map(|(key, op, values)| LabelSelectorRequirement {
            key: key.to_string(),
            operator: op.to_string(),
            values: matches!(op, "In" | "NotIn")
                .then(|| values.iter().map(|v| v.to_string()).collect()),
        });
    (
        prop::option::of(label_map()),
        prop::option::of(prop::collection::vec(requirement, 0..2)),
    )
        .prop_map(|(match_labels, match_expressions)| LabelSelector {
            match_labels,
            match_expressions,
        })
}

fn ns_selector() -> impl Strategy<Value = LabelSelector> {
    prop_oneof![
        Just(LabelSelector::default()),
        prop::sample::select(NAMESPACES.to_vec()).prop_map(|n| LabelSelector {
            match_labels: Some([("kubernetes.io/metadata.name".to_string(), n.to_string())].into()),
            match_expressions: None,
        }),
        prop::sample::select(vec!["x", "y"]).prop_map(|t| LabelSelector {
            match_labels: Some([("team".to_string(), t.to_string())].into()),
            match_expressions: None,
        }),
    ]
}

fn peer() -> impl Strategy<Value = NetworkPolicyPeer> {
    prop_oneof![
        selector().prop_map(|s| NetworkPolicyPeer {
            pod_selector: Some(s),
            ..Default::default()
        }),
        ns_selector().prop_map(|s| NetworkPolicyPeer {
            namespace_selector: Some(s),
            ..Default::default()
        }),
        (ns_selector(), selector()).prop_map(|(n, p)| NetworkPolicyPeer {
            namespace_selector: Some(n),
            pod_selector: Some(p),
            ..Default::default()
        }),
        (0..CIDRS.len()).prop_map(|i| NetworkPolicyPeer {
            ip_block: Some(IPBlock {
                cidr: CIDRS[i].0.to_string(),
                except: (!CIDRS[i].1.is_empty()).then(|| CIDRS[i]
                    .1
                    .iter()
                    .map(|s| s.to_string())
                    .collect()),
            }),
            ..Default::default()
        }),
    ]
}

fn port() -> impl Strategy<Value = NetworkPolicyPort> {
    let protocol = prop::option::of(prop::sample::select(vec!["TCP", "UDP", "SCTP"]));
    let number = prop::sample::select(PORTS.to_vec());
    prop_oneof![
        protocol.clone().prop_map(|p| NetworkPolicyPort {
            protocol: p.map(String::from),
            port: None,
            end_port: None,
        }),
        (protocol.clone(), number.clone()).prop_map(|(p, n)| NetworkPolicyPort {
            protocol: p.map(String::from),
            port: Some(IntOrString::Int(i32::from(n))),
            end_port: None,
        }),
        (protocol.clone(), number, 0u16..9000).prop_map(|(p, n, span)| NetworkPolicyPort {
            protocol: p.map(String::from),
            port: Some(IntOrString::Int(i32::from(n))),
            end_port: Some(i32::from(n) + i32::from(span)),
        }),
        (
            protocol,
            prop::sample::select(vec!["http", "dns", "metrics"])
        )
            .prop_map(|(p, name)| {
                NetworkPolicyPort {
                    protocol: p.map(String::from),
                    port: Some(IntOrString::String(name.to_string())),
                    end_port: None,
                }
            }),
    ]
}

fn peers() -> impl Strategy<Value = Option<Vec<NetworkPolicyPeer>>> {
    prop::option::of(prop::collection::vec(peer(), 0..3))
}

fn ports() -> impl Strategy<Value = Option<Vec<NetworkPolicyPort>>> {
    prop::option::of(prop::collection::vec(port(), 0..3))
}

fn policy(index: usize) -> impl Strategy<Value = NetworkPolicy> {
    let ingress = prop::option::of(prop::collection::vec(
        (peers(), ports()).prop_map(|(from, ports)| NetworkPolicyIngressRule { from, ports }),
        0..3,
    ));
    let egress = prop::option::of(prop::collection::vec(
        (peers(), ports()).prop_map(|(to, ports)| NetworkPolicyEgressRule { to, ports }),
        0..3,
    ));
    let types = prop::option::of(prop::sample::select(vec![
        vec!["Ingress"],
        vec!["Egress"],
        vec!["Ingress", "Egress"],
    ]));
    (
        prop::sample::select(NAMESPACES.to_vec()),
        selector(),
        ingress,
        egress,
        types,
    )
        .prop_map(
            move |(ns, pod_selector, ingress, egress, types)| NetworkPolicy {
                metadata: ObjectMeta {
                    name: Some(format!("p{index}")),
                    namespace: Some(ns.to_string()),
                    ..Default::default()
                },
                spec: Some(NetworkPolicySpec {
                    pod_selector: Some(pod_selector),
                    ingress,
                    egress,
                    policy_types: types.map(|t| t.iter().map(|s| s.to_string()).collect()),
                }),
            },
        )
}

fn pod_ports() -> impl Strategy<Value = Vec<ContainerPort>> {
    prop::sample::subsequence(
        vec![
            ("http", 8080, Protocol::Tcp),
            ("dns", 53, Protocol::Udp),
            ("metrics", 9090, Protocol::Tcp),
            ("http", 80, Protocol::Udp),
        ],
        0..3,
    )
    .prop_map(|ports| {
        let mut seen = std::collections::BTreeSet::new();
        ports
            .into_iter()
            .filter(|(name, _, _)| seen.insert(*name))
            .map(|(name, port, protocol)| ContainerPort {
                name: Some(name.to_string()),
                port,
                protocol,
            })
            .collect()
    })
}

fn world() -> impl Strategy<Value = NaiveWorld> {
    let ns_labels =
        prop::collection::vec(prop::option::of(prop::sample::select(vec!["x", "y"])), 3);
    let pods = prop::collection::vec(
        (
            prop::sample::select(NAMESPACES.to_vec()),
            label_map(),
            pod_ports(),
        ),
        1..6,
    );
    (ns_labels, pods).prop_map(|(teams, pods)| NaiveWorld {
        ns_labels: NAMESPACES
            .iter()
            .zip(teams)
            .map(|(n, team)| {
                let mut l = BTreeMap::new();
                l.insert("kubernetes.io/metadata.name".to_string(), n.to_string());
                if let Some(t) = team {
                    l.insert("team".to_string(), t.to_string());
                }
                (n.to_string(), l)
            })
            .collect(),
        pods: pods
            .into_iter()
            .enumerate()
            .map(|(i, (ns, labels, ports))| Pod {
                namespace: ns.to_string(),
                name: format!("pod{i}"),
                labels,
                ports,
            })
            .collect(),
    })
}

/// Every ordered pair of the world's pods and `addresses`, in the matrix's order (pods
/// first, then addresses; sources before destinations), two addresses never paired.
fn every_pair(world: &World, addresses: &[IpAddr]) -> Vec<(Endpoint, Endpoint)> {
    let ends: Vec<Endpoint> = world
        .pods()
        .map(Endpoint::Pod)
        .chain(addresses.iter().map(|a| Endpoint::Address(*a)))
        .collect();
    let mut out = Vec::new();
    for &f in &ends {
        for &t in &ends {
            if !matches!((f, t), (Endpoint::Address(_), Endpoint::Address(_))) {
                out.push((f, t));
            }
        }
    }
    out
}

fn policies() -> impl Strategy<Value = Vec<NetworkPolicy>> {
    (0usize..5).prop_flat_map(|n| (0..n).map(policy).collect::<Vec<_>>())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn the_evaluator_agrees_with_the_naive_reference(w in world(), nps in policies()) {
        let world = World::new(
            w.ns_labels.iter().map(|(n, l)| {
                let mut l = l.clone();
                l.remove("kubernetes.io/metadata.name");
                (n.clone(), l)
            }),
            w.pods.clone(),
        )
        .unwrap();
        let eval = Evaluator::new(&nps).unwrap();
        let mut ends: Vec<(End, Endpoint)> = (0..w.pods.len())
            .map(|i| {
                let id = world.find(&w.pods[i].namespace, &w.pods[i].name).unwrap();
                (End::Pod(i), Endpoint::Pod(id))
            })
            .collect();
        for a in ADDRESSES {
            let ip: IpAddr = a.parse().unwrap();
            ends.push((End::Ip(ip), Endpoint::Address(ip)));
        }
        // An address gets the verdicts of its class's representative, both ways.
        let classes = netpol_reach::address_classes(&[&eval]);
        for a in ADDRESSES {
            let ip: IpAddr = a.parse().unwrap();
            let class: Vec<_> = classes.iter().filter(|c| c.cidrs.iter().any(|n| n.contains(&ip))).collect();
            prop_assert_eq!(class.len(), 1, "{} in {:?}", a, classes);
            let rep = Endpoint::Address(class[0].representative);
            for pod in world.pods() {
                let p = Endpoint::Pod(pod);
                prop_assert_eq!(eval.allowed_ports(&world, p, Endpoint::Address(ip)), eval.allowed_ports(&world, p, rep));
                prop_assert_eq!(eval.allowed_ports(&world, Endpoint::Address(ip), p), eval.allowed_ports(&world, rep, p));
            }
        }
        for &(nf, ef) in &ends {
            for &(nt, et) in &ends {
                if matches!((nf, nt), (End::Ip(_), End::Ip(_))) {
                    continue;
                }
                for proto in [Protocol::Tcp, Protocol::Udp, Protocol::Sctp] {
                    for port in PORTS {
                        let ours = eval.decide(&world, ef, et, proto, port);
                        let reference = naive_allowed(&w, &nps, nf, nt, proto.as_str(), port);
                        prop_assert_eq!(ours.allowed, reference,
                            "{:?} -> {:?} {}/{}\npolicies: {}\n{:#?}",
                            ef, et, proto.as_str(), port,
                            serde_json::to_string(&nps).unwrap(), ours);
                        // The verdict is the sides', and an allowed isolated side names a rule.
                        prop_assert_eq!(ours.allowed, ours.egress.allowed && ours.ingress.allowed);
                        for side in [&ours.egress, &ours.ingress] {
                            prop_assert_eq!(side.allowed, !side.isolated || !side.allowing.is_empty());
                        }
                    }
                }
                // The whole port set says what every single decision says, edges included.
                let set = eval.allowed_ports(&world, ef, et);
                for proto in [Protocol::Tcp, Protocol::Udp, Protocol::Sctp] {
                    for port in PORTS.iter().copied().chain([1, 52, 54, 8999, 17080, 65535]) {
                        prop_assert_eq!(
                            set.contains(proto, port),
                            eval.decide(&world, ef, et, proto, port).allowed,
                            "{:?} -> {:?} {}/{}: {}", ef, et, proto.as_str(), port, set
                        );
                    }
                }
            }
        }
    }

    /// The whole matrix, computed rule by rule, is `allowed_ports` of every pair: the same
    /// pairs (those with some port), the same ports, over pods and every address class.
    #[test]
    fn the_matrix_is_allowed_ports_of_every_pair(w in world(), nps in policies()) {
        let world = World::new(
            w.ns_labels.iter().map(|(n, l)| (n.clone(), l.clone())),
            w.pods.clone(),
        )
        .unwrap();
        let eval = Evaluator::new(&nps).unwrap();
        let addresses: Vec<IpAddr> = netpol_reach::address_classes(&[&eval])
            .iter()
            .map(|c| c.representative)
            .collect();
        let mut expected = Vec::new();
        for (f, t) in every_pair(&world, &addresses) {
            let ports = eval.allowed_ports(&world, f, t);
            if !ports.is_empty() {
                expected.push((f, t, ports));
            }
        }
        let got: Vec<(Endpoint, Endpoint, netpol_reach::PortSet)> = eval
            .matrix(&world, &addresses)
            .iter()
            .map(|(f, t, p)| (f, t, p.clone()))
            .collect();
        prop_assert_eq!(got, expected, "policies: {}", serde_json::to_string(&nps).unwrap());
    }

    /// What changes between two sets of policies (a few changed, or all different) is
    /// exactly the pairs whose `allowed_ports` differ, with both port sets.
    #[test]
    fn matrix_changes_are_the_pairs_whose_ports_differ(
        w in world(),
        before in policies(),
        replacement in policies(),
        keep in 0usize..6,
    ) {
        let world = World::new(
            w.ns_labels.iter().map(|(n, l)| (n.clone(), l.clone())),
            w.pods.clone(),
        )
        .unwrap();
        // The policies after: the first `keep` of before, then the replacement's.
        let after: Vec<NetworkPolicy> = before.iter().take(keep).cloned().chain(replacement).collect();
        let (old, new) = (Evaluator::new(&before).unwrap(), Evaluator::new(&after).unwrap());
        let addresses: Vec<IpAddr> = netpol_reach::address_classes(&[&old, &new])
            .iter()
            .map(|c| c.representative)
            .collect();
        let mut expected = Vec::new();
        for (f, t) in every_pair(&world, &addresses) {
            let (a, b) = (old.allowed_ports(&world, f, t), new.allowed_ports(&world, f, t));
            if a != b {
                expected.push((f, t, a, b));
            }
        }
        prop_assert_eq!(old.matrix_changes(&new, &world, &addresses), expected);
    }

    /// Whatever the policies, no input makes the evaluator panic: invalid ones are errors.
    #[test]
    fn arbitrary_selectors_and_ports_are_an_error_or_a_verdict(
        op in "[A-Za-z]{0,12}",
        cidr in "[0-9./:a-f]{0,20}",
        port in any::<i32>(),
        end in prop::option::of(any::<i32>()),
        protocol in "[A-Z]{0,5}",
    ) {
        let np: NetworkPolicy = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "a"},
            "spec": {
                "podSelector": {"matchExpressions": [{"key": "k", "operator": op, "values": ["v"]}]},
                "ingress": [{"from": [{"ipBlock": {"cidr": cidr}}], "ports": [{"protocol": protocol, "port": port, "endPort": end}]}],
            }
        })).unwrap();
        if let Ok(eval) = Evaluator::new(&[np]) {
            let world = World::new([("a".to_string(), BTreeMap::new())], [Pod {
                namespace: "a".into(), name: "p".into(), labels: BTreeMap::new(), ports: Vec::new(),
            }]).unwrap();
            let p = Endpoint::Pod(world.find("a", "p").unwrap());
            let _ = eval.decide(&world, Endpoint::Address("10.0.0.1".parse().unwrap()), p, Protocol::Tcp, 80);
        }
    }
}
