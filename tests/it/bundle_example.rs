//! The example under bundles/ verifies with the example public keys under keys/: copied
//! into a fresh repository, committed with a test key, verified against an anchor trusting
//! that key and the example keys, and
//! loaded. Also: the committed example is sealed (sealing it again changes nothing).

use crate::support;

use netpol_sync::bundle::{load_verified, BundleOptions};
use netpol_sync::git::Repo;
use netpol_sync::verify::{verify_revision, AllowedSigners, SignaturePolicy};
use std::path::Path;
use std::process::Command;
use support::{Key, TestRepo};

fn project() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn copy_dir(from: &Path, to: &Path) {
    support::run(Command::new("cp").arg("-r").arg(from).arg(to));
}

#[test]
fn example_bundles_verify_with_the_example_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let committer = Key::ed25519(tmp.path(), "ci@example.com");
    let repo = TestRepo::init(&tmp.path().join("repo"));
    copy_dir(&project().join("keys"), &repo.dir.join("keys"));
    copy_dir(&project().join("bundles"), &repo.dir.join("bundles"));
    repo.commit_signed("example", &committer);

    // The deployment's anchor trusts the committer and the example's keys: bundles are
    // signed by keys trusted before the revision, never by the keys file it carries.
    let example_keys = std::fs::read_to_string(project().join("keys/allowed_signers")).unwrap();
    let anchor_text = committer.allowed_signers_line("") + &example_keys;
    let anchor = AllowedSigners::parse("anchor", anchor_text.as_bytes()).unwrap();
    let policy = SignaturePolicy {
        at: std::time::SystemTime::now(),
        require_user_presence: true,
        key_change_signatures: 1,
    };
    let git = Repo::open(repo.dir.to_str().unwrap()).unwrap();
    let rev = verify_revision(&git, "HEAD", None, &anchor, &policy).unwrap();
    let loaded = load_verified(&git, &rev, &BundleOptions::default()).unwrap();

    let shop = loaded
        .bundles()
        .iter()
        .find(|b| b.name() == "shop")
        .expect("bundles/shop");
    // Its reachability assertions are signed with it, and its own policies keep them.
    assert_eq!(shop.reachability().len(), 6);
    assert_eq!(
        netpol_sync::reach::assertions::violations(&loaded).unwrap(),
        Vec::new()
    );
    let namespaces: Vec<_> = shop.namespaces().iter().map(String::as_str).collect();
    assert_eq!(namespaces, vec!["checkout", "frontend", "payments"]);
    for ns in &namespaces {
        assert!(
            shop.policies()
                .iter()
                .any(|p| p.namespace() == *ns && p.name() == "default-deny"),
            "{ns} has a default-deny"
        );
    }
    assert!(shop.policies().len() >= 10, "{}", shop.policies().len());
    assert!(!shop.signers().is_empty());
}

#[test]
fn committed_example_is_sealed() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&project().join("bundles/shop"), &tmp.path().join("shop"));
    let before = std::fs::read(tmp.path().join("shop/bundle.yaml")).unwrap();
    let out = support::run(
        Command::new(support::netpol_sync_bin())
            .args(["bundle", "seal"])
            .arg(tmp.path().join("shop")),
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("unchanged"));
    assert_eq!(
        std::fs::read(tmp.path().join("shop/bundle.yaml")).unwrap(),
        before
    );
}
