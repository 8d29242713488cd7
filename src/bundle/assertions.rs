//! The `reachability:` section of bundle.yaml: connectivity assertions, signed with the
//! manifest (docs/bundles.md, "Reachability assertions"). This module only parses and
//! checks their shape; `reach::assertions` evaluates them against a revision's policies.

use super::{BundleError, MANIFEST_FILE};
use crate::reason::ReasonCode;
use ipnet::IpNet;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

/// At most this many assertions per bundle: each is evaluated on every cycle.
pub const MAX_ASSERTIONS: usize = 1000;

/// What an assertion requires of the connection it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Every port listed is allowed (to every address of a range).
    Allow,
    /// No port listed (every port, when none is) is allowed (to any address of a range).
    Deny,
}

/// A transport protocol, as NetworkPolicy ports name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssertedProtocol {
    Tcp,
    Udp,
    Sctp,
}

impl AssertedProtocol {
    pub fn as_str(self) -> &'static str {
        match self {
            AssertedProtocol::Tcp => "TCP",
            AssertedProtocol::Udp => "UDP",
            AssertedProtocol::Sctp => "SCTP",
        }
    }
}

/// `protocol` with `port` .. `end_port` (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssertedPorts {
    pub protocol: AssertedProtocol,
    pub port: u16,
    pub end_port: u16,
}

/// One end of an assertion: a pod carrying exactly `pod_labels` in namespace `namespace`
/// (whose labels are `namespace_labels`, plus the `kubernetes.io/metadata.name` every
/// namespace has), or every address of a range outside the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssertionEnd {
    Pods {
        namespace: String,
        namespace_labels: BTreeMap<String, String>,
        pod_labels: BTreeMap<String, String>,
    },
    Addresses(IpNet),
}

impl std::fmt::Display for AssertionEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AssertionEnd::Pods {
                namespace,
                pod_labels,
                ..
            } => {
                let pairs: Vec<String> =
                    pod_labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                write!(f, "{namespace}/{}", pairs.join(","))
            }
            AssertionEnd::Addresses(net) => write!(f, "{net}"),
        }
    }
}

/// One assertion, as signed in bundle.yaml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReachabilityAssertion {
    pub name: String,
    pub expect: Expect,
    pub from: AssertionEnd,
    pub to: AssertionEnd,
    /// Empty: every port of every protocol (only for `deny`).
    pub ports: Vec<AssertedPorts>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawAssertion {
    name: String,
    expect: String,
    from: RawEnd,
    to: RawEnd,
    #[serde(default)]
    ports: Option<Vec<RawPort>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawEnd {
    namespace: Option<String>,
    #[serde(default)]
    namespace_labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pod_labels: Option<BTreeMap<String, String>>,
    cidr: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawPort {
    protocol: Option<String>,
    port: u32,
    end_port: Option<u32>,
}

fn invalid(field: &str, message: impl Into<String>) -> BundleError {
    BundleError::new(ReasonCode::ManifestInvalid, message)
        .in_file(MANIFEST_FILE)
        .at_field(field.to_string())
}

/// Check the shape of every assertion: unique DNS-1123 names, ends that are either pods
/// (a namespace and labels valid as Kubernetes requires) or one canonical CIDR, at most one
/// address end, numeric ports in 1–65535, and ports on every `allow`.
pub(super) fn check(raw: Vec<RawAssertion>) -> Result<Vec<ReachabilityAssertion>, BundleError> {
    if raw.len() > MAX_ASSERTIONS {
        return Err(BundleError::new(
            ReasonCode::LimitExceeded,
            format!(
                "bundle.yaml has {} reachability assertions, more than the limit of {MAX_ASSERTIONS}",
                raw.len()
            ),
        )
        .in_file(MANIFEST_FILE)
        .at_field("reachability"));
    }
    let mut names = BTreeSet::new();
    let mut out = Vec::with_capacity(raw.len());
    for (i, a) in raw.into_iter().enumerate() {
        let field = format!("reachability[{i}]");
        if !super::manifest::is_dns1123_label(&a.name) {
            return Err(invalid(
                &format!("{field}.name"),
                format!(
                    "assertion name `{}` is not a DNS-1123 label (lowercase letters, digits, `-`, at most 63)",
                    a.name
                ),
            ));
        }
        if !names.insert(a.name.clone()) {
            return Err(invalid(
                &format!("{field}.name"),
                format!("assertion `{}` is named twice", a.name),
            ));
        }
        let expect = match a.expect.as_str() {
            "allow" => Expect::Allow,
            "deny" => Expect::Deny,
            other => {
                return Err(invalid(
                    &format!("{field}.expect"),
                    format!("expect is `{other}`: `allow` or `deny`"),
                ))
            }
        };
        let from = end(a.from, &format!("{field}.from"))?;
        let to = end(a.to, &format!("{field}.to"))?;
        if matches!(
            (&from, &to),
            (AssertionEnd::Addresses(_), AssertionEnd::Addresses(_))
        ) {
            return Err(invalid(
                &field,
                "both ends are address ranges: no NetworkPolicy decides traffic between two addresses outside the cluster",
            ));
        }
        if let (
            AssertionEnd::Pods {
                namespace: a_ns,
                namespace_labels: a_labels,
                ..
            },
            AssertionEnd::Pods {
                namespace: b_ns,
                namespace_labels: b_labels,
                ..
            },
        ) = (&from, &to)
        {
            if a_ns == b_ns && a_labels != b_labels {
                return Err(invalid(
                    &format!("{field}.to.namespaceLabels"),
                    format!("the two ends give namespace `{a_ns}` different labels"),
                ));
            }
        }
        let ports = match a.ports {
            None => Vec::new(),
            Some(list) if list.is_empty() => {
                return Err(invalid(
                    &format!("{field}.ports"),
                    "ports is empty: leave it out to mean every port (deny only)",
                ))
            }
            Some(list) => list
                .into_iter()
                .enumerate()
                .map(|(j, p)| port(p, &format!("{field}.ports[{j}]")))
                .collect::<Result<_, _>>()?,
        };
        if expect == Expect::Allow && ports.is_empty() {
            return Err(invalid(
                &format!("{field}.ports"),
                "an `allow` assertion names the ports it requires (an allow of every port of every protocol is never what a policy grants)",
            ));
        }
        out.push(ReachabilityAssertion {
            name: a.name,
            expect,
            from,
            to,
            ports,
        });
    }
    Ok(out)
}

fn labels(
    labels: Option<BTreeMap<String, String>>,
    field: &str,
) -> Result<BTreeMap<String, String>, BundleError> {
    let labels = labels.unwrap_or_default();
    let errors = netpol_policy::meta::validate_labels(&labels, field);
    if !errors.is_empty() {
        return Err(invalid(field, netpol_policy::aggregate(&errors)));
    }
    Ok(labels)
}

fn end(raw: RawEnd, field: &str) -> Result<AssertionEnd, BundleError> {
    match (raw.cidr, raw.namespace) {
        (Some(_), Some(_)) => Err(invalid(
            field,
            "an end is either `cidr` or `namespace` with labels, not both",
        )),
        (None, None) => Err(invalid(
            field,
            "an end names a `namespace` (with `podLabels`) or a `cidr`",
        )),
        (Some(cidr), None) => {
            if raw.pod_labels.is_some() || raw.namespace_labels.is_some() {
                return Err(invalid(
                    field,
                    "an address range has no labels: `cidr` stands alone",
                ));
            }
            let net: IpNet = cidr.parse().map_err(|_| {
                invalid(
                    &format!("{field}.cidr"),
                    format!("`{cidr}` is not a CIDR range (such as 10.0.0.0/8 or 2001:db8::/32)"),
                )
            })?;
            if net.trunc() != net {
                return Err(invalid(
                    &format!("{field}.cidr"),
                    format!(
                        "`{cidr}` has host bits set: write the network, {}",
                        net.trunc()
                    ),
                ));
            }
            Ok(AssertionEnd::Addresses(net))
        }
        (None, Some(namespace)) => {
            if !super::manifest::is_dns1123_label(&namespace) {
                return Err(invalid(
                    &format!("{field}.namespace"),
                    format!("`{namespace}` is not a valid namespace name (DNS-1123 label)"),
                ));
            }
            Ok(AssertionEnd::Pods {
                namespace,
                namespace_labels: labels(
                    raw.namespace_labels,
                    &format!("{field}.namespaceLabels"),
                )?,
                pod_labels: labels(raw.pod_labels, &format!("{field}.podLabels"))?,
            })
        }
    }
}

fn port(raw: RawPort, field: &str) -> Result<AssertedPorts, BundleError> {
    let protocol = match raw.protocol.as_deref().unwrap_or("TCP") {
        "TCP" => AssertedProtocol::Tcp,
        "UDP" => AssertedProtocol::Udp,
        "SCTP" => AssertedProtocol::Sctp,
        other => {
            return Err(invalid(
                &format!("{field}.protocol"),
                format!("protocol `{other}`: TCP, UDP or SCTP"),
            ))
        }
    };
    let in_range = |p: u32| (1..=65535).contains(&p);
    if !in_range(raw.port) {
        return Err(invalid(
            &format!("{field}.port"),
            format!("port {} is outside 1-65535", raw.port),
        ));
    }
    let end_port = raw.end_port.unwrap_or(raw.port);
    if !in_range(end_port) || end_port < raw.port {
        return Err(invalid(
            &format!("{field}.endPort"),
            format!("endPort {end_port} is outside {}-65535", raw.port),
        ));
    }
    // Both fit: checked against 1..=65535 above.
    Ok(AssertedPorts {
        protocol,
        port: raw.port as u16,
        end_port: end_port as u16,
    })
}

#[cfg(test)]
mod tests {
    use super::super::limits::Limits;
    use super::super::manifest::parse;
    use super::*;

    fn with(section: &str) -> Result<Vec<ReachabilityAssertion>, BundleError> {
        let text = format!(
            "apiVersion: netpol-sync/v1\nkind: Bundle\nname: prod\nnamespaces: [payments]\nfiles: []\nreachability:\n{section}"
        );
        parse(text.as_bytes(), "prod", &Limits::default()).map(|m| m.reachability)
    }

    fn field_of(section: &str) -> (ReasonCode, String, String) {
        let e = with(section).unwrap_err();
        (e.reason, e.location.field.unwrap_or_default(), e.message)
    }

    const WEB: &str = "{namespace: frontend, podLabels: {app: web}}";
    const DB: &str = "{namespace: payments, podLabels: {app: db}}";

    #[test]
    fn a_deny_between_pods_and_an_allow_to_a_range_parse() {
        let got = with(&format!(
            "  - name: web-never-reaches-db\n    expect: deny\n    from: {WEB}\n    to: {DB}\n  - name: db-reaches-the-bank\n    expect: allow\n    from: {DB}\n    to: {{cidr: 192.0.2.0/24}}\n    ports: [{{port: 443}}, {{protocol: UDP, port: 5000, endPort: 5010}}]\n"
        ))
        .unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].expect, Expect::Deny);
        assert!(got[0].ports.is_empty());
        assert_eq!(got[0].from.to_string(), "frontend/app=web");
        assert_eq!(
            got[1].to,
            AssertionEnd::Addresses("192.0.2.0/24".parse().unwrap())
        );
        assert_eq!(
            got[1].ports,
            vec![
                AssertedPorts {
                    protocol: AssertedProtocol::Tcp,
                    port: 443,
                    end_port: 443
                },
                AssertedPorts {
                    protocol: AssertedProtocol::Udp,
                    port: 5000,
                    end_port: 5010
                },
            ]
        );
    }

    #[test]
    fn no_section_means_no_assertions() {
        let m = parse(
            b"apiVersion: netpol-sync/v1\nkind: Bundle\nname: prod\nnamespaces: [a]\nfiles: []\n",
            "prod",
            &Limits::default(),
        )
        .unwrap();
        assert!(m.reachability.is_empty());
    }

    #[test]
    fn shapes_that_would_change_an_assertions_meaning_are_refused() {
        let cases: &[(&str, &str, &str)] = &[
            (
                &format!("  - name: a\n    expect: allow\n    from: {WEB}\n    to: {DB}\n"),
                "reachability[0].ports",
                "names the ports",
            ),
            (
                &format!("  - name: a\n    expect: maybe\n    from: {WEB}\n    to: {DB}\n"),
                "reachability[0].expect",
                "`allow` or `deny`",
            ),
            (
                &format!("  - name: a\n    expect: deny\n    from: {WEB}\n    to: {DB}\n    ports: []\n"),
                "reachability[0].ports",
                "leave it out",
            ),
            (
                &format!("  - name: a\n    expect: deny\n    from: {WEB}\n    to: {DB}\n  - name: a\n    expect: deny\n    from: {WEB}\n    to: {DB}\n"),
                "reachability[1].name",
                "named twice",
            ),
            (
                &format!("  - name: Web_DB\n    expect: deny\n    from: {WEB}\n    to: {DB}\n"),
                "reachability[0].name",
                "DNS-1123",
            ),
            (
                "  - name: a\n    expect: deny\n    from: {cidr: 10.0.0.0/8}\n    to: {cidr: 0.0.0.0/0}\n",
                "reachability[0]",
                "both ends",
            ),
            (
                &format!("  - name: a\n    expect: deny\n    from: {WEB}\n    to: {{cidr: 10.0.0.1/8}}\n"),
                "reachability[0].to.cidr",
                "write the network, 10.0.0.0/8",
            ),
            (
                &format!("  - name: a\n    expect: deny\n    from: {WEB}\n    to: {{cidr: 10.0.0.0/33}}\n"),
                "reachability[0].to.cidr",
                "not a CIDR",
            ),
            (
                &format!("  - name: a\n    expect: deny\n    from: {WEB}\n    to: {{cidr: 10.0.0.0/8, podLabels: {{a: b}}}}\n"),
                "reachability[0].to",
                "stands alone",
            ),
            (
                &format!("  - name: a\n    expect: deny\n    from: {WEB}\n    to: {{namespace: payments, cidr: 10.0.0.0/8}}\n"),
                "reachability[0].to",
                "not both",
            ),
            (
                &format!("  - name: a\n    expect: deny\n    from: {WEB}\n    to: {{podLabels: {{a: b}}}}\n"),
                "reachability[0].to",
                "names a `namespace`",
            ),
            (
                &format!("  - name: a\n    expect: deny\n    from: {WEB}\n    to: {{namespace: Payments}}\n"),
                "reachability[0].to.namespace",
                "DNS-1123",
            ),
            (
                &format!("  - name: a\n    expect: deny\n    from: {WEB}\n    to: {{namespace: p, podLabels: {{\"bad key!\": x}}}}\n"),
                "reachability[0].to.podLabels",
                "bad key!",
            ),
            (
                "  - name: a\n    expect: deny\n    from: {namespace: p, namespaceLabels: {team: x}}\n    to: {namespace: p, namespaceLabels: {team: y}}\n",
                "reachability[0].to.namespaceLabels",
                "different labels",
            ),
            (
                &format!("  - name: a\n    expect: deny\n    from: {WEB}\n    to: {DB}\n    ports: [{{port: 0}}]\n"),
                "reachability[0].ports[0].port",
                "outside 1-65535",
            ),
            (
                &format!("  - name: a\n    expect: deny\n    from: {WEB}\n    to: {DB}\n    ports: [{{port: 80, endPort: 79}}]\n"),
                "reachability[0].ports[0].endPort",
                "outside 80-65535",
            ),
            (
                &format!("  - name: a\n    expect: deny\n    from: {WEB}\n    to: {DB}\n    ports: [{{protocol: ICMP, port: 1}}]\n"),
                "reachability[0].ports[0].protocol",
                "TCP, UDP or SCTP",
            ),
        ];
        for (section, field, message) in cases {
            let (reason, got_field, got_message) = field_of(section);
            assert_eq!(reason, ReasonCode::ManifestInvalid, "{section}");
            assert_eq!(&got_field, field, "{section}: {got_message}");
            assert!(got_message.contains(message), "{section}: {got_message}");
        }
    }

    #[test]
    fn unknown_fields_in_an_assertion_are_refused() {
        let e = with(&format!(
            "  - name: a\n    expect: deny\n    from: {WEB}\n    to: {DB}\n    severity: high\n"
        ))
        .unwrap_err();
        assert_eq!(e.reason, ReasonCode::ManifestInvalid);
        assert!(
            e.message.contains("unknown field `severity`"),
            "{}",
            e.message
        );
        let e = with("  - name: a\n    expect: deny\n    from: {namespace: a, labels: {x: y}}\n    to: {cidr: 10.0.0.0/8}\n").unwrap_err();
        assert!(
            e.message.contains("unknown field `labels`"),
            "{}",
            e.message
        );
    }

    #[test]
    fn more_assertions_than_the_limit_is_limit_exceeded() {
        let one = format!("  - {{name: a-NAME, expect: deny, from: {WEB}, to: {DB}}}\n");
        let section: String = (0..=MAX_ASSERTIONS)
            .map(|i| one.replace("NAME", &i.to_string()))
            .collect();
        let (reason, field, _) = field_of(&section);
        assert_eq!(
            (reason, field.as_str()),
            (ReasonCode::LimitExceeded, "reachability")
        );
    }
}
