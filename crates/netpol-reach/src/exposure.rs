//! Exposure: for one pod and one direction, every kind of peer the policies isolating it
//! let through, as the rules state it (addresses, every pod, pods by selector) rather than
//! over the pods of a [`World`]. It answers what a map over given workloads cannot: who
//! else could connect, including pods that do not exist yet (docs/reachability.md,
//! "Exposure").

use crate::eval::{rule_ports, Direction, Evaluator, NamespaceScope, Peer, PortSpec, RuleRef};
use crate::ports::PortSet;
use crate::world::{Endpoint, PodId, Protocol, World};
use ipnet::IpNet;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

/// Where a peer's pods may live.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum NamespaceScopeText {
    /// The policy's own namespace (a peer with a `podSelector` alone).
    Named(String),
    /// Namespaces matching a selector, as text (`team=shop`).
    Matching(String),
}

/// A kind of peer a pod is exposed to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExposedTo {
    /// No policy isolates the pod for this direction: every peer, on every port.
    NotIsolated,
    /// A rule without `from`/`to`: every address outside the cluster and every pod.
    Everything,
    /// Every pod of every namespace (`namespaceSelector: {}`, with an absent or empty
    /// `podSelector`).
    AllPods,
    /// Addresses outside the cluster: an `ipBlock`.
    Addresses { cidr: IpNet, except: Vec<IpNet> },
    /// Pods matching a selector (text; `None`: every pod) in some namespaces.
    Pods {
        namespaces: NamespaceScopeText,
        pods: Option<String>,
    },
}

/// One kind of peer, the ports it may use, and the rules that say so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposure {
    pub to: ExposedTo,
    /// Port numbers and ranges; a named port of an ingress rule resolved on the pod.
    pub ports: PortSet,
    /// Named ports of egress rules (resolved on the peer, which is not known here).
    pub named_ports: Vec<(Protocol, String)>,
    pub rules: Vec<RuleRef>,
}

impl Evaluator {
    /// What `pod` is exposed to for `direction` (ingress: who may connect to it; egress:
    /// where it may connect), merged by kind of peer, in a stable order. A side no policy
    /// isolates is one [`ExposedTo::NotIsolated`]; an isolated side with no rule letting
    /// anything through is empty.
    pub fn exposure(&self, world: &World, pod: PodId, direction: Direction) -> Vec<Exposure> {
        let mut merged: BTreeMap<ExposedTo, Exposure> = BTreeMap::new();
        let mut isolated = false;
        // Named ports resolve on the destination: the pod itself for ingress; for egress
        // the destination is unknown, so only numbers count and names are kept as names.
        let numeric_only = Endpoint::Address(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let destination = match direction {
            Direction::Ingress => Endpoint::Pod(pod),
            Direction::Egress => numeric_only,
        };
        for (policy, rules) in self.isolating(world, pod, direction) {
            isolated = true;
            for (index, rule) in rules.iter().enumerate() {
                let ports = rule_ports(rule, world, destination);
                let named: Vec<(Protocol, String)> = match direction {
                    Direction::Egress => rule
                        .ports
                        .iter()
                        .flatten()
                        .filter_map(|m| match &m.port {
                            PortSpec::Named(n) => Some((m.protocol, n.clone())),
                            _ => None,
                        })
                        .collect(),
                    Direction::Ingress => Vec::new(),
                };
                if ports.is_empty() && named.is_empty() {
                    // Only named ports this pod does not have: the rule admits nothing.
                    continue;
                }
                let peers: Vec<ExposedTo> = match &rule.peers {
                    None => vec![ExposedTo::Everything],
                    Some(peers) => peers
                        .iter()
                        .map(|p| exposed_to(p, &policy.reference.namespace))
                        .collect(),
                };
                let reference = RuleRef {
                    policy: policy.reference.clone(),
                    direction,
                    rule: index,
                };
                for to in peers {
                    let entry = merged.entry(to.clone()).or_insert_with(|| Exposure {
                        to,
                        ports: PortSet::empty(),
                        named_ports: Vec::new(),
                        rules: Vec::new(),
                    });
                    entry.ports = entry.ports.union(&ports);
                    for n in &named {
                        if !entry.named_ports.contains(n) {
                            entry.named_ports.push(n.clone());
                        }
                    }
                    if !entry.rules.contains(&reference) {
                        entry.rules.push(reference.clone());
                    }
                }
            }
        }
        if !isolated {
            return vec![Exposure {
                to: ExposedTo::NotIsolated,
                ports: PortSet::all(),
                named_ports: Vec::new(),
                rules: Vec::new(),
            }];
        }
        merged
            .into_values()
            .map(|mut e| {
                e.named_ports.sort();
                e
            })
            .collect()
    }
}

fn exposed_to(peer: &Peer, policy_ns: &str) -> ExposedTo {
    match peer {
        Peer::Block { cidr, except } => ExposedTo::Addresses {
            cidr: *cidr,
            except: except.clone(),
        },
        Peer::Pods {
            namespaces: NamespaceScope::Matching(ns),
            pods,
        } if ns.is_empty() && pods.as_ref().is_none_or(|p| p.is_empty()) => ExposedTo::AllPods,
        Peer::Pods { namespaces, pods } => ExposedTo::Pods {
            namespaces: match namespaces {
                NamespaceScope::Own => NamespaceScopeText::Named(policy_ns.to_string()),
                NamespaceScope::Matching(sel) => NamespaceScopeText::Matching(sel.to_string()),
            },
            pods: pods
                .as_ref()
                .filter(|p| !p.is_empty())
                .map(ToString::to_string),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::{ContainerPort, Pod};
    use k8s_openapi::api::networking::v1::NetworkPolicy;

    fn policy(spec: serde_json::Value) -> NetworkPolicy {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "shop"}, "spec": spec
        }))
        .unwrap()
    }

    fn world() -> (World, PodId, PodId) {
        let pod = |name: &str, app: &str| Pod {
            namespace: "shop".into(),
            name: name.into(),
            labels: [("app".to_string(), app.to_string())].into(),
            ports: vec![ContainerPort {
                name: Some("http".into()),
                port: 8080,
                protocol: Protocol::Tcp,
            }],
        };
        let w = World::new(
            [("shop".to_string(), BTreeMap::new())],
            [pod("web", "web"), pod("db", "db")],
        )
        .unwrap();
        let (web, db) = (
            w.find("shop", "web").unwrap(),
            w.find("shop", "db").unwrap(),
        );
        (w, web, db)
    }

    #[test]
    fn each_kind_of_peer_with_its_ports_and_rules() {
        let np = policy(serde_json::json!({
            "podSelector": {"matchLabels": {"app": "web"}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}},
                          {"namespaceSelector": {}}],
                 "ports": [{"port": "http"}]},
                {"from": [{"namespaceSelector": {"matchLabels": {"team": "ops"}}, "podSelector": {"matchExpressions": [{"key": "role", "operator": "In", "values": ["a", "b"]}]}},
                          {"podSelector": {"matchLabels": {"app": "lb"}}}],
                 "ports": [{"port": 9000, "endPort": 9010}]},
                {"from": [{"podSelector": {}}], "ports": [{"port": "missing"}]}
            ],
            "egress": [{"ports": [{"port": "dns", "protocol": "UDP"}, {"port": 53, "protocol": "UDP"}]}]
        }));
        let e = Evaluator::new([&np]).unwrap();
        let (w, web, db) = world();
        let ingress = e.exposure(&w, web, Direction::Ingress);
        let kinds: Vec<&ExposedTo> = ingress.iter().map(|x| &x.to).collect();
        assert_eq!(
            kinds,
            [
                &ExposedTo::AllPods,
                &ExposedTo::Addresses {
                    cidr: "10.0.0.0/8".parse().unwrap(),
                    except: vec!["10.1.0.0/16".parse().unwrap()]
                },
                &ExposedTo::Pods {
                    namespaces: NamespaceScopeText::Named("shop".into()),
                    pods: Some("app=lb".into())
                },
                &ExposedTo::Pods {
                    namespaces: NamespaceScopeText::Matching("team=ops".into()),
                    pods: Some("role in (a,b)".into())
                },
            ],
            "the rule with a named port the pod lacks admits nothing"
        );
        assert_eq!(ingress[0].ports.to_string(), "TCP 8080");
        assert_eq!(ingress[0].rules[0].to_string(), "shop/p ingress[0]");
        assert_eq!(ingress[3].ports.to_string(), "TCP 9000-9010");

        let egress = e.exposure(&w, web, Direction::Egress);
        assert_eq!(egress.len(), 1);
        assert_eq!(egress[0].to, ExposedTo::Everything);
        assert_eq!(egress[0].ports.to_string(), "UDP 53");
        assert_eq!(egress[0].named_ports, [(Protocol::Udp, "dns".to_string())]);

        // db is selected by no policy: open both ways.
        assert_eq!(
            e.exposure(&w, db, Direction::Ingress)[0].to,
            ExposedTo::NotIsolated
        );
    }

    #[test]
    fn a_deny_all_policy_exposes_nothing() {
        let np = policy(serde_json::json!({"podSelector": {}, "policyTypes": ["Ingress"]}));
        let e = Evaluator::new([&np]).unwrap();
        let (w, web, _) = world();
        assert!(e.exposure(&w, web, Direction::Ingress).is_empty());
        assert_eq!(
            e.exposure(&w, web, Direction::Egress)[0].to,
            ExposedTo::NotIsolated
        );
    }
}
