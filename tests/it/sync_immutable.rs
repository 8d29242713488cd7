//! `--immutable-objects` (docs/sync.md, "Immutable objects"): every policy is an object
//! `<name>-<hash>` that is only ever created and deleted. The sync flows of the ordinary
//! mode, in this mode, with the invariant checked over each sync's own changes (the
//! expected objects computed independently, `sync_support::expected_immutable`), on the
//! emulator and on the real kube-apiserver.

use crate::sync_support;

use netpol_sync::plan::{Action, ObjectKey};
use sync_support::*;

const IMMUTABLE: &[&str] = &["--immutable-objects"];

fn shop(web_port: u16, with_api: bool) -> BundleSpec {
    let mut policies = vec![
        ("frontend", "default-deny", 1),
        ("frontend", "web", web_port),
        ("payments", "default-deny", 1),
    ];
    if with_api {
        policies.push(("payments", "api", 8443));
    }
    BundleSpec::new("shop", &["frontend", "payments"], &policies)
}

fn counts(run: &Run) -> (u64, u64, u64) {
    let n = |k: &str| run.json[k].as_u64().unwrap_or(u64::MAX);
    (n("created"), n("updated"), n("deleted"))
}

fn live(cluster: &Cluster) -> std::collections::BTreeMap<ObjectKey, String> {
    in_namespaces(&cluster.policy_hashes(), &["frontend", "payments"])
}

#[test]
fn a_changed_policy_is_one_create_and_one_delete_and_nothing_is_ever_updated() {
    let cluster = Cluster::start(&["frontend", "payments"]);
    let repo = PolicyRepo::new();
    repo.revision(&[shop(80, true)], "v1");

    let run = sync(&repo, &cluster, IMMUTABLE);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    assert_eq!(counts(&run), (4, 0, 0));
    assert_eq!(live(&cluster), expected_immutable(&[shop(80, true)]));
    let web = expected_immutable(&[shop(80, true)])
        .into_keys()
        .find(|k| k.name.starts_with("web-"))
        .unwrap();
    let object = cluster.policy("frontend", &web.name).unwrap();
    assert_eq!(object["metadata"]["labels"]["netpol-sync.io/policy"], "web");

    // The plan names each object beside its policy.
    repo.revision(&[shop(81, true)], "web on 81");
    let run = plan(&repo, &cluster, IMMUTABLE);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    let entries = run.json["extra"]["plan"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{}", run.json);
    assert_eq!(entries[0]["action"], "create");
    assert_eq!(entries[0]["policy"], "web");
    assert!(entries[0]["name"].as_str().unwrap().starts_with("web-"));
    assert_eq!(entries[1]["action"], "delete");
    assert_eq!(entries[1]["name"], web.name.as_str());

    // Exactly one create, then one delete: never an update, never without either.
    let from = cluster.history_len();
    let run = sync(&repo, &cluster, IMMUTABLE);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    assert_eq!(counts(&run), (1, 0, 1));
    assert_eq!(
        write_actions(&cluster, from),
        vec![Action::Create, Action::Delete]
    );
    assert_eq!(live(&cluster), expected_immutable(&[shop(81, true)]));

    // A prune, then the rollback by git revert.
    repo.revision(&[shop(81, false)], "no api");
    let run = sync(&repo, &cluster, IMMUTABLE);
    assert_eq!(run.json["verdict"], "applied", "{}", run.json);
    assert_eq!(counts(&run), (0, 0, 1), "{}", run.json);
    assert_eq!(live(&cluster), expected_immutable(&[shop(81, false)]));
    // git revert -S, signed by the same key as every other commit.
    let signing_key = format!("user.signingkey={}", repo.key.private.display());
    repo.repo
        .git(&["-c", &signing_key, "revert", "--no-edit", "-S", "HEAD"]);
    let run = sync(&repo, &cluster, IMMUTABLE);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    assert_eq!(counts(&run), (1, 0, 0), "{}", run.json);
    assert_eq!(live(&cluster), expected_immutable(&[shop(81, true)]));

    // A refused revision changes nothing in this mode either.
    repo.revision(&[shop(82, true)], "unsigned");
    repo.repo
        .git(&["commit", "--amend", "--no-gpg-sign", "--no-edit"]);
    let before = live(&cluster);
    let run = sync(&repo, &cluster, IMMUTABLE);
    assert_eq!(run.json["reason"], "unsigned-commit", "{}", run.json);
    assert_eq!(live(&cluster), before);
}

#[test]
fn drift_is_reverted_by_creates_and_deletes_and_an_edited_object_is_replaced() {
    let cluster = Cluster::start(&["frontend", "payments"]);
    let repo = PolicyRepo::new();
    repo.revision(&[shop(80, true)], "v1");
    let run = sync(&repo, &cluster, IMMUTABLE);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    let expected = expected_immutable(&[shop(80, true)]);
    let name_of = |policy: &str| {
        expected
            .keys()
            .find(|k| k.name.starts_with(&format!("{policy}-")))
            .unwrap()
            .name
            .clone()
    };

    // A hand-made policy, a hand-deleted object, an object edited in place.
    cluster.hand_create(&debug_open("payments"));
    cluster.hand_delete("frontend", &name_of("default-deny"));
    cluster.hand_open_ingress("payments", &name_of("api"));

    // The edited object is replaced under its own name, so it is briefly absent: the
    // per-change invariant (each change lands on the start or the new version) does not
    // hold for it by design (docs/sync.md, "Immutable objects"), and `--rev HEAD` keeps
    // `sync` from checking it; the end state and the writes are checked here instead.
    let from = cluster.history_len();
    let run = sync(&repo, &cluster, &["--immutable-objects", "--rev", "HEAD"]);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    // debug-open deleted; default-deny created again; api deleted and created again.
    assert_eq!(counts(&run), (2, 0, 2), "{}", run.json);
    assert!(
        !write_actions(&cluster, from).contains(&Action::Update),
        "no update in this mode"
    );
    let drift = run.json["extra"]["drift"].as_array().unwrap();
    let find = |name: &str| {
        drift
            .iter()
            .find(|d| d["name"] == name)
            .unwrap_or_else(|| panic!("{name} not in {drift:?}"))
    };
    assert_eq!(find("debug-open")["kind"], "created");
    assert_eq!(find("debug-open")["field_manager"], "kubectl-create");
    assert_eq!(find(&name_of("default-deny"))["kind"], "deleted");
    assert_eq!(find(&name_of("api"))["kind"], "modified");
    assert_eq!(find(&name_of("api"))["field_manager"], "kubectl-patch");
    assert_eq!(live(&cluster), expected);
}

#[test]
fn switching_modes_either_way_is_one_ordinary_cycle() {
    let cluster = Cluster::start(&["frontend", "payments"]);
    let repo = PolicyRepo::new();
    repo.revision(&[shop(80, true)], "v1");
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    assert_eq!(live(&cluster), expected_hashes(&[shop(80, true)]));

    // To immutable objects: the new names created first, the old ones pruned last.
    let from = cluster.history_len();
    let run = sync(&repo, &cluster, IMMUTABLE);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    assert_eq!(counts(&run), (4, 0, 4));
    netpol_testkit::invariant::check_write_order(&write_actions(&cluster, from)).unwrap();
    assert_eq!(live(&cluster), expected_immutable(&[shop(80, true)]));

    // And back.
    let from = cluster.history_len();
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    assert_eq!(counts(&run), (4, 0, 4));
    netpol_testkit::invariant::check_write_order(&write_actions(&cluster, from)).unwrap();
    assert_eq!(live(&cluster), expected_hashes(&[shop(80, true)]));
}

#[test]
fn a_name_with_no_room_for_the_suffix_is_refused_at_verify() {
    let repo = PolicyRepo::new();
    let long = "p".repeat(243);
    repo.revision(
        &[BundleSpec::new(
            "shop",
            &["frontend"],
            &[("frontend", &long, 80)],
        )],
        "a long name",
    );
    let run = verify(&repo);
    assert_eq!(run.code, 1, "{}\n{}", run.json, run.stderr);
    assert_eq!(run.json["reason"], "invalid-policy", "{}", run.json);
    assert_eq!(run.json["location"]["field"], "metadata.name");
}

#[test]
fn a_failed_apply_puts_the_previous_revisions_objects_back() {
    let cluster = Cluster::start_emulator(&["frontend", "payments"]);
    let repo = PolicyRepo::new();
    repo.revision(&[shop(80, false)], "v1");
    assert_eq!(sync(&repo, &cluster, IMMUTABLE).code, 0);
    // v2: web changes (a new object in frontend) and payments gains the api.
    repo.revision(&[shop(81, true)], "v2");

    // The dry-run create in payments passes; every real create there then fails, after
    // the new web object was created.
    cluster.fail_real_writes(
        "POST",
        "/apis/networking.k8s.io/v1/namespaces/payments/networkpolicies",
    );
    let run = sync(&repo, &cluster, IMMUTABLE);
    cluster.emu().clear_faults();
    assert_eq!(run.code, 2, "{}", run.json);
    assert_eq!(run.json["reason"], "apply-failed");
    assert!(
        run.json["message"].as_str().unwrap().contains("put back"),
        "{}",
        run.json
    );
    assert_eq!(live(&cluster), expected_immutable(&[shop(80, false)]));
}
