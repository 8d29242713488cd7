//! kube-rs (the client netpol-sync uses) against the emulator, over TLS with a token.

use std::collections::BTreeMap;

use apiserver_emu::{EmuConfig, Emulator};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicySpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::api::{Api, DeleteParams, ListParams, PostParams, Preconditions};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

async fn client(emu: &Emulator) -> Client {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    emu.write_kubeconfig(&path).unwrap();
    let kubeconfig = Kubeconfig::read_from(&path).unwrap();
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap();
    Client::try_from(config).unwrap()
}

fn start() -> Emulator {
    Emulator::start(EmuConfig {
        tls: true,
        token: Some("kube-rs-token".into()),
        namespaces: vec!["a".into(), "b".into()],
    })
    .unwrap()
}

fn policy(name: &str, labels: &[(&str, &str)]) -> NetworkPolicy {
    NetworkPolicy {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<BTreeMap<_, _>>(),
            ),
            ..Default::default()
        },
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(vec!["Ingress".into()]),
            ..Default::default()
        }),
    }
}

fn api_status(err: kube::Error) -> (u16, String) {
    match err {
        kube::Error::Api(status) => (status.code, status.reason.clone()),
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn networkpolicy_lifecycle_through_kube_rs() {
    let emu = start();
    let client = client(&emu).await;
    let api: Api<NetworkPolicy> = Api::namespaced(client.clone(), "a");
    let pp = PostParams {
        field_manager: Some("netpol-sync".into()),
        ..Default::default()
    };

    let dry = api
        .create(
            &PostParams {
                dry_run: true,
                ..Default::default()
            },
            &policy("p", &[]),
        )
        .await
        .unwrap();
    assert!(dry.metadata.uid.is_some());
    assert!(
        api.get_opt("p").await.unwrap().is_none(),
        "dry-run stored the object"
    );

    let created = api
        .create(&pp, &policy("p", &[("app", "web")]))
        .await
        .unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    api.create(&pp, &policy("q", &[("app", "db")]))
        .await
        .unwrap();
    let all: Api<NetworkPolicy> = Api::all(client.clone());
    Api::<NetworkPolicy>::namespaced(client.clone(), "b")
        .create(&pp, &policy("p", &[("app", "web")]))
        .await
        .unwrap();

    let web = all
        .list(&ListParams::default().labels("app=web"))
        .await
        .unwrap();
    let names: Vec<String> = web
        .items
        .iter()
        .map(|p| {
            format!(
                "{}/{}",
                p.metadata.namespace.clone().unwrap(),
                p.metadata.name.clone().unwrap()
            )
        })
        .collect();
    assert_eq!(names, ["a/p", "b/p"]);
    assert_eq!(
        api.list(&ListParams::default().labels("app notin (web)"))
            .await
            .unwrap()
            .items
            .len(),
        1
    );

    let mut changed = created.clone();
    changed.spec.as_mut().unwrap().policy_types = Some(vec!["Egress".into()]);
    let replaced = api.replace("p", &pp, &changed).await.unwrap();
    assert_eq!(replaced.metadata.generation, Some(2));
    let (code, reason) = api_status(api.replace("p", &pp, &changed).await.unwrap_err());
    assert_eq!((code, reason.as_str()), (409, "Conflict"));

    let stale = DeleteParams::default().preconditions(Preconditions {
        resource_version: created.metadata.resource_version.clone(),
        uid: None,
    });
    let (code, _) = api_status(api.delete("p", &stale).await.unwrap_err());
    assert_eq!(code, 409);
    let current = DeleteParams::default().preconditions(Preconditions {
        resource_version: replaced.metadata.resource_version.clone(),
        uid: replaced.metadata.uid.clone(),
    });
    api.delete("p", &current).await.unwrap();
    let (code, reason) = api_status(api.get("p").await.unwrap_err());
    assert_eq!((code, reason.as_str()), (404, "NotFound"));

    let writes: Vec<_> = emu
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert!(writes
        .iter()
        .filter(|r| r.status == 201)
        .all(|r| r.field_manager.as_deref() == Some("netpol-sync") || r.query.contains("dryRun")));
}

#[tokio::test]
async fn leases_behave_like_client_go_expects() {
    let emu = start();
    let client = client(&emu).await;
    let api: Api<Lease> = Api::namespaced(client, "a");
    let lease = Lease {
        metadata: ObjectMeta {
            name: Some("leader".into()),
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some("pod-1".into()),
            lease_duration_seconds: Some(15),
            ..Default::default()
        }),
    };
    let held = api.create(&PostParams::default(), &lease).await.unwrap();
    // A take-over is a compare-and-swap on the resourceVersion read.
    let mut takeover = held.clone();
    takeover.spec.as_mut().unwrap().holder_identity = Some("pod-2".into());
    api.replace("leader", &PostParams::default(), &takeover)
        .await
        .unwrap();
    let (code, _) = api_status(
        api.replace("leader", &PostParams::default(), &takeover)
            .await
            .unwrap_err(),
    );
    assert_eq!(
        code, 409,
        "the loser of a take-over race must see a conflict"
    );
    // Without a resourceVersion a Lease update is refused outright.
    let mut blind = takeover.clone();
    blind.metadata.resource_version = None;
    let (code, reason) = api_status(
        api.replace("leader", &PostParams::default(), &blind)
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (422, "Invalid"));
    let mut bad = lease.clone();
    bad.metadata.name = Some("bad".into());
    bad.spec.as_mut().unwrap().lease_duration_seconds = Some(0);
    let (code, _) = api_status(api.create(&PostParams::default(), &bad).await.unwrap_err());
    assert_eq!(code, 422);
}

#[tokio::test]
async fn configmaps_with_dry_run_selectors_and_missing_namespaces() {
    let emu = start();
    let client = client(&emu).await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "a");
    let cm = |name: &str, tier: &str| ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some([("tier".to_string(), tier.to_string())].into()),
            ..Default::default()
        },
        data: Some([("revision".to_string(), "abc".to_string())].into()),
        ..Default::default()
    };
    api.create(
        &PostParams {
            dry_run: true,
            ..Default::default()
        },
        &cm("state", "x"),
    )
    .await
    .unwrap();
    assert!(emu.get_object("configmaps", Some("a"), "state").is_none());
    api.create(&PostParams::default(), &cm("state", "x"))
        .await
        .unwrap();
    api.create(&PostParams::default(), &cm("other", "y"))
        .await
        .unwrap();
    let selected = api
        .list(&ListParams::default().labels("tier in (x)"))
        .await
        .unwrap();
    assert_eq!(selected.items.len(), 1);
    let by_name = api
        .list(&ListParams::default().fields("metadata.name=other"))
        .await
        .unwrap();
    assert_eq!(by_name.items[0].metadata.name.as_deref(), Some("other"));
    let missing: Api<ConfigMap> = Api::namespaced(client.clone(), "missing");
    let (code, _) = api_status(
        missing
            .create(&PostParams::default(), &cm("x", "x"))
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 404);
    let namespaces: Api<Namespace> = Api::all(client);
    let names: Vec<String> = namespaces
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    assert_eq!(names, ["a", "b"]);
}
