//! Test repositories built with the real `git` and `ssh-keygen`: keys are generated per
//! test, commits are signed by `git commit -S` with `gpg.format=ssh`, and detached
//! signatures come from `ssh-keygen -Y sign`. Nothing here imitates git.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Check `cond` every 25 ms until it holds, and say how long that took; `None` once `limit`
/// has passed without it.
pub fn wait_for(limit: Duration, cond: impl FnMut() -> bool) -> Option<Duration> {
    poll(limit, Duration::from_millis(25), cond)
}

/// [`wait_for`], checking every `every` (a check that runs a process wants a slower pace).
pub fn poll(limit: Duration, every: Duration, mut cond: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return Some(start.elapsed());
        }
        std::thread::sleep(every);
    }
    None
}

/// The value of a sample without labels in Prometheus text (`name value`), if present.
pub fn metric_value(metrics: &str, name: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// Run a command, panicking with its stderr if it fails: a broken fixture is a broken test.
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    out
}

/// A key made by `ssh-keygen`, private half on disk in the test's temp dir.
#[derive(Clone, Debug)]
pub struct Key {
    pub private: PathBuf,
    pub public: PathBuf,
    /// `ssh-ed25519 AAAA… comment`
    pub public_line: String,
    pub principal: String,
}

impl Key {
    /// `kind` is an ssh-keygen `-t` value: `ed25519`, `rsa`, `ecdsa`.
    pub fn generate(dir: &Path, principal: &str, kind: &str) -> Key {
        let private = dir.join(format!("key-{principal}-{kind}"));
        let mut cmd = Command::new("ssh-keygen");
        cmd.args(["-q", "-t", kind, "-N", "", "-C", principal, "-f"])
            .arg(&private);
        if kind == "rsa" {
            cmd.args(["-b", "2048"]);
        }
        run(&mut cmd);
        // ssh-keygen appends `.pub`; `with_extension` would cut a principal containing a dot.
        let public = PathBuf::from(format!("{}.pub", private.display()));
        let public_line = std::fs::read_to_string(&public).unwrap().trim().to_string();
        Key {
            private,
            public,
            public_line,
            principal: principal.to_string(),
        }
    }

    pub fn ed25519(dir: &Path, principal: &str) -> Key {
        Key::generate(dir, principal, "ed25519")
    }

    /// The allowed_signers line trusting this key, with optional options (`namespaces="git"`).
    pub fn allowed_signers_line(&self, options: &str) -> String {
        let key = self
            .public_line
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        if options.is_empty() {
            format!("{} {}\n", self.principal, key)
        } else {
            format!("{} {} {}\n", self.principal, options, key)
        }
    }

    /// `SHA256:…` as `ssh-keygen -l` prints it.
    pub fn fingerprint(&self) -> String {
        let out = run(Command::new("ssh-keygen").arg("-lf").arg(&self.public));
        String::from_utf8(out.stdout)
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_string()
    }

    /// A detached SSHSIG over `data` in `namespace`, armored, from `ssh-keygen -Y sign`.
    pub fn sign_detached(&self, namespace: &str, data: &[u8]) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("data");
        std::fs::write(&file, data).unwrap();
        run(Command::new("ssh-keygen")
            .args(["-q", "-Y", "sign", "-n", namespace, "-f"])
            .arg(&self.private)
            .arg(&file));
        std::fs::read(file.with_extension("sig")).unwrap()
    }
}

/// A work-tree repository driven by the real `git`, isolated from the user's config.
pub struct TestRepo {
    pub dir: PathBuf,
}

impl TestRepo {
    pub fn init(dir: &Path) -> TestRepo {
        std::fs::create_dir_all(dir).unwrap();
        let repo = TestRepo {
            dir: dir.to_path_buf(),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.git(&["config", "user.name", "Test"]);
        repo.git(&["config", "user.email", "test@example.com"]);
        repo.git(&["config", "gpg.format", "ssh"]);
        repo.git(&["config", "commit.gpgsign", "false"]);
        repo
    }

    pub fn git_cmd(&self) -> Command {
        let mut cmd = Command::new("git");
        cmd.current_dir(&self.dir)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
            .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z");
        cmd
    }

    pub fn git(&self, args: &[&str]) -> String {
        let out = run(self.git_cmd().args(args));
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    pub fn write(&self, path: &str, contents: impl AsRef<[u8]>) {
        let p = self.dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, contents).unwrap();
    }

    pub fn remove(&self, path: &str) {
        self.git(&["rm", "-q", "-r", path]);
    }

    /// `git add -A && git commit -S` with `key`; returns the new commit id.
    pub fn commit_signed(&self, message: &str, key: &Key) -> String {
        self.git(&["add", "-A"]);
        let signing_key = format!("user.signingkey={}", key.private.display());
        self.git(&[
            "-c",
            &signing_key,
            "commit",
            "-q",
            "-S",
            "--allow-empty",
            "-m",
            message,
        ]);
        self.head()
    }

    pub fn commit_unsigned(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.head()
    }

    pub fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"])
    }

    /// The verdict of the real `git verify-commit` for `rev` with `allowed_signers`.
    pub fn git_verify_commit(&self, rev: &str, allowed_signers: &Path) -> bool {
        let cfg = format!("gpg.ssh.allowedSignersFile={}", allowed_signers.display());
        self.git_cmd()
            .args(["-c", &cfg, "verify-commit", rev])
            .output()
            .unwrap()
            .status
            .success()
    }

    /// Store a hand-made commit object (for attacks git would never produce) and return
    /// its id. `raw` is the commit object's body, as `git cat-file commit` prints it.
    pub fn hash_object_commit(&self, raw: &[u8]) -> String {
        use std::io::Write;
        let mut child = self
            .git_cmd()
            .args([
                "hash-object",
                "-t",
                "commit",
                "-w",
                "--literally",
                "--stdin",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(raw).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    pub fn cat_commit(&self, rev: &str) -> Vec<u8> {
        run(self.git_cmd().args(["cat-file", "commit", rev])).stdout
    }
}

/// Path to the built `netpol-sync` binary, for end-to-end tests of the command line.
pub fn netpol_sync_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_netpol-sync"))
}

/// The state key every test's netpol-sync uses (`--state-key`; `NETPOL_SYNC_STATE_KEY`
/// for spawned commands): one per test process, as one deployment has one Secret.
pub fn state_key() -> &'static Path {
    static KEY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("netpol-sync-test-key-")
            .tempdir()
            .unwrap()
            .keep();
        let path = dir.join("state-key");
        std::fs::write(&path, format!("{}\n", "5e".repeat(32))).unwrap();
        path
    })
}

/// Write an allowed_signers file made of `lines` into `dir/name` and return its path.
pub fn write_allowed_signers(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, lines.concat()).unwrap();
    path
}

/// Run the built `netpol-sync` with `args`; returns (exit code, stdout, stderr).
pub fn run_netpol_sync(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(netpol_sync_bin())
        .args(args)
        .env_remove("NETPOL_SYNC_OUTPUT")
        .env("NETPOL_SYNC_STATE_KEY", state_key())
        .output()
        .expect("spawn netpol-sync");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Insert a header block (already formatted, ending in `\n`) into a raw commit object
/// right before the blank line that ends its headers.
pub fn insert_header(raw: &[u8], header: &[u8]) -> Vec<u8> {
    let end = raw
        .windows(2)
        .position(|w| w == b"\n\n")
        .expect("commit has a message")
        + 1;
    let mut out = raw[..end].to_vec();
    out.extend_from_slice(header);
    out.extend_from_slice(&raw[end..]);
    out
}

/// Format an armored signature as a `gpgsig` header the way git writes it: the first line
/// after `gpgsig `, every following line indented by one space.
pub fn gpgsig_header(name: &str, armored: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(armored);
    let mut out = format!("{name} ");
    for (i, line) in text.trim_end_matches('\n').split('\n').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(line);
        out.push('\n');
    }
    out.into_bytes()
}
