//! The first-parent chain: trust taken from each commit's first parent, fast-forward
//! only, second-parent history unsigned. Repositories are built with the real
//! `git commit -S` (gpg.format=ssh).

use crate::support;

use netpol_sync::git::Repo;
use netpol_sync::reason::ReasonCode;
use netpol_sync::verify::{
    verify_revision, AllowedSigners, SignaturePolicy, VerifiedRevision, VerifyError,
};
use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};
use support::{Key, TestRepo};

fn policy() -> SignaturePolicy {
    SignaturePolicy {
        at: UNIX_EPOCH + Duration::from_secs(1_769_904_000),
        require_user_presence: true,
        key_change_signatures: 1,
    }
}

struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    repo: TestRepo,
    alice: Key,
    bob: Key,
    /// The first commit, signed by alice, trusting alice.
    base: String,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let alice = Key::ed25519(&dir, "alice@example.com");
    let bob = Key::ed25519(&dir, "bob@example.com");
    let repo = TestRepo::init(&dir.join("repo"));
    repo.write("keys/allowed_signers", alice.allowed_signers_line(""));
    let base = repo.commit_signed("trust alice", &alice);
    Fixture {
        _tmp: tmp,
        dir,
        repo,
        alice,
        bob,
        base,
    }
}

fn anchor(f: &Fixture) -> AllowedSigners {
    AllowedSigners::parse("anchor", f.alice.allowed_signers_line("").as_bytes()).unwrap()
}

fn verify(f: &Fixture, rev: &str, since: Option<&str>) -> Result<VerifiedRevision, VerifyError> {
    let repo = Repo::open(f.repo.dir.to_str().unwrap()).unwrap();
    verify_revision(&repo, rev, since, &anchor(f), &policy())
}

fn rejected(result: Result<VerifiedRevision, VerifyError>) -> VerifyError {
    match result {
        Ok(v) => panic!("expected a rejection, {} verified", v.commit_id()),
        Err(e) => e,
    }
}

#[test]
fn every_commit_since_the_last_applied_verifies() {
    let f = fixture();
    let c1 = f.repo.commit_signed("one", &f.alice);
    let c2 = f.repo.commit_signed("two", &f.alice);
    let v = verify(&f, "HEAD", Some(&f.base)).unwrap();
    let ids: Vec<String> = v.commits().iter().map(|c| c.commit().to_string()).collect();
    assert_eq!(ids, vec![c1, c2.clone()]);
    assert_eq!(v.commit_id().to_string(), c2);
    assert_eq!(v.base().unwrap().commit_id().to_string(), f.base);
    assert_eq!(v.bundle_signers().unwrap().len(), 1);
}

#[test]
fn head_equal_to_since_verifies_with_no_new_commits() {
    let f = fixture();
    let v = verify(&f, "HEAD", Some(&f.base)).unwrap();
    assert!(v.commits().is_empty());
}

#[test]
fn unsigned_commit_inside_the_range_is_rejected() {
    let f = fixture();
    let unsigned = f.repo.commit_unsigned("sneaked in");
    f.repo.commit_signed("signed on top", &f.alice);
    let e = rejected(verify(&f, "HEAD", Some(&f.base)));
    assert_eq!(e.reason(), ReasonCode::UnsignedCommit);
    assert_eq!(e.location().commit, Some(unsigned));
}

#[test]
fn key_added_by_a_trusted_commit_may_sign_later_commits() {
    let f = fixture();
    f.repo.write(
        "keys/allowed_signers",
        f.alice.allowed_signers_line("") + &f.bob.allowed_signers_line(""),
    );
    f.repo.commit_signed("trust bob", &f.alice);
    let by_bob = f.repo.commit_signed("bob's first change", &f.bob);
    let v = verify(&f, "HEAD", Some(&f.base)).unwrap();
    let last = v.commits().last().unwrap();
    assert_eq!(last.commit().to_string(), by_bob);
    assert_eq!(last.fingerprint(), f.bob.fingerprint());
    assert_eq!(last.principal(), "bob@example.com");
}

#[test]
fn key_that_adds_itself_is_rejected() {
    let f = fixture();
    f.repo.write(
        "keys/allowed_signers",
        f.alice.allowed_signers_line("") + &f.bob.allowed_signers_line(""),
    );
    let self_trusting = f.repo.commit_signed("bob trusts bob", &f.bob);
    let e = rejected(verify(&f, "HEAD", Some(&f.base)));
    assert_eq!(e.reason(), ReasonCode::UntrustedKey);
    assert_eq!(e.location().commit, Some(self_trusting));
    assert_eq!(e.location().fingerprint, Some(f.bob.fingerprint()));
}

#[test]
fn key_removed_then_used_is_rejected() {
    let f = fixture();
    f.repo.write(
        "keys/allowed_signers",
        f.alice.allowed_signers_line("") + &f.bob.allowed_signers_line(""),
    );
    f.repo.commit_signed("trust bob", &f.alice);
    f.repo
        .write("keys/allowed_signers", f.alice.allowed_signers_line(""));
    let removal = f.repo.commit_signed("revoke bob", &f.alice);
    let after = f.repo.commit_signed("bob signs anyway", &f.bob);
    // Up to the removal, the chain is fine (the removal itself is signed by alice).
    verify(&f, &removal, Some(&f.base)).unwrap();
    let e = rejected(verify(&f, "HEAD", Some(&f.base)));
    assert_eq!(e.reason(), ReasonCode::UntrustedKey);
    assert_eq!(e.location().commit, Some(after));
}

#[test]
fn force_push_to_an_older_signed_commit_is_rejected() {
    let f = fixture();
    let older = f.repo.commit_signed("old policy", &f.alice);
    let applied = f.repo.commit_signed("new policy", &f.alice);
    let e = rejected(verify(&f, &older, Some(&applied)));
    assert_eq!(e.reason(), ReasonCode::NotFastForward);
}

#[test]
fn signed_sibling_not_descending_from_the_last_applied_is_rejected() {
    let f = fixture();
    let applied = f.repo.commit_signed("applied", &f.alice);
    f.repo.git(&["checkout", "-q", "-b", "sibling", &f.base]);
    let sibling = f.repo.commit_signed("signed sibling", &f.alice);
    verify(&f, &sibling, Some(&f.base)).unwrap();
    let e = rejected(verify(&f, &sibling, Some(&applied)));
    assert_eq!(e.reason(), ReasonCode::NotFastForward);
    assert!(e.message.contains("does not descend"), "{e}");
}

#[test]
fn last_applied_missing_from_the_repository_is_not_fast_forward() {
    let f = fixture();
    let e = rejected(verify(
        &f,
        "HEAD",
        Some("0123456789abcdef0123456789abcdef01234567"),
    ));
    assert_eq!(e.reason(), ReasonCode::NotFastForward);
}

fn signed_merge(f: &Fixture) -> (String, String) {
    f.repo.git(&["checkout", "-q", "-b", "feature"]);
    f.repo.write("bundles/a.yaml", "a: 1\n");
    let feature = f.repo.commit_unsigned("unsigned feature work");
    f.repo.write("bundles/b.yaml", "b: 1\n");
    f.repo.commit_unsigned("more unsigned feature work");
    f.repo.git(&["checkout", "-q", "main"]);
    let main = f.repo.commit_signed("main moves on", &f.alice);
    let key = format!("user.signingkey={}", f.alice.private.display());
    f.repo.git(&[
        "-c",
        &key,
        "merge",
        "-q",
        "--no-ff",
        "-S",
        "-m",
        "merge feature",
        "feature",
    ]);
    let _ = main;
    (feature, f.repo.head())
}

#[test]
fn signed_merge_of_unsigned_feature_commits_is_accepted() {
    let f = fixture();
    let (_, merge) = signed_merge(&f);
    let v = verify(&f, "HEAD", Some(&f.base)).unwrap();
    assert_eq!(
        v.commits().len(),
        2,
        "main commit and merge; feature commits are second-parent history"
    );
    assert_eq!(v.commits()[1].commit().to_string(), merge);
}

#[test]
fn unsigned_merge_is_rejected() {
    let f = fixture();
    f.repo.git(&["checkout", "-q", "-b", "feature"]);
    f.repo.commit_signed("feature", &f.alice);
    f.repo.git(&["checkout", "-q", "main"]);
    f.repo.commit_signed("main", &f.alice);
    f.repo
        .git(&["merge", "-q", "--no-ff", "-m", "unsigned merge", "feature"]);
    let e = rejected(verify(&f, "HEAD", Some(&f.base)));
    assert_eq!(e.reason(), ReasonCode::UnsignedCommit);
}

/// Decision: a last-applied commit reachable only through a second parent is not a
/// fast-forward; the head's first-parent line never passed through it.
#[test]
fn last_applied_reachable_only_through_a_second_parent_is_not_fast_forward() {
    let f = fixture();
    let (feature, _) = signed_merge(&f);
    let e = rejected(verify(&f, "HEAD", Some(&feature)));
    assert_eq!(e.reason(), ReasonCode::NotFastForward);
    assert!(e.message.contains("second parent"), "{e}");
}

#[test]
fn missing_keys_file_at_the_parent_is_a_rejection_not_an_open_door() {
    let f = fixture();
    f.repo.remove("keys/allowed_signers");
    f.repo.commit_signed("drop the keys file", &f.alice);
    let child = f
        .repo
        .commit_signed("signed by alice after the drop", &f.alice);
    let e = rejected(verify(&f, "HEAD", Some(&f.base)));
    assert_eq!(e.reason(), ReasonCode::TrustFileInvalid);
    assert_eq!(e.location().commit, Some(child));
    assert!(e.message.contains("missing"), "{e}");
}

#[test]
fn malformed_keys_file_at_the_parent_is_rejected_with_its_line() {
    let f = fixture();
    f.repo.write(
        "keys/allowed_signers",
        f.alice.allowed_signers_line("") + "bob@example.com ssh-foo AAAA\n",
    );
    f.repo.commit_signed("typo in keys", &f.alice);
    f.repo.commit_signed("next", &f.alice);
    let e = rejected(verify(&f, "HEAD", Some(&f.base)));
    assert_eq!(e.reason(), ReasonCode::TrustFileInvalid);
    assert!(e.message.contains("line 2"), "{e}");
}

#[test]
fn keys_file_that_is_a_symlink_at_the_parent_is_rejected() {
    let f = fixture();
    f.repo.write("trusted", f.alice.allowed_signers_line(""));
    std::fs::remove_file(f.repo.dir.join("keys/allowed_signers")).unwrap();
    std::os::unix::fs::symlink("../trusted", f.repo.dir.join("keys/allowed_signers")).unwrap();
    f.repo.commit_signed("keys via symlink", &f.alice);
    f.repo.commit_signed("next", &f.alice);
    let e = rejected(verify(&f, "HEAD", Some(&f.base)));
    assert_eq!(e.reason(), ReasonCode::TrustFileInvalid);
}

#[test]
fn head_without_since_is_judged_by_the_anchor_not_its_own_keys_file() {
    let f = fixture();
    // The head trusts bob in its own tree, but the anchor trusts only alice.
    f.repo
        .write("keys/allowed_signers", f.bob.allowed_signers_line(""));
    f.repo.commit_signed("bob trusts himself", &f.bob);
    let e = rejected(verify(&f, "HEAD", None));
    assert_eq!(e.reason(), ReasonCode::UntrustedKey);
    let _ = &f.dir;
}

#[test]
fn keys_a_revision_adds_do_not_sign_its_own_bundles() {
    let f = fixture();
    f.repo.write(
        "keys/allowed_signers",
        f.alice.allowed_signers_line("") + &f.bob.allowed_signers_line(""),
    );
    let trust_bob = f.repo.commit_signed("trust bob", &f.alice);
    // Judged against the anchor alone: the anchor's keys sign its bundles, not bob.
    let v = verify(&f, "HEAD", None).unwrap();
    assert_eq!(v.bundle_signers().unwrap().len(), 1);
    assert!(v.base().is_none());
    // From the applied base: the base's keys (alice alone), not the two the head has.
    let v = verify(&f, "HEAD", Some(&f.base)).unwrap();
    assert_eq!(v.bundle_signers().unwrap().len(), 1);
    // Once the change is applied, the next revision's bundles may be signed by bob.
    f.repo.commit_signed("after", &f.alice);
    let v = verify(&f, "HEAD", Some(&trust_bob)).unwrap();
    assert_eq!(v.bundle_signers().unwrap().len(), 2);
}
