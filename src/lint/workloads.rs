//! Rules that need the workloads (`Workloads`: namespaces with labels, pods with labels
//! and container ports): selectors that match nothing, named ports nobody exposes.
//!
//! The namespaces known are the workloads' and the governed ones (a governed namespace
//! exists, or the sync could not write its policies), each with the label
//! `kubernetes.io/metadata.name` Kubernetes gives it. Selectors are matched as
//! netpol-reach matches them (`Selector`, the same code as `netpol-sync reach`).
//!
//! Empty selectors are never reported: `{}` means every pod (or namespace), those of
//! tomorrow included, which is what a default deny wants even where no pod runs yet.

use super::locate::PathSegment as S;
use super::model::{isolates, namespace, policy_location, rules, shown, Dir, PortKey, PortVal};
use super::{Finding, LintInput, LintPolicy, NAMED_PORT_UNEXPOSED, SELECTOR_MATCHES_NOTHING};
use crate::reach::workloads::Workloads;
use k8s_openapi::api::networking::v1::NetworkPolicyPeer;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use netpol_reach::{Pod, Selector, NAMESPACE_NAME_LABEL};
use std::collections::{BTreeMap, BTreeSet};

struct World<'w> {
    namespaces: BTreeMap<String, BTreeMap<String, String>>,
    pods: &'w [Pod],
}

impl<'w> World<'w> {
    fn new(input: &LintInput<'_>, w: &'w Workloads) -> World<'w> {
        let mut namespaces = w.namespaces.clone();
        for ns in input.governed {
            namespaces.entry(ns.clone()).or_default();
        }
        for (name, labels) in namespaces.iter_mut() {
            labels.insert(NAMESPACE_NAME_LABEL.to_string(), name.clone());
        }
        World {
            namespaces,
            pods: &w.pods,
        }
    }

    /// The namespaces a peer reaches pods in: the policy's own without a
    /// namespaceSelector (docs/reachability.md, "Peers").
    fn peer_namespaces<'s>(&'s self, own: &'s str, sel: Option<&Selector>) -> BTreeSet<&'s str> {
        match sel {
            None => BTreeSet::from([own]),
            Some(sel) => self
                .namespaces
                .iter()
                .filter(|(_, labels)| sel.matches(labels))
                .map(|(name, _)| name.as_str())
                .collect(),
        }
    }

    fn pods_in<'s>(
        &'s self,
        namespaces: &'s BTreeSet<&str>,
        sel: Option<&'s Selector>,
    ) -> impl Iterator<Item = &'w Pod> + 's {
        self.pods.iter().filter(move |p| {
            namespaces.contains(p.namespace.as_str()) && sel.is_none_or(|s| s.matches(&p.labels))
        })
    }

    /// The pods a peer selects (none for an `ipBlock`: it matches addresses outside the
    /// cluster only, docs/reachability.md, "ipBlock").
    fn peer_pods(&self, own: &str, peer: &NetworkPolicyPeer) -> Vec<&'w Pod> {
        if peer.ip_block.is_some() {
            return Vec::new();
        }
        let ns_sel = peer.namespace_selector.as_ref().and_then(compile);
        if peer.namespace_selector.is_some() && ns_sel.is_none() {
            return Vec::new();
        }
        let pod_sel = peer.pod_selector.as_ref().and_then(compile);
        let namespaces = self.peer_namespaces(own, ns_sel.as_ref());
        self.pods_in(&namespaces, pod_sel.as_ref()).collect()
    }
}

fn compile(sel: &LabelSelector) -> Option<Selector> {
    Selector::compile(sel, "", "selector").ok()
}

fn non_empty(sel: Option<&LabelSelector>) -> Option<Selector> {
    sel.and_then(compile).filter(|s| !s.is_empty())
}

fn names(pods: &[&Pod]) -> String {
    let mut shown: Vec<String> = pods
        .iter()
        .take(3)
        .map(|p| format!("{}/{}", p.namespace, p.name))
        .collect();
    if pods.len() > 3 {
        shown.push(format!("and {} more", pods.len() - 3));
    }
    shown.join(", ")
}

/// `selector-matches-nothing`: a policy's non-empty podSelector matching no pod of its
/// namespace; in a rule of a direction the policy isolates, a peer's non-empty
/// namespaceSelector matching no namespace known, or its non-empty podSelector matching
/// no pod in the namespaces the peer reaches (checked only when those exist).
pub fn selectors_matching_nothing(input: &LintInput<'_>, w: &Workloads) -> Vec<Finding> {
    let world = World::new(input, w);
    let mut out = Vec::new();
    for p in input.policies {
        let ns = namespace(p);
        let spec = p.policy.spec.as_ref();
        if let Some(sel) = non_empty(spec.and_then(|s| s.pod_selector.as_ref())) {
            let own = BTreeSet::from([ns]);
            if world.pods_in(&own, Some(&sel)).next().is_none() {
                out.push(nothing(
                    p,
                    &[S::Key("spec"), S::Key("podSelector")],
                    format!(
                        "{} podSelector `{sel}` matches no pod of namespace `{ns}` in the workloads: the policy isolates nothing; check the labels",
                        shown(p)
                    ),
                ));
            }
        }
        for dir in Dir::BOTH.into_iter().filter(|d| isolates(p, *d)) {
            for r in rules(p, dir) {
                for (i, peer) in r.peers.into_iter().flatten().enumerate() {
                    if peer.ip_block.is_some() {
                        continue;
                    }
                    let [a, b, c] = r.path();
                    let at = |key: &'static str| {
                        [a, b, c, S::Key(dir.peers_key()), S::Index(i), S::Key(key)]
                    };
                    let field = format!("{}[{}].{}[{i}]", dir.key(), r.index, dir.peers_key());
                    let ns_sel = peer.namespace_selector.as_ref().and_then(compile);
                    let namespaces = world.peer_namespaces(ns, ns_sel.as_ref());
                    if namespaces.is_empty() {
                        let shown_sel = ns_sel.map(|s| s.to_string()).unwrap_or_default();
                        out.push(nothing(
                            p,
                            &at("namespaceSelector"),
                            format!(
                                "{} {field}.namespaceSelector `{shown_sel}` matches no namespace known: the peer allows nothing; check the labels",
                                shown(p)
                            ),
                        ));
                        continue;
                    }
                    let Some(pod_sel) = non_empty(peer.pod_selector.as_ref()) else {
                        continue;
                    };
                    if world.pods_in(&namespaces, Some(&pod_sel)).next().is_none() {
                        let within: Vec<&str> = namespaces.iter().take(5).copied().collect();
                        out.push(nothing(
                            p,
                            &at("podSelector"),
                            format!(
                                "{} {field}.podSelector `{pod_sel}` matches no pod of namespace(s) {} in the workloads: the peer allows nothing; check the labels",
                                shown(p),
                                within.join(", ")
                            ),
                        ));
                    }
                }
            }
        }
    }
    out
}

fn nothing(p: &LintPolicy<'_>, path: &[S<'_>], message: String) -> Finding {
    Finding::new(
        &SELECTOR_MATCHES_NOTHING,
        Some(p.bundle),
        policy_location(p, path),
        message,
    )
}

/// `named-port-unexposed`: a named port of a rule (of a direction the policy isolates)
/// that no destination pod exposes with that protocol. The destination is the policy's
/// own pods for ingress and the peers' pods for egress (every pod for a rule without
/// peers); a name is resolved on the destination pod's container ports with the rule's
/// protocol (docs/reachability.md, "Ports"). A rule with no destination pod at all is
/// left to `selector-matches-nothing`.
pub fn unexposed_named_ports(input: &LintInput<'_>, w: &Workloads) -> Vec<Finding> {
    let world = World::new(input, w);
    let mut out = Vec::new();
    for p in input.policies {
        let ns = namespace(p);
        let own: Vec<&Pod> = {
            let sel = p
                .policy
                .spec
                .as_ref()
                .and_then(|s| s.pod_selector.as_ref())
                .and_then(compile)
                .unwrap_or_default();
            let own_ns = BTreeSet::from([ns]);
            world.pods_in(&own_ns, Some(&sel)).collect()
        };
        for dir in Dir::BOTH.into_iter().filter(|d| isolates(p, *d)) {
            for r in rules(p, dir) {
                let named: Vec<(usize, PortKey)> = r
                    .ports
                    .into_iter()
                    .flatten()
                    .map(PortKey::of)
                    .enumerate()
                    .filter(|(_, k)| matches!(k.port, PortVal::Named(_)))
                    .collect();
                if named.is_empty() {
                    continue;
                }
                let destinations: Vec<&Pod> = match dir {
                    Dir::Ingress => own.clone(),
                    Dir::Egress if r.every_peer() => world.pods.iter().collect(),
                    Dir::Egress => {
                        let mut seen = BTreeSet::new();
                        r.peers
                            .into_iter()
                            .flatten()
                            .flat_map(|peer| world.peer_pods(ns, peer))
                            .filter(|pod| seen.insert((&pod.namespace, &pod.name)))
                            .collect()
                    }
                };
                if destinations.is_empty() {
                    continue;
                }
                for (k, key) in named {
                    let PortVal::Named(name) = &key.port else {
                        continue;
                    };
                    let exposed = destinations.iter().any(|pod| {
                        pod.ports.iter().any(|c| {
                            c.name.as_deref() == Some(name.as_str())
                                && c.protocol.as_str() == key.protocol
                        })
                    });
                    if exposed {
                        continue;
                    }
                    let [a, b, c] = r.path();
                    out.push(Finding::new(
                        &NAMED_PORT_UNEXPOSED,
                        Some(p.bundle),
                        policy_location(p, &[a, b, c, S::Key("ports"), S::Index(k)]),
                        format!(
                            "{} {}[{}].ports[{k}] names port `{name}` ({}), which no destination pod exposes with that protocol ({}): it allows nothing; check the name and protocol",
                            shown(p),
                            dir.key(),
                            r.index,
                            key.protocol,
                            names(&destinations)
                        ),
                    ));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::lint::testutil::{lines_of, Fixture};
    use crate::lint::Severity;

    const WORKLOADS: &str = "\
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: shop}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
        - name: api
          ports:
            - {name: http, containerPort: 8080}
            - {name: metrics, containerPort: 9090, protocol: UDP}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {containers: [{name: web}]}
";

    const POLICY: &str = "\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  podSelector: {matchLabels: {app: apii}}
  policyTypes: [Ingress, Egress]
  ingress:
    - from:
        - podSelector: {matchLabels: {app: web}}
        - namespaceSelector: {matchLabels: {team: shopp}}
        - namespaceSelector: {matchLabels: {team: shop}}
          podSelector: {matchLabels: {app: nothing}}
      ports: [{port: http}]
  egress:
    - to: [{podSelector: {matchLabels: {app: api}}}]
      ports:
        - port: http
        - port: metrics
        - port: metrics
          protocol: UDP
";

    #[test]
    fn selectors_matching_nothing_fire_at_the_selector() {
        let f = Fixture::new()
            .file("shop", "bundles/shop/api.yaml", POLICY)
            .workloads(WORKLOADS)
            .run();
        let file = "bundles/shop/api.yaml".to_string();
        assert_eq!(
            lines_of(&f, "selector-matches-nothing"),
            vec![(file.clone(), 5), (file.clone(), 10), (file, 12)]
        );
        let s = f
            .iter()
            .find(|f| f.rule == "selector-matches-nothing")
            .unwrap();
        assert_eq!(s.severity, Severity::Warning);
        assert!(s.message.contains("app=apii"), "{}", s.message);
        // Without workloads the rule does not run.
        let f = Fixture::new()
            .file("shop", "bundles/shop/api.yaml", POLICY)
            .run();
        assert!(lines_of(&f, "selector-matches-nothing").is_empty());
    }

    #[test]
    fn selectors_that_match_do_not_fire() {
        let fixed = POLICY
            .replace("app: apii", "app: api")
            .replace("team: shopp", "team: shop")
            .replace("app: nothing", "app: web");
        let f = Fixture::new()
            .file("shop", "bundles/shop/api.yaml", &fixed)
            .workloads(WORKLOADS)
            .run();
        assert!(lines_of(&f, "selector-matches-nothing").is_empty());
    }

    #[test]
    fn named_ports_nobody_exposes_fire_at_the_port() {
        // The ingress destination (app=apii) has no pod: left to the selector rule.
        // Egress: `http` TCP is exposed; `metrics` TCP is not (it is UDP): line 18.
        let f = Fixture::new()
            .file("shop", "bundles/shop/api.yaml", POLICY)
            .workloads(WORKLOADS)
            .run();
        assert_eq!(
            lines_of(&f, "named-port-unexposed"),
            vec![("bundles/shop/api.yaml".to_string(), 18)]
        );
        let n = f.iter().find(|f| f.rule == "named-port-unexposed").unwrap();
        assert_eq!(n.severity, Severity::Warning);
        assert!(n.message.contains("`metrics` (TCP)"), "{}", n.message);
        assert!(n.message.contains("shop/api"), "{}", n.message);
        // Ingress to the api pods on `http`: exposed, the near miss; on `grpc`: not.
        let ingress = POLICY.replace("app: apii", "app: api");
        let f = Fixture::new()
            .file("shop", "bundles/shop/api.yaml", &ingress)
            .workloads(WORKLOADS)
            .run();
        assert_eq!(lines_of(&f, "named-port-unexposed").len(), 1);
        let grpc = ingress.replace("ports: [{port: http}]", "ports: [{port: grpc}]");
        let f = Fixture::new()
            .file("shop", "bundles/shop/api.yaml", &grpc)
            .workloads(WORKLOADS)
            .run();
        let file = "bundles/shop/api.yaml".to_string();
        assert_eq!(
            lines_of(&f, "named-port-unexposed"),
            vec![(file.clone(), 13), (file, 18)]
        );
    }

    #[test]
    fn workload_rules_are_silenced_by_comment_and_bundle() {
        let commented = POLICY
            .replace(
                "        - port: metrics\n          protocol: UDP\n",
                "        # netpol-sync: ignore=named-port-unexposed\n        - port: metrics\n          protocol: UDP\n",
            )
            .replace(
                "  podSelector: {matchLabels: {app: apii}}\n",
                "  podSelector: {matchLabels: {app: apii}} # netpol-sync: ignore=selector-matches-nothing\n",
            );
        let f = Fixture::new()
            .file("shop", "bundles/shop/api.yaml", &commented)
            .workloads(WORKLOADS)
            .run();
        // The comment sits below the unexposed port (line 18) and above another entry.
        assert_eq!(lines_of(&f, "named-port-unexposed").len(), 1);
        assert_eq!(lines_of(&f, "selector-matches-nothing").len(), 2);
        let commented = POLICY.replace(
            "        - port: metrics\n        - port: metrics\n",
            "        - port: metrics # netpol-sync: ignore=named-port-unexposed\n        - port: metrics\n",
        );
        let f = Fixture::new()
            .file("shop", "bundles/shop/api.yaml", &commented)
            .workloads(WORKLOADS)
            .run();
        assert!(lines_of(&f, "named-port-unexposed").is_empty());
        let f = Fixture::new()
            .file("shop", "bundles/shop/api.yaml", POLICY)
            .workloads(WORKLOADS)
            .ignore("shop", "named-port-unexposed")
            .ignore("shop", "selector-matches-nothing")
            .run();
        assert!(lines_of(&f, "named-port-unexposed").is_empty());
        assert!(lines_of(&f, "selector-matches-nothing").is_empty());
    }
}
