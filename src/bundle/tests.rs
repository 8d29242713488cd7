//! `load_tree` on trees built with libgit2: the manifest/tree/digest/selection rules,
//! one fixture per attack or mistake. Signatures here come from a stand-in verifier
//! that only counts keys; real SSHSIG signatures (ssh-keygen) and real signed commits
//! are exercised end to end in tests/bundle_*.rs.

use super::signatures::{DetachedVerifier, SignatureRejection};
use super::tree::test_trees::{build, dir, file, Node};
use super::*;

struct NamedKeys;

impl DetachedVerifier for NamedKeys {
    fn verify(
        &self,
        armored: &[u8],
        _message: &[u8],
    ) -> Result<SignerIdentity, SignatureRejection> {
        match std::str::from_utf8(armored)
            .ok()
            .and_then(|s| s.strip_prefix("key:"))
        {
            Some(name) => Ok(SignerIdentity::for_test(
                name,
                &format!("SHA256:{name}"),
                name.as_bytes(),
            )),
            None => Err(SignatureRejection {
                reason: ReasonCode::UntrustedKey,
                message: "untrusted".into(),
            }),
        }
    }
}

fn policy(ns: &str, name: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  podSelector: {{}}\n  policyTypes: [Ingress]\n"
    )
}

fn manifest(name: &str, namespaces: &[&str], files: &[(&str, &[u8])]) -> String {
    let mut s = format!(
        "apiVersion: netpol-sync/v1\nkind: Bundle\nname: {name}\nnamespaces: [{}]\nfiles:\n",
        namespaces.join(", ")
    );
    if files.is_empty() {
        s = s.replace("files:\n", "files: []\n");
    }
    for (path, bytes) in files {
        s.push_str(&format!(
            "  - path: {path}\n    sha256: {}\n    size: {}\n",
            digest::sha256_hex(bytes),
            bytes.len()
        ));
    }
    s
}

/// A signed bundle directory whose manifest pins `files` exactly.
fn bundle(name: &str, namespaces: &[&str], files: &[(&str, &[u8])]) -> Node {
    bundle_with(
        &manifest(name, namespaces, files),
        files,
        vec![("signatures", dir(vec![("alice.sig", file("key:alice"))]))],
    )
}

fn bundle_with(manifest: &str, files: &[(&str, &[u8])], extra: Vec<(&str, Node)>) -> Node {
    let mut root: Vec<(Vec<u8>, Node)> = vec![(b"bundle.yaml".to_vec(), file(manifest))];
    for (path, bytes) in files {
        insert(&mut root, path, file(bytes));
    }
    for (name, node) in extra {
        insert(&mut root, name, node);
    }
    Node::Dir(root)
}

fn insert(entries: &mut Vec<(Vec<u8>, Node)>, path: &str, node: Node) {
    match path.split_once('/') {
        None => entries.push((path.as_bytes().to_vec(), node)),
        Some((head, rest)) => {
            let pos = entries.iter().position(|(n, _)| n == head.as_bytes());
            let idx = pos.unwrap_or_else(|| {
                entries.push((head.as_bytes().to_vec(), Node::Dir(Vec::new())));
                entries.len() - 1
            });
            if let Node::Dir(children) = &mut entries[idx].1 {
                insert(children, rest, node);
            }
        }
    }
}

fn load_with(
    bundles: Vec<(&str, Node)>,
    opts: &BundleOptions,
) -> Result<Vec<VerifiedBundle>, BundleError> {
    let tmp = tempfile::tempdir().unwrap();
    let repo = git2::Repository::init_bare(tmp.path()).unwrap();
    let root = build(
        &repo,
        &dir(vec![
            ("bundles", dir(bundles)),
            ("keys", dir(vec![("allowed_signers", file("x"))])),
        ]),
    );
    load_tree(&repo, root, Ok(&NamedKeys), opts)
}

fn load(bundles: Vec<(&str, Node)>) -> Result<Vec<VerifiedBundle>, BundleError> {
    load_with(bundles, &BundleOptions::default())
}

fn reason(r: Result<Vec<VerifiedBundle>, BundleError>) -> (ReasonCode, Option<String>) {
    let e = r.unwrap_err();
    (e.reason, e.location.file)
}

#[test]
fn a_signed_sealed_bundle_loads() {
    let deny = policy("payments", "default-deny");
    let b = load(vec![(
        "prod",
        bundle(
            "prod",
            &["payments"],
            &[("payments/deny.yaml", deny.as_bytes())],
        ),
    )])
    .unwrap();
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].name(), "prod");
    assert_eq!(b[0].policies().len(), 1);
    assert_eq!(
        b[0].policies().iter().next().unwrap().file,
        "payments/deny.yaml"
    );
    assert_eq!(b[0].signers().len(), 1);
    let expected = BundleDigest::of_manifest(
        manifest(
            "prod",
            &["payments"],
            &[("payments/deny.yaml", deny.as_bytes())],
        )
        .as_bytes(),
    );
    assert_eq!(b[0].digest(), &expected);
}

#[test]
fn tampered_file_is_a_digest_mismatch() {
    let deny = policy("payments", "default-deny");
    // Same length, different bytes: only the hash can catch it.
    let tampered = deny.replace("Ingress", "Egress ");
    assert_eq!(tampered.len(), deny.len());
    let m = manifest("prod", &["payments"], &[("deny.yaml", deny.as_bytes())]);
    let b = bundle_with(
        &m,
        &[("deny.yaml", tampered.as_bytes())],
        vec![("signatures", dir(vec![("a.sig", file("key:alice"))]))],
    );
    let e = load(vec![("prod", b)]).unwrap_err();
    assert_eq!(
        (
            e.reason,
            e.location.file.as_deref(),
            e.location.bundle.as_deref()
        ),
        (ReasonCode::DigestMismatch, Some("deny.yaml"), Some("prod"))
    );
    assert!(e.message.contains("sha256"), "{}", e.message);
}

#[test]
fn size_mismatch_is_reported_before_hashing() {
    let deny = policy("payments", "default-deny");
    let longer = format!("{deny}# appended\n");
    let m = manifest("prod", &["payments"], &[("deny.yaml", deny.as_bytes())]);
    let b = bundle_with(
        &m,
        &[("deny.yaml", longer.as_bytes())],
        vec![("signatures", dir(vec![("a.sig", file("key:alice"))]))],
    );
    let e = load(vec![("prod", b)]).unwrap_err();
    assert_eq!(e.reason, ReasonCode::DigestMismatch);
    assert!(
        e.message.contains(&format!("{} bytes", longer.len())),
        "{}",
        e.message
    );
}

#[test]
fn unlisted_file_is_rejected() {
    let deny = policy("payments", "default-deny");
    let m = manifest("prod", &["payments"], &[("deny.yaml", deny.as_bytes())]);
    let extra = policy("payments", "allow-all");
    let b = bundle_with(
        &m,
        &[
            ("deny.yaml", deny.as_bytes()),
            ("sneaky/allow.yaml", extra.as_bytes()),
        ],
        vec![("signatures", dir(vec![("a.sig", file("key:alice"))]))],
    );
    assert_eq!(
        reason(load(vec![("prod", b)])),
        (ReasonCode::UnlistedFile, Some("sneaky/allow.yaml".into()))
    );
}

#[test]
fn missing_file_is_rejected() {
    let deny = policy("payments", "default-deny");
    let m = manifest(
        "prod",
        &["payments"],
        &[("deny.yaml", deny.as_bytes()), ("gone.yaml", b"x")],
    );
    let b = bundle_with(
        &m,
        &[("deny.yaml", deny.as_bytes())],
        vec![("signatures", dir(vec![("a.sig", file("key:alice"))]))],
    );
    assert_eq!(
        reason(load(vec![("prod", b)])),
        (ReasonCode::MissingFile, Some("gone.yaml".into()))
    );
}

#[test]
fn symlink_in_bundle_rejects_the_revision() {
    let m = manifest("prod", &["payments"], &[]);
    let b = bundle_with(
        &m,
        &[],
        vec![
            ("signatures", dir(vec![("a.sig", file("key:alice"))])),
            ("link.yaml", Node::Symlink("../../keys/allowed_signers")),
        ],
    );
    assert_eq!(
        reason(load(vec![("prod", b)])).0,
        ReasonCode::ManifestInvalid
    );
}

#[test]
fn submodule_in_bundle_rejects_the_revision() {
    let m = manifest("prod", &["payments"], &[]);
    let b = bundle_with(
        &m,
        &[],
        vec![
            ("signatures", dir(vec![("a.sig", file("key:alice"))])),
            ("policies", Node::Submodule),
        ],
    );
    assert_eq!(
        reason(load(vec![("prod", b)])).0,
        ReasonCode::ManifestInvalid
    );
}

#[test]
fn policy_in_undeclared_namespace_is_out_of_scope() {
    let p = policy("kube-system", "allow-all");
    let b = bundle("prod", &["payments"], &[("p.yaml", p.as_bytes())]);
    assert_eq!(
        reason(load(vec![("prod", b)])),
        (ReasonCode::NamespaceOutOfScope, Some("p.yaml".into()))
    );
}

#[test]
fn duplicate_object_across_files_is_rejected() {
    let p = policy("payments", "default-deny");
    let b = bundle(
        "prod",
        &["payments"],
        &[("a.yaml", p.as_bytes()), ("b.yaml", p.as_bytes())],
    );
    let e = load(vec![("prod", b)]).unwrap_err();
    assert_eq!(
        (e.reason, e.location.file.as_deref()),
        (ReasonCode::DuplicatePolicy, Some("b.yaml"))
    );
    assert!(e.message.contains("a.yaml"), "{}", e.message);
}

#[test]
fn duplicate_object_within_one_file_is_rejected() {
    let p = policy("payments", "default-deny");
    let two = format!("{p}---\n{p}");
    let b = bundle("prod", &["payments"], &[("a.yaml", two.as_bytes())]);
    let e = load(vec![("prod", b)]).unwrap_err();
    assert_eq!(
        (e.reason, e.location.document),
        (ReasonCode::DuplicatePolicy, Some(1))
    );
}

#[test]
fn namespace_conflict_between_two_bundles_is_rejected() {
    let a = bundle("team-a", &["payments", "frontend"], &[]);
    let b = bundle("team-b", &["payments"], &[]);
    assert_eq!(
        reason(load(vec![("team-a", a), ("team-b", b)])).0,
        ReasonCode::NamespaceConflict
    );
}

#[test]
fn bundle_selection_picks_only_named_bundles() {
    let a = bundle("team-a", &["payments"], &[]);
    let b = bundle("team-b", &["payments"], &[]);
    // Selecting one avoids the conflict the two would have.
    let opts = BundleOptions {
        select: vec!["team-b".into()],
        ..BundleOptions::default()
    };
    let loaded = load_with(vec![("team-a", a), ("team-b", b)], &opts).unwrap();
    assert_eq!(
        loaded.iter().map(|b| b.name()).collect::<Vec<_>>(),
        vec!["team-b"]
    );
}

#[test]
fn bundle_selection_of_an_unknown_name_is_not_found() {
    let opts = BundleOptions {
        select: vec!["nope".into()],
        ..BundleOptions::default()
    };
    assert_eq!(
        reason(load_with(
            vec![("prod", bundle("prod", &["a"], &[]))],
            &opts
        ))
        .0,
        ReasonCode::NotFound
    );
}

#[test]
fn bundle_selection_skips_broken_unselected_bundles() {
    let broken = bundle_with("not: a manifest\n", &[], vec![]);
    let opts = BundleOptions {
        select: vec!["prod".into()],
        ..BundleOptions::default()
    };
    assert!(load_with(
        vec![("prod", bundle("prod", &["a"], &[])), ("broken", broken)],
        &opts
    )
    .is_ok());
    assert_eq!(
        reason(load(vec![
            ("prod", bundle("prod", &["a"], &[])),
            ("broken", bundle_with("not: a manifest\n", &[], vec![]))
        ]))
        .0,
        ReasonCode::ManifestInvalid
    );
}

#[test]
fn unsigned_bundle_fails_the_threshold() {
    let b = bundle_with(&manifest("prod", &["payments"], &[]), &[], vec![]);
    assert_eq!(
        reason(load(vec![("prod", b)])).0,
        ReasonCode::BundleSignatureThreshold
    );
}

#[test]
fn zero_required_signatures_still_requires_one() {
    let b = bundle_with(&manifest("prod", &["payments"], &[]), &[], vec![]);
    let opts = BundleOptions {
        signatures_required: 0,
        ..BundleOptions::default()
    };
    assert_eq!(
        reason(load_with(vec![("prod", b)], &opts)).0,
        ReasonCode::BundleSignatureThreshold
    );
}

#[test]
fn signatures_are_checked_before_policy_content() {
    // An unsigned bundle with a tampered file reports the missing signature: nothing
    // from an untrusted manifest is acted on.
    let m = manifest("prod", &["payments"], &[("a.yaml", b"x")]);
    let b = bundle_with(&m, &[("a.yaml", b"y")], vec![]);
    assert_eq!(
        reason(load(vec![("prod", b)])).0,
        ReasonCode::BundleSignatureThreshold
    );
}

#[test]
fn unusable_keys_file_is_reported_with_its_own_reason_once_a_bundle_needs_it() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = git2::Repository::init_bare(tmp.path()).unwrap();
    let keys_error = BundleError::new(
        ReasonCode::TrustFileInvalid,
        "keys/allowed_signers: line 1: bad",
    );
    let empty = build(&repo, &dir(vec![("README.md", file("x"))]));
    assert!(load_tree(
        &repo,
        empty,
        Err(keys_error.clone()),
        &BundleOptions::default()
    )
    .unwrap()
    .is_empty());
    let with_bundle = build(
        &repo,
        &dir(vec![(
            "bundles",
            dir(vec![("prod", bundle("prod", &["a"], &[]))]),
        )]),
    );
    let e = load_tree(
        &repo,
        with_bundle,
        Err(keys_error),
        &BundleOptions::default(),
    )
    .unwrap_err();
    assert_eq!(e.reason, ReasonCode::TrustFileInvalid);
}

#[test]
fn yaml_bomb_in_a_policy_file_is_a_limit_error() {
    let mut bomb = String::from("a0: &a0 [x,x,x,x,x,x,x,x,x,x]\n");
    for i in 1..9 {
        bomb.push_str(&format!(
            "a{i}: &a{i} [{}]\n",
            vec![format!("*a{}", i - 1); 10].join(",")
        ));
    }
    let b = bundle("prod", &["payments"], &[("bomb.yaml", bomb.as_bytes())]);
    let e = load(vec![("prod", b)]).unwrap_err();
    assert!(
        matches!(
            e.reason,
            ReasonCode::LimitExceeded | ReasonCode::InvalidPolicy
        ),
        "{e:?}"
    );
    assert_eq!(e.location.file.as_deref(), Some("bomb.yaml"));
}

#[test]
fn duplicate_keys_in_a_policy_file_are_invalid() {
    let p = policy("payments", "a").replace("  name: a\n", "  name: a\n  name: b\n");
    let b = bundle("prod", &["payments"], &[("p.yaml", p.as_bytes())]);
    let e = load(vec![("prod", b)]).unwrap_err();
    assert_eq!(
        (e.reason, e.location.document),
        (ReasonCode::InvalidPolicy, Some(0))
    );
    assert!(e.message.contains("duplicate"), "{}", e.message);
}

#[test]
fn non_utf8_policy_file_is_invalid() {
    let b = bundle(
        "prod",
        &["payments"],
        &[("p.yaml", b"metadata:\n  name: caf\xe9\n")],
    );
    assert_eq!(reason(load(vec![("prod", b)])).0, ReasonCode::InvalidPolicy);
}

#[test]
fn total_bytes_limit_is_enforced_across_bundles() {
    let p = policy("payments", "a");
    let b = bundle("prod", &["payments"], &[("p.yaml", p.as_bytes())]);
    let opts = BundleOptions {
        limits: Limits {
            max_total_bytes: 100,
            ..Limits::default()
        },
        ..BundleOptions::default()
    };
    assert_eq!(
        reason(load_with(vec![("prod", b)], &opts)).0,
        ReasonCode::LimitExceeded
    );
}

#[test]
fn too_many_documents_in_a_file_is_a_limit_error() {
    let docs = (0..5)
        .map(|i| policy("payments", &format!("p{i}")))
        .collect::<Vec<_>>()
        .join("---\n");
    let b = bundle("prod", &["payments"], &[("p.yaml", docs.as_bytes())]);
    let opts = BundleOptions {
        limits: Limits {
            max_documents_per_file: 3,
            ..Limits::default()
        },
        ..BundleOptions::default()
    };
    assert_eq!(
        reason(load_with(vec![("prod", b)], &opts)).0,
        ReasonCode::LimitExceeded
    );
}

#[test]
fn oversized_file_is_rejected_from_its_header() {
    let p = policy("payments", "a");
    let b = bundle("prod", &["payments"], &[("p.yaml", p.as_bytes())]);
    let opts = BundleOptions {
        limits: Limits {
            max_file_bytes: 50,
            ..Limits::default()
        },
        ..BundleOptions::default()
    };
    assert_eq!(
        reason(load_with(vec![("prod", b)], &opts)).0,
        ReasonCode::LimitExceeded
    );
}

/// Enough files that loading spreads them over threads (see `pipeline`).
fn many_files(count: usize, broken: &[usize]) -> Vec<(String, Vec<u8>)> {
    (0..count)
        .map(|i| {
            let path = format!("payments/p{i:03}.yaml");
            let body = if broken.contains(&i) {
                // A Deployment smuggled in: rejected as invalid-policy.
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\n  namespace: payments\n".to_string()
            } else {
                policy("payments", &format!("p{i:03}"))
            };
            (path, body.into_bytes())
        })
        .collect()
}

fn load_many(files: &[(String, Vec<u8>)]) -> Result<Vec<VerifiedBundle>, BundleError> {
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_slice()))
        .collect();
    load(vec![("prod", bundle("prod", &["payments"], &refs))])
}

#[test]
fn many_files_load_in_manifest_order_whatever_the_threads() {
    let files = many_files(200, &[]);
    let b = load_many(&files).unwrap();
    let names: Vec<&str> = b[0].policies().iter().map(|p| p.name.as_str()).collect();
    let expected: Vec<String> = (0..200).map(|i| format!("p{i:03}")).collect();
    assert_eq!(names, expected);
}

#[test]
fn the_first_broken_file_in_manifest_order_is_reported_whatever_the_threads() {
    // Broken files in different chunks: the earliest one must be named, every time.
    let files = many_files(200, &[180, 57, 120]);
    for _ in 0..5 {
        let (code, file) = reason(load_many(&files));
        assert_eq!(code, ReasonCode::InvalidPolicy);
        assert_eq!(file.as_deref(), Some("payments/p057.yaml"));
    }
}

fn cached_options() -> BundleOptions {
    BundleOptions {
        cache: Some(Arc::new(PolicyCache::new())),
        ..BundleOptions::default()
    }
}

/// Load a signed bundle `prod` governing `payments` whose one file is `a.yaml`.
fn warm_with_one_file(opts: &BundleOptions, a: &str) {
    let files: &[(&str, &[u8])] = &[("a.yaml", a.as_bytes())];
    load_with(vec![("prod", bundle("prod", &["payments"], files))], opts).unwrap();
}

fn policy_ptr(bundles: &[VerifiedBundle], name: &str) -> *const u8 {
    let p = bundles[0]
        .policies()
        .iter()
        .find(|p| p.name == name)
        .unwrap();
    p.object.as_str().as_ptr()
}

#[test]
fn cache_reuses_unchanged_files_and_reparses_changed_ones() {
    let opts = cached_options();
    let a = policy("payments", "a");
    let b = policy("payments", "b");
    let first = load_with(
        vec![(
            "prod",
            bundle(
                "prod",
                &["payments"],
                &[("a.yaml", a.as_bytes()), ("b.yaml", b.as_bytes())],
            ),
        )],
        &opts,
    )
    .unwrap();
    assert_eq!(opts.cache.as_ref().unwrap().len(), 2);

    let b2 = b.replace("policyTypes: [Ingress]", "policyTypes: [Egress]");
    let second = load_with(
        vec![(
            "prod",
            bundle(
                "prod",
                &["payments"],
                &[("a.yaml", a.as_bytes()), ("b.yaml", b2.as_bytes())],
            ),
        )],
        &opts,
    )
    .unwrap();
    // The unchanged file's policies are the very objects of the first load.
    assert_eq!(policy_ptr(&first, "a"), policy_ptr(&second, "a"));
    assert_ne!(policy_ptr(&first, "b"), policy_ptr(&second, "b"));
    let b_now = second[0].policies().iter().find(|p| p.name == "b").unwrap();
    let b_then = first[0].policies().iter().find(|p| p.name == "b").unwrap();
    assert_ne!(b_now.content_hash, b_then.content_hash);
    // Only the latest load's files are kept.
    assert_eq!(opts.cache.as_ref().unwrap().len(), 2);
}

#[test]
fn cache_hit_still_checks_the_manifests_namespaces() {
    let opts = cached_options();
    let a = policy("payments", "a");
    warm_with_one_file(&opts, &a);
    // Same file bytes, but the manifest no longer governs `payments`.
    let r = load_with(
        vec![(
            "prod",
            bundle("prod", &["billing"], &[("a.yaml", a.as_bytes())]),
        )],
        &opts,
    );
    assert_eq!(
        reason(r),
        (ReasonCode::NamespaceOutOfScope, Some("a.yaml".to_string()))
    );
}

#[test]
fn cache_never_hides_a_tampered_file() {
    let opts = cached_options();
    let a = policy("payments", "a");
    warm_with_one_file(&opts, &a);
    // The manifest still pins the old bytes; the tree carries new ones.
    let tampered = a.replace("[Ingress]", "[Egress]");
    let node = bundle_with(
        &manifest("prod", &["payments"], &[("a.yaml", a.as_bytes())]),
        &[("a.yaml", tampered.as_bytes())],
        vec![("signatures", dir(vec![("alice.sig", file("key:alice"))]))],
    );
    let r = load_with(vec![("prod", node)], &opts);
    assert_eq!(reason(r).0, ReasonCode::DigestMismatch);
}

#[test]
fn cached_manifest_still_needs_its_signatures_every_load() {
    let opts = cached_options();
    let a = policy("payments", "a");
    let files: &[(&str, &[u8])] = &[("a.yaml", a.as_bytes())];
    warm_with_one_file(&opts, &a);
    // The very same bundle.yaml, now without its signature.
    let unsigned = bundle_with(&manifest("prod", &["payments"], files), files, vec![]);
    let r = load_with(vec![("prod", unsigned)], &opts);
    assert_eq!(reason(r).0, ReasonCode::BundleSignatureThreshold);
}

/// A repository holding one signed bundle `prod` (file `a.yaml`), the id of its tree and
/// the id of a.yaml's blob.
fn repo_with_one_file(dir: &std::path::Path) -> (git2::Repository, git2::Oid, git2::Oid) {
    let a = policy("payments", "a");
    let repo = git2::Repository::init_bare(dir).unwrap();
    let root = build(
        &repo,
        &super::tree::test_trees::dir(vec![
            (
                "bundles",
                super::tree::test_trees::dir(vec![(
                    "prod",
                    bundle("prod", &["payments"], &[("a.yaml", a.as_bytes())]),
                )]),
            ),
            (
                "keys",
                super::tree::test_trees::dir(vec![("allowed_signers", file("x"))]),
            ),
        ]),
    );
    let blob = repo.blob(a.as_bytes()).unwrap();
    (repo, root, blob)
}

/// Remove a loose object from the store, as if the cache directory lost it.
fn delete_object(repo: &git2::Repository, id: git2::Oid) {
    let hex = id.to_string();
    let path = repo.path().join("objects").join(&hex[..2]).join(&hex[2..]);
    std::fs::remove_file(&path).unwrap();
}

struct NoTrustedKeys;

impl DetachedVerifier for NoTrustedKeys {
    fn verify(&self, _: &[u8], _: &[u8]) -> Result<SignerIdentity, SignatureRejection> {
        Err(SignatureRejection {
            reason: ReasonCode::UntrustedKey,
            message: "the key is no longer trusted".into(),
        })
    }
}

#[test]
fn same_tree_again_reuses_its_checked_files_without_reading_them() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, root, blob) = repo_with_one_file(tmp.path());
    let opts = cached_options();
    let first = load_tree(&repo, root, Ok(&NamedKeys), &opts).unwrap();
    delete_object(&repo, blob);
    // Without the cache the file is read, and it is gone.
    assert!(load_tree(&repo, root, Ok(&NamedKeys), &BundleOptions::default()).is_err());
    // With it, the tree already read and hashed is not read again.
    let again = load_tree(&repo, root, Ok(&NamedKeys), &opts).unwrap();
    assert_eq!(policy_ptr(&first, "a"), policy_ptr(&again, "a"));
    assert_eq!(again[0].digest(), first[0].digest());
}

#[test]
fn same_tree_again_still_needs_its_signatures() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, root, _) = repo_with_one_file(tmp.path());
    let opts = cached_options();
    load_tree(&repo, root, Ok(&NamedKeys), &opts).unwrap();
    // The signer's key expired or was revoked between two cycles over the same tree.
    let e = load_tree(&repo, root, Ok(&NoTrustedKeys), &opts).unwrap_err();
    assert_eq!(e.reason, ReasonCode::BundleSignatureThreshold, "{e}");
    let stricter = BundleOptions {
        signatures_required: 2,
        ..opts.clone()
    };
    let e = load_tree(&repo, root, Ok(&NamedKeys), &stricter).unwrap_err();
    assert_eq!(e.reason, ReasonCode::BundleSignatureThreshold, "{e}");
}

#[test]
fn same_tree_in_another_repository_is_read_afresh() {
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (repo_one, root, _) = repo_with_one_file(one.path());
    let (repo_two, root_two, blob) = repo_with_one_file(two.path());
    assert_eq!(root, root_two, "same content, same tree id");
    let opts = cached_options();
    load_tree(&repo_one, root, Ok(&NamedKeys), &opts).unwrap();
    delete_object(&repo_two, blob);
    let e = load_tree(&repo_two, root, Ok(&NamedKeys), &opts).unwrap_err();
    assert!(e.to_string().contains("a.yaml"), "{e}");
}
