//! Overlap: rules that add nothing to another rule for the same pods, and policies that
//! are another policy under a second name.
//!
//! Kubernetes: "Policies are additive, so the allowed connections … are the union of what
//! the applicable policies allow" (docs/reachability.md, "Additive"). A rule whose
//! connections another rule applying to the same pods already allows can be removed
//! without changing what is allowed, as long as the policy holding it stays (a policy
//! left with no rule still isolates its pods, which the other rule's policy does too).

use super::locate::PathSegment as S;
use super::model::{
    isolates, name, namespace, pod_selector, policy_location, rules, shown, Dir, PeerKey, PortKey,
    RuleView, Sel,
};
use super::{Finding, LintInput, LintPolicy, DUPLICATE_POLICY, REDUNDANT_RULE};
use crate::marks::ANNOTATION_PREFIX;
use std::collections::BTreeMap;

/// Every connection peer `a` matches, `b` matches too, decided on the selectors as
/// written: an `ipBlock` within another without `except` (or equal to it); pods of the
/// policy's own namespace by a podSelector whose requirements include the other's;
/// pods of namespaces by a namespaceSelector that is empty or whose requirements are
/// among the first's, and a podSelector absent or whose requirements are among the
/// first's. Pods and addresses never contain each other: a pod peer matches no address
/// outside the cluster, and an ipBlock is not used for pods (docs/reachability.md,
/// "ipBlock").
fn peer_within(a: &PeerKey, b: &PeerKey) -> bool {
    if a == b {
        return true;
    }
    match (a, b) {
        (
            PeerKey::Block { cidr: ca, .. },
            PeerKey::Block {
                cidr: cb,
                except: eb,
            },
        ) => {
            eb.is_empty()
                && match (ca.parse::<ipnet::IpNet>(), cb.parse::<ipnet::IpNet>()) {
                    (Ok(na), Ok(nb)) => nb.contains(&na),
                    _ => false,
                }
        }
        (
            PeerKey::Pods {
                namespaces: None,
                pods: Some(pa),
            },
            PeerKey::Pods {
                namespaces: None,
                pods: Some(pb),
            },
        ) => pb.contains(pa),
        (
            PeerKey::Pods {
                namespaces: na,
                pods: pa,
            },
            PeerKey::Pods {
                namespaces: Some(nb),
                pods: pb,
            },
        ) => {
            let namespaces_within = nb.is_empty() || na.as_ref().is_some_and(|na| nb.contains(na));
            let pods_within = match (pa, pb) {
                (_, None) => true,
                (Some(pa), Some(pb)) => pb.contains(pa),
                (None, Some(_)) => false,
            };
            namespaces_within && pods_within && (na.is_some() || pa.is_some())
        }
        _ => false,
    }
}

/// Every connection rule `a` allows (peers × ports), rule `b` allows too: `b` has no
/// peers or each peer of `a` is within one of `b`'s, and `b` has no ports or each port
/// entry of `a` is within one of `b`'s (same protocol; a range within a range, a port
/// absent only within a port absent, a name only within the same name).
fn rule_within(a: &RuleView<'_>, b: &RuleView<'_>) -> bool {
    let peers = b.every_peer()
        || (!a.every_peer()
            && a.peers.into_iter().flatten().all(|pa| {
                let ka = PeerKey::of(pa);
                b.peers
                    .into_iter()
                    .flatten()
                    .any(|pb| peer_within(&ka, &PeerKey::of(pb)))
            }));
    let ports = b.every_port()
        || (!a.every_port()
            && a.ports.into_iter().flatten().all(|pa| {
                let ka = PortKey::of(pa);
                b.ports
                    .into_iter()
                    .flatten()
                    .any(|pb| ka.within(&PortKey::of(pb)))
            }));
    peers && ports
}

struct Entry<'a, 'p> {
    policy: &'p LintPolicy<'a>,
    selector: Sel,
    rule: RuleView<'a>,
}

impl Entry<'_, '_> {
    /// The rule applies to every pod `other`'s does and allows every connection it does.
    fn covers(&self, other: &Entry<'_, '_>) -> bool {
        self.selector.contains(&other.selector) && rule_within(&other.rule, &self.rule)
    }

    fn order(&self) -> (&str, usize, usize) {
        (self.policy.file, self.policy.document, self.rule.index)
    }
}

/// `redundant-rule`: a rule of a direction its policy isolates, whose connections a rule
/// of a policy in the same namespace, isolating the same direction and selecting at least
/// the same pods (its podSelector's requirements among this one's), already allows. When
/// two rules cover each other the later one (by file, document, index) is reported, so
/// removing every reported rule keeps what is allowed.
///
/// Not detected (never claimed without proof): connections covered only by several rules
/// together, or by several port entries or peers together; selectors that overlap
/// without one's requirements containing the other's (`app in (a,b)` and `app: a`);
/// numeric ports against named ones; `ipBlock`s with `except` against other ranges.
pub fn redundant_rules(input: &LintInput<'_>) -> Vec<Finding> {
    let mut groups: BTreeMap<(&str, Dir), Vec<Entry<'_, '_>>> = BTreeMap::new();
    for p in input.policies {
        for dir in Dir::BOTH.into_iter().filter(|d| isolates(p, *d)) {
            for rule in rules(p, dir) {
                groups.entry((namespace(p), dir)).or_default().push(Entry {
                    policy: p,
                    selector: pod_selector(p),
                    rule,
                });
            }
        }
    }
    let mut out = Vec::new();
    for entries in groups.values() {
        for (i, e) in entries.iter().enumerate() {
            let by = entries.iter().enumerate().find(|(j, other)| {
                *j != i && other.covers(e) && (!e.covers(other) || other.order() < e.order())
            });
            let Some((_, other)) = by else {
                continue;
            };
            let d = e.rule.dir.key();
            out.push(
                Finding::new(
                    &REDUNDANT_RULE,
                    Some(e.policy.bundle),
                    policy_location(e.policy, &e.rule.path()),
                    format!(
                        "{} {d}[{}] allows nothing that {} {d}[{}] does not already allow to the same pods; remove it, or narrow the other",
                        shown(e.policy),
                        e.rule.index,
                        shown(other.policy),
                        other.rule.index
                    ),
                )
                .related(policy_location(other.policy, &other.rule.path())),
            );
        }
    }
    out
}

/// `duplicate-policy`: two policies of one namespace whose specs are the same once
/// defaulted and normalised as the sync engine compares them (labels and annotations
/// aside), under different names. Reported at the later one (by file, document), with
/// the first as related.
pub fn duplicate_policies(input: &LintInput<'_>) -> Vec<Finding> {
    let mut sorted: Vec<&LintPolicy<'_>> = input.policies.iter().collect();
    sorted.sort_by_key(|p| (p.file, p.document));
    let specs: Vec<_> = sorted
        .iter()
        .map(|p| netpol_policy::normalize(p.policy, ANNOTATION_PREFIX).spec)
        .collect();
    let mut out = Vec::new();
    for (i, p) in sorted.iter().enumerate() {
        let first = (0..i).find(|&j| {
            namespace(sorted[j]) == namespace(p)
                && name(sorted[j]) != name(p)
                && specs[j] == specs[i]
        });
        let Some(j) = first else {
            continue;
        };
        let q = sorted[j];
        out.push(
            Finding::new(
                &DUPLICATE_POLICY,
                Some(p.bundle),
                policy_location(p, &[S::Key("metadata")]),
                format!(
                    "{} has the same spec as {}: one change would have to be made twice; keep one",
                    shown(p),
                    shown(q)
                ),
            )
            .related(policy_location(q, &[S::Key("metadata")])),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::lint::testutil::{lines_of, Fixture};
    use crate::lint::Severity;

    fn policy(name: &str, selector: &str, ingress: &str) -> String {
        format!(
            "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: {name}, namespace: shop}}\nspec:\n  podSelector: {selector}\n  policyTypes: [Ingress]\n  ingress:\n{ingress}"
        )
    }

    #[test]
    fn a_rule_inside_another_for_the_same_pods_is_redundant() {
        // Document 0 lines 1-8, its ingress[0] on line 9 and ingress[1] on line 12.
        let a = policy(
            "a",
            "{matchLabels: {app: api}}",
            "    - from: [{podSelector: {matchLabels: {app: web}}}]\n      ports: [{port: 8000, endPort: 9000}, {port: 53, protocol: UDP}]\n\
             \n    - from: [{podSelector: {matchLabels: {app: web, tier: front}}}]\n      ports: [{port: 8080}]\n",
        );
        let f = Fixture::new().file("shop", "bundles/shop/a.yaml", &a).run();
        let file = "bundles/shop/a.yaml".to_string();
        assert_eq!(lines_of(&f, "redundant-rule"), vec![(file.clone(), 12)]);
        let r = f.iter().find(|f| f.rule == "redundant-rule").unwrap();
        assert_eq!(r.severity, Severity::Info);
        assert_eq!(r.related[0].line, 9);
    }

    #[test]
    fn a_policy_for_every_pod_covers_the_rules_of_a_narrower_one() {
        let text = format!(
            "{}{}",
            policy("all", "{}", "    - from: [{podSelector: {}}]\n"),
            policy("api", "{matchLabels: {app: api}}", "    - from: [{podSelector: {matchLabels: {app: web}}}]\n      ports: [{port: 80}]\n"),
        );
        let f = Fixture::new()
            .file("shop", "bundles/shop/a.yaml", &text)
            .run();
        // The second document starts on line 10; its ingress[0] is line 18.
        assert_eq!(
            lines_of(&f, "redundant-rule"),
            vec![("bundles/shop/a.yaml".to_string(), 18)]
        );
    }

    #[test]
    fn identical_rules_report_only_the_later() {
        let rule =
            "    - from: [{podSelector: {matchLabels: {app: web}}}]\n      ports: [{port: 80}]\n";
        let text = format!("{}{}", policy("one", "{}", rule), policy("two", "{}", rule));
        let f = Fixture::new()
            .file("shop", "bundles/shop/a.yaml", &text)
            .run();
        // The first document is lines 1-10; the second's ingress[0] is line 19.
        assert_eq!(
            lines_of(&f, "redundant-rule"),
            vec![("bundles/shop/a.yaml".to_string(), 19)]
        );
    }

    #[test]
    fn what_is_not_proven_is_not_redundant() {
        for (first, second) in [
            // Another protocol.
            ("ports: [{port: 80}]", "ports: [{port: 80, protocol: UDP}]"),
            // A range reaching beyond.
            (
                "ports: [{port: 80, endPort: 90}]",
                "ports: [{port: 85, endPort: 95}]",
            ),
            // A name against a number.
            ("ports: [{port: 80}]", "ports: [{port: http}]"),
        ] {
            let text = policy(
                "a",
                "{}",
                &format!("    - from: [{{podSelector: {{}}}}]\n      {first}\n    - from: [{{podSelector: {{}}}}]\n      {second}\n"),
            );
            let f = Fixture::new()
                .file("shop", "bundles/shop/a.yaml", &text)
                .run();
            assert!(
                lines_of(&f, "redundant-rule").is_empty(),
                "{first} / {second}"
            );
        }
        // Another namespace's policy for pods with the same labels.
        let other_ns =
            policy("b", "{}", "    - {}\n").replace("namespace: shop", "namespace: other");
        let text = format!(
            "{}{other_ns}",
            policy("a", "{}", "    - from: [{podSelector: {}}]\n")
        );
        let f = Fixture::new()
            .file("shop", "bundles/shop/a.yaml", &text)
            .run();
        assert!(lines_of(&f, "redundant-rule").is_empty());
        // A narrower policy's rule does not cover a rule for every pod.
        let text = format!(
            "{}{}",
            policy(
                "all",
                "{}",
                "    - from: [{podSelector: {matchLabels: {app: web}}}]\n"
            ),
            policy(
                "api",
                "{matchLabels: {app: api}}",
                "    - from: [{podSelector: {}}]\n"
            ),
        );
        let f = Fixture::new()
            .file("shop", "bundles/shop/a.yaml", &text)
            .run();
        assert!(lines_of(&f, "redundant-rule").is_empty());
    }

    #[test]
    fn redundant_rule_is_silenced_by_comment_and_bundle() {
        let rule = "    - from: [{podSelector: {matchLabels: {app: web}}}]\n";
        let text = policy(
            "a",
            "{}",
            &format!("{rule}    # netpol-sync: ignore=redundant-rule\n{rule}"),
        );
        let f = Fixture::new()
            .file("shop", "bundles/shop/a.yaml", &text)
            .run();
        assert!(lines_of(&f, "redundant-rule").is_empty());
        let text = policy("a", "{}", &format!("{rule}{rule}"));
        let f = Fixture::new()
            .file("shop", "bundles/shop/a.yaml", &text)
            .run();
        assert_eq!(lines_of(&f, "redundant-rule").len(), 1);
        let f = Fixture::new()
            .file("shop", "bundles/shop/a.yaml", &text)
            .ignore("shop", "redundant-rule")
            .run();
        assert!(lines_of(&f, "redundant-rule").is_empty());
    }

    #[test]
    fn the_same_spec_under_two_names_is_a_duplicate() {
        let rule = "    - from: [{podSelector: {matchLabels: {app: web}}}]\n";
        let first = policy("a", "{}", rule);
        // Labels differ: still the same content.
        let second = policy("b", "{}", rule).replace(
            "metadata: {name: b, namespace: shop}",
            "metadata: {name: b, namespace: shop, labels: {team: x}}",
        );
        let f = Fixture::new()
            .file("shop", "bundles/shop/a.yaml", &first)
            .file("shop", "bundles/shop/b.yaml", &second)
            .run();
        let d: Vec<_> = f.iter().filter(|f| f.rule == "duplicate-policy").collect();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].severity, Severity::Warning);
        assert_eq!(
            (d[0].location.file.as_str(), d[0].location.line),
            ("bundles/shop/b.yaml", 4)
        );
        assert_eq!(
            (d[0].related[0].file.as_str(), d[0].related[0].line),
            ("bundles/shop/a.yaml", 4)
        );
        // Near misses: another namespace; another selector.
        let elsewhere = second.replace("namespace: shop", "namespace: other");
        let narrower = second.replace(
            "podSelector: {}\n",
            "podSelector: {matchLabels: {app: api}}\n",
        );
        for other in [elsewhere, narrower] {
            let f = Fixture::new()
                .file("shop", "bundles/shop/a.yaml", &first)
                .file("shop", "bundles/shop/b.yaml", &other)
                .run();
            assert!(lines_of(&f, "duplicate-policy").is_empty(), "{other}");
        }
        // Silenced at the second's metadata line, or by the bundle.
        let commented = second.replace(
            "metadata:",
            "# netpol-sync: ignore=duplicate-policy\nmetadata:",
        );
        let f = Fixture::new()
            .file("shop", "bundles/shop/a.yaml", &first)
            .file("shop", "bundles/shop/b.yaml", &commented)
            .run();
        assert!(lines_of(&f, "duplicate-policy").is_empty());
        let f = Fixture::new()
            .file("shop", "bundles/shop/a.yaml", &first)
            .file("shop", "bundles/shop/b.yaml", &second)
            .ignore("shop", "duplicate-policy")
            .run();
        assert!(lines_of(&f, "duplicate-policy").is_empty());
    }
}
