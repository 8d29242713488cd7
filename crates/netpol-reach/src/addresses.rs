//! Addresses outside the cluster, in the fewest classes the policies tell apart: every
//! address of a class gets the same verdict from every rule, so one address stands for it.

use crate::eval::Evaluator;
#[cfg(test)]
use ipnet::Ipv4Net;
use ipnet::{IpNet, Ipv4Subnets, Ipv6Subnets};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A set of addresses no `ipBlock` (nor `except`) of the policies splits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressClass {
    /// The class as the fewest CIDR ranges that cover it exactly.
    pub cidrs: Vec<IpNet>,
    /// An address of the class, to evaluate it by.
    pub representative: IpAddr,
    /// The class's ranges, or, when that is shorter, its family's whole range and the
    /// ranges it leaves out (`0.0.0.0/0 except 10.0.0.0/8`).
    label: String,
}

impl AddressClass {
    pub fn label(&self) -> String {
        self.label.clone()
    }
}

/// The classes of the addresses the evaluators' `ipBlock`s distinguish, IPv4 then IPv6.
/// Several evaluators (two revisions) share one partition, so their verdicts compare.
pub fn address_classes(evaluators: &[&Evaluator]) -> Vec<AddressClass> {
    let nets: Vec<IpNet> = evaluators.iter().flat_map(|e| e.blocks()).collect();
    let v4: Vec<(u128, u128)> = nets
        .iter()
        .filter_map(|n| match n {
            IpNet::V4(n) => Some((
                u128::from(u32::from(n.network())),
                u128::from(u32::from(n.broadcast())),
            )),
            IpNet::V6(_) => None,
        })
        .collect();
    let v6: Vec<(u128, u128)> = nets
        .iter()
        .filter_map(|n| match n {
            IpNet::V6(n) => Some((u128::from(n.network()), u128::from(n.broadcast()))),
            IpNet::V4(_) => None,
        })
        .collect();
    let mut out = classes(&v4, u128::from(u32::MAX), true);
    out.extend(classes(&v6, u128::MAX, false));
    out
}

/// The classes of one family. CIDR ranges are nested or disjoint, so the ranges holding
/// an address are the chain around the innermost one: the innermost range holding an
/// address (or none) names its class. One sweep over the range bounds finds it with a
/// stack of the open ranges, outermost first.
fn classes(nets: &[(u128, u128)], max: u128, v4: bool) -> Vec<AddressClass> {
    let mut nets = nets.to_vec();
    // By start, then widest first: a range is opened before those it holds.
    nets.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    nets.dedup();
    let mut bounds: Vec<u128> = vec![0];
    for &(lo, hi) in &nets {
        bounds.push(lo);
        if hi < max {
            bounds.push(hi + 1);
        }
    }
    bounds.sort_unstable();
    bounds.dedup();
    let mut by_innermost: HashMap<Option<usize>, Vec<(u128, u128)>> = HashMap::new();
    let mut open: Vec<usize> = Vec::new();
    let mut next = 0;
    for (i, &start) in bounds.iter().enumerate() {
        let end = bounds.get(i + 1).map(|b| b - 1).unwrap_or(max);
        while open.last().is_some_and(|&n| nets[n].1 < start) {
            open.pop();
        }
        while next < nets.len() && nets[next].0 == start {
            open.push(next);
            next += 1;
        }
        let ranges = by_innermost.entry(open.last().copied()).or_default();
        match ranges.last_mut() {
            Some(last) if last.1.checked_add(1) == Some(start) => last.1 = end,
            _ => ranges.push((start, end)),
        }
    }
    let mut out: Vec<AddressClass> = by_innermost
        .into_values()
        .map(|ranges| class(&ranges, max, v4))
        .collect();
    out.sort_by_key(|c| c.representative);
    out
}

/// A class from its ranges (sorted, apart). The classes cover the family, so what the
/// class leaves out is the gaps between its ranges.
fn class(ranges: &[(u128, u128)], max: u128, v4: bool) -> AddressClass {
    let representative = addr(ranges[0].0, v4);
    let cidrs: Vec<IpNet> = ranges
        .iter()
        .flat_map(|&(lo, hi)| cover(lo, hi, v4))
        .collect();
    let mut gaps: Vec<(u128, u128)> = Vec::new();
    let mut from = 0u128;
    for &(lo, hi) in ranges {
        if lo > from {
            gaps.push((from, lo - 1));
        }
        from = hi.saturating_add(1);
    }
    if ranges.last().is_some_and(|last| last.1 < max) {
        gaps.push((from, max));
    }
    let join = |l: &[IpNet]| {
        l.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    // Each gap is at least one range: only when there are fewer gaps than ranges can
    // "the whole family except the gaps" be the shorter label.
    let except: Vec<IpNet> = if !gaps.is_empty() && gaps.len() < cidrs.len() {
        gaps.iter()
            .flat_map(|&(lo, hi)| cover(lo, hi, v4))
            .collect()
    } else {
        Vec::new()
    };
    let label = if !except.is_empty() && except.len() < cidrs.len() {
        let whole = if v4 { "0.0.0.0/0" } else { "::/0" };
        format!("{whole} except {}", join(&except))
    } else {
        join(&cidrs)
    };
    AddressClass {
        cidrs,
        representative,
        label,
    }
}

/// The addresses of several classes as one class per family (IPv4 first): the same
/// addresses whichever partition the classes came from, so that what is said of them reads
/// the same however finely other rules split them.
pub fn union(classes: &[&AddressClass]) -> Vec<AddressClass> {
    let mut out = Vec::new();
    for v4 in [true, false] {
        let mut ranges: Vec<(u128, u128)> = classes
            .iter()
            .flat_map(|c| c.cidrs.iter())
            .filter_map(|n| match (n, v4) {
                (IpNet::V4(n), true) => Some((
                    u128::from(u32::from(n.network())),
                    u128::from(u32::from(n.broadcast())),
                )),
                (IpNet::V6(n), false) => Some((u128::from(n.network()), u128::from(n.broadcast()))),
                _ => None,
            })
            .collect();
        if ranges.is_empty() {
            continue;
        }
        ranges.sort_unstable();
        let mut merged: Vec<(u128, u128)> = Vec::new();
        for (lo, hi) in ranges {
            match merged.last_mut() {
                Some(last) if last.1.checked_add(1).is_none_or(|next| next >= lo) => {
                    last.1 = last.1.max(hi)
                }
                _ => merged.push((lo, hi)),
            }
        }
        let max = if v4 { u128::from(u32::MAX) } else { u128::MAX };
        out.push(class(&merged, max, v4));
    }
    out
}

fn addr(n: u128, v4: bool) -> IpAddr {
    if v4 {
        IpAddr::V4(Ipv4Addr::from(n as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(n))
    }
}

fn cover(lo: u128, hi: u128, v4: bool) -> Vec<IpNet> {
    if v4 {
        Ipv4Subnets::new(Ipv4Addr::from(lo as u32), Ipv4Addr::from(hi as u32), 0)
            .map(IpNet::V4)
            .collect()
    } else {
        Ipv6Subnets::new(Ipv6Addr::from(lo), Ipv6Addr::from(hi), 0)
            .map(IpNet::V6)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evaluator(blocks: &[(&str, &[&str])]) -> Evaluator {
        let peers: Vec<serde_json::Value> = blocks
            .iter()
            .map(|(c, e)| serde_json::json!({"ipBlock": {"cidr": c, "except": e}}))
            .collect();
        let np = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "a"},
            "spec": {"podSelector": {}, "ingress": [{"from": peers}]}
        }))
        .unwrap();
        Evaluator::new([&np]).unwrap()
    }

    #[test]
    fn a_block_with_an_except_makes_three_classes_and_no_block_one_per_family() {
        let e = evaluator(&[("10.0.0.0/8", &["10.1.0.0/16"])]);
        let labels: Vec<String> = address_classes(&[&e]).iter().map(|c| c.label()).collect();
        assert_eq!(labels.len(), 4, "{labels:?}");
        assert!(labels.contains(&"10.0.0.0/16,10.2.0.0/15,10.4.0.0/14,10.8.0.0/13,10.16.0.0/12,10.32.0.0/11,10.64.0.0/10,10.128.0.0/9".to_string()), "{labels:?}");
        assert!(labels.contains(&"10.1.0.0/16".to_string()), "{labels:?}");
        assert!(labels.contains(&"::/0".to_string()), "{labels:?}");
        // Outside 10/8: everything else of IPv4, shown as what it leaves out.
        assert!(
            labels.contains(&"0.0.0.0/0 except 10.0.0.0/8".to_string()),
            "{labels:?}"
        );
        let none = Evaluator::new([]).unwrap();
        let labels: Vec<String> = address_classes(&[&none])
            .iter()
            .map(|c| c.label())
            .collect();
        assert_eq!(labels, ["0.0.0.0/0", "::/0"]);
    }

    /// The definition, address by address: two addresses are in one class exactly when
    /// every block holds both or neither. Checked on a small corner of IPv4 (10.0.0.0/28
    /// and around it), where every address can be looked at.
    mod partition {
        use super::*;
        use proptest::prelude::*;

        fn block() -> impl Strategy<Value = Ipv4Net> {
            (0u32..48, 26u8..=32).prop_map(|(offset, len)| {
                Ipv4Net::new(Ipv4Addr::from(0x0a00_0000 + offset), len)
                    .unwrap()
                    .trunc()
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(300))]
            #[test]
            fn classes_are_exactly_the_addresses_no_block_tells_apart(
                blocks in proptest::collection::vec((block(), proptest::option::of(block())), 0..6)
            ) {
                let peers: Vec<(String, Vec<String>)> = blocks
                    .iter()
                    .map(|(cidr, except)| {
                        let except = except
                            .filter(|e| cidr.contains(e) && e != cidr)
                            .map(|e| e.to_string());
                        (cidr.to_string(), except.into_iter().collect())
                    })
                    .collect();
                let refs: Vec<(&str, Vec<&str>)> = peers
                    .iter()
                    .map(|(c, e)| (c.as_str(), e.iter().map(String::as_str).collect()))
                    .collect();
                let specs: Vec<(&str, &[&str])> =
                    refs.iter().map(|(c, e)| (*c, e.as_slice())).collect();
                let e = evaluator(&specs);
                let nets: Vec<IpNet> = e.blocks().collect();
                let classes = address_classes(&[&e]);
                let class_of = |a: Ipv4Addr| -> usize {
                    let ip = IpAddr::V4(a);
                    let found: Vec<usize> = classes
                        .iter()
                        .enumerate()
                        .filter(|(_, c)| c.cidrs.iter().any(|n| n.contains(&ip)))
                        .map(|(i, _)| i)
                        .collect();
                    assert_eq!(found.len(), 1, "{a} is in {found:?} of {classes:?}");
                    found[0]
                };
                let inside = |a: Ipv4Addr| -> Vec<bool> {
                    nets.iter().map(|n| n.contains(&IpAddr::V4(a))).collect()
                };
                let addresses: Vec<Ipv4Addr> =
                    (0x09ff_fff0u32..0x0a00_0050).map(Ipv4Addr::from).collect();
                for a in &addresses {
                    for b in &addresses {
                        prop_assert_eq!(
                            class_of(*a) == class_of(*b),
                            inside(*a) == inside(*b),
                            "{} and {} with blocks {:?}", a, b, nets
                        );
                    }
                }
                for c in &classes {
                    let label = c.label();
                    if let Some(rest) = label.strip_prefix("0.0.0.0/0 except ") {
                        let left_out: Vec<IpNet> =
                            rest.split(',').map(|n| n.parse().unwrap()).collect();
                        for a in &addresses {
                            let ip = IpAddr::V4(*a);
                            prop_assert_eq!(
                                c.cidrs.iter().any(|n| n.contains(&ip)),
                                !left_out.iter().any(|n| n.contains(&ip)),
                                "{} and the label {}", a, label
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn two_revisions_share_one_partition() {
        let old = evaluator(&[("192.168.0.0/24", &[])]);
        let new = evaluator(&[("192.168.0.0/25", &[])]);
        let labels: Vec<String> = address_classes(&[&old, &new])
            .iter()
            .map(|c| c.label())
            .collect();
        assert!(labels.contains(&"192.168.0.0/25".to_string()), "{labels:?}");
        assert!(
            labels.contains(&"192.168.0.128/25".to_string()),
            "{labels:?}"
        );
    }
}
