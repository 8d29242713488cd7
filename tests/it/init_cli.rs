//! `netpol-sync init`: the repository it scaffolds goes through the whole workflow with
//! the real tools — `bundle sign` with the signer's key, `git commit -S`, then `verify`
//! against a trust anchor made from the same allowed_signers — and its policies do what
//! they say (`reach`). Bad input is refused before anything is written.

use crate::support;

use std::path::{Path, PathBuf};
use support::{run_netpol_sync, Key, TestRepo};

fn init(dir: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["init", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    run_netpol_sync(&args)
}

fn signer(key: &Key) -> String {
    format!("{} {}", key.principal, key.public.display())
}

#[test]
fn init_sign_commit_and_verify_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let alice = Key::ed25519(tmp.path(), "alice@example.com");
    let dir = tmp.path().join("policies");
    let (code, stdout, stderr) = init(
        &dir,
        &[
            "--namespace",
            "payments",
            "--namespace",
            "web",
            "--signer",
            &signer(&alice),
        ],
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let bundle = dir.join("bundles/main");
    for ns in ["payments", "web"] {
        for policy in ["default-deny.yaml", "allow-dns.yaml"] {
            assert!(bundle.join(ns).join(policy).is_file(), "{ns}/{policy}");
        }
    }
    // The next steps name the real command for this bundle and key.
    assert!(
        stdout.contains(&format!(
            "netpol-sync bundle sign {} --key {}",
            bundle.display(),
            alice.private.display()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("netpol-sync-trust-anchor") && stdout.contains("kubectl apply -k deploy/"),
        "{stdout}"
    );

    let (code, stdout, stderr) = run_netpol_sync(&[
        "bundle",
        "sign",
        bundle.to_str().unwrap(),
        "--key",
        alice.private.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(bundle.join("signatures/alice@example.com.sig").is_file());

    let repo = TestRepo::init(&dir);
    repo.commit_signed("policy repository", &alice);
    let anchor = tmp.path().join("anchor");
    std::fs::copy(dir.join("keys/allowed_signers"), &anchor).unwrap();
    let (code, stdout, stderr) = run_netpol_sync(&[
        "verify",
        "--repo",
        dir.to_str().unwrap(),
        "--trust-anchor",
        anchor.to_str().unwrap(),
        "--output",
        "json",
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["verdict"], "verified");
    assert_eq!(json["bundles"][0]["name"], "main");
    assert_eq!(
        json["bundles"][0]["signers"][0],
        alice.fingerprint().as_str()
    );
}

/// What the scaffolded policies allow: DNS to kube-dns on UDP and TCP 53, nothing else
/// out of or into a governed namespace.
#[test]
fn init_policies_allow_dns_and_deny_everything_else() {
    let tmp = tempfile::tempdir().unwrap();
    let alice = Key::ed25519(tmp.path(), "alice@example.com");
    let dir = tmp.path().join("policies");
    let (code, _, stderr) = init(
        &dir,
        &[
            "--namespace",
            "payments",
            "--namespace",
            "web",
            "--signer",
            &signer(&alice),
            "--bundle",
            "base",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let policies = dir.join("bundles/base");
    assert!(policies.join("bundle.yaml").is_file());
    let reach = |from: &str, to: &str, port: &str, protocol: &str| {
        run_netpol_sync(&[
            "reach",
            "--policies",
            policies.to_str().unwrap(),
            "--from",
            from,
            "--to",
            to,
            "--port",
            port,
            "--protocol",
            protocol,
        ])
        .0
    };
    let dns = "kube-system/k8s-app=kube-dns";
    assert_eq!(reach("payments/app=api", dns, "53", "UDP"), 0);
    assert_eq!(reach("web/app=web", dns, "53", "TCP"), 0);
    assert_eq!(reach("payments/app=api", dns, "54", "UDP"), 1);
    assert_eq!(
        reach("payments/app=api", "kube-system/k8s-app=other", "53", "UDP"),
        1
    );
    assert_eq!(reach("web/app=web", "payments/app=api", "8080", "TCP"), 1);
    assert_eq!(reach("payments/app=api", "203.0.113.1", "443", "TCP"), 1);
}

#[test]
fn a_non_empty_directory_is_refused_and_left_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let alice = Key::ed25519(tmp.path(), "alice@example.com");
    let dir = tmp.path().join("policies");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("README"), "mine\n").unwrap();
    let (code, _, stderr) = init(
        &dir,
        &["--namespace", "payments", "--signer", &signer(&alice)],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("not empty"), "{stderr}");
    let left: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(left, vec![dir.join("README")]);
    assert_eq!(
        std::fs::read_to_string(dir.join("README")).unwrap(),
        "mine\n"
    );
}

#[test]
fn an_empty_existing_directory_is_used() {
    let tmp = tempfile::tempdir().unwrap();
    let alice = Key::ed25519(tmp.path(), "alice@example.com");
    let dir = tmp.path().join("policies");
    std::fs::create_dir(&dir).unwrap();
    let (code, _, stderr) = init(
        &dir,
        &["--namespace", "payments", "--signer", &signer(&alice)],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(dir.join("keys/allowed_signers").is_file());
}

#[test]
fn a_signer_file_that_is_not_a_public_key_is_refused_and_nothing_created() {
    let tmp = tempfile::tempdir().unwrap();
    let alice = Key::ed25519(tmp.path(), "alice@example.com");
    let dir = tmp.path().join("policies");
    let bogus = tmp.path().join("notes.txt");
    std::fs::write(&bogus, "remember the milk\n").unwrap();
    let cases = [
        (
            format!("bob@example.com {}", bogus.display()),
            bogus.clone(),
            "not an SSH public key",
        ),
        // The private half by mistake: refused, and said so.
        (
            format!("alice@example.com {}", alice.private.display()),
            alice.private.clone(),
            "private key",
        ),
    ];
    for (spec, file, why) in cases {
        let (code, _, stderr) = init(
            &dir,
            &[
                "--namespace",
                "payments",
                "--signer",
                &format!("carol@example.com {}", alice.public.display()),
                "--signer",
                &spec,
            ],
        );
        assert_eq!(code, 1, "{spec}: {stderr}");
        assert!(
            stderr.contains(file.to_str().unwrap()) && stderr.contains(why),
            "{stderr}"
        );
        assert!(!dir.exists(), "{spec}: init created {}", dir.display());
    }
}

#[test]
fn an_invalid_or_repeated_namespace_is_refused_and_nothing_created() {
    let tmp = tempfile::tempdir().unwrap();
    let alice = Key::ed25519(tmp.path(), "alice@example.com");
    let dir = tmp.path().join("policies");
    for namespaces in [
        &["Payments"][..],
        &["payments_eu"][..],
        &["-payments"][..],
        &["payments", "payments"][..],
    ] {
        let mut args = Vec::new();
        for ns in namespaces {
            args.extend(["--namespace", ns]);
        }
        let spec = signer(&alice);
        args.extend(["--signer", &spec]);
        let (code, _, stderr) = init(&dir, &args);
        assert_eq!(code, 2, "{namespaces:?}: {stderr}");
        assert!(stderr.contains("namespace"), "{stderr}");
        assert!(!dir.exists(), "{namespaces:?}");
    }
}
