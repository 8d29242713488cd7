//! Addresses outside the cluster, in the fewest classes the policies tell apart: every
//! address of a class gets the same verdict from every rule, so one address stands for it.

use crate::eval::Evaluator;
use ipnet::{IpNet, Ipv4Subnets, Ipv6Subnets};
use std::collections::BTreeMap;
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

fn classes(nets: &[(u128, u128)], max: u128, v4: bool) -> Vec<AddressClass> {
    let mut bounds: Vec<u128> = vec![0];
    for &(lo, hi) in nets {
        bounds.push(lo);
        if hi < max {
            bounds.push(hi + 1);
        }
    }
    bounds.sort_unstable();
    bounds.dedup();
    let mut by_signature: BTreeMap<Vec<bool>, Vec<(u128, u128)>> = BTreeMap::new();
    for (i, &start) in bounds.iter().enumerate() {
        let end = bounds.get(i + 1).map(|b| b - 1).unwrap_or(max);
        let signature: Vec<bool> = nets
            .iter()
            .map(|&(lo, hi)| lo <= start && start <= hi)
            .collect();
        let ranges = by_signature.entry(signature).or_default();
        match ranges.last_mut() {
            Some(last) if last.1.checked_add(1) == Some(start) => last.1 = end,
            _ => ranges.push((start, end)),
        }
    }
    let all: Vec<Vec<(u128, u128)>> = by_signature.into_values().collect();
    let mut out: Vec<AddressClass> = all
        .iter()
        .enumerate()
        .map(|(i, ranges)| {
            let representative = addr(ranges[0].0, v4);
            let cidrs: Vec<IpNet> = ranges
                .iter()
                .flat_map(|&(lo, hi)| cover(lo, hi, v4))
                .collect();
            let mut others: Vec<(u128, u128)> = all
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .flat_map(|(_, r)| r.iter().copied())
                .collect();
            others.sort_unstable();
            let mut merged: Vec<(u128, u128)> = Vec::new();
            for (lo, hi) in others {
                match merged.last_mut() {
                    Some(last) if last.1.checked_add(1) == Some(lo) => last.1 = hi,
                    _ => merged.push((lo, hi)),
                }
            }
            let except: Vec<IpNet> = merged
                .iter()
                .flat_map(|&(lo, hi)| cover(lo, hi, v4))
                .collect();
            let join = |l: &[IpNet]| {
                l.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
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
        })
        .collect();
    out.sort_by_key(|c| c.representative);
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
