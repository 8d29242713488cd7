//! A work-tree repository driven by the real `git`, isolated from the user's config:
//! commits signed by `git commit -S` with `gpg.format=ssh`.

use crate::{run, Key};
use std::path::{Path, PathBuf};
use std::process::Command;

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
