//! The daemon's in-process engine tells the drift watch's echo of its own work from
//! drift, over HTTP against apiserver-emu with a repository signed by `git commit -S`: the
//! versions its cycle wrote or read and the objects it pruned are accounted for; a hand
//! edit, a hand-made policy and a hand deletion are not, until a cycle has dealt with them.
//! The process engine (`--cycle-isolation process`) knows what its children reported
//! writing and deleting.

use crate::sync_support::{BundleSpec, Cluster, PolicyRepo, STATE_NS};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use netpol_sync::bundle::BundleOptions;
use netpol_sync::daemon::engine::{CycleInput, CycleReport, SyncEngine, WatchedChange};
use netpol_sync::daemon::inprocess_engine::InProcessEngine;
use netpol_sync::daemon::subprocess_engine::SubprocessEngine;
use netpol_sync::engine::{TrustSettings, Verdict};
use netpol_sync::kube_client::{connect, ClusterTarget};

fn shop() -> BundleSpec {
    BundleSpec::new(
        "shop",
        &["frontend", "payments"],
        &[
            ("frontend", "default-deny", 1),
            ("frontend", "web", 80),
            ("payments", "api", 8443),
        ],
    )
}

fn change(object: &NetworkPolicy, deleted: bool) -> WatchedChange {
    WatchedChange {
        uid: object.metadata.uid.clone(),
        resource_version: object.metadata.resource_version.clone(),
        deleted,
    }
}

async fn live(client: &kube::Client) -> Vec<NetworkPolicy> {
    Api::<NetworkPolicy>::all(client.clone())
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
}

async fn client_of(cluster: &Cluster) -> kube::Client {
    let (client, _) = connect(&ClusterTarget {
        kubeconfig: Some(cluster.kubeconfig.clone()),
        context: None,
    })
    .await
    .unwrap();
    client
}

/// By hand, as a person debugging would: frontend/web opened to anywhere, and a new
/// policy payments/debug-hole. Returns the versions stored.
async fn hand_edit_and_hole(client: &kube::Client) -> (NetworkPolicy, NetworkPolicy) {
    let frontend: Api<NetworkPolicy> = Api::namespaced(client.clone(), "frontend");
    let payments: Api<NetworkPolicy> = Api::namespaced(client.clone(), "payments");
    let mut web = frontend.get("web").await.unwrap();
    web.spec.as_mut().unwrap().ingress = Some(vec![Default::default()]); // from anywhere
    let edited = frontend
        .replace("web", &PostParams::default(), &web)
        .await
        .unwrap();
    let hole: NetworkPolicy = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "debug-hole", "namespace": "payments"},
        "spec": {"podSelector": {}, "ingress": [{}]}
    }))
    .unwrap();
    let hole = payments
        .create(&PostParams::default(), &hole)
        .await
        .unwrap();
    (edited, hole)
}

/// One cycle of `engine`, which must apply.
async fn applied(engine: &mut impl SyncEngine, input: CycleInput) -> CycleReport {
    let report = engine.cycle(input).await;
    assert_eq!(
        report.result.verdict,
        Verdict::Applied,
        "{:?}",
        report.result
    );
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn its_own_writes_and_reads_are_accounted_for_and_hand_changes_are_not() {
    let cluster = Cluster::start(&["frontend", "payments"]);
    let repo = PolicyRepo::new();
    let head = repo.revision(&[shop()], "v1");
    let client = client_of(&cluster).await;
    let mut engine = InProcessEngine::new(
        client.clone(),
        STATE_NS,
        netpol_sync::state::StateKey::load(&cluster.state_key).unwrap(),
        TrustSettings {
            trust_anchor: repo.anchor.clone(),
            require_user_presence: true,
            key_change_signatures: 1,
            at: None,
        },
        BundleOptions::default(),
        Default::default(),
    );
    let input = CycleInput {
        repo: repo.path().to_path_buf(),
        revision: head,
        moved: true,
    };
    applied(&mut engine, input.clone()).await;
    let created = live(&client).await;
    assert_eq!(created.len(), 3);
    for object in &created {
        assert!(
            engine.accounts_for(&change(object, false)),
            "the version our create stored: {:?}",
            object.metadata
        );
        assert!(
            !engine.accounts_for(&change(object, true)),
            "but not its deletion: we deleted nothing"
        );
    }
    let no_uid = WatchedChange {
        uid: None,
        ..change(&created[0], false)
    };
    assert!(
        !engine.accounts_for(&no_uid),
        "a change without a uid cannot be told"
    );

    // By hand: an edit, a new policy and a deletion. None of them is ours.
    let (edited, hole) = hand_edit_and_hole(&client).await;
    let payments: Api<NetworkPolicy> = Api::namespaced(client.clone(), "payments");
    let api = payments.get("api").await.unwrap();
    payments
        .delete("api", &DeleteParams::default())
        .await
        .unwrap();
    assert!(!engine.accounts_for(&change(&edited, false)), "a hand edit");
    assert!(
        !engine.accounts_for(&change(&hole, false)),
        "a hand-made policy"
    );
    assert!(!engine.accounts_for(&change(&api, true)), "a hand deletion");

    // The drift check reverts all three: now the edit is a version it read, the hole an
    // object it deleted, and what it wrote back is its own.
    let report = applied(
        &mut engine,
        CycleInput {
            moved: false,
            ..input
        },
    )
    .await;
    assert_eq!(report.drift().len(), 3, "{:?}", report.drift());
    assert!(
        engine.accounts_for(&change(&edited, false)),
        "read and planned with"
    );
    assert!(
        engine.accounts_for(&change(&hole, true)),
        "pruned by the cycle"
    );
    assert!(
        !engine.accounts_for(&change(&api, true)),
        "a hand deletion stays someone else's"
    );
    for object in live(&client).await {
        assert!(
            engine.accounts_for(&change(&object, false)),
            "{:?}",
            object.metadata
        );
    }
    cluster.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_cycles_writes_and_deletions_are_accounted_for_and_hand_changes_are_not() {
    let cluster = Cluster::start(&["frontend", "payments"]);
    let repo = PolicyRepo::new();
    let head = repo.revision(&[shop()], "v1");
    let client = client_of(&cluster).await;
    let flags: Vec<std::ffi::OsString> = vec![
        "--trust-anchor".into(),
        repo.anchor.clone().into(),
        "--kubeconfig".into(),
        cluster.kubeconfig.clone().into(),
        "--state-namespace".into(),
        STATE_NS.into(),
        "--state-key".into(),
        cluster.state_key.clone().into(),
    ];
    let mut engine = SubprocessEngine::new(crate::support::netpol_sync_bin(), flags);
    let input = CycleInput {
        repo: repo.path().to_path_buf(),
        revision: head,
        moved: true,
    };
    let report = applied(&mut engine, input.clone()).await;
    assert!(
        report.result.detail.own_writes.is_none(),
        "the report is read, not kept"
    );
    let created = live(&client).await;
    assert_eq!(created.len(), 3);
    for object in &created {
        assert!(
            engine.accounts_for(&change(object, false)),
            "the version the child's create stored: {:?}",
            object.metadata
        );
    }

    // By hand: an edit and a new policy. Neither is the child's.
    let (edited, hole) = hand_edit_and_hole(&client).await;
    assert!(!engine.accounts_for(&change(&edited, false)), "a hand edit");
    assert!(
        !engine.accounts_for(&change(&hole, false)),
        "a hand-made policy"
    );

    // The next child reverts both: what it wrote back and what it pruned are its own.
    applied(
        &mut engine,
        CycleInput {
            moved: false,
            ..input
        },
    )
    .await;
    assert!(
        engine.accounts_for(&change(&hole, true)),
        "pruned by the child"
    );
    for object in live(&client).await {
        assert!(
            engine.accounts_for(&change(&object, false)),
            "{:?}",
            object.metadata
        );
    }
    // Unlike the in-process engine, a version a child only read is not known.
    assert!(!engine.accounts_for(&change(&edited, false)));
    cluster.shutdown();
}
