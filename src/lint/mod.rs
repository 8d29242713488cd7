//! Lint rules over a revision's policies, for the `netpol-sync check` pull-request gate
//! (docs/lint.md has every rule, why it exists, how to fix and how to silence it).
//!
//! The caller (the `check` command) loads the bundles as the sync does and hands each
//! policy document over as a [`LintPolicy`]: strictly decoded and defaulted as the API
//! server would, with the file's text so that every finding points at the line of the
//! field it is about ([`locate`]). [`lint`] runs every rule, drops what the bundles and the
//! files' comments silence ([`silence`]), and returns the rest sorted by file, line and
//! rule. Nothing here can fail: a field the locator cannot find falls back to the nearest
//! enclosing field it can, then to the document's first line.
//!
//! Rules by family: [`isolation`] (default deny, policyTypes, DNS), [`breadth`]
//! (allow-all rules and peers, `0.0.0.0/0`, namespace selectors reaching outside the
//! governed set), [`overlap`] (redundant rules, duplicate policies), [`workloads`]
//! (selectors and named ports against the workloads given).

pub mod breadth;
pub mod isolation;
pub mod locate;
mod model;
pub mod overlap;
pub mod silence;
#[cfg(test)]
mod testutil;
pub mod workloads;

use crate::reach::workloads::Workloads;
pub use locate::{document_start, locate, PathSegment};
use netpol_policy::NetworkPolicy;
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

/// How much a finding matters. Ordered `Info < Warning < Error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    fn rank(self) -> u8 {
        match self {
            Severity::Info => 0,
            Severity::Warning => 1,
            Severity::Error => 2,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

impl PartialOrd for Severity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Severity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.rank().cmp(&other.rank())
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A lint rule: a stable kebab-case id (what silencing names), its severity, and why it
/// exists in one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub id: &'static str,
    pub severity: Severity,
    pub summary: &'static str,
}

pub const DEFAULT_DENY_INGRESS_MISSING: Rule = Rule {
    id: "default-deny-ingress-missing",
    severity: Severity::Warning,
    summary: "a governed namespace without a default deny for ingress leaves every pod no policy selects open to every source",
};
pub const DEFAULT_DENY_EGRESS_MISSING: Rule = Rule {
    id: "default-deny-egress-missing",
    severity: Severity::Warning,
    summary: "a governed namespace without a default deny for egress lets every pod no policy selects reach anything",
};
pub const ALLOW_ALL_INGRESS: Rule = Rule {
    id: "allow-all-ingress",
    severity: Severity::Warning,
    summary: "an ingress rule or peer that admits every source (or every pod of every namespace) is rarely what was meant",
};
pub const ALLOW_ALL_EGRESS: Rule = Rule {
    id: "allow-all-egress",
    severity: Severity::Warning,
    summary: "an egress rule or peer that allows every destination (or every pod of every namespace) is rarely what was meant",
};
pub const EGRESS_DNS_MISSING: Rule = Rule {
    id: "egress-dns-missing",
    severity: Severity::Warning,
    summary: "pods isolated for egress without UDP 53 allowed cannot resolve names, which breaks most workloads",
};
pub const ANY_ADDRESS_PEER: Rule = Rule {
    id: "any-address-peer",
    severity: Severity::Warning,
    summary: "an ipBlock of 0.0.0.0/0 or ::/0 admits the whole internet",
};
pub const POLICY_TYPES_MISSING: Rule = Rule {
    id: "policy-types-missing",
    severity: Severity::Info,
    summary: "without policyTypes the API server infers them from the rules, so removing the last egress rule silently ends egress isolation",
};
pub const POLICY_TYPES_MISMATCH: Rule = Rule {
    id: "policy-types-mismatch",
    severity: Severity::Error,
    summary: "rules of a direction missing from policyTypes are ignored by Kubernetes",
};
pub const SELECTOR_MATCHES_NOTHING: Rule = Rule {
    id: "selector-matches-nothing",
    severity: Severity::Warning,
    summary:
        "a selector that matches no pod or namespace of the workloads is often a typo in a label",
};
pub const NAMED_PORT_UNEXPOSED: Rule = Rule {
    id: "named-port-unexposed",
    severity: Severity::Warning,
    summary: "a named port that no destination pod exposes with that protocol allows nothing",
};
pub const REDUNDANT_RULE: Rule = Rule {
    id: "redundant-rule",
    severity: Severity::Info,
    summary: "a rule whose traffic another rule for the same pods already allows adds nothing and hides what is really open",
};
pub const DUPLICATE_POLICY: Rule = Rule {
    id: "duplicate-policy",
    severity: Severity::Warning,
    summary: "two policies with the same namespace and spec under different names are one change waiting to diverge",
};
pub const NAMESPACE_SELECTOR_OUTSIDE_GOVERNED: Rule = Rule {
    id: "namespace-selector-outside-governed",
    severity: Severity::Info,
    summary: "a namespaceSelector that may select namespaces no bundle governs trusts pods whose policies are not reviewed here",
};
pub const UNKNOWN_IGNORE: Rule = Rule {
    id: "unknown-ignore",
    severity: Severity::Warning,
    summary:
        "an ignore comment or bundle entry naming no known rule silences nothing, usually by a typo",
};

/// Every rule, in the order of docs/lint.md.
pub const RULES: &[Rule] = &[
    DEFAULT_DENY_INGRESS_MISSING,
    DEFAULT_DENY_EGRESS_MISSING,
    ALLOW_ALL_INGRESS,
    ALLOW_ALL_EGRESS,
    EGRESS_DNS_MISSING,
    ANY_ADDRESS_PEER,
    POLICY_TYPES_MISSING,
    POLICY_TYPES_MISMATCH,
    SELECTOR_MATCHES_NOTHING,
    NAMED_PORT_UNEXPOSED,
    REDUNDANT_RULE,
    DUPLICATE_POLICY,
    NAMESPACE_SELECTOR_OUTSIDE_GOVERNED,
    UNKNOWN_IGNORE,
];

/// The rule with this id.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// A place in the repository: a `/`-separated repo-relative path, a 1-based line and,
/// when known, a 1-based column.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Location {
    pub file: String,
    pub line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.column {
            Some(c) => write!(f, "{}:{}:{c}", self.file, self.line),
            None => write!(f, "{}:{}", self.file, self.line),
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub severity: Severity,
    pub message: String,
    pub location: Location,
    /// Other places the finding is about (the rule that makes this one redundant, the
    /// first of two duplicate policies).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<Location>,
    /// The bundle whose `lint.ignore` decides silencing: the policy's bundle, or the
    /// bundle governing the namespace of a namespace-level finding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
}

impl Finding {
    pub(crate) fn new(
        rule: &Rule,
        bundle: Option<&str>,
        location: Location,
        message: String,
    ) -> Finding {
        Finding {
            rule: rule.id,
            severity: rule.severity,
            message,
            location,
            related: Vec::new(),
            bundle: bundle.map(str::to_string),
        }
    }

    pub(crate) fn related(mut self, location: Location) -> Finding {
        self.related.push(location);
        self
    }
}

/// One policy document of a bundle, as check loaded it.
#[derive(Debug, Clone, Copy)]
pub struct LintPolicy<'a> {
    pub bundle: &'a str,
    /// Repo-relative, `/`-separated.
    pub file: &'a str,
    /// The whole file's text.
    pub text: &'a str,
    /// 0-based index of the document in the file, empty documents counted.
    pub document: usize,
    /// Decoded strictly and defaulted as the API server would.
    pub policy: &'a NetworkPolicy,
}

/// Everything the rules look at.
#[derive(Debug, Clone, Copy)]
pub struct LintInput<'a> {
    pub policies: &'a [LintPolicy<'a>],
    /// The namespaces the selected bundles govern.
    pub governed: &'a BTreeSet<String>,
    /// Namespace -> the bundle governing it.
    pub governed_by: &'a BTreeMap<String, String>,
    /// Namespaces and pods to judge selectors and named ports against; the rules that
    /// need them are skipped without.
    pub workloads: Option<&'a Workloads>,
    /// Bundle -> the rule ids its signed bundle.yaml silences (`lint: {ignore: [...]}`).
    pub ignored_by_bundle: &'a BTreeMap<String, BTreeSet<String>>,
    /// Bundle -> (repo-relative path of its bundle.yaml, its text). Namespace-level
    /// findings point at the namespace in its `namespaces:` list, and its comments can
    /// silence them; without it they point at `bundles/<bundle>/bundle.yaml` line 1.
    pub manifest_texts: Option<&'a BTreeMap<String, (String, String)>>,
}

/// Every finding of every rule that nothing silences, sorted by file, line and rule
/// (then column and message), so the output is the same on every run.
pub fn lint(input: &LintInput<'_>) -> Vec<Finding> {
    model::forget_manifest_items();
    let findings = run_rules(input);
    model::forget_manifest_items();
    findings
}

fn run_rules(input: &LintInput<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    findings.extend(isolation::default_deny(input));
    findings.extend(isolation::policy_types(input));
    findings.extend(isolation::egress_dns(input));
    findings.extend(breadth::allow_all(input));
    findings.extend(breadth::any_address(input));
    findings.extend(breadth::namespace_outside_governed(input));
    findings.extend(overlap::redundant_rules(input));
    findings.extend(overlap::duplicate_policies(input));
    if let Some(w) = input.workloads {
        findings.extend(workloads::selectors_matching_nothing(input, w));
        findings.extend(workloads::unexposed_named_ports(input, w));
    }
    let silencer = silence::Silencer::new(input);
    findings.extend(silencer.unknown_ignores());
    let mut findings: Vec<Finding> = findings
        .into_iter()
        .filter(|f| !silencer.silences(f))
        .collect();
    findings.sort_by(|a, b| {
        (
            &a.location.file,
            a.location.line,
            a.rule,
            a.location.column,
            &a.message,
        )
            .cmp(&(
                &b.location.file,
                b.location.line,
                b.rule,
                b.location.column,
                &b.message,
            ))
    });
    findings.dedup();
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn severities_order_info_warning_error_and_serialise_kebab_case() {
        assert!(Severity::Info < Severity::Warning);
        assert!(Severity::Warning < Severity::Error);
        assert_eq!(
            serde_json::to_string(&Severity::Warning).unwrap(),
            "\"warning\""
        );
    }

    #[test]
    fn rule_ids_are_unique_kebab_case_and_documented() {
        let mut seen = HashSet::new();
        let doc = include_str!("../../docs/lint.md");
        for r in RULES {
            assert!(seen.insert(r.id), "{} twice", r.id);
            assert!(
                r.id.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{}",
                r.id
            );
            assert!(!r.summary.is_empty());
            assert!(
                doc.contains(&format!("| `{}` | {} |", r.id, r.severity)),
                "docs/lint.md has no table row for {}",
                r.id
            );
        }
        assert_eq!(RULES.len(), 14);
    }

    #[test]
    fn findings_serialise_with_their_location() {
        let f = Finding::new(
            &ANY_ADDRESS_PEER,
            Some("shop"),
            Location {
                file: "bundles/shop/a.yaml".into(),
                line: 3,
                column: None,
            },
            "m".into(),
        );
        let v = serde_json::to_value(&f).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"rule": "any-address-peer", "severity": "warning", "message": "m",
                "location": {"file": "bundles/shop/a.yaml", "line": 3}, "bundle": "shop"})
        );
    }
}
