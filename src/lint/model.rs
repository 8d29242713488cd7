//! What the rules share: the parts of a defaulted policy they read, selectors, peers and
//! ports in a comparable form, and where a policy's field or a namespace is in the files.

use super::locate::{self, PathSegment};
use super::{LintInput, LintPolicy, Location};
use crate::bundle::{BUNDLES_DIR, MANIFEST_FILE};
use k8s_openapi::api::networking::v1::{NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicySpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::{BTreeMap, BTreeSet};

/// A direction of traffic, as policies spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Dir {
    Ingress,
    Egress,
}

impl Dir {
    pub(crate) const BOTH: [Dir; 2] = [Dir::Ingress, Dir::Egress];

    /// The spec field holding the rules.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Dir::Ingress => "ingress",
            Dir::Egress => "egress",
        }
    }
    /// The rule field holding the peers.
    pub(crate) fn peers_key(self) -> &'static str {
        match self {
            Dir::Ingress => "from",
            Dir::Egress => "to",
        }
    }
    /// The `policyTypes` entry.
    pub(crate) fn type_name(self) -> &'static str {
        match self {
            Dir::Ingress => "Ingress",
            Dir::Egress => "Egress",
        }
    }
}

/// One rule of a policy, either direction.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RuleView<'a> {
    pub(crate) dir: Dir,
    pub(crate) index: usize,
    /// `None` or empty: every peer.
    pub(crate) peers: Option<&'a [NetworkPolicyPeer]>,
    /// `None` or empty: every port.
    pub(crate) ports: Option<&'a [NetworkPolicyPort]>,
}

impl RuleView<'_> {
    pub(crate) fn every_peer(&self) -> bool {
        self.peers.is_none_or(<[_]>::is_empty)
    }
    pub(crate) fn every_port(&self) -> bool {
        self.ports.is_none_or(<[_]>::is_empty)
    }
    pub(crate) fn path(&self) -> [PathSegment<'static>; 3] {
        [
            PathSegment::Key("spec"),
            PathSegment::Key(self.dir.key()),
            PathSegment::Index(self.index),
        ]
    }
}

pub(crate) fn spec<'a>(p: &LintPolicy<'a>) -> Option<&'a NetworkPolicySpec> {
    p.policy.spec.as_ref()
}

pub(crate) fn namespace<'a>(p: &LintPolicy<'a>) -> &'a str {
    p.policy.metadata.namespace.as_deref().unwrap_or("")
}

pub(crate) fn name<'a>(p: &LintPolicy<'a>) -> &'a str {
    p.policy.metadata.name.as_deref().unwrap_or("")
}

/// `namespace/name`.
pub(crate) fn shown(p: &LintPolicy<'_>) -> String {
    format!("{}/{}", namespace(p), name(p))
}

/// Whether the (defaulted) `policyTypes` name `dir`: the policy isolates the pods it
/// selects for that direction.
pub(crate) fn isolates(p: &LintPolicy<'_>, dir: Dir) -> bool {
    spec(p)
        .and_then(|s| s.policy_types.as_ref())
        .is_some_and(|t| t.iter().any(|t| t == dir.type_name()))
}

/// The policy's podSelector (empty when absent, as defaulted).
pub(crate) fn pod_selector(p: &LintPolicy<'_>) -> Sel {
    Sel::of(spec(p).and_then(|s| s.pod_selector.as_ref()))
}

/// The rules of `dir`, whatever `policyTypes` says.
pub(crate) fn rules<'a>(p: &LintPolicy<'a>, dir: Dir) -> Vec<RuleView<'a>> {
    let Some(spec) = spec(p) else {
        return Vec::new();
    };
    match dir {
        Dir::Ingress => spec
            .ingress
            .iter()
            .flatten()
            .enumerate()
            .map(|(index, r)| RuleView {
                dir,
                index,
                peers: r.from.as_deref(),
                ports: r.ports.as_deref(),
            })
            .collect(),
        Dir::Egress => spec
            .egress
            .iter()
            .flatten()
            .enumerate()
            .map(|(index, r)| RuleView {
                dir,
                index,
                peers: r.to.as_deref(),
                ports: r.ports.as_deref(),
            })
            .collect(),
    }
}

/// A label selector as a set of requirements: `matchLabels` entries and
/// `matchExpressions` with their values as sets. Two selectors with the same sets select
/// the same objects; a selector whose requirements include all of another's selects a
/// subset of what the other selects.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Sel {
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) expressions: BTreeSet<(String, String, BTreeSet<String>)>,
}

impl Sel {
    /// An absent selector is empty here; callers that tell absent from empty do so
    /// themselves.
    pub(crate) fn of(s: Option<&LabelSelector>) -> Sel {
        let Some(s) = s else {
            return Sel::default();
        };
        Sel {
            labels: s.match_labels.clone().unwrap_or_default(),
            expressions: s
                .match_expressions
                .iter()
                .flatten()
                .map(|e| {
                    (
                        e.key.clone(),
                        e.operator.clone(),
                        e.values.iter().flatten().cloned().collect(),
                    )
                })
                .collect(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.expressions.is_empty()
    }

    /// Every object `other` selects, this selects too: this selector's requirements are
    /// among `other`'s.
    pub(crate) fn contains(&self, other: &Sel) -> bool {
        self.labels
            .iter()
            .all(|(k, v)| other.labels.get(k) == Some(v))
            && self.expressions.is_subset(&other.expressions)
    }
}

/// A peer in a comparable form. In a peer, `namespaceSelector` with an empty
/// `podSelector` means the same as without one (docs/reachability.md, "Empty and
/// absent"), so the empty one is dropped.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum PeerKey {
    Pods {
        namespaces: Option<Sel>,
        pods: Option<Sel>,
    },
    Block {
        cidr: String,
        except: BTreeSet<String>,
    },
}

impl PeerKey {
    pub(crate) fn of(peer: &NetworkPolicyPeer) -> PeerKey {
        if let Some(b) = &peer.ip_block {
            return PeerKey::Block {
                cidr: canonical_cidr(&b.cidr),
                except: b
                    .except
                    .iter()
                    .flatten()
                    .map(|c| canonical_cidr(c))
                    .collect(),
            };
        }
        let namespaces = peer.namespace_selector.as_ref().map(|s| Sel::of(Some(s)));
        let mut pods = peer.pod_selector.as_ref().map(|s| Sel::of(Some(s)));
        if namespaces.is_some() && pods.as_ref().is_some_and(Sel::is_empty) {
            pods = None;
        }
        PeerKey::Pods { namespaces, pods }
    }
}

/// A CIDR as its network (`10.0.0.1/8` is `10.0.0.0/8`), or as written when it does not
/// parse here (the apiserver's legacy parser takes forms ipnet refuses).
pub(crate) fn canonical_cidr(cidr: &str) -> String {
    match cidr.trim().parse::<ipnet::IpNet>() {
        Ok(net) => net.trunc().to_string(),
        Err(_) => cidr.trim().to_string(),
    }
}

/// The prefix length of a CIDR, when it parses.
pub(crate) fn prefix_len(cidr: &str) -> Option<u8> {
    cidr.trim()
        .parse::<ipnet::IpNet>()
        .ok()
        .map(|n| n.prefix_len())
        .or_else(|| {
            // The legacy parser's leading zeros (`000.0.0.0/00`) are refused by ipnet;
            // the length after the slash still decides "every address".
            cidr.trim()
                .rsplit_once('/')
                .and_then(|(_, len)| len.parse::<u8>().ok())
        })
}

/// The port part of a rule's port entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum PortVal {
    /// No `port`: every port of the protocol.
    All,
    Range(u16, u16),
    Named(String),
}

/// A port entry: protocol (defaulted to TCP already) and port.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct PortKey {
    pub(crate) protocol: String,
    pub(crate) port: PortVal,
}

impl PortKey {
    pub(crate) fn of(p: &NetworkPolicyPort) -> PortKey {
        let protocol = p.protocol.clone().unwrap_or_else(|| "TCP".to_string());
        let port = match &p.port {
            None => PortVal::All,
            Some(IntOrString::String(name)) => PortVal::Named(name.clone()),
            Some(IntOrString::Int(n)) => {
                let lo = u16::try_from(*n).unwrap_or(0);
                let hi = p
                    .end_port
                    .and_then(|e| u16::try_from(e).ok())
                    .filter(|e| *e >= lo)
                    .unwrap_or(lo);
                PortVal::Range(lo, hi)
            }
        };
        PortKey { protocol, port }
    }

    /// Every connection this entry matches, `other` matches too.
    pub(crate) fn within(&self, other: &PortKey) -> bool {
        if self.protocol != other.protocol {
            return false;
        }
        match (&self.port, &other.port) {
            (_, PortVal::All) => true,
            (PortVal::Range(a, b), PortVal::Range(c, d)) => c <= a && b <= d,
            (PortVal::Named(a), PortVal::Named(b)) => a == b,
            _ => false,
        }
    }

    /// Whether this entry may match `protocol`/`port`: a named port may resolve to it on
    /// the destination pod, which is not known here.
    pub(crate) fn may_match(&self, protocol: &str, port: u16) -> bool {
        self.protocol == protocol
            && match &self.port {
                PortVal::All | PortVal::Named(_) => true,
                PortVal::Range(lo, hi) => *lo <= port && port <= *hi,
            }
    }
}

impl std::fmt::Display for PortKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.port {
            PortVal::All => write!(f, "{} every port", self.protocol),
            PortVal::Range(a, b) if a == b => write!(f, "{} {a}", self.protocol),
            PortVal::Range(a, b) => write!(f, "{} {a}-{b}", self.protocol),
            PortVal::Named(n) => write!(f, "{} named port {n}", self.protocol),
        }
    }
}

/// `on every port` or `on TCP 80, UDP 53`.
pub(crate) fn ports_text(rule: &RuleView<'_>) -> String {
    if rule.every_port() {
        return "on every port".to_string();
    }
    let ports: Vec<String> = rule
        .ports
        .into_iter()
        .flatten()
        .map(|p| PortKey::of(p).to_string())
        .collect();
    format!("on {}", ports.join(", "))
}

/// Where `path` is in the policy's document: the field itself, else the nearest
/// enclosing field the text has (a defaulted field is not in the text), else the
/// document's first line.
pub(crate) fn policy_location(p: &LintPolicy<'_>, path: &[PathSegment<'_>]) -> Location {
    for len in (1..=path.len()).rev() {
        if let Some((line, column)) = locate::locate(p.text, p.document, &path[..len]) {
            return Location {
                file: p.file.to_string(),
                line,
                column: Some(column),
            };
        }
    }
    let (line, column) = locate::document_start(p.text, p.document);
    Location {
        file: p.file.to_string(),
        line,
        column,
    }
}

/// Where the governing bundle's bundle.yaml lists `ns`, and that bundle.
pub(crate) fn namespace_location(input: &LintInput<'_>, ns: &str) -> (Option<String>, Location) {
    let bundle = input.governed_by.get(ns).cloned();
    let manifest = bundle
        .as_deref()
        .and_then(|b| input.manifest_texts.and_then(|m| m.get(b)));
    let location = match (manifest, bundle.as_deref()) {
        (Some((file, text)), _) => {
            manifest_item_location(file, text, "namespaces", ns).unwrap_or(Location {
                file: file.clone(),
                line: 1,
                column: None,
            })
        }
        (None, Some(b)) => manifest_fallback(b),
        (None, None) => Location {
            file: BUNDLES_DIR.to_string(),
            line: 1,
            column: None,
        },
    };
    (bundle, location)
}

/// `bundles/<bundle>/bundle.yaml` line 1, when check gave no manifest text.
pub(crate) fn manifest_fallback(bundle: &str) -> Location {
    Location {
        file: format!("{BUNDLES_DIR}/{bundle}/{MANIFEST_FILE}"),
        line: 1,
        column: None,
    }
}

/// A bundle.yaml list's items and their positions, by (text address, text length, key):
/// filled during one [`super::lint`] run, which holds the manifest texts borrowed and
/// unchanged throughout, so an address names one text; emptied when the run starts and
/// ends.
type ItemCache =
    std::collections::HashMap<(usize, usize, String), Option<Vec<(String, usize, usize)>>>;

thread_local! {
    static MANIFEST_ITEMS: std::cell::RefCell<ItemCache> = Default::default();
}

/// Forget the positions kept by [`manifest_item_location`] (at the start and end of a run).
pub(crate) fn forget_manifest_items() {
    MANIFEST_ITEMS.with(|c| c.borrow_mut().clear());
}

/// The line of the entry `value` of the list at `key` (a dotted path of keys) in a
/// bundle.yaml, else of the key, else `None`. The list's items are read in one pass per
/// run, since a run asks this once per governed namespace.
pub(crate) fn manifest_item_location(
    file: &str,
    text: &str,
    key: &str,
    value: &str,
) -> Option<Location> {
    let keys: Vec<PathSegment<'_>> = key.split('.').map(PathSegment::Key).collect();
    let found = MANIFEST_ITEMS.with(|cache| {
        let mut cache = cache.borrow_mut();
        let items = cache
            .entry((text.as_ptr() as usize, text.len(), key.to_string()))
            .or_insert_with(|| locate::sequence_items(text, 0, &keys));
        items
            .as_ref()
            .and_then(|items| items.iter().find(|(v, _, _)| v == value))
            .map(|(_, line, column)| (*line, *column))
    });
    let (line, column) = found.or_else(|| locate::locate(text, 0, &keys))?;
    Some(Location {
        file: file.to_string(),
        line,
        column: Some(column),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn sel(labels: &[(&str, &str)], exprs: &[(&str, &str, &[&str])]) -> Sel {
        Sel::of(Some(&LabelSelector {
            match_labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            match_expressions: Some(
                exprs
                    .iter()
                    .map(|(k, o, vs)| LabelSelectorRequirement {
                        key: k.to_string(),
                        operator: o.to_string(),
                        values: Some(vs.iter().map(|v| v.to_string()).collect()),
                    })
                    .collect(),
            ),
        }))
    }

    #[test]
    fn selector_containment_is_by_requirements() {
        let all = sel(&[], &[]);
        let web = sel(&[("app", "web")], &[]);
        let web_prod = sel(&[("app", "web"), ("env", "prod")], &[]);
        assert!(all.contains(&web) && web.contains(&web_prod));
        assert!(!web_prod.contains(&web) && !web.contains(&all));
        // Value order in an expression does not matter.
        assert_eq!(
            sel(&[], &[("a", "In", &["x", "y"])]),
            sel(&[], &[("a", "In", &["y", "x"])])
        );
        assert!(all.is_empty() && !web.is_empty());
    }

    #[test]
    fn port_containment_respects_protocol_ranges_and_names() {
        let k = |protocol: &str, port: PortVal| PortKey {
            protocol: protocol.into(),
            port,
        };
        assert!(k("TCP", PortVal::Range(80, 80)).within(&k("TCP", PortVal::Range(1, 1024))));
        assert!(!k("UDP", PortVal::Range(80, 80)).within(&k("TCP", PortVal::All)));
        assert!(k("UDP", PortVal::Range(53, 53)).within(&k("UDP", PortVal::All)));
        assert!(!k("TCP", PortVal::All).within(&k("TCP", PortVal::Range(1, 65535))));
        assert!(
            !k("TCP", PortVal::Named("http".into())).within(&k("TCP", PortVal::Range(1, 65535)))
        );
        assert!(k("TCP", PortVal::Named("http".into()))
            .within(&k("TCP", PortVal::Named("http".into()))));
        assert!(k("UDP", PortVal::Range(50, 60)).may_match("UDP", 53));
        assert!(!k("TCP", PortVal::Range(53, 53)).may_match("UDP", 53));
    }

    #[test]
    fn cidrs_compare_as_networks() {
        assert_eq!(canonical_cidr("10.0.0.1/8"), "10.0.0.0/8");
        assert_eq!(prefix_len("0.0.0.0/0"), Some(0));
        assert_eq!(prefix_len("::/0"), Some(0));
        assert_eq!(prefix_len("000.000.0.0/0"), Some(0));
        assert_eq!(prefix_len("10.0.0.0/8"), Some(8));
    }

    #[test]
    fn namespaces_are_found_in_the_manifest_list() {
        let text = "apiVersion: netpol-sync/v1\nkind: Bundle\nname: shop\nnamespaces:\n  - frontend\n  - payments\nfiles: []\n";
        let at = manifest_item_location("bundles/shop/bundle.yaml", text, "namespaces", "payments")
            .unwrap();
        assert_eq!((at.line, at.column), (6, Some(5)));
        let flow = "namespaces: [a, b]\n";
        let at = manifest_item_location("m", flow, "namespaces", "b").unwrap();
        assert_eq!((at.line, at.column), (1, Some(17)));
        // A name the list lacks points at the list.
        let at = manifest_item_location("m", flow, "namespaces", "zz").unwrap();
        assert_eq!((at.line, at.column), (1, Some(1)));
    }
}
