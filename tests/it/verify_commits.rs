//! Single-commit verdicts (head against the trust anchor), each compared with the real
//! `git verify-commit` given the same allowed_signers file. Where netpol-sync is stricter
//! by design, the test says why and asserts both verdicts.

use crate::support;

use netpol_sync::git::Repo;
use netpol_sync::reason::ReasonCode;
use netpol_sync::verify::{
    verify_revision, AllowedSigners, SignaturePolicy, VerifiedRevision, VerifyError,
};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, UNIX_EPOCH};
use support::{gpgsig_header, insert_header, run, write_allowed_signers, Key, TestRepo};

/// 2026-02-01T00:00:00Z: after the fixture commits' committer date (2026-01-01).
const FEB_2026: u64 = 1_769_904_000;

fn policy() -> SignaturePolicy {
    SignaturePolicy {
        at: UNIX_EPOCH + Duration::from_secs(FEB_2026),
        require_user_presence: true,
        key_change_signatures: 1,
    }
}

struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    repo: TestRepo,
    alice: Key,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let alice = Key::ed25519(&dir, "alice@example.com");
    let repo = TestRepo::init(&dir.join("repo"));
    repo.write("keys/allowed_signers", alice.allowed_signers_line(""));
    Fixture {
        _tmp: tmp,
        dir,
        repo,
        alice,
    }
}

fn ours(
    repo: &TestRepo,
    rev: &str,
    anchor: &Path,
    policy: &SignaturePolicy,
) -> Result<VerifiedRevision, VerifyError> {
    let signers = AllowedSigners::parse("anchor", &std::fs::read(anchor).unwrap()).unwrap();
    let repo = Repo::open(repo.dir.to_str().unwrap()).unwrap();
    verify_revision(&repo, rev, None, &signers, policy)
}

fn rejected(result: Result<VerifiedRevision, VerifyError>) -> VerifyError {
    match result {
        Ok(v) => panic!("expected a rejection, {} verified", v.commit_id()),
        Err(e) => e,
    }
}

#[test]
fn valid_signed_head_verifies_like_git() {
    let f = fixture();
    let head = f.repo.commit_signed("valid", &f.alice);
    let anchor = write_allowed_signers(&f.dir, "anchor", &[f.alice.allowed_signers_line("")]);
    let v = ours(&f.repo, "HEAD", &anchor, &policy()).unwrap();
    assert_eq!(v.commit_id().to_string(), head);
    assert_eq!(v.commits().len(), 1);
    assert_eq!(v.commits()[0].fingerprint(), f.alice.fingerprint());
    assert_eq!(v.commits()[0].principal(), "alice@example.com");
    assert!(f.repo.git_verify_commit("HEAD", &anchor));
}

#[test]
fn unsigned_head_is_rejected_like_git() {
    let f = fixture();
    let head = f.repo.commit_unsigned("unsigned");
    let anchor = write_allowed_signers(&f.dir, "anchor", &[f.alice.allowed_signers_line("")]);
    let e = rejected(ours(&f.repo, "HEAD", &anchor, &policy()));
    assert_eq!(e.reason(), ReasonCode::UnsignedCommit);
    assert_eq!(e.location().commit.as_deref(), Some(head.as_str()));
    assert!(!f.repo.git_verify_commit("HEAD", &anchor));
}

#[test]
fn untrusted_key_is_rejected_like_git() {
    let f = fixture();
    let mallory = Key::ed25519(&f.dir, "mallory@example.com");
    f.repo.commit_signed("by mallory", &mallory);
    let anchor = write_allowed_signers(&f.dir, "anchor", &[f.alice.allowed_signers_line("")]);
    let e = rejected(ours(&f.repo, "HEAD", &anchor, &policy()));
    assert_eq!(e.reason(), ReasonCode::UntrustedKey);
    assert_eq!(e.location().fingerprint, Some(mallory.fingerprint()));
    assert!(!f.repo.git_verify_commit("HEAD", &anchor));
}

/// Stricter by design: git accepts RSA and ECDSA SSH signatures; netpol-sync accepts only
/// the Ed25519 key types (docs/trust.md, "The model").
#[test]
fn rsa_and_ecdsa_signed_commits_are_unsupported_though_git_accepts_them() {
    for kind in ["rsa", "ecdsa"] {
        let f = fixture();
        let key = Key::generate(&f.dir, "ops@example.com", kind);
        f.repo.commit_signed(&format!("{kind}-signed"), &key);
        let anchor = write_allowed_signers(&f.dir, "anchor", &[key.allowed_signers_line("")]);
        let e = rejected(ours(&f.repo, "HEAD", &anchor, &policy()));
        assert_eq!(e.reason(), ReasonCode::UnsupportedKeyType, "{kind}: {e}");
        assert_eq!(e.location().fingerprint, Some(key.fingerprint()), "{kind}");
        assert!(
            f.repo.git_verify_commit("HEAD", &anchor),
            "git accepts {kind}"
        );
    }
}

#[test]
fn signature_made_in_file_namespace_and_grafted_into_a_commit_is_rejected_like_git() {
    let f = fixture();
    f.repo.commit_unsigned("payload to graft onto");
    let payload = f.repo.cat_commit("HEAD");
    let file_sig = f.alice.sign_detached("file", &payload);
    let grafted = insert_header(&payload, &gpgsig_header("gpgsig", &file_sig));
    let id = f.repo.hash_object_commit(&grafted);
    let anchor = write_allowed_signers(&f.dir, "anchor", &[f.alice.allowed_signers_line("")]);
    let e = rejected(ours(&f.repo, &id, &anchor, &policy()));
    assert_eq!(e.reason(), ReasonCode::BadSignature);
    assert!(e.message.contains("namespace"), "{e}");
    assert!(!f.repo.git_verify_commit(&id, &anchor));

    // The same splice with a `git`-namespace signature is accepted by both: the graft
    // above fails only because of its namespace.
    let git_sig = f.alice.sign_detached("git", &payload);
    let good = f
        .repo
        .hash_object_commit(&insert_header(&payload, &gpgsig_header("gpgsig", &git_sig)));
    ours(&f.repo, &good, &anchor, &policy()).unwrap();
    assert!(f.repo.git_verify_commit(&good, &anchor));
}

#[test]
fn tampered_payload_is_rejected_like_git() {
    let f = fixture();
    f.repo.commit_signed("allow frontend to payments", &f.alice);
    let raw = f.repo.cat_commit("HEAD");
    let text = String::from_utf8(raw)
        .unwrap()
        .replace("allow frontend", "allow everyone");
    let id = f.repo.hash_object_commit(text.as_bytes());
    let anchor = write_allowed_signers(&f.dir, "anchor", &[f.alice.allowed_signers_line("")]);
    let e = rejected(ours(&f.repo, &id, &anchor, &policy()));
    assert_eq!(e.reason(), ReasonCode::BadSignature);
    assert!(!f.repo.git_verify_commit(&id, &anchor));
}

fn signed_raw(f: &Fixture) -> Vec<u8> {
    f.repo.commit_signed("signed", &f.alice);
    f.repo.cat_commit("HEAD")
}

fn gpgsig_block(raw: &[u8]) -> Vec<u8> {
    let text = String::from_utf8(raw.to_vec()).unwrap();
    let start = text.find("\ngpgsig ").unwrap() + 1;
    let end =
        text.find("-----END SSH SIGNATURE-----\n").unwrap() + "-----END SSH SIGNATURE-----\n".len();
    text.as_bytes()[start..end].to_vec()
}

/// Stricter by design: git-core strips every `gpgsig` header from the payload and joins
/// the signatures, and `git verify-commit` says good; libgit2 reads the headers
/// differently. A commit two parsers read two ways is refused.
#[test]
fn two_gpgsig_headers_are_malformed_though_git_accepts_them() {
    let f = fixture();
    let raw = signed_raw(&f);
    let doubled = insert_header(&raw, &gpgsig_block(&raw));
    let id = f.repo.hash_object_commit(&doubled);
    let anchor = write_allowed_signers(&f.dir, "anchor", &[f.alice.allowed_signers_line("")]);
    let e = rejected(ours(&f.repo, &id, &anchor, &policy()));
    assert_eq!(e.reason(), ReasonCode::BadSignature);
    assert!(e.message.contains("two gpgsig"), "{e}");
    assert!(
        f.repo.git_verify_commit(&id, &anchor),
        "git-core accepts the doubled header"
    );
}

/// Stricter by design: git-core drops any header line starting with `gpgsig` from the
/// payload, so `gpgsig-x` can be added to a signed commit (a new commit id, same verdict
/// from `git verify-commit`); libgit2 keeps it in the payload. We refuse the ambiguity.
#[test]
fn unknown_gpgsig_x_header_is_malformed_though_git_accepts_it() {
    let f = fixture();
    let raw = signed_raw(&f);
    let id = f
        .repo
        .hash_object_commit(&insert_header(&raw, b"gpgsig-x smuggled\n"));
    let anchor = write_allowed_signers(&f.dir, "anchor", &[f.alice.allowed_signers_line("")]);
    let e = rejected(ours(&f.repo, &id, &anchor, &policy()));
    assert_eq!(e.reason(), ReasonCode::BadSignature);
    assert!(e.message.contains("gpgsig-x"), "{e}");
    assert!(
        f.repo.git_verify_commit(&id, &anchor),
        "git-core ignores the smuggled header"
    );
}

/// Stricter by design: git-core drops every known signature header (`gpgsig-sha256` too)
/// from the payload, so a header can be added to a signed commit, changing its id,
/// while `git verify-commit` still says good. netpol-sync refuses the ambiguity.
#[test]
fn gpgsig_sha256_header_added_to_a_signed_commit_is_malformed() {
    let f = fixture();
    let raw = signed_raw(&f);
    let block = gpgsig_block(&raw);
    let sha256 = [b"gpgsig-sha256".as_slice(), &block["gpgsig".len()..]].concat();
    let id = f.repo.hash_object_commit(&insert_header(&raw, &sha256));
    let anchor = write_allowed_signers(&f.dir, "anchor", &[f.alice.allowed_signers_line("")]);
    let e = rejected(ours(&f.repo, &id, &anchor, &policy()));
    assert_eq!(e.reason(), ReasonCode::BadSignature);
    assert!(
        f.repo.git_verify_commit(&id, &anchor),
        "git-core strips gpgsig-sha256 from the payload"
    );
}

#[test]
fn key_expired_by_valid_before_is_rejected_like_git() {
    let f = fixture();
    f.repo.commit_signed("signed in 2026", &f.alice);
    // Expired before the committer date (2026-01-01) and before the verifier's clock.
    let anchor = write_allowed_signers(
        &f.dir,
        "anchor",
        &[f.alice.allowed_signers_line("valid-before=\"20251231Z\"")],
    );
    let e = rejected(ours(&f.repo, "HEAD", &anchor, &policy()));
    assert_eq!(e.reason(), ReasonCode::UntrustedKey);
    assert!(e.message.contains("expired"), "{e}");
    assert!(!f.repo.git_verify_commit("HEAD", &anchor));
}

/// Stricter by design: git judges the window at the committer date, which the signer
/// chooses; netpol-sync judges it at the verifier's clock (`--at`). A key that expired on
/// 2026-01-15 can no longer sign, even with a back-dated commit.
#[test]
fn backdated_commit_from_expired_key_is_rejected_though_git_accepts_it() {
    let f = fixture();
    f.repo.commit_signed("committer date 2026-01-01", &f.alice);
    let anchor = write_allowed_signers(
        &f.dir,
        "anchor",
        &[f.alice.allowed_signers_line("valid-before=\"20260115Z\"")],
    );
    let e = rejected(ours(&f.repo, "HEAD", &anchor, &policy()));
    assert_eq!(e.reason(), ReasonCode::UntrustedKey);
    assert!(f.repo.git_verify_commit("HEAD", &anchor));
    // At a time inside the window we agree with git.
    let early = SignaturePolicy {
        at: UNIX_EPOCH + Duration::from_secs(1_767_225_600),
        ..policy()
    };
    ours(&f.repo, "HEAD", &anchor, &early).unwrap();
}

#[test]
fn key_limited_to_another_namespace_is_rejected_like_git() {
    let f = fixture();
    f.repo.commit_signed("signed", &f.alice);
    let anchor = write_allowed_signers(
        &f.dir,
        "anchor",
        &[f.alice
            .allowed_signers_line("namespaces=\"netpol-sync-bundle\"")],
    );
    let e = rejected(ours(&f.repo, "HEAD", &anchor, &policy()));
    assert_eq!(e.reason(), ReasonCode::UntrustedKey);
    assert!(!f.repo.git_verify_commit("HEAD", &anchor));
}

#[test]
fn wildcard_principal_line_verifies_like_git() {
    let f = fixture();
    f.repo.commit_signed("signed", &f.alice);
    let key = f
        .alice
        .public_line
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    let anchor = write_allowed_signers(
        &f.dir,
        "anchor",
        &[format!("*@example.com,!bob@example.com {key}\n")],
    );
    let v = ours(&f.repo, "HEAD", &anchor, &policy()).unwrap();
    assert_eq!(v.commits()[0].principal(), "*@example.com,!bob@example.com");
    assert!(f.repo.git_verify_commit("HEAD", &anchor));
}

#[test]
fn detached_bundle_signature_from_ssh_keygen_verifies() {
    let f = fixture();
    let anchor = write_allowed_signers(
        &f.dir,
        "anchor",
        &[f.alice
            .allowed_signers_line("namespaces=\"netpol-sync-bundle\"")],
    );
    let signers = AllowedSigners::parse("anchor", &std::fs::read(&anchor).unwrap()).unwrap();
    let message = b"apiVersion: netpol-sync/v1\nkind: Bundle\n";
    let sig = f.alice.sign_detached("netpol-sync-bundle", message);
    let who = signers
        .verify_detached(&sig, "netpol-sync-bundle", message, &policy())
        .unwrap();
    assert_eq!(who.fingerprint(), f.alice.fingerprint());
    // ssh-keygen agrees on the same inputs.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sig"), &sig).unwrap();
    let mut verify = Command::new("ssh-keygen");
    verify
        .args([
            "-Y",
            "verify",
            "-n",
            "netpol-sync-bundle",
            "-I",
            "alice@example.com",
            "-f",
        ])
        .arg(&anchor)
        .arg("-s")
        .arg(dir.path().join("sig"));
    let mut child = verify
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(message).unwrap();
    assert!(child.wait().unwrap().success());
    let tampered = signers
        .verify_detached(&sig, "netpol-sync-bundle", b"kind: Other\n", &policy())
        .unwrap_err();
    assert_eq!(tampered.reason(), ReasonCode::BadSignature);
}

#[test]
fn fingerprint_matches_ssh_keygen() {
    let f = fixture();
    let out = run(Command::new("ssh-keygen").arg("-lf").arg(&f.alice.public));
    let printed = String::from_utf8(out.stdout).unwrap();
    f.repo.commit_signed("signed", &f.alice);
    let anchor = write_allowed_signers(&f.dir, "anchor", &[f.alice.allowed_signers_line("")]);
    let v = ours(&f.repo, "HEAD", &anchor, &policy()).unwrap();
    assert!(printed.contains(v.commits()[0].fingerprint()), "{printed}");
}
