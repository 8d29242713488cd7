//! Pods through kube-rs: create, get, list with a label selector and pages, delete, and the
//! validation of the fields `netpol-sync reach` reads (containers and their ports), with the
//! apiserver's field paths.

use apiserver_emu::{EmuConfig, Emulator};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
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

fn pod(name: &str, app: &str, ports: serde_json::Value) -> Pod {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "labels": {"app": app},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d8f", "uid": "u1", "controller": true}]},
        "spec": {"containers": [{"name": "c", "image": "registry.example/web:1", "ports": ports}]}
    }))
    .unwrap()
}

#[tokio::test]
async fn pods_are_created_listed_by_labels_in_pages_and_deleted() {
    let emu = Emulator::start(EmuConfig {
        tls: false,
        token: None,
        namespaces: vec!["a".into(), "b".into()],
    })
    .unwrap();
    let client = client(&emu).await;
    let a: Api<Pod> = Api::namespaced(client.clone(), "a");
    let created = a
        .create(
            &PostParams::default(),
            &pod(
                "web-1",
                "web",
                serde_json::json!([{"containerPort": 8080, "name": "http"}]),
            ),
        )
        .await
        .unwrap();
    // The server's defaults: the protocol, and a status of its own.
    let spec = created.spec.as_ref().unwrap();
    let port = &spec.containers[0].ports.as_ref().unwrap()[0];
    assert_eq!(port.protocol.as_deref(), Some("TCP"));
    assert_eq!(port.name.as_deref(), Some("http"));
    assert_eq!(
        created.status.as_ref().unwrap().phase.as_deref(),
        Some("Pending")
    );
    assert_eq!(
        created.metadata.owner_references.as_ref().unwrap()[0].kind,
        "ReplicaSet"
    );
    a.create(
        &PostParams::default(),
        &pod("web-2", "web", serde_json::json!([])),
    )
    .await
    .unwrap();
    a.create(
        &PostParams::default(),
        &pod("db-0", "db", serde_json::json!([])),
    )
    .await
    .unwrap();
    let b: Api<Pod> = Api::namespaced(client.clone(), "b");
    b.create(
        &PostParams::default(),
        &pod("web-3", "web", serde_json::json!([])),
    )
    .await
    .unwrap();

    let got = a.get("web-1").await.unwrap();
    assert_eq!(got.metadata.uid, created.metadata.uid);

    // Every namespace, by label, one per page.
    let all: Api<Pod> = Api::all(client.clone());
    let mut names = Vec::new();
    let mut params = ListParams::default().labels("app=web").limit(1);
    loop {
        let page = all.list(&params).await.unwrap();
        names.extend(page.items.iter().map(|p| {
            format!(
                "{}/{}",
                p.metadata.namespace.as_deref().unwrap(),
                p.metadata.name.as_deref().unwrap()
            )
        }));
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => break,
        }
    }
    assert_eq!(names, ["a/web-1", "a/web-2", "b/web-3"]);

    a.delete("web-1", &DeleteParams::default()).await.unwrap();
    let err = a.get("web-1").await.unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 404),
        "{err:?}"
    );
    emu.shutdown();
}

#[tokio::test]
async fn a_pod_with_bad_ports_or_no_containers_is_422_naming_the_field() {
    let emu = Emulator::start(EmuConfig {
        tls: false,
        token: None,
        namespaces: vec!["a".into()],
    })
    .unwrap();
    let a: Api<Pod> = Api::namespaced(client(&emu).await, "a");
    let bad = pod(
        "bad",
        "web",
        serde_json::json!([{"containerPort": 70000}, {"containerPort": 80, "name": "HTTP"}]),
    );
    let err = a.create(&PostParams::default(), &bad).await.unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("{err:?}")
    };
    assert_eq!(status.code, 422);
    assert!(
        status
            .message
            .contains("spec.containers[0].ports[0].containerPort: Invalid value: 70000"),
        "{}",
        status.message
    );
    assert!(
        status.message.contains("spec.containers[0].ports[1].name"),
        "{}",
        status.message
    );
    let mut empty = pod("empty", "web", serde_json::json!([]));
    empty.spec.as_mut().unwrap().containers.clear();
    let err = a.create(&PostParams::default(), &empty).await.unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 422 && s.message.contains("spec.containers: Required value")),
        "{err:?}"
    );
    emu.shutdown();
}
