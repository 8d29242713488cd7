//! `netpol-sync verify` end to end: exit codes, `--output json`, and bad input that must
//! give a clear message and exit 1 or 2, never a panic.

use crate::support;

use base64::Engine;
use std::path::PathBuf;
use support::{
    gpgsig_header, insert_header, run_netpol_sync, write_allowed_signers, Key, TestRepo,
};

const AT: &str = "2026-02-01T00:00:00Z";

struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    repo: TestRepo,
    alice: Key,
    anchor: PathBuf,
    base: String,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let alice = Key::ed25519(&dir, "alice@example.com");
    let repo = TestRepo::init(&dir.join("repo"));
    repo.write("keys/allowed_signers", alice.allowed_signers_line(""));
    let base = repo.commit_signed("trust alice", &alice);
    let anchor = write_allowed_signers(&dir, "anchor", &[alice.allowed_signers_line("")]);
    Fixture {
        _tmp: tmp,
        dir,
        repo,
        alice,
        anchor,
        base,
    }
}

impl Fixture {
    fn verify(&self, rev: &str, extra: &[&str]) -> (i32, serde_json::Value, String) {
        let repo = self.repo.dir.to_str().unwrap().to_string();
        let anchor = self.anchor.to_str().unwrap().to_string();
        let mut args = vec![
            "verify",
            "--repo",
            &repo,
            "--rev",
            rev,
            "--trust-anchor",
            &anchor,
            "--at",
            AT,
            "--output",
            "json",
        ];
        args.extend_from_slice(extra);
        let (code, stdout, stderr) = run_netpol_sync(&args);
        assert!(!stderr.contains("panicked"), "{stderr}");
        let json = serde_json::from_str(stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is one JSON object ({e}): {stdout:?} / {stderr}"));
        (code, json, stderr)
    }
}

#[test]
fn verified_chain_prints_verdict_revision_and_commits() {
    let f = fixture();
    let head = f.repo.commit_signed("next", &f.alice);
    let (code, json, _) = f.verify("HEAD", &["--since", &f.base]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["verdict"], "verified");
    assert_eq!(json["revision"], head.as_str());
    assert_eq!(json["commits"][0]["commit"], head.as_str());
    assert_eq!(
        json["commits"][0]["fingerprint"],
        f.alice.fingerprint().as_str()
    );
    assert_eq!(json["commits"][0]["principal"], "alice@example.com");
}

#[test]
fn rejection_names_commit_reason_fingerprint_and_exits_1() {
    let f = fixture();
    let mallory = Key::ed25519(&f.dir, "mallory@example.com");
    let bad = f.repo.commit_signed("by mallory", &mallory);
    let (code, json, _) = f.verify("HEAD", &["--since", &f.base]);
    assert_eq!(code, 1, "{json}");
    assert_eq!(json["verdict"], "rejected");
    assert_eq!(json["reason"], "untrusted-key");
    assert_eq!(json["revision"], bad.as_str());
    assert_eq!(json["location"]["commit"], bad.as_str());
    assert_eq!(
        json["location"]["fingerprint"],
        mallory.fingerprint().as_str()
    );
}

#[test]
fn text_output_is_a_readable_screen() {
    let f = fixture();
    f.repo.commit_unsigned("unsigned");
    let (code, stdout, stderr) = run_netpol_sync(&[
        "verify",
        "--repo",
        f.repo.dir.to_str().unwrap(),
        "--trust-anchor",
        f.anchor.to_str().unwrap(),
        "--since",
        &f.base,
    ]);
    assert_eq!(code, 1);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.starts_with("REJECTED (unsigned-commit)"), "{stderr}");
    assert!(stderr.lines().count() < 20, "{stderr}");
}

#[test]
fn force_push_exits_1_not_fast_forward() {
    let f = fixture();
    let applied = f.repo.commit_signed("applied", &f.alice);
    let (code, json, _) = f.verify(&f.base, &["--since", &applied]);
    assert_eq!(code, 1);
    assert_eq!(json["reason"], "not-fast-forward");
}

#[test]
fn repository_given_as_a_file_url_is_cloned_and_verified() {
    let f = fixture();
    let url = format!("file://{}", f.repo.dir.display());
    let (code, stdout, stderr) = run_netpol_sync(&[
        "verify",
        "--repo",
        &url,
        "--rev",
        "main",
        "--trust-anchor",
        f.anchor.to_str().unwrap(),
        "--output",
        "json",
    ]);
    assert_eq!(code, 0, "{stdout} {stderr}");
    let json: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(json["revision"], f.base.as_str());
}

#[test]
fn not_a_repository_exits_2() {
    let f = fixture();
    let (code, stdout, stderr) = run_netpol_sync(&[
        "verify",
        "--repo",
        f.dir.to_str().unwrap(),
        "--trust-anchor",
        f.anchor.to_str().unwrap(),
        "--output",
        "json",
    ]);
    assert_eq!(code, 2, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(json["verdict"], "error");
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .contains("not a git repository"),
        "{json}"
    );
}

#[test]
fn unknown_rev_exits_2() {
    let f = fixture();
    let (code, json, _) = f.verify("no-such-branch", &[]);
    assert_eq!(code, 2);
    assert_eq!(json["reason"], "not-found");
    assert!(
        json["message"].as_str().unwrap().contains("no-such-branch"),
        "{json}"
    );
}

#[test]
fn missing_trust_anchor_exits_2() {
    let f = fixture();
    let (code, stdout, _) = run_netpol_sync(&[
        "verify",
        "--repo",
        f.repo.dir.to_str().unwrap(),
        "--trust-anchor",
        "/nonexistent/anchor",
        "--output",
        "json",
    ]);
    assert_eq!(code, 2);
    let json: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/anchor"),
        "{json}"
    );
}

#[test]
fn trust_anchor_with_unknown_key_type_exits_2_naming_file_and_line() {
    let f = fixture();
    std::fs::write(
        &f.anchor,
        f.alice.allowed_signers_line("") + "bob@example.com ssh-foo AAAAB3NzaC1\n",
    )
    .unwrap();
    let (code, json, _) = f.verify("HEAD", &[]);
    assert_eq!(code, 2);
    assert_eq!(json["reason"], "trust-file-invalid");
    let message = json["message"].as_str().unwrap();
    assert!(
        message.contains("line 2") && message.contains("ssh-foo"),
        "{message}"
    );
    assert!(message.contains(f.anchor.to_str().unwrap()), "{message}");
}

#[test]
fn ten_megabyte_commit_message_is_refused_by_size() {
    let f = fixture();
    let raw = f.repo.cat_commit("HEAD");
    let mut huge = raw.clone();
    huge.extend(std::iter::repeat_n(b'x', 10 * 1024 * 1024));
    let id = f.repo.hash_object_commit(&huge);
    let (code, json, _) = f.verify(&id, &[]);
    assert_eq!(code, 1, "{json}");
    assert_eq!(json["reason"], "limit-exceeded");
}

#[test]
fn ten_megabyte_gpgsig_header_is_refused_by_size() {
    let f = fixture();
    f.repo.commit_unsigned("payload");
    let payload = f.repo.cat_commit("HEAD");
    let body = "A".repeat(70);
    let mut armored = String::from("-----BEGIN SSH SIGNATURE-----\n");
    for _ in 0..(10 * 1024 * 1024 / 71) {
        armored.push_str(&body);
        armored.push('\n');
    }
    armored.push_str("-----END SSH SIGNATURE-----\n");
    let id = f.repo.hash_object_commit(&insert_header(
        &payload,
        &gpgsig_header("gpgsig", armored.as_bytes()),
    ));
    let (code, json, _) = f.verify(&id, &[]);
    assert_eq!(code, 1, "{json}");
    assert_eq!(json["reason"], "limit-exceeded");
}

#[test]
fn gpgsig_with_bad_base64_is_a_bad_signature() {
    let f = fixture();
    f.repo.commit_unsigned("payload");
    let payload = f.repo.cat_commit("HEAD");
    let armored = b"-----BEGIN SSH SIGNATURE-----\nU1NI!!!lH\n-----END SSH SIGNATURE-----\n";
    let id = f
        .repo
        .hash_object_commit(&insert_header(&payload, &gpgsig_header("gpgsig", armored)));
    let (code, json, _) = f.verify(&id, &[]);
    assert_eq!(code, 1);
    assert_eq!(json["reason"], "bad-signature");
    assert!(!f.repo.git_verify_commit(&id, &f.anchor));
}

#[test]
fn sshsig_with_truncated_length_fields_is_a_bad_signature() {
    let f = fixture();
    f.repo.commit_unsigned("payload");
    let payload = f.repo.cat_commit("HEAD");
    let real = f.alice.sign_detached("git", &payload);
    let text = String::from_utf8(real).unwrap();
    let b64: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    let blob = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    // Cut inside the public key string, then claim a huge length for the namespace.
    for cut in [blob[..20].to_vec(), {
        let mut b = blob.clone();
        b.truncate(60);
        b
    }] {
        let b64 = base64::engine::general_purpose::STANDARD.encode(&cut);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(70)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        let armored = format!(
            "-----BEGIN SSH SIGNATURE-----\n{}\n-----END SSH SIGNATURE-----\n",
            lines.join("\n")
        );
        let id = f.repo.hash_object_commit(&insert_header(
            &payload,
            &gpgsig_header("gpgsig", armored.as_bytes()),
        ));
        let (code, json, _) = f.verify(&id, &[]);
        assert_eq!(code, 1, "{json}");
        assert_eq!(json["reason"], "bad-signature");
        assert!(
            json["message"].as_str().unwrap().contains("truncated"),
            "{json}"
        );
        assert!(!f.repo.git_verify_commit(&id, &f.anchor));
    }
}

#[test]
fn pgp_signature_in_gpgsig_is_unsupported() {
    let f = fixture();
    f.repo.commit_unsigned("payload");
    let payload = f.repo.cat_commit("HEAD");
    let pgp = b"-----BEGIN PGP SIGNATURE-----\n\niHUEABYKAB0WIQ==\n-----END PGP SIGNATURE-----\n";
    let id = f
        .repo
        .hash_object_commit(&insert_header(&payload, &gpgsig_header("gpgsig", pgp)));
    let (code, json, _) = f.verify(&id, &[]);
    assert_eq!(code, 1);
    assert_eq!(json["reason"], "unsupported-key-type");
}
