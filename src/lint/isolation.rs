//! Isolation: default denies per governed namespace, `policyTypes` as written against the
//! rules, and DNS for pods isolated for egress.
//!
//! The Kubernetes NetworkPolicy documentation decides each case
//! (https://kubernetes.io/docs/concepts/services-networking/network-policies/, quoted
//! in docs/reachability.md, "The rules"):
//! - "By default, a pod is non-isolated for egress; all outbound connections are
//!   allowed. A pod is isolated for egress if there is any NetworkPolicy that both
//!   selects the pod and has "Egress" in its policyTypes" (and the same for ingress).
//! - "If no policyTypes are specified on a NetworkPolicy then by default Ingress will
//!   always be set and Egress will be set if the NetworkPolicy has any egress rules."

use super::locate::{lookup, Lookup, PathSegment as S};
use super::model::{
    isolates, namespace, namespace_location, pod_selector, policy_location, rules, shown, Dir,
    PortKey, Sel,
};
use super::{
    Finding, LintInput, LintPolicy, DEFAULT_DENY_EGRESS_MISSING, DEFAULT_DENY_INGRESS_MISSING,
    EGRESS_DNS_MISSING, POLICY_TYPES_MISMATCH, POLICY_TYPES_MISSING,
};
use crate::reach::workloads::Workloads;
use netpol_reach::{Pod, Selector};
use std::collections::BTreeMap;

/// Whether `p` is a default deny for `dir`: it selects every pod of its namespace (an
/// empty podSelector), isolates them for `dir`, and allows nothing in that direction.
/// The documentation's own example: "You can create a "default" ingress isolation
/// policy for a namespace by creating a NetworkPolicy that selects all pods but does not
/// allow any ingress traffic to those pods."
fn is_default_deny(p: &LintPolicy<'_>, dir: Dir) -> bool {
    pod_selector(p).is_empty() && isolates(p, dir) && rules(p, dir).is_empty()
}

/// `default-deny-ingress-missing`, `default-deny-egress-missing`: one finding per
/// governed namespace and direction without a default deny, at the namespace in its
/// bundle's bundle.yaml. A namespace whose every pod some other policy isolates is still
/// reported: the pods added later are not.
pub fn default_deny(input: &LintInput<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for ns in input.governed {
        for dir in Dir::BOTH {
            let covered = input
                .policies
                .iter()
                .any(|p| namespace(p) == ns && is_default_deny(p, dir));
            if covered {
                continue;
            }
            let (rule, what) = match dir {
                Dir::Ingress => (
                    &DEFAULT_DENY_INGRESS_MISSING,
                    "pods that no policy selects for ingress accept connections from every source",
                ),
                Dir::Egress => (
                    &DEFAULT_DENY_EGRESS_MISSING,
                    "pods that no policy selects for egress may connect anywhere",
                ),
            };
            let (bundle, location) = namespace_location(input, ns);
            out.push(Finding::new(
                rule,
                bundle.as_deref(),
                location,
                format!(
                    "namespace `{ns}` has no default deny for {}: {what}; add a policy with `podSelector: {{}}`, `policyTypes: [{}]` and no {} rules",
                    dir.key(),
                    dir.type_name(),
                    dir.key()
                ),
            ));
        }
    }
    out
}

/// `policy-types-missing`: the document has no `policyTypes` key (read from the file's
/// text, since the policy handed over is defaulted). An explicit empty list is defaulted
/// the same way but is not told apart here. `policy-types-mismatch`: rules of a direction
/// the (defaulted) `policyTypes` does not name. The documentation: "The policyTypes field
/// indicates whether or not the given policy applies to ingress traffic to selected pod,
/// egress traffic from selected pods, or both"; rules of a direction it does not apply to
/// isolate nothing and allow nothing (docs/reachability.md, "Isolation").
pub fn policy_types(input: &LintInput<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for p in input.policies {
        if lookup(p.text, p.document, &[S::Key("spec"), S::Key("policyTypes")]) == Lookup::Absent {
            let defaulted: Vec<&str> = Dir::BOTH
                .into_iter()
                .filter(|d| isolates(p, *d))
                .map(Dir::type_name)
                .collect();
            out.push(Finding::new(
                &POLICY_TYPES_MISSING,
                Some(p.bundle),
                policy_location(p, &[S::Key("spec")]),
                format!(
                    "{} does not set policyTypes; the API server makes it [{}] from the rules present, so removing the last egress rule would silently end egress isolation: write `policyTypes: [{}]`",
                    shown(p),
                    defaulted.join(", "),
                    defaulted.join(", ")
                ),
            ));
        }
        for dir in Dir::BOTH {
            let n = rules(p, dir).len();
            if n > 0 && !isolates(p, dir) {
                out.push(Finding::new(
                    &POLICY_TYPES_MISMATCH,
                    Some(p.bundle),
                    policy_location(p, &[S::Key("spec"), S::Key(dir.key())]),
                    format!(
                        "{} has {n} {} rule(s) but policyTypes does not list {}: Kubernetes ignores them; add {} to policyTypes or remove the rules",
                        shown(p),
                        dir.key(),
                        dir.type_name(),
                        dir.type_name()
                    ),
                ));
            }
        }
    }
    out
}

/// Whether an egress rule of `p` may allow UDP 53 to something: its ports are absent or
/// empty (every port), or one is UDP with no port, a range holding 53, or a name (a
/// named port resolves on the destination pod, which may call its 53 `dns`).
fn allows_dns(p: &LintPolicy<'_>) -> bool {
    isolates(p, Dir::Egress)
        && rules(p, Dir::Egress).iter().any(|r| {
            r.every_port()
                || r.ports
                    .into_iter()
                    .flatten()
                    .any(|port| PortKey::of(port).may_match("UDP", 53))
        })
}

/// `egress-dns-missing`: pods isolated for egress that no egress rule lets resolve names.
///
/// With workloads that have pods in the namespace it is exact: each pod isolated for
/// egress is checked against the egress rules of every policy selecting it, and the pods
/// without DNS are reported at the first policy isolating them.
///
/// Otherwise it is judged per podSelector: the pods a policy's selector picks are
/// certainly also selected by every policy of the namespace whose selector's requirements
/// are among its own (an empty selector, the same selector, a subset of its labels), so
/// DNS from those counts. A policy whose selector merely overlaps (`app in (a,b)` against
/// `app: a`) is not counted, and the finding may then be one a pod does not have: it
/// names the selector, and says so. Not detected: a port name that resolves to something
/// else than 53, a peer that is not a DNS server, TCP-only DNS.
pub fn egress_dns(input: &LintInput<'_>) -> Vec<Finding> {
    let mut by_ns: BTreeMap<&str, Vec<&LintPolicy<'_>>> = BTreeMap::new();
    for p in input.policies {
        by_ns.entry(namespace(p)).or_default().push(p);
    }
    let mut out = Vec::new();
    for (ns, mut policies) in by_ns {
        policies.sort_by_key(|p| (p.file, p.document));
        let pods: Vec<&Pod> = input
            .workloads
            .map(|w: &Workloads| w.pods.iter().filter(|pod| pod.namespace == ns).collect())
            .unwrap_or_default();
        if pods.is_empty() {
            out.extend(dns_by_selector(&policies));
        } else {
            out.extend(dns_by_pod(&policies, &pods));
        }
    }
    out
}

fn dns_location(p: &LintPolicy<'_>) -> super::Location {
    policy_location(p, &[S::Key("spec"), S::Key("policyTypes")])
}

fn dns_by_selector(policies: &[&LintPolicy<'_>]) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut seen: Vec<Sel> = Vec::new();
    for p in policies.iter().filter(|p| isolates(p, Dir::Egress)) {
        let sel = pod_selector(p);
        if seen.contains(&sel) {
            continue;
        }
        seen.push(sel.clone());
        let covered = policies
            .iter()
            .any(|q| pod_selector(q).contains(&sel) && allows_dns(q));
        if !covered {
            let which = if sel.is_empty() {
                "every pod of the namespace".to_string()
            } else {
                "the pods it selects".to_string()
            };
            out.push(Finding::new(
                &EGRESS_DNS_MISSING,
                Some(p.bundle),
                dns_location(p),
                format!(
                    "{} isolates {which} for egress, and no egress rule of a policy certainly selecting them allows UDP 53: they cannot resolve names; add an egress rule to the cluster DNS on UDP 53 (and TCP 53)",
                    shown(p)
                ),
            ));
        }
    }
    out
}

fn dns_by_pod(policies: &[&LintPolicy<'_>], pods: &[&Pod]) -> Vec<Finding> {
    let compiled: Vec<Option<Selector>> = policies
        .iter()
        .map(|p| {
            let sel = p
                .policy
                .spec
                .as_ref()?
                .pod_selector
                .clone()
                .unwrap_or_default();
            Selector::compile(&sel, "", "spec.podSelector").ok()
        })
        .collect();
    // The first policy isolating each pod without DNS -> those pods.
    let mut blame: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for pod in pods {
        let selecting: Vec<usize> = (0..policies.len())
            .filter(|&i| {
                isolates(policies[i], Dir::Egress)
                    && compiled[i].as_ref().is_some_and(|s| s.matches(&pod.labels))
            })
            .collect();
        let Some(&first) = selecting.first() else {
            continue;
        };
        if !selecting.iter().any(|&i| allows_dns(policies[i])) {
            blame.entry(first).or_default().push(&pod.name);
        }
    }
    blame
        .into_iter()
        .map(|(i, names)| {
            let p = policies[i];
            let shown_pods = names.iter().take(3).copied().collect::<Vec<_>>().join(", ");
            let more = if names.len() > 3 {
                format!(" and {} more", names.len() - 3)
            } else {
                String::new()
            };
            Finding::new(
                &EGRESS_DNS_MISSING,
                Some(p.bundle),
                dns_location(p),
                format!(
                    "{} isolates {shown_pods}{more} for egress, and no egress rule of the policies selecting them allows UDP 53: they cannot resolve names; add an egress rule to the cluster DNS on UDP 53 (and TCP 53)",
                    shown(p)
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::lint::testutil::{lines_of, Fixture};
    use crate::lint::Severity;

    const MANIFEST: &str = "\
apiVersion: netpol-sync/v1
kind: Bundle
name: shop
namespaces:
  - frontend
  - payments
";

    const DENY_ALL: &str = "\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: payments}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
";

    #[test]
    fn default_deny_fires_at_the_namespace_in_the_manifest() {
        let f = Fixture::new()
            .manifest("shop", MANIFEST)
            .file("shop", "bundles/shop/p.yaml", DENY_ALL)
            .run();
        let m = "bundles/shop/bundle.yaml".to_string();
        assert_eq!(
            lines_of(&f, "default-deny-ingress-missing"),
            vec![(m.clone(), 5)]
        );
        assert_eq!(lines_of(&f, "default-deny-egress-missing"), vec![(m, 5)]);
        let one = f
            .iter()
            .find(|f| f.rule == "default-deny-ingress-missing")
            .unwrap();
        assert_eq!(one.severity, Severity::Warning);
        assert!(one.message.contains("`frontend`"));
        assert_eq!(one.bundle.as_deref(), Some("shop"));
    }

    #[test]
    fn a_policy_that_allows_something_or_selects_some_pods_is_no_default_deny() {
        // Near misses: rules present; a non-empty podSelector.
        let with_rules = DENY_ALL.replace(
            "  policyTypes: [Ingress, Egress]\n",
            "  policyTypes: [Ingress, Egress]\n  ingress: [{from: [{podSelector: {}}]}]\n",
        );
        let some_pods =
            DENY_ALL.replace("podSelector: {}", "podSelector: {matchLabels: {app: db}}");
        for text in [with_rules, some_pods] {
            let f = Fixture::new()
                .governs("shop", "payments")
                .file("shop", "bundles/shop/p.yaml", &text)
                .run();
            assert_eq!(
                lines_of(&f, "default-deny-ingress-missing").len(),
                1,
                "{text}"
            );
        }
        // The real one: `matchLabels: {}` is empty too.
        let empty_labels = DENY_ALL.replace("podSelector: {}", "podSelector: {matchLabels: {}}");
        let f = Fixture::new()
            .file("shop", "bundles/shop/p.yaml", &empty_labels)
            .run();
        assert!(lines_of(&f, "default-deny-ingress-missing").is_empty());
        assert!(lines_of(&f, "default-deny-egress-missing").is_empty());
    }

    #[test]
    fn default_deny_is_silenced_by_the_bundle_or_a_manifest_comment() {
        let f = Fixture::new()
            .manifest("shop", MANIFEST)
            .file("shop", "bundles/shop/p.yaml", DENY_ALL)
            .ignore("shop", "default-deny-ingress-missing")
            .run();
        assert!(lines_of(&f, "default-deny-ingress-missing").is_empty());
        assert_eq!(lines_of(&f, "default-deny-egress-missing").len(), 1);
        let commented = MANIFEST.replace(
            "  - frontend\n",
            "  # netpol-sync: ignore=default-deny-egress-missing\n  - frontend\n",
        );
        let f = Fixture::new()
            .manifest("shop", &commented)
            .file("shop", "bundles/shop/p.yaml", DENY_ALL)
            .run();
        assert!(lines_of(&f, "default-deny-egress-missing").is_empty());
        assert_eq!(lines_of(&f, "default-deny-ingress-missing").len(), 1);
    }

    const EGRESS_ONLY_TYPES: &str = "\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api, namespace: payments}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Egress]
  ingress:
    - from: [{podSelector: {}}]
  egress:
    - to: [{podSelector: {}}]
      ports: [{port: 53, protocol: UDP}]
";

    #[test]
    fn rules_of_a_direction_policy_types_omits_are_an_error() {
        let f = Fixture::new()
            .file("shop", "bundles/shop/api.yaml", EGRESS_ONLY_TYPES)
            .run();
        assert_eq!(
            lines_of(&f, "policy-types-mismatch"),
            vec![("bundles/shop/api.yaml".to_string(), 7)]
        );
        let e = f
            .iter()
            .find(|f| f.rule == "policy-types-mismatch")
            .unwrap();
        assert_eq!(e.severity, Severity::Error);
        // policyTypes is written: nothing is missing.
        assert!(lines_of(&f, "policy-types-missing").is_empty());
        // Near miss: both named.
        let both = EGRESS_ONLY_TYPES.replace("[Egress]", "[Ingress, Egress]");
        let f = Fixture::new()
            .file("shop", "bundles/shop/api.yaml", &both)
            .run();
        assert!(lines_of(&f, "policy-types-mismatch").is_empty());
    }

    #[test]
    fn absent_policy_types_is_read_from_the_text() {
        // Defaulted to [Ingress, Egress] (the policy has egress rules): no mismatch, but
        // the text does not say it.
        let absent = EGRESS_ONLY_TYPES.replace("  policyTypes: [Egress]\n", "");
        let f = Fixture::new()
            .file("shop", "bundles/shop/api.yaml", &absent)
            .run();
        assert_eq!(
            lines_of(&f, "policy-types-missing"),
            vec![("bundles/shop/api.yaml".to_string(), 4)]
        );
        let i = f.iter().find(|f| f.rule == "policy-types-missing").unwrap();
        assert_eq!(i.severity, Severity::Info);
        assert!(i.message.contains("[Ingress, Egress]"), "{}", i.message);
        assert!(lines_of(&f, "policy-types-mismatch").is_empty());
        // Silenced by a comment on the `spec:` line, or by the bundle.
        let commented = absent.replace(
            "spec:\n",
            "spec: # netpol-sync: ignore=policy-types-missing\n",
        );
        let f = Fixture::new()
            .file("shop", "bundles/shop/api.yaml", &commented)
            .run();
        assert!(lines_of(&f, "policy-types-missing").is_empty());
        let f = Fixture::new()
            .file("shop", "bundles/shop/api.yaml", &absent)
            .ignore("shop", "policy-types-missing")
            .run();
        assert!(lines_of(&f, "policy-types-missing").is_empty());
    }

    #[test]
    fn mismatch_is_silenced_by_a_comment_above_the_rules() {
        let commented = EGRESS_ONLY_TYPES.replace(
            "  ingress:\n",
            "  # netpol-sync: ignore=policy-types-mismatch\n  ingress:\n",
        );
        let f = Fixture::new()
            .file("shop", "bundles/shop/api.yaml", &commented)
            .run();
        assert!(lines_of(&f, "policy-types-mismatch").is_empty());
        let f = Fixture::new()
            .file("shop", "bundles/shop/api.yaml", EGRESS_ONLY_TYPES)
            .ignore("shop", "policy-types-mismatch")
            .run();
        assert!(lines_of(&f, "policy-types-mismatch").is_empty());
    }

    const EGRESS_NO_DNS: &str = "\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api, namespace: payments}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Egress]
  egress:
    - to: [{podSelector: {matchLabels: {app: db}}}]
      ports: [{port: 5432}]
";

    const ALLOW_DNS: &str = "\
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: dns, namespace: payments}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
    - ports: [{port: 50, endPort: 60, protocol: UDP}]
";

    #[test]
    fn egress_isolation_without_dns_fires_at_policy_types() {
        let f = Fixture::new()
            .file("shop", "bundles/shop/api.yaml", EGRESS_NO_DNS)
            .run();
        assert_eq!(
            lines_of(&f, "egress-dns-missing"),
            vec![("bundles/shop/api.yaml".to_string(), 6)]
        );
        assert_eq!(
            f.iter()
                .find(|f| f.rule == "egress-dns-missing")
                .unwrap()
                .severity,
            Severity::Warning
        );
        // Near miss: a policy selecting every pod of the namespace allows UDP 50-60.
        let f = Fixture::new()
            .file(
                "shop",
                "bundles/shop/api.yaml",
                &format!("{EGRESS_NO_DNS}{ALLOW_DNS}"),
            )
            .run();
        assert!(lines_of(&f, "egress-dns-missing").is_empty());
        // TCP 53 alone is not DNS over UDP.
        let tcp = ALLOW_DNS.replace("{port: 50, endPort: 60, protocol: UDP}", "{port: 53}");
        let f = Fixture::new()
            .file(
                "shop",
                "bundles/shop/api.yaml",
                &format!("{EGRESS_NO_DNS}{tcp}"),
            )
            .run();
        assert_eq!(lines_of(&f, "egress-dns-missing").len(), 2);
    }

    #[test]
    fn dns_from_a_policy_selecting_other_pods_does_not_count() {
        let other = ALLOW_DNS.replace("podSelector: {}", "podSelector: {matchLabels: {app: web}}");
        let f = Fixture::new()
            .file(
                "shop",
                "bundles/shop/api.yaml",
                &format!("{EGRESS_NO_DNS}{other}"),
            )
            .run();
        assert_eq!(
            lines_of(&f, "egress-dns-missing"),
            vec![("bundles/shop/api.yaml".to_string(), 6)]
        );
    }

    #[test]
    fn with_workloads_dns_is_judged_per_pod() {
        // `app in (api, web)` covers the api pod, which the selector rule cannot prove.
        let overlapping = ALLOW_DNS.replace(
            "podSelector: {}",
            "podSelector: {matchExpressions: [{key: app, operator: In, values: [api, web]}]}",
        );
        let text = format!("{EGRESS_NO_DNS}{overlapping}");
        let f = Fixture::new()
            .file("shop", "bundles/shop/api.yaml", &text)
            .run();
        assert_eq!(lines_of(&f, "egress-dns-missing").len(), 1);
        let workloads = "\
apiVersion: v1
kind: Pod
metadata: {name: api-0, namespace: payments, labels: {app: api}}
spec: {containers: [{name: c}]}
";
        let f = Fixture::new()
            .file("shop", "bundles/shop/api.yaml", &text)
            .workloads(workloads)
            .run();
        assert!(lines_of(&f, "egress-dns-missing").is_empty());
        // And a pod really without DNS is named.
        let f = Fixture::new()
            .file("shop", "bundles/shop/api.yaml", EGRESS_NO_DNS)
            .workloads(workloads)
            .run();
        let d: Vec<_> = f
            .iter()
            .filter(|f| f.rule == "egress-dns-missing")
            .collect();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].location.line, 6);
        assert!(d[0].message.contains("api-0"));
    }

    #[test]
    fn egress_dns_is_silenced_by_comment_and_bundle() {
        let commented = EGRESS_NO_DNS.replace(
            "  policyTypes: [Egress]\n",
            "  policyTypes: [Egress] # netpol-sync: ignore=egress-dns-missing\n",
        );
        let f = Fixture::new()
            .file("shop", "bundles/shop/api.yaml", &commented)
            .run();
        assert!(lines_of(&f, "egress-dns-missing").is_empty());
        let f = Fixture::new()
            .file("shop", "bundles/shop/api.yaml", EGRESS_NO_DNS)
            .ignore("shop", "egress-dns-missing")
            .run();
        assert!(lines_of(&f, "egress-dns-missing").is_empty());
    }
}
