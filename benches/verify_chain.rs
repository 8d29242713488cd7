//! Verifies a first-parent chain of 1,000 commits signed by the real `git commit -S`
//! (gpg.format=ssh), and runs the real `git verify-commit` on the same commits in the same
//! run, then prints both per-commit figures and the ratio.
//!
//! Run: `scripts/bench-verify.sh` (or `cargo bench --bench verify_chain`). The repository
//! is built once and cached under the target directory (`target/tmp/bench-verify-chain`).

use criterion::Criterion;
use netpol_sync::git::Repo;
use netpol_sync::verify::{verify_revision, AllowedSigners, SignaturePolicy};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

// The allocator of the netpol-sync binary, so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CHAIN: usize = 1_000;

fn git(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z");
    cmd
}

fn check(cmd: &mut Command) -> String {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

struct Fixture {
    repo: PathBuf,
    anchor: PathBuf,
    root: String,
    commits: Vec<String>,
}

/// Build (or reuse) the chain: a root commit trusting the key, then CHAIN signed commits.
fn fixture() -> Fixture {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-verify-chain");
    let repo = base.join("repo");
    let anchor = base.join("allowed_signers");
    let done = base.join("complete");
    if !done.exists() {
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&repo).unwrap();
        let key = base.join("id_ed25519");
        check(
            Command::new("ssh-keygen")
                .args([
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-C",
                    "bench@example.com",
                    "-f",
                ])
                .arg(&key),
        );
        let public = std::fs::read_to_string(base.join("id_ed25519.pub")).unwrap();
        let key_part: Vec<&str> = public.split_whitespace().take(2).collect();
        let line = format!("bench@example.com {}\n", key_part.join(" "));
        std::fs::write(&anchor, &line).unwrap();
        check(git(&repo).args(["init", "-q", "-b", "main"]));
        std::fs::create_dir_all(repo.join("keys")).unwrap();
        std::fs::write(repo.join("keys/allowed_signers"), &line).unwrap();
        check(git(&repo).args(["add", "-A"]));
        let signing = format!("user.signingkey={}", key.display());
        let signed_commit = |message: &str| {
            check(git(&repo).args([
                "-c",
                "user.name=Bench",
                "-c",
                "user.email=bench@example.com",
                "-c",
                "gpg.format=ssh",
                "-c",
                &signing,
                "commit",
                "-q",
                "-S",
                "--allow-empty",
                "-m",
                message,
            ]));
        };
        signed_commit("root: trust the bench key");
        eprintln!(
            "building a chain of {CHAIN} commits signed by git commit -S (cached afterwards)..."
        );
        for i in 0..CHAIN {
            signed_commit(&format!("change {i}"));
        }
        std::fs::write(&done, b"").unwrap();
    }
    let root = check(git(&repo).args(["rev-list", "--max-parents=0", "HEAD"]));
    let list = check(git(&repo).args(["rev-list", "--first-parent", "HEAD"]));
    let mut commits: Vec<String> = list
        .lines()
        .map(str::to_string)
        .filter(|c| *c != root)
        .collect();
    commits.reverse();
    assert_eq!(commits.len(), CHAIN);
    Fixture {
        repo,
        anchor,
        root,
        commits,
    }
}

fn main() {
    let f = fixture();
    let anchor = AllowedSigners::parse("anchor", &std::fs::read(&f.anchor).unwrap()).unwrap();
    let policy = SignaturePolicy {
        at: SystemTime::now(),
        require_user_presence: true,
        key_change_signatures: 1,
    };
    let repo_path = f.repo.to_str().unwrap().to_string();
    let verify_chain = || {
        let repo = Repo::open(&repo_path).unwrap();
        let v = verify_revision(&repo, "HEAD", Some(&f.root), &anchor, &policy).unwrap();
        assert_eq!(v.commits().len(), CHAIN);
    };

    let mut criterion = Criterion::default().configure_from_args().sample_size(10);
    criterion.bench_function("verify_chain_1000_commits", |b| b.iter(verify_chain));
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
        let ok = git(&f.repo)
            .args(["-c", &config, "verify-commit", commit])
            .output()
            .unwrap()
            .status
            .success();
        assert!(ok, "git verify-commit {commit} failed");
    }
    let git_total = start.elapsed();
    let ours_per = ours.as_secs_f64() / CHAIN as f64;
    let git_per = git_total.as_secs_f64() / CHAIN as f64;
    println!("chain of {CHAIN} signed commits");
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
}
