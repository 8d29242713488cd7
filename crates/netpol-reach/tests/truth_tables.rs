//! Truth tables from the Kubernetes documentation's NetworkPolicy examples
//! (kubernetes.io/docs/concepts/services-networking/network-policies/): each row is a
//! sentence of that page turned into a connection and the verdict the page gives it.

use k8s_openapi::api::networking::v1::NetworkPolicy;
use netpol_reach::{ContainerPort, Direction, Endpoint, Evaluator, Pod, Protocol, World};
use serde::Deserialize as _;
use std::collections::BTreeMap;

fn policies(yaml: &str) -> Vec<NetworkPolicy> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|doc| {
            let value = serde_yaml::Value::deserialize(doc).expect("YAML");
            serde_yaml::from_value(value).expect("a NetworkPolicy")
        })
        .collect()
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn pod(ns: &str, name: &str, pairs: &[(&str, &str)]) -> Pod {
    Pod {
        namespace: ns.into(),
        name: name.into(),
        labels: labels(pairs),
        ports: Vec::new(),
    }
}

struct Table {
    world: World,
    eval: Evaluator,
}

impl Table {
    fn new(yaml: &str, namespaces: &[(&str, &[(&str, &str)])], pods: Vec<Pod>) -> Table {
        let world = World::new(
            namespaces.iter().map(|(n, l)| (n.to_string(), labels(l))),
            pods,
        )
        .unwrap();
        let eval = Evaluator::new(&policies(yaml)).unwrap();
        Table { world, eval }
    }

    fn end(&self, s: &str) -> Endpoint {
        match s.split_once('/') {
            Some((ns, name)) => Endpoint::Pod(self.world.find(ns, name).expect(s)),
            None => Endpoint::Address(s.parse().expect(s)),
        }
    }

    /// `(from, to, protocol, port, allowed)` rows.
    fn check(&self, rows: &[(&str, &str, Protocol, u16, bool)]) {
        for &(from, to, protocol, port, allowed) in rows {
            let d = self
                .eval
                .decide(&self.world, self.end(from), self.end(to), protocol, port);
            assert_eq!(
                d.allowed,
                allowed,
                "{from} -> {to} {}/{port}: {d:#?}",
                protocol.as_str()
            );
        }
    }
}

const TCP: Protocol = Protocol::Tcp;
const UDP: Protocol = Protocol::Udp;

/// The page's `test-network-policy`.
#[test]
fn the_documentations_test_network_policy() {
    let t = Table::new(
        r#"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: test-network-policy, namespace: default}
spec:
  podSelector: {matchLabels: {role: db}}
  policyTypes: [Ingress, Egress]
  ingress:
  - from:
    - ipBlock: {cidr: 172.17.0.0/16, except: [172.17.1.0/24]}
    - namespaceSelector: {matchLabels: {project: myproject}}
    - podSelector: {matchLabels: {role: frontend}}
    ports:
    - {protocol: TCP, port: 6379}
  egress:
  - to:
    - ipBlock: {cidr: 10.0.0.0/24}
    ports:
    - {protocol: TCP, port: 5978}
"#,
        &[
            ("default", &[]),
            ("myproject", &[("project", "myproject")]),
            ("other", &[("project", "other")]),
        ],
        vec![
            pod("default", "db", &[("role", "db")]),
            pod("default", "frontend", &[("role", "frontend")]),
            pod("default", "backend", &[("role", "backend")]),
            pod("myproject", "anything", &[("app", "x")]),
            pod("other", "frontend", &[("role", "frontend")]),
        ],
    );
    t.check(&[
        // "any pod in the default namespace with the label role=frontend"
        ("default/frontend", "default/db", TCP, 6379, true),
        // "on TCP port 6379": no other port, no other protocol
        ("default/frontend", "default/db", TCP, 6380, false),
        ("default/frontend", "default/db", UDP, 6379, false),
        ("default/backend", "default/db", TCP, 6379, false),
        // "any pod in a namespace with the label project=myproject"
        ("myproject/anything", "default/db", TCP, 6379, true),
        // a podSelector alone selects pods in the policy's own namespace
        ("other/frontend", "default/db", TCP, 6379, false),
        // "172.17.0.0–172.17.0.255 and 172.17.2.0–172.17.255.255"
        ("172.17.0.5", "default/db", TCP, 6379, true),
        ("172.17.1.5", "default/db", TCP, 6379, false),
        ("172.17.2.1", "default/db", TCP, 6379, true),
        ("172.18.0.1", "default/db", TCP, 6379, false),
        // "(Egress rules) ... to CIDR 10.0.0.0/24 on TCP port 5978"
        ("default/db", "10.0.0.7", TCP, 5978, true),
        ("default/db", "10.0.1.7", TCP, 5978, false),
        ("default/db", "10.0.0.7", TCP, 5979, false),
        // db is isolated for egress: nothing else leaves it
        ("default/db", "default/frontend", TCP, 80, false),
        // pods no policy selects are not isolated
        ("default/frontend", "default/backend", TCP, 80, true),
        ("default/backend", "8.8.8.8", UDP, 53, true),
    ]);
    let d = t.eval.decide(
        &t.world,
        t.end("default/frontend"),
        t.end("default/db"),
        TCP,
        6379,
    );
    assert!(!d.egress.isolated && d.egress.allowed);
    assert!(d.ingress.isolated);
    assert_eq!(
        d.ingress.isolating[0].to_string(),
        "default/test-network-policy"
    );
    assert_eq!(d.ingress.allowing.len(), 1);
    assert_eq!(d.ingress.allowing[0].direction, Direction::Ingress);
    assert_eq!(d.ingress.allowing[0].rule, 0);
}

/// "Default deny all ingress traffic", "Allow all ingress traffic", "Default deny all
/// egress traffic", "Default deny all ingress and all egress traffic".
#[test]
fn the_documentations_defaults() {
    let namespaces: &[(&str, &[(&str, &str)])] = &[("default", &[]), ("other", &[])];
    let pods = || {
        vec![
            pod("default", "a", &[("app", "a")]),
            pod("other", "b", &[("app", "b")]),
        ]
    };
    let deny_ingress = "metadata: {name: default-deny-ingress, namespace: default}\nspec: {podSelector: {}, policyTypes: [Ingress]}\n";
    Table::new(deny_ingress, namespaces, pods()).check(&[
        ("other/b", "default/a", TCP, 80, false),
        ("1.2.3.4", "default/a", TCP, 80, false),
        // "does not change the default egress isolation behavior"
        ("default/a", "other/b", TCP, 80, true),
        ("default/a", "1.2.3.4", TCP, 443, true),
    ]);
    let allow_ingress = "metadata: {name: allow-all-ingress, namespace: default}\nspec: {podSelector: {}, ingress: [{}], policyTypes: [Ingress]}\n";
    Table::new(
        &format!("{deny_ingress}---\n{allow_ingress}"),
        namespaces,
        pods(),
    )
    .check(&[
        ("other/b", "default/a", TCP, 80, true),
        ("1.2.3.4", "default/a", UDP, 5353, true),
    ]);
    let deny_egress = "metadata: {name: default-deny-egress, namespace: default}\nspec: {podSelector: {}, policyTypes: [Egress]}\n";
    Table::new(deny_egress, namespaces, pods()).check(&[
        ("default/a", "other/b", TCP, 80, false),
        ("default/a", "8.8.8.8", UDP, 53, false),
        ("other/b", "default/a", TCP, 80, true),
    ]);
    let deny_all = "metadata: {name: default-deny-all, namespace: default}\nspec: {podSelector: {}, policyTypes: [Ingress, Egress]}\n";
    Table::new(deny_all, namespaces, pods()).check(&[
        ("default/a", "other/b", TCP, 80, false),
        ("other/b", "default/a", TCP, 80, false),
        ("other/b", "other/b", TCP, 80, true),
    ]);
}

/// "Behavior of to and from selectors": one peer with both selectors ANDs them; two peers
/// OR them.
#[test]
fn the_documentations_and_versus_or() {
    let namespaces: &[(&str, &[(&str, &str)])] = &[
        ("db", &[]),
        ("alice", &[("user", "alice")]),
        ("bob", &[("user", "bob")]),
    ];
    let pods = || {
        vec![
            pod("db", "server", &[("app", "db")]),
            pod("alice", "client", &[("role", "client")]),
            pod("alice", "batch", &[("role", "batch")]),
            pod("bob", "client", &[("role", "client")]),
        ]
    };
    let and = r#"
metadata: {name: and, namespace: db}
spec:
  podSelector: {}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {user: alice}}
      podSelector: {matchLabels: {role: client}}
"#;
    Table::new(and, namespaces, pods()).check(&[
        ("alice/client", "db/server", TCP, 5432, true),
        ("alice/batch", "db/server", TCP, 5432, false),
        ("bob/client", "db/server", TCP, 5432, false),
    ]);
    let or = r#"
metadata: {name: or, namespace: db}
spec:
  podSelector: {}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {user: alice}}
    - podSelector: {matchLabels: {role: client}}
"#;
    // The podSelector alone means clients in the policy's own namespace (db): bob's
    // client is in neither set.
    Table::new(or, namespaces, pods()).check(&[
        ("alice/client", "db/server", TCP, 5432, true),
        ("alice/batch", "db/server", TCP, 5432, true),
        ("bob/client", "db/server", TCP, 5432, false),
    ]);
}

/// "Targeting a range of ports" (endPort), a namespace by its name label, policyTypes
/// defaulting, named ports, IPv6 blocks.
#[test]
fn ranges_namespace_names_defaults_named_ports_and_ipv6() {
    let range = r#"
metadata: {name: multi-port-egress, namespace: default}
spec:
  podSelector: {matchLabels: {role: db}}
  policyTypes: [Egress]
  egress:
  - to:
    - ipBlock: {cidr: 10.0.0.0/24}
    ports:
    - {protocol: TCP, port: 32000, endPort: 32768}
"#;
    Table::new(
        range,
        &[("default", &[])],
        vec![pod("default", "db", &[("role", "db")])],
    )
    .check(&[
        ("default/db", "10.0.0.1", TCP, 32000, true),
        ("default/db", "10.0.0.1", TCP, 32768, true),
        ("default/db", "10.0.0.1", TCP, 31999, false),
        ("default/db", "10.0.0.1", TCP, 32769, false),
    ]);

    // "kubernetes.io/metadata.name" is set on every namespace.
    let by_name = r#"
metadata: {name: from-frontend, namespace: payments}
spec:
  podSelector: {}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: frontend}}
"#;
    Table::new(
        by_name,
        &[("payments", &[]), ("frontend", &[]), ("other", &[])],
        vec![
            pod("payments", "api", &[]),
            pod("frontend", "web", &[]),
            pod("other", "web", &[]),
        ],
    )
    .check(&[
        ("frontend/web", "payments/api", TCP, 443, true),
        ("other/web", "payments/api", TCP, 443, false),
    ]);

    // Without policyTypes: Ingress always, Egress only with egress rules.
    let defaults = r#"
metadata: {name: ingress-only, namespace: a}
spec:
  podSelector: {matchLabels: {app: x}}
  ingress: [{from: [{podSelector: {}}]}]
---
metadata: {name: with-egress, namespace: a}
spec:
  podSelector: {matchLabels: {app: y}}
  egress: [{to: [{podSelector: {}}]}]
"#;
    Table::new(
        defaults,
        &[("a", &[]), ("b", &[])],
        vec![
            pod("a", "x", &[("app", "x")]),
            pod("a", "y", &[("app", "y")]),
            pod("b", "z", &[]),
        ],
    )
    .check(&[
        ("a/x", "b/z", TCP, 80, true),  // x is not isolated for egress
        ("b/z", "a/x", TCP, 80, false), // x is isolated for ingress
        ("a/y", "a/x", TCP, 80, true),  // y may reach its own namespace
        ("a/y", "b/z", TCP, 80, false), // and nothing else
        ("b/z", "a/y", TCP, 80, false), // and y is isolated for ingress too
    ]);

    // A named port resolves on the destination pod's container ports, by protocol.
    let named = r#"
metadata: {name: http-only, namespace: a}
spec:
  podSelector: {}
  ingress: [{ports: [{port: http}]}]
  egress: [{ports: [{port: http}]}]
  policyTypes: [Ingress, Egress]
"#;
    let mut web = pod("a", "web", &[]);
    web.ports = vec![ContainerPort {
        name: Some("http".into()),
        port: 8080,
        protocol: Protocol::Tcp,
    }];
    let mut dns = pod("a", "dns", &[]);
    dns.ports = vec![ContainerPort {
        name: Some("http".into()),
        port: 8080,
        protocol: Protocol::Udp,
    }];
    Table::new(
        named,
        &[("a", &[])],
        vec![web, dns, pod("a", "client", &[])],
    )
    .check(&[
        ("a/client", "a/web", TCP, 8080, true),
        ("a/client", "a/web", TCP, 80, false),
        ("a/client", "a/dns", TCP, 8080, false), // dns's "http" is a UDP port
        ("a/client", "a/dns", UDP, 8080, false), // and the rule's protocol defaults to TCP
        ("a/client", "a/client", TCP, 8080, false), // no port named http
        ("a/client", "10.0.0.1", TCP, 8080, false), // an address has no named ports
    ]);

    let v6 = r#"
metadata: {name: v6, namespace: a}
spec:
  podSelector: {}
  ingress:
  - from: [{ipBlock: {cidr: "2001:db8::/32", except: ["2001:db8:1::/48"]}}]
"#;
    Table::new(v6, &[("a", &[])], vec![pod("a", "p", &[])]).check(&[
        ("2001:db8::1", "a/p", TCP, 80, true),
        ("2001:db8:1::1", "a/p", TCP, 80, false),
        ("2001:db9::1", "a/p", TCP, 80, false),
        ("10.0.0.1", "a/p", TCP, 80, false),
    ]);
}

/// What the API server refuses, or a world that names what does not exist, is an error,
/// never a guess.
#[test]
fn invalid_policies_and_worlds_are_errors() {
    for (yaml, field) in [
        (
            "metadata: {name: p, namespace: a}\nspec: {podSelector: {matchExpressions: [{key: k, operator: Between, values: [x]}]}}\n",
            "spec.podSelector.matchExpressions[0].operator",
        ),
        (
            "metadata: {name: p, namespace: a}\nspec: {podSelector: {matchExpressions: [{key: k, operator: In}]}}\n",
            "spec.podSelector.matchExpressions[0].values",
        ),
        (
            "metadata: {name: p, namespace: a}\nspec: {podSelector: {}, ingress: [{from: [{}]}]}\n",
            "spec.ingress[0].from[0]",
        ),
        (
            "metadata: {name: p, namespace: a}\nspec: {podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/33}}]}]}\n",
            "spec.ingress[0].from[0].ipBlock.cidr",
        ),
        (
            "metadata: {name: p, namespace: a}\nspec: {podSelector: {}, ingress: [{ports: [{protocol: ICMP, port: 1}]}]}\n",
            "spec.ingress[0].ports[0].protocol",
        ),
        (
            "metadata: {name: p, namespace: a}\nspec: {podSelector: {}, egress: [{ports: [{port: 90, endPort: 80}]}]}\n",
            "spec.egress[0].ports[0].endPort",
        ),
        (
            "metadata: {name: p, namespace: a}\nspec: {podSelector: {}, egress: [{ports: [{port: 70000}]}]}\n",
            "spec.egress[0].ports[0].port",
        ),
    ] {
        match Evaluator::new(&policies(yaml)) {
            Err(netpol_reach::ReachError::InvalidPolicy { field: f, .. }) => {
                assert_eq!(f, field, "{yaml}")
            }
            other => panic!("{yaml}: {other:?}"),
        }
    }
    assert!(World::new([("a".to_string(), BTreeMap::new())], [pod("b", "p", &[])]).is_err());
    assert!(World::new(
        [("a".to_string(), BTreeMap::new())],
        [pod("a", "p", &[]), pod("a", "p", &[])]
    )
    .is_err());
}
