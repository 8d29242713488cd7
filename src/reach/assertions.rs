//! Evaluate the `reachability:` assertions of a revision's bundles against the revision's
//! policies (docs/bundles.md, "Reachability assertions"). An assertion's ends are pods
//! carrying exactly the labels it names, or every address of a range, so no workloads
//! model is needed: the answer holds for any pod with those labels.

use crate::bundle::assertions::{AssertedProtocol, AssertionEnd, Expect, ReachabilityAssertion};
use crate::bundle::VerifiedBundles;
use ipnet::IpNet;
use netpol_reach::{
    address_classes, AddressClass, Endpoint, Evaluator, Pod, PortSet, Protocol, Side, World,
};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// An assertion the revision breaks, with one connection that shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub bundle: String,
    /// Its index in the bundle's `reachability:` list.
    pub index: usize,
    pub name: String,
    /// The assertion, the witness connection and, on each side, what decided it.
    pub message: String,
}

/// Why the assertions could not be evaluated at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the revision's policies cannot be evaluated: {0}")]
pub struct AssertionError(String);

/// Every assertion of every bundle that `bundles`' policies break, in bundle and list
/// order. Nothing is compiled when no bundle has assertions.
pub fn violations(bundles: &VerifiedBundles) -> Result<Vec<Violation>, AssertionError> {
    if bundles
        .bundles()
        .iter()
        .all(|b| b.reachability().is_empty())
    {
        return Ok(Vec::new());
    }
    let policies = super::policies_of(bundles);
    violations_of(
        &policies,
        bundles
            .bundles()
            .iter()
            .map(|b| (b.name(), b.reachability())),
    )
}

/// [`violations`] of assertions and policies as given: `check` evaluates a working tree
/// that is not verified (docs/check.md).
pub fn violations_of<'a>(
    policies: &[netpol_policy::NetworkPolicy],
    assertions: impl IntoIterator<Item = (&'a str, &'a [ReachabilityAssertion])>,
) -> Result<Vec<Violation>, AssertionError> {
    let assertions: Vec<(&str, &[ReachabilityAssertion])> = assertions
        .into_iter()
        .filter(|(_, a)| !a.is_empty())
        .collect();
    if assertions.is_empty() {
        return Ok(Vec::new());
    }
    let evaluator = Evaluator::new(policies).map_err(|e| AssertionError(e.to_string()))?;
    let classes = address_classes(&[&evaluator]);
    let mut out = Vec::new();
    for (bundle, list) in assertions {
        for (index, assertion) in list.iter().enumerate() {
            if let Some(message) = evaluate(&evaluator, &classes, assertion)? {
                out.push(Violation {
                    bundle: bundle.to_string(),
                    index,
                    name: assertion.name.clone(),
                    message,
                });
            }
        }
    }
    Ok(out)
}

fn protocol(p: AssertedProtocol) -> Protocol {
    match p {
        AssertedProtocol::Tcp => Protocol::Tcp,
        AssertedProtocol::Udp => Protocol::Udp,
        AssertedProtocol::Sctp => Protocol::Sctp,
    }
}

/// The ports an assertion names; none named is every port (a deny of everything).
fn asserted_ports(a: &ReachabilityAssertion) -> PortSet {
    if a.ports.is_empty() {
        return PortSet::all();
    }
    a.ports.iter().fold(PortSet::empty(), |set, p| {
        set.union(&PortSet::range(protocol(p.protocol), p.port, p.end_port))
    })
}

/// One end as the evaluator sees it: a pod of the assertion's world, or each address the
/// policies tell apart within the range (one per class that meets it).
enum Ends {
    Pod(netpol_reach::PodId),
    Addresses(Vec<IpAddr>),
}

/// An address of `class` inside `net`, if they meet. The classes' ranges are CIDRs, so two
/// ranges meet only when one holds the other.
fn meeting(class: &AddressClass, net: &IpNet) -> Option<IpAddr> {
    class.cidrs.iter().find_map(|c| {
        if c.contains(&net.network()) && c.prefix_len() <= net.prefix_len() {
            Some(net.network())
        } else if net.contains(&c.network()) && net.prefix_len() <= c.prefix_len() {
            Some(c.network())
        } else {
            None
        }
    })
}

fn world_of(a: &ReachabilityAssertion) -> Result<World, AssertionError> {
    let mut namespaces: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut pods = Vec::new();
    for (name, end) in [("from", &a.from), ("to", &a.to)] {
        if let AssertionEnd::Pods {
            namespace,
            namespace_labels,
            pod_labels,
        } = end
        {
            namespaces
                .entry(namespace.clone())
                .or_insert_with(|| namespace_labels.clone());
            pods.push(Pod {
                namespace: namespace.clone(),
                name: name.to_string(),
                labels: pod_labels.clone(),
                ports: Vec::new(),
            });
        }
    }
    World::new(namespaces, pods).map_err(|e| AssertionError(e.to_string()))
}

fn ends(
    world: &World,
    end: &AssertionEnd,
    pod_name: &str,
    classes: &[AddressClass],
) -> Result<Ends, AssertionError> {
    match end {
        AssertionEnd::Pods { namespace, .. } => world
            .find(namespace, pod_name)
            .map(Ends::Pod)
            .ok_or_else(|| AssertionError(format!("internal: {end} is not in its world"))),
        AssertionEnd::Addresses(net) => Ok(Ends::Addresses(
            classes.iter().filter_map(|c| meeting(c, net)).collect(),
        )),
    }
}

fn side_text(side: &Side, end: &AssertionEnd, direction: &str) -> String {
    if !side.applies {
        return format!("{direction}: {end} is outside the cluster");
    }
    if !side.isolated {
        return format!("{direction}: no policy isolates {end}");
    }
    let isolating: Vec<String> = side.isolating.iter().map(ToString::to_string).collect();
    if side.allowing.is_empty() {
        return format!(
            "{direction}: {end} is isolated by {} and no rule allows it",
            isolating.join(", ")
        );
    }
    let rules: Vec<String> = side.allowing.iter().map(ToString::to_string).collect();
    format!("{direction}: allowed by {}", rules.join(", "))
}

/// `None` when the policies keep the assertion; otherwise the message naming a witness.
fn evaluate(
    evaluator: &Evaluator,
    classes: &[AddressClass],
    a: &ReachabilityAssertion,
) -> Result<Option<String>, AssertionError> {
    let world = world_of(a)?;
    let from = ends(&world, &a.from, "from", classes)?;
    let to = ends(&world, &a.to, "to", classes)?;
    let pairs: Vec<(Endpoint, Endpoint)> = match (&from, &to) {
        (Ends::Pod(f), Ends::Pod(t)) => vec![(Endpoint::Pod(*f), Endpoint::Pod(*t))],
        (Ends::Pod(f), Ends::Addresses(ts)) => ts
            .iter()
            .map(|t| (Endpoint::Pod(*f), Endpoint::Address(*t)))
            .collect(),
        (Ends::Addresses(fs), Ends::Pod(t)) => fs
            .iter()
            .map(|f| (Endpoint::Address(*f), Endpoint::Pod(*t)))
            .collect(),
        (Ends::Addresses(_), Ends::Addresses(_)) => {
            return Err(AssertionError(format!(
                "internal: assertion `{}` joins two address ranges, which bundle.yaml refuses",
                a.name
            )))
        }
    };
    let asserted = asserted_ports(a);
    for (f, t) in pairs {
        let allowed = evaluator.allowed_ports(&world, f, t);
        let (witness, verdict) = match a.expect {
            Expect::Allow => (asserted.difference(&allowed).first(), "denied"),
            Expect::Deny => (asserted.intersect(&allowed).first(), "allowed"),
        };
        let Some((proto, port)) = witness else {
            continue;
        };
        let d = evaluator.decide(&world, f, t, proto, port);
        let shown = |e: Endpoint, end: &AssertionEnd| match e {
            Endpoint::Address(ip) => ip.to_string(),
            Endpoint::Pod(_) => end.to_string(),
        };
        let expected = match a.expect {
            Expect::Allow => "must allow",
            Expect::Deny => "must deny",
        };
        return Ok(Some(format!(
            "reachability assertion `{}` ({expected} {} → {} on {}) is broken: {} → {} {} {port} is {verdict} ({}; {})",
            a.name,
            a.from,
            a.to,
            if a.ports.is_empty() { "every port".to_string() } else { asserted.to_string() },
            shown(f, &a.from),
            shown(t, &a.to),
            proto.as_str(),
            side_text(&d.egress, &a.from, "egress"),
            side_text(&d.ingress, &a.to, "ingress"),
        )));
    }
    Ok(None)
}
