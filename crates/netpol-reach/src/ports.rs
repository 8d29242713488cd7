//! Sets of (protocol, port): what a connection between two ends may use.

use crate::world::Protocol;
use std::collections::BTreeMap;
use std::fmt;

const PROTOCOLS: [Protocol; 3] = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp];

/// Per protocol, the ports in the set, as sorted, disjoint, non-adjacent inclusive
/// ranges within 1–65535.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct PortSet {
    ranges: BTreeMap<Protocol, Vec<(u16, u16)>>,
}

impl PortSet {
    /// No port at all.
    pub fn empty() -> PortSet {
        PortSet::default()
    }

    /// Every port of every protocol.
    pub fn all() -> PortSet {
        let mut s = PortSet::empty();
        for p in PROTOCOLS {
            s.add(p, 1, u16::MAX);
        }
        s
    }

    /// Every port of `protocol`.
    pub fn all_of(protocol: Protocol) -> PortSet {
        let mut s = PortSet::empty();
        s.add(protocol, 1, u16::MAX);
        s
    }

    /// `lo..=hi` of `protocol` (port 0 is no port).
    pub fn range(protocol: Protocol, lo: u16, hi: u16) -> PortSet {
        let mut s = PortSet::empty();
        s.add(protocol, lo, hi);
        s
    }

    fn add(&mut self, protocol: Protocol, lo: u16, hi: u16) {
        let lo = lo.max(1);
        if lo > hi {
            return;
        }
        let list = self.ranges.entry(protocol).or_default();
        list.push((lo, hi));
        list.sort_unstable();
        let mut merged: Vec<(u16, u16)> = Vec::with_capacity(list.len());
        for &(a, b) in list.iter() {
            match merged.last_mut() {
                Some(last) if u32::from(a) <= u32::from(last.1) + 1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        *list = merged;
    }

    pub fn union(&self, other: &PortSet) -> PortSet {
        let mut out = self.clone();
        for (&p, list) in &other.ranges {
            for &(a, b) in list {
                out.add(p, a, b);
            }
        }
        out
    }

    pub fn intersect(&self, other: &PortSet) -> PortSet {
        let mut out = PortSet::empty();
        for (&p, mine) in &self.ranges {
            let Some(theirs) = other.ranges.get(&p) else {
                continue;
            };
            for &(a, b) in mine {
                for &(c, d) in theirs {
                    let (lo, hi) = (a.max(c), b.min(d));
                    if lo <= hi {
                        out.add(p, lo, hi);
                    }
                }
            }
        }
        out
    }

    /// The ports of `self` that `other` does not have.
    pub fn difference(&self, other: &PortSet) -> PortSet {
        let mut out = PortSet::empty();
        for (&p, mine) in &self.ranges {
            let theirs = other.ranges(p);
            for &(a, b) in mine {
                // Walk `a..=b` past every range of `other` that overlaps it.
                let mut next = u32::from(a);
                for &(c, d) in theirs {
                    if u32::from(d) < next || u32::from(c) > u32::from(b) {
                        continue;
                    }
                    if u32::from(c) > next {
                        out.add(p, next as u16, c - 1);
                    }
                    next = u32::from(d) + 1;
                }
                if next <= u32::from(b) {
                    out.add(p, next as u16, b);
                }
            }
        }
        out
    }

    /// The lowest port of the set, TCP before UDP before SCTP.
    pub fn first(&self) -> Option<(Protocol, u16)> {
        PROTOCOLS
            .into_iter()
            .find_map(|p| self.ranges(p).first().map(|&(a, _)| (p, a)))
    }

    pub fn contains(&self, protocol: Protocol, port: u16) -> bool {
        self.ranges
            .get(&protocol)
            .is_some_and(|l| l.iter().any(|&(a, b)| a <= port && port <= b))
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.values().all(Vec::is_empty)
    }

    pub fn is_all(&self) -> bool {
        PROTOCOLS.iter().all(|p| self.ranges(*p) == [(1, u16::MAX)])
    }

    /// The ranges of `protocol`.
    pub fn ranges(&self, protocol: Protocol) -> &[(u16, u16)] {
        self.ranges.get(&protocol).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// `all`, `none`, or `TCP 80,8000-8080; UDP 53`.
impl fmt::Display for PortSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_all() {
            return f.write_str("all");
        }
        if self.is_empty() {
            return f.write_str("none");
        }
        let mut first = true;
        for p in PROTOCOLS {
            let list = self.ranges(p);
            if list.is_empty() {
                continue;
            }
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            f.write_str(p.as_str())?;
            if list == [(1, u16::MAX)] {
                f.write_str(" all")?;
                continue;
            }
            for (i, &(a, b)) in list.iter().enumerate() {
                f.write_str(if i == 0 { " " } else { "," })?;
                if a == b {
                    write!(f, "{a}")?;
                } else {
                    write!(f, "{a}-{b}")?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_merge_intersect_and_print() {
        let a = PortSet::range(Protocol::Tcp, 80, 80)
            .union(&PortSet::range(Protocol::Tcp, 81, 90))
            .union(&PortSet::range(Protocol::Udp, 53, 53));
        assert_eq!(a.to_string(), "TCP 80-90; UDP 53");
        let b = PortSet::range(Protocol::Tcp, 85, 100);
        assert_eq!(a.intersect(&b).to_string(), "TCP 85-90");
        assert_eq!(a.intersect(&PortSet::empty()).to_string(), "none");
        assert_eq!(PortSet::all().to_string(), "all");
        assert_eq!(PortSet::all_of(Protocol::Udp).to_string(), "UDP all");
        assert!(PortSet::range(Protocol::Tcp, 0, 0).is_empty());
        assert!(a.contains(Protocol::Tcp, 90) && !a.contains(Protocol::Tcp, 91));
        assert_eq!(PortSet::all().intersect(&a), a);
    }

    #[test]
    fn difference_leaves_exactly_the_ports_the_other_lacks() {
        let a = PortSet::range(Protocol::Tcp, 1, 100).union(&PortSet::range(Protocol::Udp, 53, 53));
        let b =
            PortSet::range(Protocol::Tcp, 10, 20).union(&PortSet::range(Protocol::Tcp, 90, 200));
        assert_eq!(a.difference(&b).to_string(), "TCP 1-9,21-89; UDP 53");
        assert_eq!(a.difference(&a).to_string(), "none");
        assert_eq!(a.difference(&PortSet::empty()), a);
        assert_eq!(
            PortSet::all()
                .difference(&PortSet::all_of(Protocol::Tcp))
                .to_string(),
            "UDP all; SCTP all"
        );
        assert_eq!(
            PortSet::range(Protocol::Tcp, 65535, 65535)
                .difference(&b)
                .first(),
            Some((Protocol::Tcp, 65535))
        );
        // Against the definition, port by port, on a few shapes.
        let shapes = [
            a.clone(),
            b.clone(),
            PortSet::range(Protocol::Tcp, 15, 95),
            PortSet::empty(),
        ];
        for x in &shapes {
            for y in &shapes {
                let d = x.difference(y);
                for port in 1..=300u16 {
                    assert_eq!(
                        d.contains(Protocol::Tcp, port),
                        x.contains(Protocol::Tcp, port) && !y.contains(Protocol::Tcp, port),
                        "{x} - {y} at {port}"
                    );
                }
            }
        }
    }

    #[test]
    fn first_is_the_lowest_port_of_the_first_protocol() {
        assert_eq!(PortSet::empty().first(), None);
        let s = PortSet::range(Protocol::Udp, 53, 53).union(&PortSet::range(Protocol::Sctp, 1, 9));
        assert_eq!(s.first(), Some((Protocol::Udp, 53)));
        assert_eq!(PortSet::all().first(), Some((Protocol::Tcp, 1)));
    }
}
