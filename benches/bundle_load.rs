//! Bundle benchmarks (run through scripts/bench-bundle.sh, which prints the figures):
//!
//! - `sha256 FILE`: SHA-256 throughput of the sha2 crate over FILE's bytes, best of
//!   several passes, with the digest so the script can check it equals
//!   `openssl dgst -sha256` over the same bytes.
//! - `generate DIR [POLICIES] [NAMESPACES]`: a policy repository with one bundle of
//!   POLICIES NetworkPolicies (default 10,000) across NAMESPACES namespaces (default
//!   500), sealed, signed with `ssh-keygen -Y sign`, committed with `git commit -S`.
//! - `load DIR`: verify the head commit, then load, verify and validate the bundle
//!   (`verify_revision` + `load_verified`), in a fresh process; prints wall time per run
//!   and the peak RSS of the process (VmHWM).
//!
//! Without arguments (plain `cargo bench`) it runs a quick sha256 pass over 64 MiB.

use netpol_sync::bundle::seal::seal;
use netpol_sync::bundle::{load_verified, BundleOptions, Limits};
use netpol_sync::git::Repo;
use netpol_sync::verify::{verify_revision, AllowedSigners, SignaturePolicy};
use netpol_testkit::{Key, TestRepo};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

// The allocator of the netpol-sync binary, so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // As the netpol-sync binary does.
    netpol_sync::memory::purge_freed_pages(netpol_sync::memory::PurgeDelay::Soon);
    netpol_sync::memory::no_transparent_huge_pages();
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["sha256", file] => sha256_file(Path::new(file)),
        ["sha256-passes", file, passes] => {
            sha256_passes(Path::new(file), passes.parse().expect("PASSES"))
        }
        ["generate", dir] => generate(Path::new(dir), 10_000, 500),
        ["generate", dir, policies, namespaces] => generate(
            Path::new(dir),
            policies.parse().expect("POLICIES"),
            namespaces.parse().expect("NAMESPACES"),
        ),
        ["load", dir] => load(Path::new(dir)),
        ["load-cached", dir] => load_cached(Path::new(dir)),
        ["stages", dir] => stages(Path::new(dir)),
        [] => sha256_memory(64 * 1024 * 1024),
        _ => {
            eprintln!(
                "usage: bundle_load sha256 FILE | generate DIR [POLICIES NAMESPACES] | load DIR"
            );
            std::process::exit(2);
        }
    }
}

fn best_of<F: FnMut()>(runs: usize, mut f: F) -> Duration {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn sha256_file(file: &Path) {
    let bytes = std::fs::read(file).expect("read FILE");
    let mut digest = String::new();
    let in_memory = best_of(5, || digest = hex::encode(Sha256::digest(&bytes)));
    // Like `openssl dgst`: read the file (from the page cache) while hashing it.
    let from_file = best_of(5, || {
        let mut f = std::fs::File::open(file).unwrap();
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = std::io::Read::read(&mut f, &mut buf).unwrap();
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        std::hint::black_box(h.finalize());
    });
    let mib = bytes.len() as f64 / (1024.0 * 1024.0);
    println!(
        "sha2 {digest} {:.1} {:.1}",
        mib / in_memory.as_secs_f64(),
        mib / from_file.as_secs_f64()
    );
}

/// PASSES hashes of FILE's bytes, for timing with `/usr/bin/time` (CPU time is what the
/// script compares: wall time means little on a shared machine).
fn sha256_passes(file: &Path, passes: usize) {
    let bytes = std::fs::read(file).expect("read FILE");
    for _ in 0..passes {
        std::hint::black_box(Sha256::digest(std::hint::black_box(&bytes)));
    }
}

fn sha256_memory(len: usize) {
    let bytes: Vec<u8> = (0..len)
        .map(|i| ((i * 2654435761usize) >> 13) as u8)
        .collect();
    let best = best_of(5, || {
        std::hint::black_box(Sha256::digest(&bytes));
    });
    println!(
        "sha2 over {} MiB in memory: {:.1} MiB/s",
        len >> 20,
        (len as f64 / 1048576.0) / best.as_secs_f64()
    );
}

/// One realistic policy: an app's ingress from a peer app in another namespace, plus
/// egress to its database, with labels and a matchExpressions selector.
fn policy(ns: &str, i: usize, namespaces: usize, n: usize) -> String {
    let peer = format!("ns-{:04}", (n + i + 1) % namespaces);
    format!(
        "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: app-{i:03}
  namespace: {ns}
  labels:
    app.kubernetes.io/part-of: bench
    team: team-{team}
spec:
  podSelector:
    matchLabels:
      app: app-{i:03}
  policyTypes: [Ingress, Egress]
  ingress:
    - from:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: {peer}
          podSelector:
            matchExpressions:
              - key: app
                operator: In
                values: [client-{i:03}, client-{j:03}]
      ports:
        - protocol: TCP
          port: 8080
        - port: metrics
  egress:
    - to:
        - podSelector:
            matchLabels:
              app: db-{i:03}
      ports:
        - protocol: TCP
          port: 5432
    - to:
        - ipBlock:
            cidr: 10.{a}.0.0/16
            except: [10.{a}.1.0/24]
      ports:
        - protocol: TCP
          port: 443
          endPort: 8443
",
        team = n % 17,
        j = i + 1,
        a = (n * 7 + i) % 250,
    )
}

fn generate(dir: &Path, policies: usize, namespaces: usize) {
    std::fs::create_dir_all(dir).expect("DIR");
    let repo = dir.join("repo");
    let bundle = repo.join("bundles/bench");
    std::fs::create_dir_all(&bundle).unwrap();
    let key = bench_key(dir);
    std::fs::write(dir.join("anchor"), key.allowed_signers_line("")).unwrap();
    let repo = TestRepo::init(&repo);
    repo.write(
        "keys/allowed_signers",
        key.allowed_signers_line("namespaces=\"git,netpol-sync-bundle\""),
    );

    let names: Vec<String> = (0..namespaces).map(|n| format!("ns-{n:04}")).collect();
    let per_ns = policies.div_ceil(namespaces);
    let mut written = 0;
    for (n, ns) in names.iter().enumerate() {
        let count = per_ns.min(policies - written);
        let docs: Vec<String> = (0..count).map(|i| policy(ns, i, namespaces, n)).collect();
        std::fs::write(bundle.join(format!("{ns}.yaml")), docs.join("---\n")).unwrap();
        written += count;
    }
    std::fs::write(
        bundle.join("bundle.yaml"),
        format!(
            "apiVersion: netpol-sync/v1\nkind: Bundle\nname: bench\nnamespaces: [{}]\n",
            names.join(", ")
        ),
    )
    .unwrap();
    seal_sign_commit(dir, "bench bundle");
    println!(
        "generated {written} policies across {namespaces} namespaces in {}",
        repo.dir.display()
    );
}

/// The bench's signing key, kept in `dir` between runs.
fn bench_key(dir: &Path) -> Key {
    Key::ed25519_kept(dir, "bench@example.com")
}

/// Seal and sign the bench bundle as it now is in the work tree, and commit it signed.
fn seal_sign_commit(dir: &Path, message: &str) {
    let repo = TestRepo {
        dir: dir.join("repo"),
    };
    let bundle = repo.dir.join("bundles/bench");
    let key = bench_key(dir);
    seal(&bundle, &Limits::default()).expect("seal");
    key.sign_bundle(&bundle, "bench");
    repo.commit_signed(message, &key);
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_string)
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// User + system CPU time of this process, from /proc/self/stat (clock ticks of 10 ms).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the `(comm)`: state is field 3; utime and stime are fields 14 and 15.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn load(dir: &Path) {
    let anchor_bytes = std::fs::read(dir.join("anchor")).expect("anchor (run generate first)");
    let repo_path = dir.join("repo");
    let mut times = Vec::new();
    let mut cpu = Vec::new();
    let mut policies = 0;
    let mut first_peak = 0;
    for run in 0..5 {
        let t = Instant::now();
        let c = cpu_seconds();
        let anchor = AllowedSigners::parse("anchor", &anchor_bytes).unwrap();
        let policy = SignaturePolicy {
            at: SystemTime::now(),
            require_user_presence: true,
            key_change_signatures: 1,
        };
        let repo = Repo::open(repo_path.to_str().unwrap()).unwrap();
        let rev = verify_revision(&repo, "HEAD", None, &anchor, &policy).expect("verify");
        let loaded = load_verified(&repo, &rev, &BundleOptions::default()).expect("load");
        policies = loaded.policies().count();
        times.push(t.elapsed());
        cpu.push(cpu_seconds() - c);
        drop(loaded);
        if run == 0 {
            first_peak = peak_rss_kib();
        }
    }
    let best_cpu = cpu.iter().copied().fold(f64::INFINITY, f64::min);
    let first = times[0];
    let best = times.iter().min().copied().unwrap_or_default();
    println!(
        "load+verify+validate {policies} policies: wall first {:.3} s, best of 5 {:.3} s; CPU best of 5 {:.2} s; peak RSS after the first load {:.1} MiB, after 5 {:.1} MiB",
        first.as_secs_f64(),
        best.as_secs_f64(),
        best_cpu,
        first_peak as f64 / 1024.0,
        peak_rss_kib() as f64 / 1024.0
    );
    let each = |v: Vec<String>| v.join(" ");
    println!(
        "  each run: wall {} s; CPU {} s",
        each(
            times
                .iter()
                .map(|t| format!("{:.3}", t.as_secs_f64()))
                .collect()
        ),
        each(cpu.iter().map(|c| format!("{c:.2}")).collect())
    );
}

/// A daemon's repeated load of an unchanged revision: one load fills the cache, then
/// five more reuse it (every file still read, hashed and checked; nothing parsed).
fn load_cached(dir: &Path) {
    let anchor_bytes = std::fs::read(dir.join("anchor")).expect("anchor (run generate first)");
    let anchor = AllowedSigners::parse("anchor", &anchor_bytes).unwrap();
    let opts = BundleOptions {
        cache: Some(std::sync::Arc::new(netpol_sync::bundle::PolicyCache::new())),
        ..BundleOptions::default()
    };
    let load = |rev: &str| {
        let repo = Repo::open(dir.join("repo").to_str().unwrap()).unwrap();
        let policy = SignaturePolicy {
            at: SystemTime::now(),
            require_user_presence: true,
            key_change_signatures: 1,
        };
        let t = Instant::now();
        let verified = verify_revision(&repo, rev, None, &anchor, &policy).expect("verify");
        let loaded = load_verified(&repo, &verified, &opts).expect("load");
        assert!(loaded.policies().count() > 0);
        t.elapsed()
    };
    let cold = load("HEAD");
    let same_tree = (0..5).map(|_| load("HEAD")).min().unwrap_or_default();
    // A second revision in which one file of the 500 changed.
    let file = dir.join("repo/bundles/bench/ns-0000.yaml");
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.extend_from_slice(b"# one file changed\n");
    std::fs::write(&file, bytes).unwrap();
    seal_sign_commit(dir, "one file changed");
    // Alternate between the two revisions: every load is of a tree other than the last.
    let one_changed = (0..6)
        .map(|i| load(if i % 2 == 0 { "HEAD" } else { "HEAD~1" }))
        .min()
        .unwrap_or_default();
    println!(
        "cold load {:.3} s; the same tree again (drift-only cycle): best of 5 {:.3} s; \
         a revision with one file of 500 changed (files re-read and re-hashed, one parsed): best of 6 {:.3} s",
        cold.as_secs_f64(),
        same_tree.as_secs_f64(),
        one_changed.as_secs_f64()
    );
}

/// Where the time of a load goes: YAML parsing vs decoding, validating and hashing.
fn stages(dir: &Path) {
    use netpol_sync::bundle::policy::{validate_file, PolicyContext};
    use netpol_sync::bundle::yaml::{load_documents, YamlLimits};
    let bundle = dir.join("repo/bundles/bench");
    let files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&bundle)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("ns-"))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    let limits = YamlLimits {
        max_documents: 1000,
        max_depth: 32,
    };
    let t = Instant::now();
    let docs: Vec<_> = files
        .iter()
        .map(|(_, b)| load_documents(b, limits).unwrap())
        .collect();
    let yaml = t.elapsed();
    let namespaces: std::collections::BTreeSet<String> =
        (0..500).map(|n| format!("ns-{n:04}")).collect();
    let t = Instant::now();
    let mut n = 0;
    for ((file, _), d) in files.iter().zip(docs) {
        let ctx = PolicyContext {
            bundle: "bench",
            file,
            namespaces: &namespaces,
        };
        n += validate_file(&ctx, d).unwrap();
    }
    let policy = t.elapsed();
    println!(
        "yaml {:.3} s, decode+validate+default+hash {:.3} s ({n} policies)",
        yaml.as_secs_f64(),
        policy.as_secs_f64()
    );
}
