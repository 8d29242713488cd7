//! `netpol-sync reach` against an independent analyser: np-guard's netpol-analyzer
//! (`netpolicy list`, the version pinned in tests/npguard/go.mod, built by
//! scripts/npguard-build.sh, which scripts/setup.sh runs). Both read the same
//! namespaces, workloads and NetworkPolicies, and their maps must agree: every pair of
//! workloads exactly, and every workload to and from every IPv4 address, compared on the
//! common refinement of the two analysers' address ranges.
//!
//! The inputs are the repository's example and several hundred random worlds from a
//! seeded generator (the same cases on every run). Where netpol-analyzer departs from
//! the Kubernetes documentation, only the construct concerned is rewritten for it, and
//! the rewrite is named below with the sentence that decides it (docs/reachability.md,
//! "Cross-checked with netpol-analyzer").

use crate::support::netpol_sync_bin;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Random worlds checked on every run: the last `LARGE` of them have up to eight
/// workloads a namespace and twenty policies, so that many rules meet on one pod.
const CASES: u64 = 400;
const LARGE: u64 = 40;
const SEED: u64 = 0x6e70_6775_6172_6401;

/// Where scripts/npguard-build.sh keeps (or would keep) the binary. A missing binary is a
/// failure, not a skip: without it this test would pass having checked nothing.
fn netpolicy() -> &'static Path {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/npguard-build.sh");
        let out = Command::new("bash")
            .arg(&script)
            .arg("--path")
            .output()
            .expect("run scripts/npguard-build.sh --path");
        assert!(
            out.status.success(),
            "scripts/npguard-build.sh --path failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bin = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
        assert!(
            bin.is_file(),
            "netpol-analyzer's netpolicy is not built at {}: run scripts/setup.sh (or scripts/npguard-build.sh)",
            bin.display()
        );
        bin
    })
}

// ---------------------------------------------------------------------------------------
// Port sets, in the test's own terms: per protocol, merged inclusive ranges.

type Ports = BTreeMap<String, Vec<(u32, u32)>>;

fn add(p: &mut Ports, proto: &str, lo: u32, hi: u32) {
    let (lo, hi) = (lo.max(1), hi.min(65535));
    if lo > hi {
        return;
    }
    let list = p.entry(proto.to_string()).or_default();
    list.push((lo, hi));
    list.sort_unstable();
    let mut merged: Vec<(u32, u32)> = Vec::new();
    for &(a, b) in list.iter() {
        match merged.last_mut() {
            Some(last) if a <= last.1 + 1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    *list = merged;
}

fn all_ports() -> Ports {
    let mut p = Ports::new();
    for proto in ["TCP", "UDP", "SCTP"] {
        add(&mut p, proto, 1, 65535);
    }
    p
}

fn range(s: &str) -> (u32, u32) {
    match s.split_once('-') {
        Some((a, b)) => (a.trim().parse().unwrap(), b.trim().parse().unwrap()),
        None => {
            let n = s.trim().parse().unwrap();
            (n, n)
        }
    }
}

/// Ours: `all`, or `TCP 80,443; UDP 53; SCTP all` (docs/reachability.md).
fn ours_ports(s: &str) -> Ports {
    if s == "all" {
        return all_ports();
    }
    let mut p = Ports::new();
    for part in s.split("; ") {
        let (proto, list) = part
            .split_once(' ')
            .unwrap_or_else(|| panic!("ports {s:?}"));
        if list == "all" {
            add(&mut p, proto, 1, 65535);
            continue;
        }
        for r in list.split(',') {
            let (a, b) = range(r);
            add(&mut p, proto, a, b);
        }
    }
    p
}

/// netpol-analyzer's: `All Connections`, or `SCTP 99,TCP 7,1000-2000,UDP 53`.
fn theirs_ports(s: &str) -> Ports {
    if s == "All Connections" {
        return all_ports();
    }
    let mut p = Ports::new();
    let mut proto = String::new();
    for tok in s.split(',') {
        let tok = tok.trim();
        let r = match tok.split_once(' ') {
            Some((pr, r)) => {
                proto = pr.to_string();
                r
            }
            None => tok,
        };
        assert!(
            ["TCP", "UDP", "SCTP"].contains(&proto.as_str()),
            "connection {s:?}"
        );
        let (a, b) = range(r);
        add(&mut p, &proto, a, b);
    }
    p
}

// ---------------------------------------------------------------------------------------
// Addresses: IPv4 as inclusive numeric intervals.

type Intervals = Vec<(u64, u64)>;

fn cidr(s: &str) -> (u64, u64) {
    let (a, len) = s.split_once('/').unwrap_or_else(|| panic!("cidr {s:?}"));
    let a = u64::from(u32::from(a.parse::<Ipv4Addr>().unwrap()));
    let len: u32 = len.parse().unwrap();
    let size = 1u64 << (32 - len);
    (a, a + size - 1)
}

fn minus(set: &Intervals, (lo, hi): (u64, u64)) -> Intervals {
    let mut out = Vec::new();
    for &(a, b) in set {
        if b < lo || a > hi {
            out.push((a, b));
            continue;
        }
        if a < lo {
            out.push((a, lo - 1));
        }
        if b > hi {
            out.push((hi + 1, b));
        }
    }
    out
}

/// Ours: `10.0.0.0/16,10.2.0.0/15` or `0.0.0.0/0 except 10.0.0.0/8,…`; None for IPv6.
fn ours_addresses(label: &str) -> Option<Intervals> {
    if label.contains(':') {
        return None;
    }
    if let Some((whole, except)) = label.split_once(" except ") {
        let mut set = vec![cidr(whole)];
        for c in except.split(',') {
            set = minus(&set, cidr(c));
        }
        return Some(set);
    }
    Some(label.split(',').map(cidr).collect())
}

/// netpol-analyzer's: `10.0.0.0-10.0.255.255`, several joined by `,`.
fn theirs_addresses(label: &str) -> Option<Intervals> {
    let first = label.split(',').next()?;
    let (a, _) = first.split_once('-')?;
    a.parse::<Ipv4Addr>().ok()?;
    Some(
        label
            .split(',')
            .map(|r| {
                let (a, b) = r.split_once('-').unwrap();
                (
                    u64::from(u32::from(a.trim().parse::<Ipv4Addr>().unwrap())),
                    u64::from(u32::from(b.trim().parse::<Ipv4Addr>().unwrap())),
                )
            })
            .collect(),
    )
}

// ---------------------------------------------------------------------------------------
// The two maps, normalised.

/// Address intervals with the ports allowed to or from them.
type Edges = Vec<((u64, u64), Ports)>;

#[derive(Default, Debug)]
struct Map {
    /// (from, to) workloads, `namespace/name`, with their ports; a workload to itself is
    /// left out (see `same_workload`).
    pairs: BTreeMap<(String, String), Ports>,
    /// (workload, workload is the source) → address intervals with their ports.
    addresses: BTreeMap<(String, bool), Edges>,
}

/// netpol-analyzer lists no connection from a workload to itself (its map is of distinct
/// workloads), where ours lists the traffic between a workload's own pods. That is a
/// difference of presentation, not of meaning: those pairs are compared on neither side.
fn same_workload(from: &str, to: &str) -> bool {
    from == to
}

fn ours_map(out: &str) -> Map {
    let v: Value = serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let workloads: BTreeSet<String> = v["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_string())
        .collect();
    let mut m = Map::default();
    for c in v["connections"].as_array().unwrap() {
        let (from, to) = (c["from"].as_str().unwrap(), c["to"].as_str().unwrap());
        let ports = ours_ports(c["ports"].as_str().unwrap());
        match (workloads.contains(from), workloads.contains(to)) {
            (true, true) => {
                if !same_workload(from, to) {
                    m.pairs.insert((from.into(), to.into()), ports);
                }
            }
            (true, false) => {
                if let Some(set) = ours_addresses(to) {
                    let e = m.addresses.entry((from.into(), true)).or_default();
                    e.extend(set.into_iter().map(|r| (r, ports.clone())));
                }
            }
            (false, true) => {
                if let Some(set) = ours_addresses(from) {
                    let e = m.addresses.entry((to.into(), false)).or_default();
                    e.extend(set.into_iter().map(|r| (r, ports.clone())));
                }
            }
            (false, false) => panic!("a connection between two addresses: {c}"),
        }
    }
    m
}

fn theirs_map(out: &str) -> Map {
    let v: Value = serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let workload = |s: &str| -> Option<String> {
        let (name, kind) = s.strip_suffix(']')?.rsplit_once('[')?;
        assert!(!kind.is_empty(), "{s}");
        Some(name.to_string())
    };
    let mut m = Map::default();
    for c in v.as_array().unwrap() {
        let (src, dst) = (c["src"].as_str().unwrap(), c["dst"].as_str().unwrap());
        let ports = theirs_ports(c["conn"].as_str().unwrap());
        match (workload(src), workload(dst)) {
            (Some(f), Some(t)) => {
                assert!(!m.pairs.contains_key(&(f.clone(), t.clone())), "{c}");
                m.pairs.insert((f, t), ports);
            }
            (Some(f), None) => {
                let set = theirs_addresses(dst).unwrap_or_else(|| panic!("{c}"));
                let e = m.addresses.entry((f, true)).or_default();
                e.extend(set.into_iter().map(|r| (r, ports.clone())));
            }
            (None, Some(t)) => {
                let set = theirs_addresses(src).unwrap_or_else(|| panic!("{c}"));
                let e = m.addresses.entry((t, false)).or_default();
                e.extend(set.into_iter().map(|r| (r, ports.clone())));
            }
            (None, None) => panic!("a connection between two addresses: {c}"),
        }
    }
    m
}

/// The ports of `at` in a list of (interval, ports); no interval means no ports.
fn ports_at(list: &[((u64, u64), Ports)], at: u64) -> Ports {
    let mut out = Ports::new();
    for &((a, b), ref p) in list {
        if a <= at && at <= b {
            for (proto, rs) in p {
                for &(x, y) in rs {
                    add(&mut out, proto, x, y);
                }
            }
        }
    }
    out
}

/// Every disagreement between the two maps, described; `ignore` is IPv4 ranges compared
/// on neither side.
fn differences(ours: &Map, theirs: &Map, ignore: &[(u64, u64)]) -> Vec<String> {
    let mut out = Vec::new();
    let keys: BTreeSet<&(String, String)> = ours.pairs.keys().chain(theirs.pairs.keys()).collect();
    for k in keys {
        let (a, b) = (ours.pairs.get(k), theirs.pairs.get(k));
        if a != b {
            out.push(format!(
                "{} -> {}: ours {a:?}, netpol-analyzer {b:?}",
                k.0, k.1
            ));
        }
    }
    let empty = Vec::new();
    let keys: BTreeSet<&(String, bool)> = ours
        .addresses
        .keys()
        .chain(theirs.addresses.keys())
        .collect();
    for k in keys {
        let a = ours.addresses.get(k).unwrap_or(&empty);
        let b = theirs.addresses.get(k).unwrap_or(&empty);
        // The common refinement: every start of an interval on either side, and the
        // address after every end.
        let mut bounds: BTreeSet<u64> = [0u64].into();
        for &((lo, hi), _) in a.iter().chain(b) {
            bounds.insert(lo);
            bounds.insert(hi + 1);
        }
        for &(lo, hi) in ignore {
            bounds.insert(lo);
            bounds.insert(hi + 1);
        }
        for &start in &bounds {
            if start > u64::from(u32::MAX) || ignore.iter().any(|&(l, h)| l <= start && start <= h)
            {
                continue;
            }
            let (pa, pb) = (ports_at(a, start), ports_at(b, start));
            if pa != pb {
                let ip = Ipv4Addr::from(start as u32);
                let (from, to) = if k.1 {
                    (k.0.clone(), ip.to_string())
                } else {
                    (ip.to_string(), k.0.clone())
                };
                out.push(format!(
                    "{from} -> {to} (and the addresses after it up to the next bound): ours {pa:?}, netpol-analyzer {pb:?}"
                ));
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Running both.

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().expect("spawn");
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8(out.stdout).unwrap())
}

fn ours_on(policies: &Path, workloads: &Path) -> Result<Map, String> {
    run(Command::new(netpol_sync_bin()).args([
        "reach".as_ref(),
        "--policies".as_ref(),
        policies.as_os_str(),
        "--workloads".as_ref(),
        workloads.as_os_str(),
        "--output".as_ref(),
        "json".as_ref(),
    ]))
    .map(|out| ours_map(&out))
}

fn theirs_on(dir: &Path) -> Result<Map, String> {
    run(Command::new(netpolicy()).args([
        "list".as_ref(),
        "--dirpath".as_ref(),
        dir.as_os_str(),
        "-o".as_ref(),
        "json".as_ref(),
        "-q".as_ref(),
    ]))
    .map(|out| theirs_map(&out))
}

/// One document a file: netpol-analyzer reads a file that starts with `{` as one JSON
/// document, so JSON documents are never joined with `---`.
fn write_docs(dir: &Path, prefix: &str, docs: &[Value]) {
    std::fs::create_dir_all(dir).unwrap();
    for (i, d) in docs.iter().enumerate() {
        let path = dir.join(format!("{prefix}-{i}.yaml"));
        std::fs::write(path, serde_json::to_string(d).unwrap()).unwrap();
    }
}

// ---------------------------------------------------------------------------------------
// Where netpol-analyzer departs from the documentation: the rewrites of its copy.

/// IPv4 addresses that stand, in netpol-analyzer's copy, for the IPv6 ranges of the
/// policies (198.18.0.0/15, which the generator never uses otherwise); compared on
/// neither side.
const IPV6_STANDIN: (u64, u64) = (0xc612_0000, 0xc613_ffff);

/// netpol-analyzer v1.2.0 reads an IPv6 `ipBlock` as IPv4 (2001:db8::/32 became the
/// address 32.1.13.184) and lists IPv4 addresses only, where an `ipBlock` may be of either
/// family: "cidr is a string representing the IPBlock Valid examples are "192.168.1.0/24"
/// or "2001:db8::/64"" (the API reference of IPBlock). Its copy gets each IPv6 range as a /24 of `IPV6_STANDIN`
/// instead: for IPv4 addresses outside it and for pods, a peer matching only those
/// addresses decides exactly what the IPv6 peer does (it matches none of them).
fn ipv6_standin(net: &str, standins: &mut Vec<String>) -> String {
    let i = match standins.iter().position(|n| n == net) {
        Some(i) => i,
        None => {
            standins.push(net.to_string());
            standins.len() - 1
        }
    };
    assert!(i < 256);
    format!("198.18.{i}.0/24")
}

/// netpol-analyzer v1.2.0 refuses a policy whose egress rule has an `ipBlock` peer and a
/// named port ("cannot convert named port for an IP destination"); the documentation makes
/// it valid ("port: the port on the given protocol. This can either be a numerical or named
/// port on a pod"), and a name, a port on a pod, matches no address outside the cluster.
/// It refuses a rule with a named port and an absent or empty `to` (every address) too.
/// Its copy splits such a rule in two: the selectors with every port, the `ipBlock`s with
/// the numeric ports only (or dropped when there are none, with `policyTypes` made explicit
/// so that dropping a rule never changes whether egress is isolated).
fn split_named_egress(spec: &mut Value) -> bool {
    let Some(rules) = spec.get("egress").and_then(Value::as_array).cloned() else {
        return false;
    };
    let mut changed = false;
    let mut out = Vec::new();
    for rule in rules {
        let named = |p: &Value| p.get("port").is_some_and(Value::is_string);
        let Some(ports) = rule.get("ports").and_then(Value::as_array).cloned() else {
            out.push(rule);
            continue;
        };
        // An absent or empty `to` is every pod and every address: both halves.
        let peers = match rule.get("to").and_then(Value::as_array) {
            Some(p) if !p.is_empty() => p.clone(),
            _ => vec![
                json!({"namespaceSelector": {}}),
                json!({"ipBlock": {"cidr": "0.0.0.0/0"}}),
            ],
        };
        let blocks: Vec<Value> = peers
            .iter()
            .filter(|p| p.get("ipBlock").is_some())
            .cloned()
            .collect();
        if blocks.is_empty() || !ports.iter().any(named) {
            out.push(rule);
            continue;
        }
        changed = true;
        let selectors: Vec<Value> = peers
            .iter()
            .filter(|p| p.get("ipBlock").is_none())
            .cloned()
            .collect();
        if !selectors.is_empty() {
            out.push(json!({"to": selectors, "ports": ports}));
        }
        let numeric: Vec<Value> = ports.iter().filter(|p| !named(p)).cloned().collect();
        if !numeric.is_empty() {
            out.push(json!({"to": blocks, "ports": numeric}));
        }
    }
    if changed {
        spec["egress"] = Value::Array(out);
    }
    changed
}

/// netpol-analyzer v1.2.0 resolves a named port by its name alone: `{port: http, protocol:
/// UDP}` allowed UDP on the number of a pod's SCTP port named `http`. The documentation
/// decides by name and protocol together: "protocol represents the protocol (TCP, UDP, or
/// SCTP) which traffic must match", and "port represents the port on the given protocol.
/// This can either be a numerical or named port on a pod. … If present, only traffic on
/// the specified protocol AND port will be matched." (the API reference of
/// NetworkPolicyPort). In its copy every port name carries its protocol, on the pods'
/// container ports and in the rules alike (`http-udp`), so that a name can only resolve
/// on a port of the rule's protocol, as the documentation has it.
fn qualified_name(name: &str, protocol: Option<&str>) -> String {
    format!("{name}-{}", protocol.unwrap_or("TCP").to_ascii_lowercase())
}

fn qualify_rule_ports(spec: &mut Value) {
    for dir in ["ingress", "egress"] {
        let Some(rules) = spec.get_mut(dir).and_then(Value::as_array_mut) else {
            continue;
        };
        for rule in rules {
            let Some(ports) = rule.get_mut("ports").and_then(Value::as_array_mut) else {
                continue;
            };
            for port in ports {
                if let Some(name) = port.get("port").and_then(Value::as_str) {
                    let q = qualified_name(name, port.get("protocol").and_then(Value::as_str));
                    port["port"] = json!(q);
                }
            }
        }
    }
}

/// netpol-analyzer's copy of a workload: its container ports' names carry their protocol.
fn workload_for_netpol_analyzer(workload: &Value) -> Value {
    let mut w = workload.clone();
    let spec = match w["kind"].as_str().unwrap() {
        "Namespace" => return w,
        "Pod" => w.get_mut("spec"),
        "CronJob" => w.pointer_mut("/spec/jobTemplate/spec/template/spec"),
        _ => w.pointer_mut("/spec/template/spec"),
    };
    let spec = spec.expect("a pod spec");
    for c in spec["containers"].as_array_mut().unwrap() {
        let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) else {
            continue;
        };
        for p in ports {
            if let Some(name) = p.get("name").and_then(Value::as_str) {
                let q = qualified_name(name, p.get("protocol").and_then(Value::as_str));
                p["name"] = json!(q);
            }
        }
    }
    w
}

/// netpol-analyzer's copy of a policy: the rewrites above, and nothing else.
fn for_netpol_analyzer(policy: &Value, standins: &mut Vec<String>) -> Value {
    let mut p = policy.clone();
    let spec = p.get_mut("spec").unwrap();
    let types: Vec<String> = {
        let has_egress = spec
            .get("egress")
            .is_some_and(|e| e.as_array().is_some_and(|a| !a.is_empty()));
        match spec.get("policyTypes").and_then(Value::as_array) {
            Some(t) => t.iter().map(|x| x.as_str().unwrap().to_string()).collect(),
            None if has_egress => vec!["Ingress".into(), "Egress".into()],
            None => vec!["Ingress".into()],
        }
    };
    if split_named_egress(spec) {
        spec["policyTypes"] = json!(types);
    }
    qualify_rule_ports(spec);
    for dir in ["ingress", "egress"] {
        let Some(rules) = spec.get_mut(dir).and_then(Value::as_array_mut) else {
            continue;
        };
        for rule in rules {
            let key = if dir == "ingress" { "from" } else { "to" };
            let Some(peers) = rule.get_mut(key).and_then(Value::as_array_mut) else {
                continue;
            };
            for peer in peers {
                let Some(block) = peer.get_mut("ipBlock") else {
                    continue;
                };
                if block["cidr"].as_str().unwrap().contains(':') {
                    let net = block["cidr"].as_str().unwrap().to_string();
                    // An except of an IPv6 range is inside it; the stand-in /24 keeps none.
                    *block = json!({"cidr": ipv6_standin(&net, standins)});
                }
            }
        }
    }
    p
}

// ---------------------------------------------------------------------------------------
// The generator.

const NAMESPACES: [&str; 4] = ["alpha", "beta", "gamma", "delta"];
const NS_LABELS: [(&str, &[&str]); 2] = [("env", &["prod", "dev"]), ("team", &["a", "b"])];
const POD_LABELS: [(&str, &[&str]); 3] = [
    ("app", &["web", "db", "api"]),
    ("tier", &["fe", "be"]),
    ("env", &["prod", "dev"]),
];
const CONTROLLERS: [&str; 6] = [
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
];
const PORT_NAMES: [&str; 4] = ["http", "dns", "metrics", "grpc"];
const PORT_NUMBERS: [u16; 7] = [53, 80, 443, 5000, 8080, 9090, 65535];
const PROTOCOLS: [&str; 3] = ["TCP", "UDP", "SCTP"];
/// IPv4 ranges (with the ranges an `except` may take out of them) and IPv6 ones.
const BLOCKS: [(&str, &[&str]); 8] = [
    (
        "0.0.0.0/0",
        &["10.0.0.0/8", "192.168.0.0/16", "10.1.0.0/16"],
    ),
    (
        "10.0.0.0/8",
        &["10.1.0.0/16", "10.1.2.0/24", "10.128.0.0/9"],
    ),
    ("10.1.0.0/16", &["10.1.2.0/24", "10.1.255.255/32"]),
    ("192.168.0.0/16", &["192.168.1.0/24", "192.168.0.0/17"]),
    ("192.168.1.0/24", &["192.168.1.128/25"]),
    ("172.16.0.0/12", &[]),
    ("2001:db8::/32", &["2001:db8:1::/48"]),
    ("::/0", &["2001:db8::/32"]),
];

fn pick<'a, T>(rng: &mut StdRng, xs: &'a [T]) -> &'a T {
    &xs[rng.random_range(0..xs.len())]
}

fn labels(rng: &mut StdRng, pool: &[(&str, &[&str])], min: usize) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (k, vs) in pool {
        if rng.random_bool(0.5) {
            out.insert(k.to_string(), pick(rng, vs).to_string());
        }
    }
    while out.len() < min {
        let (k, vs) = pick(rng, pool);
        out.insert(k.to_string(), pick(rng, vs).to_string());
    }
    out
}

fn selector(rng: &mut StdRng, pool: &[(&str, &[&str])]) -> Value {
    let mut s = serde_json::Map::new();
    if rng.random_bool(0.5) {
        let l = labels(rng, pool, 0);
        if !l.is_empty() || rng.random_bool(0.5) {
            s.insert("matchLabels".into(), json!(l));
        }
    }
    if rng.random_bool(0.4) {
        let mut exprs = Vec::new();
        for _ in 0..rng.random_range(1..=2) {
            let (k, vs) = pick(rng, pool);
            let e = match rng.random_range(0..4) {
                0 => json!({"key": k, "operator": "In", "values": [pick(rng, vs)]}),
                1 => json!({"key": k, "operator": "NotIn", "values": vs}),
                2 => json!({"key": k, "operator": "Exists"}),
                _ => json!({"key": k, "operator": "DoesNotExist"}),
            };
            exprs.push(e);
        }
        s.insert("matchExpressions".into(), json!(exprs));
    }
    Value::Object(s)
}

fn peer(rng: &mut StdRng) -> Value {
    match rng.random_range(0..8) {
        0 | 1 => json!({"podSelector": selector(rng, &POD_LABELS)}),
        2 | 3 => {
            let mut ns = NS_LABELS.to_vec();
            ns.push(("kubernetes.io/metadata.name", &NAMESPACES));
            json!({"namespaceSelector": selector(rng, &ns)})
        }
        4 | 5 => {
            let mut ns = NS_LABELS.to_vec();
            ns.push(("kubernetes.io/metadata.name", &NAMESPACES));
            json!({"podSelector": selector(rng, &POD_LABELS), "namespaceSelector": selector(rng, &ns)})
        }
        _ => {
            let (net, excepts) = pick(rng, &BLOCKS);
            let chosen: Vec<&str> = excepts
                .iter()
                .copied()
                .filter(|_| rng.random_bool(0.4))
                .collect();
            if chosen.is_empty() && rng.random_bool(0.5) {
                json!({"ipBlock": {"cidr": net}})
            } else {
                json!({"ipBlock": {"cidr": net, "except": chosen}})
            }
        }
    }
}

fn port(rng: &mut StdRng) -> Value {
    let mut p = serde_json::Map::new();
    if rng.random_bool(0.6) {
        p.insert("protocol".into(), json!(pick(rng, &PROTOCOLS)));
    }
    match rng.random_range(0..5) {
        0 => {}
        1 => {
            p.insert("port".into(), json!(pick(rng, &PORT_NAMES)));
        }
        2 => {
            let lo = *pick(rng, &PORT_NUMBERS);
            let hi = lo.saturating_add(rng.random_range(0..200));
            p.insert("port".into(), json!(lo));
            p.insert("endPort".into(), json!(hi));
        }
        _ => {
            p.insert("port".into(), json!(pick(rng, &PORT_NUMBERS)));
        }
    }
    Value::Object(p)
}

/// Absent (None), empty, or one to three of `f`.
fn list(rng: &mut StdRng, f: impl Fn(&mut StdRng) -> Value) -> Option<Value> {
    match rng.random_range(0..6) {
        0 => None,
        1 => Some(json!([])),
        _ => {
            let n = rng.random_range(1..=3);
            Some(Value::Array((0..n).map(|_| f(rng)).collect()))
        }
    }
}

fn rule(rng: &mut StdRng, peers_key: &str) -> Value {
    let mut r = serde_json::Map::new();
    if let Some(peers) = list(rng, peer) {
        r.insert(peers_key.into(), peers);
    }
    if let Some(ports) = list(rng, port) {
        r.insert("ports".into(), ports);
    }
    Value::Object(r)
}

struct Case {
    workloads: Vec<Value>,
    policies: Vec<Value>,
}

fn case(seed: u64, large: bool) -> Case {
    let (workloads_max, policies_max) = if large { (8, 20) } else { (3, 5) };
    let mut rng = StdRng::seed_from_u64(seed);
    let n_ns = rng.random_range(1..=4);
    let namespaces = &NAMESPACES[..n_ns];
    let mut workloads = Vec::new();
    for ns in namespaces {
        // A namespace with no Namespace document has no labels but its name.
        if rng.random_bool(0.8) {
            workloads.push(json!({
                "apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": ns, "labels": labels(&mut rng, &NS_LABELS, 0)},
            }));
        }
        for i in 0..rng.random_range(1..=workloads_max) {
            let name = format!("w{i}");
            let mut used = BTreeSet::new();
            let mut ports: Vec<Value> = Vec::new();
            for _ in 0..rng.random_range(0..=3) {
                let pname = *pick(&mut rng, &PORT_NAMES);
                let number = *pick(&mut rng, &PORT_NUMBERS);
                let proto = *pick(&mut rng, &PROTOCOLS);
                if used.insert(pname) {
                    ports.push(json!({"name": pname, "containerPort": number, "protocol": proto}));
                }
            }
            // Sometimes the ports are spread over two containers.
            let containers = if ports.len() > 1 && rng.random_bool(0.3) {
                let second = ports.split_off(1);
                json!([
                    {"name": "c", "image": "example", "ports": ports},
                    {"name": "d", "image": "example", "ports": second},
                ])
            } else {
                json!([{"name": "c", "image": "example", "ports": ports}])
            };
            let pod_spec = json!({ "containers": containers });
            if rng.random_bool(0.4) {
                workloads.push(json!({
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": name, "namespace": ns, "labels": labels(&mut rng, &POD_LABELS, 0)},
                    "spec": pod_spec,
                }));
                continue;
            }
            let l = labels(&mut rng, &POD_LABELS, 1);
            let template = json!({"metadata": {"labels": l}, "spec": pod_spec});
            let kind = *pick(&mut rng, &CONTROLLERS);
            let spec = match kind {
                "CronJob" => {
                    json!({"schedule": "@hourly", "jobTemplate": {"spec": {"template": template}}})
                }
                "Job" => json!({ "template": template }),
                _ => json!({"selector": {"matchLabels": l}, "template": template}),
            };
            let api = if kind.ends_with("Job") {
                "batch/v1"
            } else {
                "apps/v1"
            };
            workloads.push(json!({
                "apiVersion": api, "kind": kind,
                "metadata": {"name": name, "namespace": ns},
                "spec": spec,
            }));
        }
    }
    let mut policies = Vec::new();
    for i in 0..rng.random_range(1..=policies_max) {
        let mut spec = serde_json::Map::new();
        spec.insert("podSelector".into(), selector(&mut rng, &POD_LABELS));
        match rng.random_range(0..4) {
            0 => {}
            1 => {
                spec.insert("policyTypes".into(), json!(["Ingress"]));
            }
            2 => {
                spec.insert("policyTypes".into(), json!(["Egress"]));
            }
            _ => {
                spec.insert("policyTypes".into(), json!(["Ingress", "Egress"]));
            }
        }
        if let Some(rules) = list(&mut rng, |r| rule(r, "from")) {
            spec.insert("ingress".into(), rules);
        }
        if let Some(rules) = list(&mut rng, |r| rule(r, "to")) {
            spec.insert("egress".into(), rules);
        }
        policies.push(json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": format!("p{i}"), "namespace": pick(&mut rng, namespaces)},
            "spec": spec,
        }));
    }
    Case {
        workloads,
        policies,
    }
}

/// What a run compared, so that a generator gone dull (every map empty) fails the test.
#[derive(Default, Clone, Copy)]
struct Compared {
    pairs: usize,
    address_edges: usize,
    partial_ports: usize,
}

/// Writes both copies of a case under `dir` and returns the disagreements.
fn check(dir: &Path, case: &Case, compared: &mut Compared) -> Vec<String> {
    let (ours, theirs) = (dir.join("ours"), dir.join("theirs"));
    write_docs(&ours, "workload", &case.workloads);
    write_docs(&ours, "policy", &case.policies);
    let mut standins = Vec::new();
    let adapted: Vec<Value> = case
        .policies
        .iter()
        .map(|p| for_netpol_analyzer(p, &mut standins))
        .collect();
    let workloads: Vec<Value> = case
        .workloads
        .iter()
        .map(workload_for_netpol_analyzer)
        .collect();
    write_docs(&theirs, "workload", &workloads);
    write_docs(&theirs, "policy", &adapted);
    let a = match ours_on(&ours, &ours) {
        Ok(m) => m,
        Err(e) => return vec![e],
    };
    let b = match theirs_on(&theirs) {
        Ok(m) => m,
        Err(e) => return vec![e],
    };
    compared.pairs += a.pairs.len();
    compared.address_edges += a.addresses.values().map(Vec::len).sum::<usize>();
    compared.partial_ports += a.pairs.values().filter(|p| **p != all_ports()).count();
    differences(&a, &b, &[IPV6_STANDIN])
}

#[test]
fn random_worlds_get_the_same_map_from_netpol_analyzer() {
    netpolicy();
    let tmp = tempfile::tempdir().unwrap();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(4)) as u64;
    let (failures, compared): (Vec<String>, Compared) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let tmp = tmp.path();
                s.spawn(move || {
                    let mut failures = Vec::new();
                    let mut compared = Compared::default();
                    for i in (t..CASES).step_by(threads as usize) {
                        let c = case(SEED + i, i >= CASES - LARGE);
                        let dir = tmp.join(format!("case-{i}"));
                        let diffs = check(&dir, &c, &mut compared);
                        if !diffs.is_empty() {
                            let mut policies = String::new();
                            for p in &c.policies {
                                policies.push_str(&serde_json::to_string(p).unwrap());
                                policies.push('\n');
                            }
                            failures.push(format!(
                                "case {i} (seed {:#x}):\n  {}\npolicies:\n{policies}workloads:\n{}",
                                SEED + i,
                                diffs.join("\n  "),
                                c.workloads
                                    .iter()
                                    .map(|w| serde_json::to_string(w).unwrap())
                                    .collect::<Vec<_>>()
                                    .join("\n")
                            ));
                        } else {
                            std::fs::remove_dir_all(&dir).unwrap();
                        }
                    }
                    (failures, compared)
                })
            })
            .collect();
        let mut all = (Vec::new(), Compared::default());
        for h in handles {
            let (f, c) = h.join().unwrap();
            all.0.extend(f);
            all.1.pairs += c.pairs;
            all.1.address_edges += c.address_edges;
            all.1.partial_ports += c.partial_ports;
        }
        all
    });
    eprintln!(
        "{CASES} worlds: {} workload pairs, {} workload-address edges, {} pairs on some ports only",
        compared.pairs, compared.address_edges, compared.partial_ports
    );
    // The worlds compare about 10,000 pairs (2,000 of them on some ports only) and 31,000
    // address edges; far fewer means the generator no longer produces what it should.
    assert!(
        compared.pairs >= 4000 && compared.address_edges >= 10_000 && compared.partial_ports >= 500,
        "the worlds compared too little"
    );
    assert!(
        failures.is_empty(),
        "{} of {CASES} cases disagree with netpol-analyzer:\n{}",
        failures.len(),
        failures
            .iter()
            .take(2)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n\n")
    );
}

#[test]
fn the_shop_example_gets_the_same_map_from_netpol_analyzer() {
    netpolicy();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    // netpol-analyzer reads every YAML below its directory: the bundle's policies and the
    // workloads, without the bundle's manifest and signatures.
    let mut files = Vec::new();
    let mut stack = vec![root.join("bundles/shop")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml") && !p.ends_with("bundle.yaml") {
                files.push(p);
            }
        }
    }
    assert!(files.len() >= 6, "{files:?}");
    for (i, f) in files.iter().enumerate() {
        std::fs::copy(f, tmp.path().join(format!("policy-{i}.yaml"))).unwrap();
    }
    let workloads = root.join("examples/shop-workloads.yaml");
    std::fs::copy(&workloads, tmp.path().join("workloads.yaml")).unwrap();

    let ours = ours_on(&root.join("bundles/shop"), &workloads).unwrap();
    let theirs = theirs_on(tmp.path()).unwrap();
    assert!(ours.pairs.len() >= 8, "{ours:?}");
    let diffs = differences(&ours, &theirs, &[]);
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

#[test]
fn the_two_port_and_address_grammars_are_read_as_the_same_sets() {
    assert_eq!(
        ours_ports("TCP 7,1000-2000,8080; UDP 53; SCTP 99"),
        theirs_ports("SCTP 99,TCP 1000-2000,7,8080,UDP 53")
    );
    assert_eq!(ours_ports("all"), theirs_ports("All Connections"));
    assert_eq!(ours_ports("TCP all; UDP all; SCTP all"), all_ports());
    assert_eq!(
        ours_addresses("0.0.0.0/0 except 10.0.0.0/8"),
        Some(vec![(0, 0x09ff_ffff), (0x0b00_0000, 0xffff_ffff)])
    );
    assert_eq!(
        theirs_addresses("0.0.0.0-9.255.255.255,11.0.0.0-255.255.255.255"),
        Some(vec![(0, 0x09ff_ffff), (0x0b00_0000, 0xffff_ffff)])
    );
    assert_eq!(ours_addresses("::/0"), None);
}
