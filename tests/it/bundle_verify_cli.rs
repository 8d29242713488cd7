//! `netpol-sync verify` reports bundles: the CI recipe of docs/bundles.md, run for real.
//! A policy edited but not resealed fails with `digest-mismatch`; resealed but not
//! re-signed fails with `bundle-signature-threshold`; resealed and re-signed passes.

use crate::support;

use std::process::Command;
use support::{Key, TestRepo};

const DENY: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: default-deny\n  namespace: payments\nspec:\n  podSelector: {}\n  policyTypes: [Ingress, Egress]\n";

fn netpol_sync(args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let out = Command::new(support::netpol_sync_bin())
        .args(args)
        .output()
        .unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), json)
}

struct Setup {
    _tmp: tempfile::TempDir,
    repo: TestRepo,
    key: Key,
    anchor: std::path::PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let tmp = tempfile::tempdir().unwrap();
        let key = Key::ed25519(tmp.path(), "alice@example.com");
        let anchor = tmp.path().join("anchor");
        std::fs::write(&anchor, key.allowed_signers_line("")).unwrap();
        let repo = TestRepo::init(&tmp.path().join("repo"));
        repo.write(
            "keys/allowed_signers",
            key.allowed_signers_line("namespaces=\"git,netpol-sync-bundle\""),
        );
        repo.write(
            "bundles/prod/bundle.yaml",
            "apiVersion: netpol-sync/v1\nkind: Bundle\nname: prod\nnamespaces: [payments]\n",
        );
        repo.write("bundles/prod/payments/deny.yaml", DENY);
        let s = Setup {
            _tmp: tmp,
            repo,
            key,
            anchor,
        };
        s.seal();
        s.sign();
        s
    }

    fn seal(&self) {
        let dir = self.repo.dir.join("bundles/prod");
        support::run(
            Command::new(support::netpol_sync_bin())
                .args(["bundle", "seal"])
                .arg(dir),
        );
    }

    fn sign(&self) {
        let manifest = std::fs::read(self.repo.dir.join("bundles/prod/bundle.yaml")).unwrap();
        self.repo.write(
            "bundles/prod/signatures/alice.sig",
            self.key.sign_detached("netpol-sync-bundle", &manifest),
        );
    }

    fn verify(&self) -> (Option<i32>, serde_json::Value) {
        self.repo.commit_signed("change", &self.key);
        netpol_sync(&[
            "verify",
            "--repo",
            self.repo.dir.to_str().unwrap(),
            "--trust-anchor",
            self.anchor.to_str().unwrap(),
            "--output",
            "json",
        ])
    }
}

#[test]
fn verify_reports_the_bundle_digest_and_signer() {
    let s = Setup::new();
    let (code, json) = s.verify();
    assert_eq!(code, Some(0), "{json}");
    assert_eq!(json["verdict"], "verified");
    let digest = format!(
        "sha256:{}",
        String::from_utf8(
            support::run(
                Command::new("sha256sum").arg(s.repo.dir.join("bundles/prod/bundle.yaml"))
            )
            .stdout
        )
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
    );
    assert_eq!(json["bundles"][0]["name"], "prod");
    assert_eq!(json["bundles"][0]["digest"], digest.as_str());
    assert_eq!(
        json["bundles"][0]["signers"][0],
        s.key.fingerprint().as_str()
    );
}

#[test]
fn ci_fails_when_a_policy_was_edited_but_not_resealed() {
    let s = Setup::new();
    s.repo.write(
        "bundles/prod/payments/deny.yaml",
        DENY.replace("Ingress, Egress", "Ingress"),
    );
    let (code, json) = s.verify();
    assert_eq!(code, Some(1), "{json}");
    assert_eq!(json["reason"], "digest-mismatch");
    assert_eq!(json["location"]["file"], "payments/deny.yaml");
    assert_eq!(json["location"]["bundle"], "prod");
}

#[test]
fn ci_fails_when_a_policy_was_resealed_but_not_re_signed() {
    let s = Setup::new();
    s.repo.write(
        "bundles/prod/payments/deny.yaml",
        DENY.replace("Ingress, Egress", "Ingress"),
    );
    s.seal();
    let (code, json) = s.verify();
    assert_eq!(code, Some(1), "{json}");
    assert_eq!(json["reason"], "bundle-signature-threshold");
}

#[test]
fn ci_passes_when_resealed_and_re_signed() {
    let s = Setup::new();
    s.repo.write(
        "bundles/prod/payments/deny.yaml",
        DENY.replace("Ingress, Egress", "Ingress"),
    );
    s.seal();
    s.sign();
    let (code, json) = s.verify();
    assert_eq!(code, Some(0), "{json}");
}

#[test]
fn verify_with_an_unknown_bundle_name_is_an_error() {
    let s = Setup::new();
    s.repo.commit_signed("change", &s.key);
    let (code, json) = netpol_sync(&[
        "verify",
        "--repo",
        s.repo.dir.to_str().unwrap(),
        "--trust-anchor",
        s.anchor.to_str().unwrap(),
        "--bundle",
        "staging",
        "--output",
        "json",
    ]);
    assert_eq!(code, Some(2), "{json}");
    assert_eq!(json["reason"], "not-found");
}
