//! The trust holes an outside review found, each as the attack it ran, with variants: the
//! recorded revision read as a rev-spec, the state record as an unauthenticated trust root,
//! bundle and key-change signatures counted with keys the revision itself adds. Every
//! refusal leaves the cluster exactly as it was. Signatures are made by the real
//! `git commit -S` and `ssh-keygen -Y sign`; the cluster is the API server emulator.

use crate::support::{self, Key};
use crate::sync_support::{netpol_sync, sync, BundleSpec, Cluster, PolicyRepo, Run, STATE_NS};
use serde_json::Value;

fn shop(port: u16) -> BundleSpec {
    BundleSpec::new(
        "shop",
        &["payments"],
        &[("payments", "deny-all", 8080), ("payments", "api", port)],
    )
}

fn applied(run: &Run) {
    assert_eq!(run.code, 0, "{} {}", run.json, run.stderr);
    assert!(
        ["applied", "unchanged"].contains(&run.json["verdict"].as_str().unwrap_or("")),
        "{}",
        run.json
    );
}

fn refused(run: &Run, reason: &str) {
    assert_ne!(run.code, 0, "{}", run.json);
    assert_eq!(run.json["reason"], reason, "{} {}", run.json, run.stderr);
}

/// Run `f` (an attack and the sync after it) and check that the cluster's policies and
/// their write history are exactly as before.
fn untouched(cluster: &Cluster, f: impl FnOnce()) {
    let before = cluster.policy_hashes();
    let from = cluster.write_mark();
    f();
    assert_eq!(cluster.policy_hashes(), before, "the cluster changed");
    assert!(
        cluster.policy_writes_since(from).is_empty(),
        "writes were sent: {:?}",
        cluster.policy_writes_since(from)
    );
}

/// `sync --once` of `repo_arg` (a path or URL), with the cluster's key.
fn sync_from(repo_arg: &str, repo: &PolicyRepo, cluster: &Cluster, extra: &[&str]) -> Run {
    let mut args = vec![
        "sync",
        "--once",
        "--output",
        "json",
        "--repo",
        repo_arg,
        "--trust-anchor",
        repo.anchor.to_str().unwrap(),
        "--kubeconfig",
        cluster.kubeconfig.to_str().unwrap(),
        "--state-key",
        cluster.state_key.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    netpol_sync(&args)
}

/// An attacker's commit with push rights and no trusted key: their own keys file, a
/// bundle they signed, nothing signed by anyone the deployment trusts. Fetched into
/// `repo` and returned (not on any branch yet).
fn attackers_commit(repo: &PolicyRepo) -> String {
    let evil = PolicyRepo::new();
    evil.write_bundle(&BundleSpec::new(
        "shop",
        &["payments"],
        &[("payments", "allow-everything", 1)],
    ));
    let unsigned = evil.repo.commit_unsigned("evil");
    repo.repo
        .git(&["fetch", "-q", evil.path().to_str().unwrap(), "HEAD"]);
    assert_eq!(repo.repo.git(&["rev-parse", "FETCH_HEAD"]), unsigned);
    unsigned
}

/// Force the branch to `commit` and make the repository forget everything else.
fn force_push(repo: &PolicyRepo, commit: &str) {
    repo.repo.git(&["reset", "-q", "--hard", commit]);
    repo.repo
        .git(&["reflog", "expire", "--expire=now", "--all"]);
    repo.repo.git(&["gc", "-q", "--prune=now"]);
}

fn object_exists(repo: &PolicyRepo, id: &str) -> bool {
    repo.repo
        .git_cmd()
        .args(["cat-file", "-e", id])
        .status()
        .unwrap()
        .success()
}

#[test]
fn a_ref_named_after_the_applied_revision_cannot_stand_in_for_it() {
    // (how the applied id is re-pointed, whether the repository is read as a URL clone)
    for (variant, via_url) in [
        ("tag", false),
        ("branch", false),
        ("tag", true),
        ("branch", true),
    ] {
        let cluster = Cluster::start(&["payments"]);
        let repo = PolicyRepo::new();
        let v1 = repo.revision(&[shop(80)], "v1");
        let url = format!("file://{}", repo.path().display());
        let repo_arg = if via_url {
            url.clone()
        } else {
            repo.path().display().to_string()
        };
        applied(&sync_from(&repo_arg, &repo, &cluster, &[]));

        let evil = attackers_commit(&repo);
        force_push(&repo, &evil);
        match variant {
            "tag" => repo.repo.git(&["tag", &v1, &evil]),
            _ => repo.repo.git(&["branch", &v1, &evil]),
        };
        assert!(!object_exists(&repo, &v1), "the applied commit is gone");
        untouched(&cluster, || {
            let run = sync_from(&repo_arg, &repo, &cluster, &[]);
            refused(&run, "not-fast-forward");
            assert!(
                run.json["message"].as_str().unwrap().contains(&v1),
                "{variant} via_url={via_url}: {}",
                run.json
            );
            let plan = netpol_sync(&[
                "plan",
                "--output",
                "json",
                "--repo",
                &repo_arg,
                "--trust-anchor",
                repo.anchor.to_str().unwrap(),
                "--kubeconfig",
                cluster.kubeconfig.to_str().unwrap(),
            ]);
            refused(&plan, "not-fast-forward");
        });
    }
}

#[test]
fn since_is_a_full_commit_id_never_a_rev_spec() {
    let repo = PolicyRepo::new();
    let v1 = repo.revision(&[shop(80)], "v1");
    repo.revision(&[shop(81)], "v2");
    let anchor = repo.anchor.to_str().unwrap();
    let path = repo.path().to_str().unwrap();
    for since in [
        "HEAD~1",
        &v1[..12],
        "main",
        "v1-tag",
        &v1.to_uppercase()[..39],
    ] {
        repo.repo.git(&["tag", "-f", "v1-tag", &v1]);
        let (code, stdout, stderr) = support::run_netpol_sync(&[
            "verify",
            "--repo",
            path,
            "--trust-anchor",
            anchor,
            "--since",
            since,
            "--output",
            "json",
        ]);
        let json: Value = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
        assert_eq!(code, 1, "--since {since}: {stdout} {stderr}");
        assert_eq!(
            json["reason"], "not-fast-forward",
            "--since {since}: {json}"
        );
    }
    // The full id itself is accepted.
    let (code, stdout, _) = support::run_netpol_sync(&[
        "verify",
        "--repo",
        path,
        "--trust-anchor",
        anchor,
        "--since",
        &v1,
        "--output",
        "json",
    ]);
    assert_eq!(code, 0, "{stdout}");
}

#[test]
fn rev_names_a_branch_and_a_tag_of_the_same_name_is_ambiguous() {
    let repo = PolicyRepo::new();
    let v1 = repo.revision(&[shop(80)], "v1");
    let v2 = repo.revision(&[shop(81)], "v2");
    let anchor = repo.anchor.to_str().unwrap();
    let path = repo.path().to_str().unwrap();
    let verify = |rev: &str| {
        let (code, stdout, stderr) = support::run_netpol_sync(&[
            "verify",
            "--repo",
            path,
            "--trust-anchor",
            anchor,
            "--rev",
            rev,
            "--output",
            "json",
        ]);
        let json: Value = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
        (code, json, stderr)
    };
    let (code, json, _) = verify("main");
    assert_eq!((code, json["revision"].as_str()), (0, Some(v2.as_str())));
    // A tag named `main` at the older commit: refused as ambiguous, never silently taken.
    repo.repo.git(&["tag", "main", &v1]);
    let (code, json, stderr) = verify("main");
    assert_eq!(code, 2, "{json} {stderr}");
    assert!(
        json["message"].as_str().unwrap().contains("ambiguous"),
        "{json}"
    );
    let (code, json, _) = verify("refs/heads/main");
    assert_eq!((code, json["revision"].as_str()), (0, Some(v2.as_str())));
    // Rev-spec syntax and unknown names are errors, not guesses.
    for rev in ["HEAD~1", "main^", &v1[..10], "no-such-branch"] {
        let (code, json, _) = verify(rev);
        assert_eq!(code, 2, "--rev {rev}: {json}");
        assert_eq!(json["reason"], "not-found", "--rev {rev}: {json}");
    }
}

/// The messages of the Events with `reason` in the state namespace.
fn events(cluster: &Cluster, reason: &str) -> Vec<String> {
    let out = cluster.kubectl(&["get", "events", "-n", STATE_NS, "-o", "json"], None);
    assert!(out.status.success(), "{out:?}");
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["reason"] == reason)
        .map(|e| e["message"].as_str().unwrap_or("").to_string())
        .collect()
}

/// The state ConfigMap as kubectl shows it.
fn state_configmap(cluster: &Cluster) -> Value {
    let out = cluster.kubectl(
        &[
            "get",
            "configmap",
            "netpol-sync-state",
            "-n",
            STATE_NS,
            "-o",
            "json",
        ],
        None,
    );
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A ConfigMap writer's edit of the state record, through kubectl.
fn write_state_configmap(cluster: &Cluster, cm: &Value) {
    let out = cluster.kubectl(&["replace", "-f", "-"], Some(&cm.to_string()));
    assert!(out.status.success(), "{out:?}");
}

fn point_record_at(cluster: &Cluster, revision: &str, mac: Option<&str>) {
    let mut cm = state_configmap(cluster);
    let json = cm["data"]["state.json"].as_str().unwrap().to_string();
    let mut record: Value = serde_json::from_str(&json).unwrap();
    record["revision"] = Value::String(revision.into());
    cm["data"]["state.json"] = Value::String(record.to_string());
    match mac {
        Some(m) => cm["data"]["mac"] = Value::String(m.into()),
        None => {
            cm["data"].as_object_mut().unwrap().remove("mac");
        }
    }
    write_state_configmap(cluster, &cm);
}

#[test]
fn a_configmap_writer_cannot_point_the_record_at_an_unsigned_commit() {
    for forged_mac in [None, Some("keep"), Some("00"), Some(&"ab".repeat(32)[..])] {
        let cluster = Cluster::start(&["payments"]);
        let repo = PolicyRepo::new();
        repo.revision(&[shop(80)], "v1");
        applied(&sync(&repo, &cluster, &[]));
        // An unsigned commit pushed on top, and the record pointed at it.
        repo.write_bundle(&shop(9999));
        let unsigned = repo.repo.commit_unsigned("unsigned");
        let kept = state_configmap(&cluster)["data"]["mac"]
            .as_str()
            .unwrap()
            .to_string();
        let mac = forged_mac.map(|m| if m == "keep" { kept.as_str() } else { m });
        point_record_at(&cluster, &unsigned, mac);
        untouched(&cluster, || {
            let run = sync(&repo, &cluster, &[]);
            refused(&run, "unsigned-commit");
            assert!(
                run.stderr.contains("does not authenticate"),
                "{}",
                run.stderr
            );
        });
    }
}

#[test]
fn the_base_the_record_names_must_itself_be_a_signed_commit() {
    // `--since` (the operator's override) names an unsigned commit whose child is signed.
    let repo = PolicyRepo::new();
    repo.revision(&[shop(80)], "v1");
    repo.write_bundle(&shop(81));
    let unsigned = repo.repo.commit_unsigned("unsigned base");
    repo.revision(&[shop(82)], "signed on top");
    let (code, stdout, _) = support::run_netpol_sync(&[
        "verify",
        "--repo",
        repo.path().to_str().unwrap(),
        "--trust-anchor",
        repo.anchor.to_str().unwrap(),
        "--since",
        &unsigned,
        "--output",
        "json",
    ]);
    let json: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(code, 1, "{json}");
    assert_eq!(json["reason"], "unsigned-commit", "{json}");
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .contains("last applied revision"),
        "{json}"
    );
}

#[test]
fn deleting_the_state_record_does_not_reopen_a_rollback() {
    for how in ["delete", "empty-data", "garbage"] {
        let cluster = Cluster::start(&["payments"]);
        let repo = PolicyRepo::new();
        let v1 = repo.revision(&[shop(80)], "v1");
        applied(&sync(&repo, &cluster, &[]));
        let v2 = repo.revision(&[shop(81)], "v2");
        applied(&sync(&repo, &cluster, &[]));
        match how {
            "delete" => {
                let out = cluster.kubectl(
                    &["delete", "configmap", "netpol-sync-state", "-n", STATE_NS],
                    None,
                );
                assert!(out.status.success(), "{out:?}");
            }
            "empty-data" => {
                let mut cm = state_configmap(&cluster);
                cm["data"] = serde_json::json!({});
                write_state_configmap(&cluster, &cm);
            }
            _ => {
                let mut cm = state_configmap(&cluster);
                cm["data"] = serde_json::json!({"state.json": "{not json", "mac": "zz"});
                write_state_configmap(&cluster, &cm);
            }
        }
        // Rollback to the older signed revision, by force-push.
        repo.repo.git(&["reset", "-q", "--hard", &v1]);
        untouched(&cluster, || {
            let run = sync(&repo, &cluster, &[]);
            refused(&run, "not-fast-forward");
            assert!(
                run.json["message"].as_str().unwrap().contains(&v2),
                "{how}: {}",
                run.json
            );
        });
        // Moving forward again recovers: the base came from the live policies.
        repo.repo.git(&["reset", "-q", "--hard", &v2]);
        let v3 = repo.revision(&[shop(82)], "v3");
        let run = sync(&repo, &cluster, &[]);
        applied(&run);
        assert_eq!(run.json["revision"], v3.as_str());
        assert_eq!(
            run.json["extra"]["base"]["source"], "recovered",
            "{}",
            run.json
        );
        let recovered = events(&cluster, "StateRecovered");
        assert!(
            recovered.iter().any(|m| m.contains(&v2)),
            "{how}: {recovered:?}"
        );
        assert_eq!(
            run.json["extra"]["base"]["since"],
            v2.as_str(),
            "{}",
            run.json
        );
    }
}

#[test]
fn deleting_the_state_record_does_not_let_a_revoked_anchor_key_back_in() {
    let cluster = Cluster::start(&["payments"]);
    let repo = PolicyRepo::new();
    let keys = tempfile::tempdir().unwrap();
    let mallory = Key::ed25519(keys.path(), "mallory@example.com");
    // The anchor (never rotated, a Secret) still lists mallory; the repository revokes her.
    let both = repo.key.allowed_signers_line("") + &mallory.allowed_signers_line("");
    std::fs::write(&repo.anchor, &both).unwrap();
    repo.repo.write("keys/allowed_signers", &both);
    repo.revision(&[shop(80)], "v1 trusts mallory");
    applied(&sync(&repo, &cluster, &[]));
    repo.repo
        .write("keys/allowed_signers", repo.key.allowed_signers_line(""));
    repo.commit("revoke mallory");
    applied(&sync(&repo, &cluster, &[]));
    for lose_record in [false, true] {
        if lose_record {
            cluster.kubectl(
                &["delete", "configmap", "netpol-sync-state", "-n", STATE_NS],
                None,
            );
        }
        let evil = BundleSpec::new("shop", &["payments"], &[("payments", "allow-all", 1)]);
        repo.write_bundle(&evil);
        repo.repo.commit_signed("mallory is back", &mallory);
        untouched(&cluster, || {
            let run = sync(&repo, &cluster, &[]);
            refused(&run, "untrusted-key");
        });
        repo.repo.git(&["reset", "-q", "--hard", "HEAD~1"]);
    }
}

#[test]
fn a_replayed_older_record_is_overruled_by_the_live_policies() {
    let cluster = Cluster::start(&["payments"]);
    let repo = PolicyRepo::new();
    let v1 = repo.revision(&[shop(80)], "v1");
    applied(&sync(&repo, &cluster, &[]));
    let old_record = state_configmap(&cluster)["data"].clone();
    let v2 = repo.revision(&[shop(81)], "v2");
    applied(&sync(&repo, &cluster, &[]));
    // A signed sibling of v2 (an old feature branch, say), and the v1 record replayed:
    // its MAC is genuine.
    repo.repo.git(&["checkout", "-q", "-b", "old-feature", &v1]);
    let sibling = repo.revision(&[shop(7)], "signed, but not after v2");
    repo.repo.git(&["branch", "-f", "main", &sibling]);
    repo.repo.git(&["checkout", "-q", "main"]);
    let mut cm = state_configmap(&cluster);
    cm["data"] = old_record;
    write_state_configmap(&cluster, &cm);
    untouched(&cluster, || {
        let run = sync(&repo, &cluster, &[]);
        refused(&run, "not-fast-forward");
        assert!(
            run.json["message"].as_str().unwrap().contains(&v2),
            "{}",
            run.json
        );
    });
}

#[test]
fn a_record_that_does_not_authenticate_with_nothing_live_needs_an_explicit_reset() {
    let cluster = Cluster::start(&["payments"]);
    let repo = PolicyRepo::new();
    let v1 = repo.revision(&[shop(80)], "v1");
    let forged = serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "netpol-sync-state", "namespace": STATE_NS},
        "data": {"state.json": format!("{{\"revision\":\"{v1}\"}}"), "inventory": "", "mac": "00"},
    });
    let out = cluster.kubectl(&["create", "-f", "-"], Some(&forged.to_string()));
    assert!(out.status.success(), "{out:?}");
    untouched(&cluster, || {
        let run = sync(&repo, &cluster, &[]);
        assert_eq!(run.code, 2, "{}", run.json);
        assert_eq!(run.json["reason"], "state-unauthenticated", "{}", run.json);
        assert!(run.json["message"]
            .as_str()
            .unwrap()
            .contains("--reset-trust-to-anchor"));
        // A failure report does not overwrite the forged record with an authentic empty
        // one (that would be a silent reset on the next cycle).
        let run = sync(&repo, &cluster, &[]);
        assert_eq!(run.json["reason"], "state-unauthenticated", "{}", run.json);
    });
    assert!(events(&cluster, "TrustReset").is_empty());
    let run = sync(&repo, &cluster, &["--reset-trust-to-anchor"]);
    applied(&run);
    let reset = events(&cluster, "TrustReset");
    assert_eq!(reset.len(), 1, "{reset:?}");
    assert!(reset[0].contains("--reset-trust-to-anchor"), "{reset:?}");
    assert_eq!(run.json["extra"]["base"]["source"], "reset", "{}", run.json);
    assert!(
        run.stderr.contains("--reset-trust-to-anchor"),
        "{}",
        run.stderr
    );
    // The record written now authenticates: the next cycle starts from it.
    let run = sync(&repo, &cluster, &[]);
    applied(&run);
    assert_eq!(
        run.json["extra"]["base"]["source"], "record",
        "{}",
        run.json
    );
}

#[test]
fn plan_sync_and_run_refuse_to_start_without_a_state_key() {
    let cluster = Cluster::start(&["payments"]);
    let repo = PolicyRepo::new();
    repo.revision(&[shop(80)], "v1");
    for command in ["plan", "sync"] {
        let out = std::process::Command::new(support::netpol_sync_bin())
            .args([command, "--output", "json", "--repo"])
            .arg(repo.path())
            .arg("--trust-anchor")
            .arg(&repo.anchor)
            .arg("--kubeconfig")
            .arg(&cluster.kubeconfig)
            .env_remove("NETPOL_SYNC_STATE_KEY")
            .output()
            .unwrap();
        let json: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        assert_eq!(out.status.code(), Some(2), "{command}: {json}");
        assert!(
            json["message"].as_str().unwrap().contains("--state-key"),
            "{json}"
        );
    }
    assert!(cluster.policy_hashes().is_empty());
}

/// A bundle.yaml signature by `key`, next to the repository's own.
fn cosign_bundle(repo: &PolicyRepo, bundle: &str, key: &Key) {
    let manifest =
        std::fs::read(repo.path().join(format!("bundles/{bundle}/bundle.yaml"))).unwrap();
    let sig = key.sign_detached("netpol-sync-bundle", &manifest);
    repo.repo.write(
        &format!("bundles/{bundle}/signatures/{}.sig", key.principal),
        sig,
    );
}

fn verify_json(repo: &PolicyRepo, extra: &[&str]) -> (i32, Value) {
    let mut args = vec![
        "verify",
        "--repo",
        repo.path().to_str().unwrap(),
        "--trust-anchor",
        repo.anchor.to_str().unwrap(),
        "--output",
        "json",
    ];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = support::run_netpol_sync(&args);
    let json = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
    assert!(!stderr.contains("panicked"), "{stderr}");
    (code, json)
}

#[test]
fn a_key_the_revision_adds_does_not_count_towards_its_bundle_signatures() {
    let repo = PolicyRepo::new();
    let keys = tempfile::tempdir().unwrap();
    let bob = Key::ed25519(keys.path(), "bob@example.com");
    let v1 = repo.revision(&[shop(80)], "v1");
    // One signer adds a second key in the same commit and co-signs with it.
    repo.repo.write(
        "keys/allowed_signers",
        repo.key.allowed_signers_line("") + &bob.allowed_signers_line(""),
    );
    repo.write_bundle(&shop(81));
    cosign_bundle(&repo, "shop", &bob);
    let v2 = repo.commit("alice adds bob and both sign");
    for since in [None, Some(v1.as_str())] {
        let mut extra = vec!["--bundle-signatures", "2"];
        if let Some(s) = since {
            extra.extend(["--since", s]);
        }
        let (code, json) = verify_json(&repo, &extra);
        assert_eq!(code, 1, "since {since:?}: {json}");
        assert_eq!(json["reason"], "bundle-signature-threshold", "{json}");
    }
    // Once that change is applied, bob is trusted before the next revision.
    repo.write_bundle(&shop(82));
    cosign_bundle(&repo, "shop", &bob);
    repo.commit("v3, both sign");
    let (code, json) = verify_json(&repo, &["--bundle-signatures", "2", "--since", &v2]);
    assert_eq!(code, 0, "{json}");
}

#[test]
fn a_git_only_key_cannot_add_a_bundle_key_and_sign_with_it() {
    let repo = PolicyRepo::new();
    let keys = tempfile::tempdir().unwrap();
    let eve = Key::ed25519(keys.path(), "eve@example.com");
    // alice may sign commits only.
    let git_only = repo.key.allowed_signers_line("namespaces=\"git\"");
    std::fs::write(&repo.anchor, &git_only).unwrap();
    repo.repo.write("keys/allowed_signers", &git_only);
    let v1 = repo.repo.commit_signed("git-only alice", &repo.key);
    repo.repo.write(
        "keys/allowed_signers",
        git_only.clone() + &eve.allowed_signers_line(""),
    );
    repo.write_bundle(&shop(80));
    // Replace alice's bundle signature with eve's.
    std::fs::remove_file(repo.path().join("bundles/shop/signatures/alice.sig")).unwrap();
    cosign_bundle(&repo, "shop", &eve);
    repo.commit("alice adds eve, eve signs the bundle");
    for since in [None, Some(v1.as_str())] {
        let mut extra = vec![];
        if let Some(s) = since {
            extra.extend(["--since", s]);
        }
        let (code, json) = verify_json(&repo, &extra);
        assert_eq!(code, 1, "since {since:?}: {json}");
        assert_eq!(json["reason"], "bundle-signature-threshold", "{json}");
    }
}

#[test]
fn one_key_cannot_make_itself_many_under_a_key_change_threshold() {
    let keys = tempfile::tempdir().unwrap();
    let carol = Key::ed25519(keys.path(), "carol@example.com");
    let bob = Key::ed25519(keys.path(), "bob@example.com");
    // (who signs the new keys file besides the commit's signer alice, verdict)
    for (cosigner, accepted) in [
        (None, false),
        (Some("bob"), false),
        (Some("alice"), false),
        (Some("carol"), true),
    ] {
        let repo = PolicyRepo::new();
        let before = repo.key.allowed_signers_line("") + &carol.allowed_signers_line("");
        std::fs::write(&repo.anchor, &before).unwrap();
        repo.repo.write("keys/allowed_signers", &before);
        let v1 = repo.revision(&[shop(80)], "alice and carol");
        let after = before.clone() + &bob.allowed_signers_line("");
        repo.repo.write("keys/allowed_signers", &after);
        let signer = match cosigner {
            Some("bob") => Some(&bob),
            Some("alice") => Some(&repo.key),
            Some(_) => Some(&carol),
            None => None,
        };
        if let Some(k) = signer {
            let sig = k.sign_detached("netpol-sync-keys", after.as_bytes());
            repo.repo
                .write(&format!("keys/signatures/{}.sig", k.principal), sig);
        }
        repo.commit("alice adds bob");
        let (code, json) = verify_json(&repo, &["--since", &v1, "--key-change-signatures", "2"]);
        if accepted {
            assert_eq!(code, 0, "{cosigner:?}: {json}");
        } else {
            assert_eq!(code, 1, "{cosigner:?}: {json}");
            assert_eq!(
                json["reason"], "key-change-threshold",
                "{cosigner:?}: {json}"
            );
        }
        // With the default threshold of one, the commit's signer suffices.
        let (code, json) = verify_json(&repo, &["--since", &v1]);
        assert_eq!(code, 0, "{json}");
    }
}

#[test]
fn a_signature_over_another_keys_file_does_not_count_for_this_one() {
    let keys = tempfile::tempdir().unwrap();
    let carol = Key::ed25519(keys.path(), "carol@example.com");
    let bob = Key::ed25519(keys.path(), "bob@example.com");
    let repo = PolicyRepo::new();
    let before = repo.key.allowed_signers_line("") + &carol.allowed_signers_line("");
    std::fs::write(&repo.anchor, &before).unwrap();
    repo.repo.write("keys/allowed_signers", &before);
    let v1 = repo.revision(&[shop(80)], "alice and carol");
    // carol signed a harmless change; alice commits a different file under that signature.
    let harmless = before.clone() + "# comment\n";
    let sig = carol.sign_detached("netpol-sync-keys", harmless.as_bytes());
    repo.repo.write("keys/signatures/carol.sig", sig.clone());
    repo.repo.write(
        "keys/allowed_signers",
        before.clone() + &bob.allowed_signers_line(""),
    );
    repo.commit("alice adds bob under carol's signature of something else");
    let (code, json) = verify_json(&repo, &["--since", &v1, "--key-change-signatures", "2"]);
    assert_eq!(code, 1, "{json}");
    assert_eq!(json["reason"], "key-change-threshold", "{json}");
    // A signature made in another namespace (a bundle signature) does not count either.
    let bundle_ns = carol.sign_detached(
        "netpol-sync-bundle",
        (before + &bob.allowed_signers_line("")).as_bytes(),
    );
    repo.repo.write("keys/signatures/carol.sig", bundle_ns);
    repo.commit("same, signed in the bundle namespace");
    let (code, json) = verify_json(&repo, &["--since", &v1, "--key-change-signatures", "2"]);
    assert_eq!(json["reason"], "key-change-threshold", "{json}");
    assert_eq!(code, 1);
}
