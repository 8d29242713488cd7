//! Bundle trust end to end: repositories made with the real `git commit -S`, bundle
//! signatures made with the real `ssh-keygen -Y sign -n netpol-sync-bundle`, verified
//! by `verify_revision` and loaded by `load_verified`. One test per attack or mistake.

use crate::support;

use netpol_sync::bundle::seal::seal;
use netpol_sync::bundle::{load_verified, BundleError, BundleOptions, Limits, VerifiedBundles};
use netpol_sync::git::Repo;
use netpol_sync::reason::ReasonCode;
use netpol_sync::verify::{verify_revision, AllowedSigners, SignaturePolicy};
use std::time::SystemTime;
use support::{Key, TestRepo};

const DENY: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: default-deny\n  namespace: payments\nspec:\n  podSelector: {}\n  policyTypes: [Ingress, Egress]\n";

struct Fixture {
    _tmp: tempfile::TempDir,
    keys: std::path::PathBuf,
    repo: TestRepo,
    /// Signs commits (trusted by the anchor) and, by default, bundles.
    admin: Key,
}

impl Fixture {
    /// A repository whose keys/allowed_signers trusts `admin` for commits and bundles,
    /// holding one bundle `prod` governing `payments`, sealed but not yet signed.
    fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let keys = tmp.path().join("keys");
        std::fs::create_dir_all(&keys).unwrap();
        let admin = Key::ed25519(&keys, "admin@example.com");
        let repo = TestRepo::init(&tmp.path().join("repo"));
        let f = Fixture {
            _tmp: tmp,
            keys,
            repo,
            admin,
        };
        f.set_allowed_signers(
            &f.admin
                .allowed_signers_line("namespaces=\"git,netpol-sync-bundle\""),
        );
        f.write_bundle("prod", "[payments]", &[("payments/deny.yaml", DENY)]);
        f
    }

    fn key(&self, principal: &str) -> Key {
        Key::ed25519(&self.keys, principal)
    }

    fn set_allowed_signers(&self, contents: &str) {
        self.repo.write("keys/allowed_signers", contents);
    }

    /// Write the bundle's files and bundle.yaml, then seal it with the real command code.
    fn write_bundle(&self, name: &str, namespaces: &str, files: &[(&str, &str)]) {
        self.repo.write(
            &format!("bundles/{name}/bundle.yaml"),
            format!("apiVersion: netpol-sync/v1\nkind: Bundle\nname: {name}\nnamespaces: {namespaces}\n"),
        );
        for (path, contents) in files {
            self.repo.write(&format!("bundles/{name}/{path}"), contents);
        }
        self.seal(name);
    }

    fn seal(&self, name: &str) {
        seal(
            &self.repo.dir.join("bundles").join(name),
            &Limits::default(),
        )
        .unwrap();
    }

    fn manifest(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.repo.dir.join(format!("bundles/{name}/bundle.yaml"))).unwrap()
    }

    /// `ssh-keygen -Y sign -n <namespace>` over bundle.yaml, stored as signatures/<file>.
    fn sign_as(&self, name: &str, key: &Key, namespace: &str, file: &str) {
        let sig = key.sign_detached(namespace, &self.manifest(name));
        self.repo
            .write(&format!("bundles/{name}/signatures/{file}"), sig);
    }

    fn sign(&self, name: &str, key: &Key) {
        self.sign_as(
            name,
            key,
            "netpol-sync-bundle",
            &format!("{}.sig", key.principal),
        );
    }

    fn load(&self, opts: &BundleOptions) -> Result<VerifiedBundles, BundleError> {
        self.repo.commit_signed("policies", &self.admin);
        // The deployment's anchor is the keys file the tests set: bundles are signed by the
        // keys trusted before the revision, and this revision is judged against the anchor.
        let keys = std::fs::read(self.repo.dir.join("keys/allowed_signers"))
            .unwrap_or_else(|_| self.admin.allowed_signers_line("").into_bytes());
        let anchor = AllowedSigners::parse("anchor", &keys).unwrap();
        let policy = SignaturePolicy {
            at: SystemTime::now(),
            require_user_presence: true,
            key_change_signatures: 1,
        };
        let repo = Repo::open(self.repo.dir.to_str().unwrap()).unwrap();
        let rev = verify_revision(&repo, "HEAD", None, &anchor, &policy)
            .expect("the commit chain verifies");
        load_verified(&repo, &rev, opts)
    }

    fn load_default(&self) -> Result<VerifiedBundles, BundleError> {
        self.load(&BundleOptions::default())
    }
}

fn threshold(opts_required: usize) -> BundleOptions {
    BundleOptions {
        signatures_required: opts_required,
        ..BundleOptions::default()
    }
}

fn assert_rejected(r: Result<VerifiedBundles, BundleError>, reason: ReasonCode) -> BundleError {
    match r {
        Ok(b) => panic!("expected {reason}, loaded {} bundle(s)", b.bundles().len()),
        Err(e) => {
            assert_eq!(e.reason(), reason, "{e}");
            e
        }
    }
}

#[test]
fn signed_bundle_loads_with_its_digest_and_signer() {
    let f = Fixture::new();
    f.sign("prod", &f.admin);
    let loaded = f.load_default().unwrap();
    let b = &loaded.bundles()[0];
    assert_eq!(b.name(), "prod");
    // The digest is sha256 of the exact bytes, as `sha256sum` computes it.
    let out = support::run(
        std::process::Command::new("sha256sum").arg(f.repo.dir.join("bundles/prod/bundle.yaml")),
    );
    let hex = String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert_eq!(b.digest().as_str(), format!("sha256:{hex}"));
    assert_eq!(b.signers().len(), 1);
    assert_eq!(b.signers()[0].fingerprint(), f.admin.fingerprint());
    assert_eq!(loaded.revision().to_string(), f.repo.head());
    let p: Vec<_> = loaded
        .policies()
        .map(|p| (p.namespace(), p.name(), p.file()))
        .collect();
    assert_eq!(p, vec![("payments", "default-deny", "payments/deny.yaml")]);
    assert_eq!(
        loaded.governed_namespaces().into_iter().collect::<Vec<_>>(),
        vec!["payments"]
    );
}

#[test]
fn unsigned_bundle_is_rejected() {
    let f = Fixture::new();
    assert_rejected(f.load_default(), ReasonCode::BundleSignatureThreshold);
}

#[test]
fn signature_by_untrusted_key_is_rejected() {
    let f = Fixture::new();
    let mallory = f.key("mallory@example.com");
    f.sign("prod", &mallory);
    let e = assert_rejected(f.load_default(), ReasonCode::BundleSignatureThreshold);
    assert_eq!(
        e.location().file.as_deref(),
        Some("signatures/mallory@example.com.sig")
    );
}

#[test]
fn signature_by_key_whose_namespaces_exclude_bundles_is_rejected() {
    let f = Fixture::new();
    let committer = f.key("committer@example.com");
    f.set_allowed_signers(&format!(
        "{}{}",
        f.admin.allowed_signers_line("namespaces=\"git\""),
        committer.allowed_signers_line("namespaces=\"git\"")
    ));
    f.sign("prod", &committer);
    assert_rejected(f.load_default(), ReasonCode::BundleSignatureThreshold);
}

#[test]
fn threshold_met_twice_by_one_key_is_rejected() {
    let f = Fixture::new();
    // One key under two principals, signing twice into two files.
    let alice = f.key("alice@example.com");
    let key_only = alice
        .allowed_signers_line("")
        .replacen("alice@example.com ", "", 1);
    f.set_allowed_signers(&format!(
        "{}alice@example.com {key_only}alice-laptop@example.com {key_only}",
        f.admin.allowed_signers_line("namespaces=\"git\"")
    ));
    f.sign_as("prod", &alice, "netpol-sync-bundle", "alice.sig");
    f.sign_as("prod", &alice, "netpol-sync-bundle", "alice-laptop.sig");
    let e = assert_rejected(f.load(&threshold(2)), ReasonCode::BundleSignatureThreshold);
    assert!(e.to_string().contains("1 distinct"), "{e}");
}

#[test]
fn two_distinct_trusted_keys_meet_a_threshold_of_two() {
    let f = Fixture::new();
    let bob = f.key("bob@example.com");
    f.set_allowed_signers(&format!(
        "{}{}",
        f.admin
            .allowed_signers_line("namespaces=\"git,netpol-sync-bundle\""),
        bob.allowed_signers_line("namespaces=\"netpol-sync-bundle\"")
    ));
    f.sign("prod", &f.admin);
    f.sign("prod", &bob);
    assert_eq!(
        f.load(&threshold(2)).unwrap().bundles()[0].signers().len(),
        2
    );
}

#[test]
fn signature_over_a_different_bundle_yaml_is_rejected() {
    let f = Fixture::new();
    f.sign("prod", &f.admin);
    // A policy edit, resealed but not re-signed: the signature covers the old manifest.
    f.repo.write(
        "bundles/prod/payments/deny.yaml",
        DENY.replace("Ingress, Egress", "Ingress"),
    );
    f.seal("prod");
    assert_rejected(f.load_default(), ReasonCode::BundleSignatureThreshold);
}

#[test]
fn commit_namespace_signature_replayed_as_bundle_signature_is_rejected() {
    let f = Fixture::new();
    f.sign_as("prod", &f.admin, "git", "admin.sig");
    assert_rejected(f.load_default(), ReasonCode::BundleSignatureThreshold);
}

#[test]
fn policy_edited_but_not_resealed_is_a_digest_mismatch() {
    let f = Fixture::new();
    f.sign("prod", &f.admin);
    f.repo.write(
        "bundles/prod/payments/deny.yaml",
        DENY.replace("Ingress, Egress", "Ingress"),
    );
    let e = assert_rejected(f.load_default(), ReasonCode::DigestMismatch);
    assert_eq!(e.location().file.as_deref(), Some("payments/deny.yaml"));
    assert_eq!(e.location().bundle.as_deref(), Some("prod"));
    assert_eq!(e.location().commit, Some(f.repo.head()));
}

#[test]
fn unlisted_file_added_after_signing_is_rejected() {
    let f = Fixture::new();
    f.sign("prod", &f.admin);
    f.repo.write(
        "bundles/prod/payments/allow-all.yaml",
        DENY.replace("default-deny", "allow-all"),
    );
    assert_rejected(f.load_default(), ReasonCode::UnlistedFile);
}

#[test]
fn missing_file_removed_after_signing_is_rejected() {
    let f = Fixture::new();
    f.sign("prod", &f.admin);
    std::fs::remove_file(f.repo.dir.join("bundles/prod/payments/deny.yaml")).unwrap();
    assert_rejected(f.load_default(), ReasonCode::MissingFile);
}

#[test]
fn symlink_committed_into_a_bundle_is_rejected() {
    let f = Fixture::new();
    f.sign("prod", &f.admin);
    std::os::unix::fs::symlink(
        "../../../keys/allowed_signers",
        f.repo.dir.join("bundles/prod/payments/link.yaml"),
    )
    .unwrap();
    let e = assert_rejected(f.load_default(), ReasonCode::ManifestInvalid);
    assert!(e.to_string().contains("symlink"), "{e}");
}

#[test]
fn namespace_conflict_between_two_signed_bundles_is_rejected() {
    let f = Fixture::new();
    f.write_bundle("other", "[payments, checkout]", &[]);
    f.sign("prod", &f.admin);
    f.sign("other", &f.admin);
    assert_rejected(f.load_default(), ReasonCode::NamespaceConflict);
    // --bundle prod alone is fine.
    let opts = BundleOptions {
        select: vec!["prod".into()],
        ..BundleOptions::default()
    };
    let loaded = f.load(&opts).unwrap();
    assert_eq!(
        loaded
            .bundles()
            .iter()
            .map(|b| b.name())
            .collect::<Vec<_>>(),
        vec!["prod"]
    );
}
