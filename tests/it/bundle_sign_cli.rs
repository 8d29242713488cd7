//! `netpol-sync bundle sign DIR --key FILE [--name NAME]` with the real ssh-keygen (and
//! ssh-agent): the signature lands where `verify` reads it and `verify` counts it; what
//! would make a worthless signature (an untrusted key, a stale seal, a key file that is
//! not a key, a failing ssh-keygen, a name outside signatures/) is refused and writes
//! nothing.

use crate::support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use support::{Key, TestRepo};

const DENY: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: default-deny\n  namespace: payments\nspec:\n  podSelector: {}\n  policyTypes: [Ingress, Egress]\n";

struct Setup {
    tmp: tempfile::TempDir,
    repo: TestRepo,
    alice: Key,
    anchor: PathBuf,
    bundle: PathBuf,
}

impl Setup {
    /// A repository trusting alice (commits and bundles), with one sealed, unsigned bundle.
    fn new() -> Setup {
        let tmp = tempfile::tempdir().unwrap();
        let alice = Key::ed25519(tmp.path(), "alice@example.com");
        let line = alice.allowed_signers_line("namespaces=\"git,netpol-sync-bundle\"");
        let anchor = tmp.path().join("anchor");
        std::fs::write(&anchor, &line).unwrap();
        let repo = TestRepo::init(&tmp.path().join("repo"));
        repo.write("keys/allowed_signers", &line);
        repo.write(
            "bundles/prod/bundle.yaml",
            "apiVersion: netpol-sync/v1\nkind: Bundle\nname: prod\nnamespaces: [payments]\n",
        );
        repo.write("bundles/prod/payments/deny.yaml", DENY);
        let bundle = repo.dir.join("bundles/prod");
        let s = Setup {
            tmp,
            repo,
            alice,
            anchor,
            bundle,
        };
        s.seal();
        s
    }

    fn seal(&self) {
        support::run(
            Command::new(support::netpol_sync_bin())
                .args(["bundle", "seal"])
                .arg(&self.bundle),
        );
    }

    fn sign_cmd(&self, key: &Path, extra: &[&str]) -> Command {
        let mut cmd = Command::new(support::netpol_sync_bin());
        cmd.args(["bundle", "sign"])
            .arg(&self.bundle)
            .arg("--key")
            .arg(key)
            .args(extra)
            .stdin(Stdio::null())
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("SSH_ASKPASS");
        cmd
    }

    fn sign(&self, key: &Path, extra: &[&str]) -> (i32, String, String) {
        output(self.sign_cmd(key, extra).output().unwrap())
    }

    /// Commit signed by alice and run `verify --output json` against the anchor.
    fn verify(&self) -> (i32, serde_json::Value) {
        self.repo.commit_signed("change", &self.alice);
        let (code, stdout, stderr) = support::run_netpol_sync(&[
            "verify",
            "--repo",
            self.repo.dir.to_str().unwrap(),
            "--trust-anchor",
            self.anchor.to_str().unwrap(),
            "--output",
            "json",
        ]);
        let json =
            serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
        (code, json)
    }

    /// Every file under the bundle directory with its bytes.
    fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        snapshot(&self.bundle)
    }
}

fn output(out: std::process::Output) -> (i32, String, String) {
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.insert(p.clone(), Vec::new());
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn sign_writes_the_principals_signature_and_verify_counts_it() {
    let s = Setup::new();
    let (code, stdout, stderr) = s.sign(&s.alice.private, &[]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let sig = s.bundle.join("signatures/alice@example.com.sig");
    assert!(sig.is_file(), "{stdout}");
    assert!(
        !s.bundle.join("bundle.yaml.sig").exists(),
        "ssh-keygen's output must not be left beside bundle.yaml"
    );
    assert_eq!(
        std::fs::read_dir(s.bundle.join("signatures"))
            .unwrap()
            .count(),
        1
    );
    let (code, json) = s.verify();
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["verdict"], "verified");
    assert_eq!(
        json["bundles"][0]["signers"][0],
        s.alice.fingerprint().as_str()
    );
}

#[test]
fn re_signing_after_a_reseal_replaces_the_signature_and_says_so() {
    let s = Setup::new();
    assert_eq!(s.sign(&s.alice.private, &[]).0, 0);
    let sig = s.bundle.join("signatures/alice@example.com.sig");
    let first = std::fs::read(&sig).unwrap();
    s.repo.write(
        "bundles/prod/payments/deny.yaml",
        DENY.replace("Ingress, Egress", "Ingress"),
    );
    s.seal();
    let (code, stdout, stderr) = s.sign(&s.alice.private, &[]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("replaced"), "{stdout}");
    assert_ne!(std::fs::read(&sig).unwrap(), first);
    let (code, json) = s.verify();
    assert_eq!(code, 0, "{json}");
}

/// `--key` names a public key whose private half is only in a real ssh-agent: ssh-keygen
/// signs through the agent.
#[test]
fn a_public_key_whose_private_half_is_in_ssh_agent_signs() {
    let s = Setup::new();
    let socket = s.tmp.path().join("agent.sock");
    let mut agent = Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&socket)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ssh-agent");
    let ready = support::wait_for(Duration::from_secs(10), || socket.exists());
    let result = std::panic::catch_unwind(|| {
        assert!(ready.is_some(), "ssh-agent did not listen");
        support::run(
            Command::new("ssh-add")
                .arg("-q")
                .arg(&s.alice.private)
                .env("SSH_AUTH_SOCK", &socket),
        );
        // Only the public half where --key points: no private key beside it.
        let lone = s.tmp.path().join("lone");
        std::fs::create_dir(&lone).unwrap();
        let public = lone.join("alice.pub");
        std::fs::copy(&s.alice.public, &public).unwrap();
        let out = s
            .sign_cmd(&public, &[])
            .env("SSH_AUTH_SOCK", &socket)
            .output()
            .unwrap();
        let (code, stdout, stderr) = output(out);
        assert_eq!(code, 0, "{stdout}\n{stderr}");
        let (code, json) = s.verify();
        assert_eq!(code, 0, "{json}");
    });
    agent.kill().unwrap();
    agent.wait().unwrap();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn a_key_not_in_allowed_signers_is_refused_and_nothing_written() {
    let s = Setup::new();
    let mallory = Key::ed25519(s.tmp.path(), "mallory@example.com");
    let before = s.snapshot();
    let (code, stdout, stderr) = s.sign(&mallory.private, &[]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stderr.contains("not in") && stderr.contains("keys/allowed_signers"),
        "{stderr}"
    );
    assert!(stderr.contains(&mallory.fingerprint()), "{stderr}");
    assert_eq!(s.snapshot(), before);
}

#[test]
fn a_key_allowed_only_for_commits_is_refused() {
    let s = Setup::new();
    s.repo.write(
        "keys/allowed_signers",
        s.alice.allowed_signers_line("namespaces=\"git\""),
    );
    let before = s.snapshot();
    let (code, _, stderr) = s.sign(&s.alice.private, &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("namespace"), "{stderr}");
    assert_eq!(s.snapshot(), before);
}

/// `--name` signs with an untrusted key anyway, warns, and verify indeed does not count it.
#[test]
fn name_signs_with_an_untrusted_key_with_a_warning_verify_confirms() {
    let s = Setup::new();
    let bob = Key::ed25519(s.tmp.path(), "bob@example.com");
    let (code, stdout, stderr) = s.sign(&bob.private, &["--name", "bob"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stderr.contains("will not count"), "{stderr}");
    assert!(s.bundle.join("signatures/bob.sig").is_file());
    let (code, json) = s.verify();
    assert_eq!(code, 1, "{json}");
    assert_eq!(json["reason"], "bundle-signature-threshold");
}

#[test]
fn a_stale_seal_is_refused_and_nothing_written() {
    let s = Setup::new();
    s.repo.write(
        "bundles/prod/payments/extra.yaml",
        DENY.replace("default-deny", "extra"),
    );
    let before = s.snapshot();
    let (code, stdout, stderr) = s.sign(&s.alice.private, &[]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stderr.contains("payments/extra.yaml")
            && stderr.contains(&format!("netpol-sync bundle seal {}", s.bundle.display())),
        "{stderr}"
    );
    assert_eq!(s.snapshot(), before);
}

#[test]
fn a_key_file_that_is_not_a_key_is_a_clear_error() {
    let s = Setup::new();
    let bogus = s.tmp.path().join("not-a-key");
    std::fs::write(&bogus, "hello, I am not a key\n").unwrap();
    let before = s.snapshot();
    let (code, _, stderr) = s.sign(&bogus, &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(bogus.to_str().unwrap()) && stderr.contains("not an SSH public key"),
        "{stderr}"
    );
    assert_eq!(s.snapshot(), before);
}

#[test]
fn a_name_that_leaves_signatures_is_refused() {
    let s = Setup::new();
    let before = s.snapshot();
    for name in ["../x", "a/b", ".hidden"] {
        let (code, _, stderr) = s.sign(&s.alice.private, &["--name", name]);
        assert_eq!(code, 2, "{name}: {stderr}");
        assert!(stderr.contains("not a safe file name"), "{stderr}");
    }
    assert_eq!(s.snapshot(), before);
    assert!(!s.bundle.join("x.sig").exists());
}

/// A passphrase-protected key, no agent, no terminal (its own session), nothing on stdin:
/// ssh-keygen cannot get the passphrase and fails; the error carries its message.
#[test]
fn ssh_keygen_failing_is_a_clear_error_and_writes_nothing() {
    let s = Setup::new();
    let locked = s.tmp.path().join("locked");
    support::run(
        Command::new("ssh-keygen")
            .args([
                "-q",
                "-t",
                "ed25519",
                "-N",
                "a passphrase",
                "-C",
                "alice@example.com",
                "-f",
            ])
            .arg(&locked),
    );
    let public = std::fs::read_to_string(format!("{}.pub", locked.display())).unwrap();
    s.repo.write(
        "keys/allowed_signers",
        format!(
            "alice@example.com namespaces=\"netpol-sync-bundle\" {}\n",
            public
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
        ),
    );
    let before = s.snapshot();
    let inner = s.sign_cmd(&locked, &[]);
    let mut cmd = Command::new("setsid");
    cmd.arg("--wait")
        .arg(inner.get_program())
        .args(inner.get_args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("SSH_AUTH_SOCK")
        .env_remove("SSH_ASKPASS")
        .env_remove("DISPLAY");
    let mut child = cmd.spawn().unwrap();
    let done = support::wait_for(Duration::from_secs(30), || {
        child.try_wait().unwrap().is_some()
    });
    if done.is_none() {
        child.kill().unwrap();
        panic!("bundle sign waited for a passphrase instead of failing");
    }
    let (code, stdout, stderr) = output(child.wait_with_output().unwrap());
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stderr.contains("ssh-keygen") && stderr.contains("failed") && stderr.contains("passphrase"),
        "{stderr}"
    );
    assert_eq!(s.snapshot(), before);
}

#[test]
fn ssh_keygen_missing_is_a_clear_error() {
    let s = Setup::new();
    let empty = s.tmp.path().join("empty-path");
    std::fs::create_dir(&empty).unwrap();
    let before = s.snapshot();
    let out = s
        .sign_cmd(&s.alice.private, &[])
        .env("PATH", &empty)
        .output()
        .unwrap();
    let (code, _, stderr) = output(out);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("ssh-keygen was not found"), "{stderr}");
    assert_eq!(s.snapshot(), before);
}

/// A `.pub` beside a private key that is not its public half, both keys trusted: the key
/// named (bob, from the `.pub`) is not the key that would sign (alice). ssh-keygen 8.x
/// refuses the pair itself; netpol-sync's own check after signing would catch a
/// signature by the other key. Either way nothing is written.
#[test]
fn a_pub_file_that_is_not_the_private_keys_is_refused_and_nothing_written() {
    let s = Setup::new();
    let bob = Key::ed25519(s.tmp.path(), "bob@example.com");
    s.repo.write(
        "keys/allowed_signers",
        format!(
            "{}{}",
            s.alice
                .allowed_signers_line("namespaces=\"git,netpol-sync-bundle\""),
            bob.allowed_signers_line("namespaces=\"git,netpol-sync-bundle\"")
        ),
    );
    let dir = s.tmp.path().join("mixed");
    std::fs::create_dir(&dir).unwrap();
    let private = dir.join("id");
    std::fs::copy(&s.alice.private, &private).unwrap();
    std::fs::copy(&bob.public, dir.join("id.pub")).unwrap();
    let before = s.snapshot();
    let (code, _, stderr) = s.sign(&private, &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("match"), "{stderr}");
    assert_eq!(s.snapshot(), before);
}
