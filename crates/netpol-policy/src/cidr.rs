//! netutils.ParseCIDRSloppy and net.IPNet.Contains as the apiserver uses them for
//! `ipBlock`: the legacy, "sloppy" parser (IPv4 octets may carry leading zeros, an address
//! with host bits set is accepted and masked), which is what kube-apiserver applies while
//! the StrictIPCIDRValidation feature gate is off (its default through 1.33).

/// A parsed CIDR: the masked network, kept in Go's representation (4 or 16 bytes) because
/// containment between families follows from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// Masked network address; IPv4 in the last four bytes when `v4` is set.
    addr: [u8; 16],
    /// Whether the address part parsed as IPv4 (Go: a 4-byte mask).
    v4: bool,
    /// Prefix length in bits of the mask's own length (32 or 128).
    prefix: u32,
}

/// Longest input looked at: a CIDR is far shorter; anything longer is rejected before
/// parsing so hostile input costs nothing.
const MAX_CIDR_LEN: usize = 128;

impl Cidr {
    /// ParseCIDRSloppy; `None` where it returns an error.
    pub fn parse(s: &str) -> Option<Cidr> {
        if s.len() > MAX_CIDR_LEN {
            return None;
        }
        let (addr, mask) = s.split_once('/')?;
        let (bytes, v4) = match parse_ipv4_sloppy(addr) {
            Some(b) => (b, true),
            None => (parse_ipv6_sloppy(addr)?, false),
        };
        let bits = if v4 { 32 } else { 128 };
        let prefix = parse_decimal(mask)?;
        if prefix > bits {
            return None;
        }
        let mut cidr = Cidr {
            addr: bytes,
            v4,
            prefix,
        };
        cidr.addr = cidr.masked(cidr.addr);
        Some(cidr)
    }

    /// Prefix length as net.IPMask.Size() reports it (bits of the mask's own length).
    pub fn prefix_len(&self) -> u32 {
        self.prefix
    }

    fn masked(&self, mut addr: [u8; 16]) -> [u8; 16] {
        let (start, total) = if self.v4 { (12usize, 32u32) } else { (0, 128) };
        let mut remaining = self.prefix.min(total);
        for b in addr.iter_mut().skip(start) {
            let keep = remaining.min(8);
            let mask: u8 = if keep == 0 { 0 } else { 0xffu8 << (8 - keep) };
            *b &= mask;
            remaining -= keep;
        }
        addr
    }

    /// Whether this network is an IPv4 one in Go's eyes (net.IP.To4 of its address).
    fn is_v4_like(&self) -> bool {
        self.v4 || is_v4_mapped(&self.addr)
    }

    /// net.IPNet.Contains(other's network address), including Go's treatment of
    /// IPv4-mapped IPv6 networks and addresses as IPv4.
    pub fn contains_network_of(&self, other: &Cidr) -> bool {
        let self_v4 = self.is_v4_like();
        let other_v4 = other.is_v4_like();
        if self_v4 != other_v4 {
            return false;
        }
        let (prefix, start) = if self_v4 {
            let p = if self.v4 {
                self.prefix
            } else {
                self.prefix.saturating_sub(96)
            };
            (p, 12usize)
        } else {
            (self.prefix, 0)
        };
        let mut remaining = prefix;
        for i in start..16 {
            let keep = remaining.min(8);
            let mask: u8 = if keep == 0 { 0 } else { 0xffu8 << (8 - keep) };
            if self.addr[i] & mask != other.addr[i] & mask {
                return false;
            }
            remaining -= keep;
        }
        true
    }
}

fn is_v4_mapped(a: &[u8; 16]) -> bool {
    a[..10].iter().all(|&b| b == 0) && a[10] == 0xff && a[11] == 0xff
}

/// Go's dtoi over the whole string: decimal digits only (leading zeros allowed), at least one.
fn parse_decimal(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0u32, |n, b| {
        n.saturating_mul(10).saturating_add(u32::from(b - b'0'))
    }))
}

/// Go's xtoi over hex digits (leading zeros allowed), saturating.
fn parse_hex(s: &str) -> u32 {
    s.bytes().fold(0u32, |n, b| {
        let d = (b as char).to_digit(16).unwrap_or(0);
        n.saturating_mul(16).saturating_add(d)
    })
}

/// IPv4 dotted quad; each octet decimal, leading zeros allowed (sloppy), at most 255.
fn parse_ipv4_sloppy(s: &str) -> Option<[u8; 16]> {
    let mut out = [0u8; 16];
    out[10] = 0xff;
    out[11] = 0xff;
    let mut parts = s.split('.');
    for slot in out.iter_mut().skip(12) {
        let part = parts.next()?;
        let n = parse_decimal(part)?;
        if n > 255 {
            return None;
        }
        *slot = n as u8;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(out)
}

/// IPv6 as Go's pre-1.17 parser reads it: hex groups of any length up to value 0xFFFF,
/// one `::`, an optional trailing dotted quad; no zone.
fn parse_ipv6_sloppy(s: &str) -> Option<[u8; 16]> {
    let mut ip = [0u8; 16];
    let mut ellipsis: Option<usize> = None;
    let mut rest = s;
    if let Some(r) = rest.strip_prefix("::") {
        ellipsis = Some(0);
        rest = r;
        if rest.is_empty() {
            return Some(ip);
        }
    }
    let mut i = 0usize;
    while i < 16 {
        let digits = rest.bytes().take_while(|b| b.is_ascii_hexdigit()).count();
        if digits == 0 {
            return None;
        }
        // An embedded IPv4 tail.
        if rest.as_bytes().get(digits) == Some(&b'.') {
            if ellipsis.is_none() && i != 12 {
                return None;
            }
            if i + 4 > 16 {
                return None;
            }
            let v4 = parse_ipv4_sloppy(rest)?;
            ip[i..i + 4].copy_from_slice(&v4[12..]);
            i += 4;
            rest = "";
            break;
        }
        let n = parse_hex(&rest[..digits]);
        if n > 0xffff {
            return None;
        }
        ip[i] = (n >> 8) as u8;
        ip[i + 1] = n as u8;
        i += 2;
        rest = &rest[digits..];
        if rest.is_empty() {
            break;
        }
        rest = rest.strip_prefix(':')?;
        if let Some(r) = rest.strip_prefix(':') {
            if ellipsis.is_some() {
                return None;
            }
            ellipsis = Some(i);
            rest = r;
            if rest.is_empty() {
                break;
            }
        }
        if rest.is_empty() {
            return None;
        }
    }
    if !rest.is_empty() {
        return None;
    }
    if i < 16 {
        let at = ellipsis?;
        let n = 16 - i;
        for j in (at..i).rev() {
            ip[j + n] = ip[j];
        }
        for b in ip.iter_mut().skip(at).take(n) {
            *b = 0;
        }
    } else if ellipsis.is_some() {
        return None;
    }
    Some(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Cidr {
        Cidr::parse(s).unwrap_or_else(|| panic!("{s} should parse"))
    }

    #[test]
    fn accepts_what_parse_cidr_sloppy_accepts() {
        for ok in [
            "10.0.0.0/8",
            "0.0.0.0/0",
            "192.168.1.5/24",
            "010.001.0.0/16",
            "10.0.0.0/08",
            "2001:db8::/32",
            "::/0",
            "::1/128",
            "fe80::1%/64".trim_end_matches("%/64"),
            "::ffff:10.0.0.0/104",
            "1:2:3:4:5:6:7:8/64",
            "1:2:3:4:5:6:1.2.3.4/96",
            "00000001::/64",
            "10.0.0.0/00000008",
        ]
        .iter()
        .filter(|s| s.contains('/'))
        {
            assert!(Cidr::parse(ok).is_some(), "{ok}");
        }
    }

    #[test]
    fn rejects_what_parse_cidr_sloppy_rejects() {
        for bad in [
            "",
            "10.0.0.0",
            "10.0.0.0/",
            "10.0.0.0/33",
            "10.0.0/8",
            "10.0.0.256/8",
            "10.0.0.0.0/8",
            "10.0.0.0/-1",
            "10.0.0.0/+8",
            "::/129",
            ":::/64",
            "1::2::3/64",
            "1:2:3:4:5:6:7:8:9/64",
            "1:2/64",
            "g::/64",
            "fe80::1%eth0/64",
            "10.0.0.0/8/8",
            "12345::/16",
            "1:2:3:4:5:6:7:1.2.3.4/96",
            " 10.0.0.0/8",
            "10.0.0.0/8 ",
        ] {
            assert!(Cidr::parse(bad).is_none(), "{bad}");
        }
        assert!(Cidr::parse(&"1".repeat(200)).is_none());
    }

    #[test]
    fn masks_host_bits() {
        assert_eq!(c("192.168.1.5/24"), c("192.168.1.0/24"));
        assert_eq!(c("2001:db8::1/32"), c("2001:db8::/32"));
        assert_eq!(c("010.0.0.1/8"), c("10.0.0.0/8"));
    }

    #[test]
    fn containment_follows_net_ipnet_contains() {
        assert!(c("10.0.0.0/8").contains_network_of(&c("10.1.0.0/16")));
        assert!(!c("10.0.0.0/8").contains_network_of(&c("11.0.0.0/16")));
        assert!(c("2001:db8::/32").contains_network_of(&c("2001:db8:1::/48")));
        assert!(!c("2001:db8::/32").contains_network_of(&c("10.0.0.0/16")));
        assert!(!c("10.0.0.0/8").contains_network_of(&c("2001:db8::/48")));
        // IPv4-mapped IPv6 is IPv4 to Go.
        assert!(c("10.0.0.0/8").contains_network_of(&c("::ffff:10.1.0.0/112")));
        assert!(c("::ffff:10.0.0.0/104").contains_network_of(&c("10.1.0.0/16")));
        assert!(c("0.0.0.0/0").contains_network_of(&c("1.2.3.4/32")));
        assert!(c("::/0").contains_network_of(&c("2001:db8::/32")));
        assert_eq!(c("::ffff:10.0.0.0/104").prefix_len(), 104);
    }
}
