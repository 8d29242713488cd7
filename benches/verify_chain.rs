//! Verifies a first-parent chain of 1,000 commits signed by the real `git commit -S`
//! (gpg.format=ssh), and runs the real `git verify-commit` on the same commits in the same
//! run, then prints both per-commit figures and the ratio.
//!
//! Run: `scripts/bench-verify.sh` (or `cargo bench --bench verify_chain`). The repository
//! is built once and cached under the target directory (`target/tmp/bench-verify-chain`).

use criterion::Criterion;
use netpol_sync::git::Repo;
use netpol_sync::verify::{verify_revision, AllowedSigners, SignaturePolicy};
use netpol_testkit::{Key, TestRepo};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

// The allocator of the netpol-sync binary, so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Commits in the chain: `CHAIN` in the environment, default 1,000.
fn chain_len() -> usize {
    std::env::var("CHAIN")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000)
}

struct Fixture {
    repo: TestRepo,
    anchor: PathBuf,
    root: String,
    commits: Vec<String>,
}

/// Build (or reuse) the chain: a root commit trusting the key, then `len` signed commits,
/// each changing a file as a real chain's commits do (so each has a tree of its
/// own, and the keys file is looked up in every one).
fn fixture(len: usize) -> Fixture {
    let base =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("bench-verify-chain-{len}-trees"));
    let anchor = base.join("allowed_signers");
    let done = base.join("complete");
    let repo = if done.exists() {
        TestRepo {
            dir: base.join("repo"),
        }
    } else {
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        let key = Key::ed25519(&base, "bench@example.com");
        let line = key.allowed_signers_line("");
        std::fs::write(&anchor, &line).unwrap();
        let repo = TestRepo::init(&base.join("repo"));
        repo.write("keys/allowed_signers", &line);
        repo.commit_signed("root: trust the bench key", &key);
        eprintln!(
            "building a chain of {len} commits signed by git commit -S (cached afterwards)..."
        );
        for i in 0..len {
            repo.write("notes/changes.txt", format!("change {i}\n"));
            repo.commit_signed(&format!("change {i}"), &key);
        }
        std::fs::write(&done, b"").unwrap();
        repo
    };
    let root = repo.git(&["rev-list", "--max-parents=0", "HEAD"]);
    let list = repo.git(&["rev-list", "--first-parent", "HEAD"]);
    let mut commits: Vec<String> = list
        .lines()
        .map(str::to_string)
        .filter(|c| *c != root)
        .collect();
    commits.reverse();
    assert_eq!(commits.len(), len);
    Fixture {
        repo,
        anchor,
        root,
        commits,
    }
}

fn main() {
    let chain = chain_len();
    let f = fixture(chain);
    let anchor = AllowedSigners::parse("anchor", &std::fs::read(&f.anchor).unwrap()).unwrap();
    let policy = SignaturePolicy {
        at: SystemTime::now(),
        require_user_presence: true,
        key_change_signatures: 1,
    };
    let repo_path = f.repo.dir.to_str().unwrap().to_string();
    let verify_chain = || {
        let repo = Repo::open(&repo_path).unwrap();
        let v = verify_revision(&repo, "HEAD", Some(&f.root), &anchor, &policy).unwrap();
        assert_eq!(v.commits().len(), chain);
    };

    let mut criterion = Criterion::default().configure_from_args().sample_size(10);
    criterion.bench_function(&format!("verify_chain_{chain}_commits"), |b| {
        b.iter(verify_chain)
    });
    criterion.final_summary();

    // Same run: our per-commit time (best of 5) and git verify-commit on every commit.
    let ours = (0..5)
        .map(|_| {
            let start = Instant::now();
            verify_chain();
            start.elapsed()
        })
        .min()
        .unwrap_or(Duration::ZERO);
    let config = format!("gpg.ssh.allowedSignersFile={}", f.anchor.display());
    let start = Instant::now();
    for commit in &f.commits {
        let ok = f
            .repo
            .git_cmd()
            .args(["-c", &config, "verify-commit", commit])
            .output()
            .unwrap()
            .status
            .success();
        assert!(ok, "git verify-commit {commit} failed");
    }
    let git_total = start.elapsed();
    let ours_per = ours.as_secs_f64() / chain as f64;
    let git_per = git_total.as_secs_f64() / chain as f64;
    println!("chain of {chain} signed commits");
    println!(
        "  netpol-sync verify_revision: {:>10.1} µs/commit ({:.1} ms total, best of 5)",
        ours_per * 1e6,
        ours.as_secs_f64() * 1e3
    );
    println!(
        "  git verify-commit:           {:>10.1} µs/commit ({:.1} s total)",
        git_per * 1e6,
        git_total.as_secs_f64()
    );
    println!(
        "  ratio: netpol-sync is {:.0}x faster per commit",
        git_per / ours_per
    );

    // The whole command, as a person or a CI job runs it: a process that opens the
    // repository, reads the anchor, verifies the chain and loads the bundles.
    let bin = env!("CARGO_BIN_EXE_netpol-sync");
    let command = (0..5)
        .map(|_| {
            let start = Instant::now();
            let out = Command::new(bin)
                .args(["verify", "--repo"])
                .arg(&f.repo.dir)
                .args(["--since", &f.root, "--trust-anchor"])
                .arg(&f.anchor)
                .args(["--output", "json"])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stdout)
            );
            start.elapsed()
        })
        .min()
        .unwrap_or(Duration::ZERO);
    let command_per = command.as_secs_f64() / chain as f64;
    println!(
        "  netpol-sync verify (one process):{:>7.1} µs/commit ({:.1} ms total, best of 5): {:.0}x",
        command_per * 1e6,
        command.as_secs_f64() * 1e3,
        git_per / command_per
    );
}
