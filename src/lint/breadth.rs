//! Rules and peers that open more than a reviewer may think: a rule without peers, a peer
//! selecting every pod of every namespace, an `ipBlock` of every address, a
//! namespaceSelector reaching beyond the namespaces the bundles govern.
//!
//! The sentences of the Kubernetes NetworkPolicy documentation that decide them
//! (docs/reachability.md, "The rules"):
//! - a rule with no `from`/`to` "allows traffic from/to anywhere" (the API reference: "If
//!   this field is empty or missing, this rule matches all sources (traffic not
//!   restricted by source)"), addresses outside the cluster included;
//! - "namespaceSelector: This selects particular namespaces for which all Pods should be
//!   allowed", and an empty selector selects every object: `namespaceSelector: {}` is
//!   every pod of every namespace, and no address outside the cluster;
//! - ipBlock "selects particular IP CIDR ranges to allow as ingress sources or egress
//!   destinations. These should be cluster-external IPs".

use super::locate::PathSegment as S;
use super::model::{
    isolates, policy_location, ports_text, prefix_len, rules, shown, Dir, PeerKey, RuleView,
};
use super::{
    Finding, LintInput, ALLOW_ALL_EGRESS, ALLOW_ALL_INGRESS, ANY_ADDRESS_PEER,
    NAMESPACE_SELECTOR_OUTSIDE_GOVERNED,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use netpol_reach::{Selector, NAMESPACE_NAME_LABEL};
use std::collections::{BTreeMap, BTreeSet};

fn peer_path(rule: &RuleView<'_>, peer: usize) -> [S<'static>; 5] {
    let [a, b, c] = rule.path();
    [a, b, c, S::Key(rule.dir.peers_key()), S::Index(peer)]
}

/// `allow-all-ingress`, `allow-all-egress`: a rule with an absent or empty `from`/`to`
/// (every source or destination: every pod of every namespace and every address outside
/// the cluster), at the rule; a peer whose `namespaceSelector` is empty and whose
/// `podSelector` is absent or empty (every pod of every namespace, no outside address),
/// at the peer. Only rules of a direction the policy isolates: the others are ignored by
/// Kubernetes and reported as `policy-types-mismatch`.
pub fn allow_all(input: &LintInput<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for p in input.policies {
        for dir in Dir::BOTH.into_iter().filter(|d| isolates(p, *d)) {
            let rule_def = match dir {
                Dir::Ingress => &ALLOW_ALL_INGRESS,
                Dir::Egress => &ALLOW_ALL_EGRESS,
            };
            let (everyone, verb) = match dir {
                Dir::Ingress => ("every source", "admits"),
                Dir::Egress => ("every destination", "allows"),
            };
            for r in rules(p, dir) {
                let ports = ports_text(&r);
                if r.every_peer() {
                    out.push(Finding::new(
                        rule_def,
                        Some(p.bundle),
                        policy_location(p, &r.path()),
                        format!(
                            "{} {}[{}] has no `{}` peers: it {verb} {everyone}, every pod of every namespace and every address outside the cluster, {ports}",
                            shown(p),
                            dir.key(),
                            r.index,
                            dir.peers_key()
                        ),
                    ));
                    continue;
                }
                for (i, peer) in r.peers.into_iter().flatten().enumerate() {
                    let all_pods = matches!(
                        PeerKey::of(peer),
                        PeerKey::Pods { namespaces: Some(ref n), pods: None } if n.is_empty()
                    );
                    if all_pods {
                        out.push(Finding::new(
                            rule_def,
                            Some(p.bundle),
                            policy_location(p, &peer_path(&r, i)),
                            format!(
                                "{} {}[{}].{}[{i}] has an empty namespaceSelector: it {verb} every pod of every namespace (not addresses outside the cluster) {ports}",
                                shown(p),
                                dir.key(),
                                r.index,
                                dir.peers_key()
                            ),
                        ));
                    }
                }
            }
        }
    }
    out
}

/// `any-address-peer`: an `ipBlock` whose CIDR has prefix length 0 (`0.0.0.0/0`,
/// `::/0`), with or without `except`, at its `cidr`.
pub fn any_address(input: &LintInput<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for p in input.policies {
        for dir in Dir::BOTH {
            for r in rules(p, dir) {
                for (i, peer) in r.peers.into_iter().flatten().enumerate() {
                    let Some(block) = &peer.ip_block else {
                        continue;
                    };
                    if prefix_len(&block.cidr) != Some(0) {
                        continue;
                    }
                    let except = block.except.as_deref().unwrap_or_default();
                    let except_text = if except.is_empty() {
                        String::new()
                    } else {
                        format!(" except {}", except.join(", "))
                    };
                    let mut path = peer_path(&r, i).to_vec();
                    path.extend([S::Key("ipBlock"), S::Key("cidr")]);
                    out.push(Finding::new(
                        &ANY_ADDRESS_PEER,
                        Some(p.bundle),
                        policy_location(p, &path),
                        format!(
                            "{} {}[{}].{}[{i}] is ipBlock {}{except_text}: every address outside the cluster, the whole internet included, {}; name the ranges really needed",
                            shown(p),
                            dir.key(),
                            r.index,
                            dir.peers_key(),
                            block.cidr.trim(),
                            ports_text(&r)
                        ),
                    ));
                }
            }
        }
    }
    out
}

/// The governed names a selector is pinned to, when it is: `matchLabels` or an `In`
/// expression on `kubernetes.io/metadata.name`. Kubernetes: "The Kubernetes control
/// plane sets an immutable label kubernetes.io/metadata.name on all namespaces, the
/// value of the label is the namespace name."
fn pinned_names(sel: &LabelSelector) -> Option<BTreeSet<String>> {
    let mut sets: Vec<BTreeSet<String>> = Vec::new();
    if let Some(v) = sel
        .match_labels
        .as_ref()
        .and_then(|m| m.get(NAMESPACE_NAME_LABEL))
    {
        sets.push(BTreeSet::from([v.clone()]));
    }
    for e in sel.match_expressions.iter().flatten() {
        if e.key == NAMESPACE_NAME_LABEL && e.operator == "In" {
            sets.push(e.values.iter().flatten().cloned().collect());
        }
    }
    // Requirements are ANDed: the names allowed are in every set.
    let mut sets = sets.into_iter();
    let first = sets.next()?;
    Some(sets.fold(first, |acc, s| acc.intersection(&s).cloned().collect()))
}

/// `namespace-selector-outside-governed`: a peer's `namespaceSelector` that may select a
/// namespace no selected bundle governs. With workloads, the namespaces known (the
/// workloads' and the governed ones) it actually matches outside the governed set are
/// named; without, any selector not pinned by `kubernetes.io/metadata.name` to governed
/// names is reported.
pub fn namespace_outside_governed(input: &LintInput<'_>) -> Vec<Finding> {
    let known: Option<BTreeMap<String, BTreeMap<String, String>>> = input.workloads.map(|w| {
        let mut all = w.namespaces.clone();
        for ns in input.governed {
            all.entry(ns.clone()).or_default();
        }
        for (name, labels) in all.iter_mut() {
            labels.insert(NAMESPACE_NAME_LABEL.to_string(), name.clone());
        }
        all
    });
    let mut out = Vec::new();
    for p in input.policies {
        for dir in Dir::BOTH.into_iter().filter(|d| isolates(p, *d)) {
            for r in rules(p, dir) {
                for (i, peer) in r.peers.into_iter().flatten().enumerate() {
                    let Some(sel) = &peer.namespace_selector else {
                        continue;
                    };
                    let outside = match &known {
                        Some(known) => outside_known(sel, known, input.governed),
                        None => outside_unknown(sel, input.governed),
                    };
                    let Some(what) = outside else {
                        continue;
                    };
                    let mut path = peer_path(&r, i).to_vec();
                    path.push(S::Key("namespaceSelector"));
                    // Named on purpose, or a selector that may grow with the cluster.
                    let advice = if pinned_names(sel).is_some() {
                        "the other side of those connections is decided by policies netpol-sync does not hold".to_string()
                    } else {
                        format!("pin it with `{NAMESPACE_NAME_LABEL}` to the namespaces meant")
                    };
                    out.push(Finding::new(
                        &NAMESPACE_SELECTOR_OUTSIDE_GOVERNED,
                        Some(p.bundle),
                        policy_location(p, &path),
                        format!(
                            "{} {}[{}].{}[{i}].namespaceSelector {what}, whose policies no selected bundle governs; {advice}",
                            shown(p),
                            dir.key(),
                            r.index,
                            dir.peers_key(),
                        ),
                    ));
                }
            }
        }
    }
    out
}

fn outside_known(
    sel: &LabelSelector,
    known: &BTreeMap<String, BTreeMap<String, String>>,
    governed: &BTreeSet<String>,
) -> Option<String> {
    let compiled = Selector::compile(sel, "", "namespaceSelector").ok()?;
    let outside: Vec<&str> = known
        .iter()
        .filter(|(name, labels)| !governed.contains(*name) && compiled.matches(labels))
        .map(|(name, _)| name.as_str())
        .collect();
    if outside.is_empty() {
        return None;
    }
    let mut shown: Vec<String> = outside.iter().take(5).map(|n| format!("`{n}`")).collect();
    if outside.len() > 5 {
        shown.push(format!("and {} more", outside.len() - 5));
    }
    Some(format!("matches namespaces {}", shown.join(", ")))
}

fn outside_unknown(sel: &LabelSelector, governed: &BTreeSet<String>) -> Option<String> {
    match pinned_names(sel) {
        Some(names) if names.is_subset(governed) => None,
        Some(names) => {
            let outside: Vec<String> = names
                .difference(governed)
                .take(5)
                .map(|n| format!("`{n}`"))
                .collect();
            Some(format!("names namespaces {}", outside.join(", ")))
        }
        None => Some(format!(
            "is not pinned by `{NAMESPACE_NAME_LABEL}` and may select namespaces"
        )),
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::testutil::{lines_of, Fixture};
    use crate::lint::Severity;

    const OPEN: &str = "\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: frontend}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress, Egress]
  ingress:
    - ports: [{port: 443}]
    - from: []
  egress:
    - to:
        - podSelector: {matchLabels: {app: api}}
        - namespaceSelector: {}
          podSelector: {}
      ports: [{port: 8080}]
";

    #[test]
    fn a_rule_without_peers_and_an_all_namespaces_peer_fire() {
        let f = Fixture::new()
            .file("shop", "bundles/shop/web.yaml", OPEN)
            .run();
        let file = "bundles/shop/web.yaml".to_string();
        // "If this field is empty or missing, this rule matches all sources": absent
        // (line 8) and `[]` (line 9) alike.
        assert_eq!(
            lines_of(&f, "allow-all-ingress"),
            vec![(file.clone(), 8), (file.clone(), 9)]
        );
        assert_eq!(lines_of(&f, "allow-all-egress"), vec![(file, 13)]);
        let ing = f.iter().find(|f| f.rule == "allow-all-ingress").unwrap();
        assert_eq!(ing.severity, Severity::Warning);
        assert!(ing.message.contains("every address outside the cluster"));
        assert!(ing.message.contains("on TCP 443"), "{}", ing.message);
        let eg = f.iter().find(|f| f.rule == "allow-all-egress").unwrap();
        assert!(eg.message.contains("not addresses outside the cluster"));
    }

    #[test]
    fn selective_peers_do_not_fire() {
        // Near misses: a namespaceSelector with labels; a podSelector {} alone (the
        // policy's own namespace only); a rule of a direction not isolated.
        let text = "\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: frontend}
spec:
  podSelector: {}
  policyTypes: [Ingress]
  ingress:
    - from:
        - namespaceSelector: {matchLabels: {team: shop}}
        - podSelector: {}
";
        let f = Fixture::new()
            .file("shop", "bundles/shop/web.yaml", text)
            .run();
        assert!(lines_of(&f, "allow-all-ingress").is_empty());
        assert!(lines_of(&f, "allow-all-egress").is_empty());
    }

    #[test]
    fn allow_all_is_silenced_by_comment_and_bundle() {
        let commented = OPEN
            .replace(
                "    - ports: [{port: 443}]\n",
                "    # netpol-sync: ignore=allow-all-ingress\n    - ports: [{port: 443}]\n",
            )
            .replace(
                "        - namespaceSelector: {}\n",
                "        - namespaceSelector: {} # netpol-sync: ignore=allow-all-egress\n",
            );
        let f = Fixture::new()
            .file("shop", "bundles/shop/web.yaml", &commented)
            .run();
        // ingress[0] silenced (line 9 now); ingress[1] (line 10) still fires.
        assert_eq!(
            lines_of(&f, "allow-all-ingress"),
            vec![("bundles/shop/web.yaml".to_string(), 10)]
        );
        assert!(lines_of(&f, "allow-all-egress").is_empty());
        let f = Fixture::new()
            .file("shop", "bundles/shop/web.yaml", OPEN)
            .ignore("shop", "allow-all-egress")
            .run();
        assert!(lines_of(&f, "allow-all-egress").is_empty());
        assert_eq!(lines_of(&f, "allow-all-ingress").len(), 2);
    }

    const BLOCKS: &str = "\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: out, namespace: frontend}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
    - to:
        - ipBlock: {cidr: 10.0.0.0/8}
        - ipBlock:
            cidr: 0.0.0.0/0
            except: [10.0.0.0/8]
        - ipBlock: {cidr: '::/0'}
";

    #[test]
    fn any_address_fires_at_the_cidr() {
        let f = Fixture::new()
            .file("shop", "bundles/shop/out.yaml", BLOCKS)
            .run();
        let file = "bundles/shop/out.yaml".to_string();
        assert_eq!(
            lines_of(&f, "any-address-peer"),
            vec![(file.clone(), 11), (file, 13)]
        );
        let a = f.iter().find(|f| f.rule == "any-address-peer").unwrap();
        assert_eq!(a.severity, Severity::Warning);
        assert!(
            a.message.contains("0.0.0.0/0 except 10.0.0.0/8"),
            "{}",
            a.message
        );
        // Near miss: 0.0.0.0/1 is half the internet, not every address.
        let half = BLOCKS
            .replace("0.0.0.0/0", "0.0.0.0/1")
            .replace("'::/0'", "'::/1'");
        let f = Fixture::new()
            .file("shop", "bundles/shop/out.yaml", &half)
            .run();
        assert!(lines_of(&f, "any-address-peer").is_empty());
    }

    #[test]
    fn any_address_is_silenced_by_file_comment_and_bundle() {
        let commented = format!("# netpol-sync: ignore-file=any-address-peer\n{BLOCKS}");
        let f = Fixture::new()
            .file("shop", "bundles/shop/out.yaml", &commented)
            .run();
        assert!(lines_of(&f, "any-address-peer").is_empty());
        let line = BLOCKS.replace(
            "            cidr: 0.0.0.0/0\n",
            "            cidr: 0.0.0.0/0 # netpol-sync: ignore=any-address-peer\n",
        );
        let f = Fixture::new()
            .file("shop", "bundles/shop/out.yaml", &line)
            .run();
        assert_eq!(lines_of(&f, "any-address-peer").len(), 1);
        let f = Fixture::new()
            .file("shop", "bundles/shop/out.yaml", BLOCKS)
            .ignore("shop", "any-address-peer")
            .run();
        assert!(lines_of(&f, "any-address-peer").is_empty());
    }

    const NS_PEERS: &str = "\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api, namespace: checkout}
spec:
  podSelector: {}
  policyTypes: [Ingress]
  ingress:
    - from:
        - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: frontend}}
        - namespaceSelector: {matchLabels: {team: shop}}
        - namespaceSelector:
            matchExpressions: [{key: kubernetes.io/metadata.name, operator: In, values: [frontend, monitoring]}]
";

    #[test]
    fn unpinned_namespace_selectors_fire_without_workloads() {
        let f = Fixture::new()
            .governs("shop", "frontend")
            .file("shop", "bundles/shop/api.yaml", NS_PEERS)
            .run();
        let file = "bundles/shop/api.yaml".to_string();
        // Line 9 is pinned to a governed namespace: the near miss.
        assert_eq!(
            lines_of(&f, "namespace-selector-outside-governed"),
            vec![(file.clone(), 10), (file, 11)]
        );
        let i = f
            .iter()
            .filter(|f| f.rule == "namespace-selector-outside-governed")
            .nth(1)
            .unwrap();
        assert_eq!(i.severity, Severity::Info);
        assert!(i.message.contains("`monitoring`"), "{}", i.message);
        // A selector that names its namespaces is not told to pin them; one that may
        // grow with the cluster is.
        assert!(!i.message.contains("pin it"), "{}", i.message);
        let grows = f
            .iter()
            .find(|f| f.rule == "namespace-selector-outside-governed")
            .unwrap();
        assert!(grows.message.contains("pin it with"), "{}", grows.message);
    }

    #[test]
    fn with_workloads_only_selectors_matching_outside_fire() {
        let workloads = "\
apiVersion: v1
kind: Namespace
metadata: {name: frontend, labels: {team: shop}}
---
apiVersion: v1
kind: Namespace
metadata: {name: monitoring, labels: {team: ops}}
";
        let f = Fixture::new()
            .governs("shop", "frontend")
            .file("shop", "bundles/shop/api.yaml", NS_PEERS)
            .workloads(workloads)
            .run();
        assert_eq!(
            lines_of(&f, "namespace-selector-outside-governed"),
            vec![("bundles/shop/api.yaml".to_string(), 11)]
        );
        let f = Fixture::new()
            .governs("shop", "frontend")
            .file("shop", "bundles/shop/api.yaml", NS_PEERS)
            .ignore("shop", "namespace-selector-outside-governed")
            .run();
        assert!(lines_of(&f, "namespace-selector-outside-governed").is_empty());
        let commented = NS_PEERS.replace(
            "        - namespaceSelector:\n",
            "        # netpol-sync: ignore=namespace-selector-outside-governed\n        - namespaceSelector:\n",
        );
        let f = Fixture::new()
            .governs("shop", "frontend")
            .file("shop", "bundles/shop/api.yaml", &commented)
            .run();
        assert_eq!(
            lines_of(&f, "namespace-selector-outside-governed"),
            vec![("bundles/shop/api.yaml".to_string(), 10)]
        );
    }
}
