//! Events posted by the daemon, read back from the API server emulator and through the
//! real `kubectl get events`.

use apiserver_emu::{EmuConfig, Emulator};
use netpol_sync::daemon::events::{EventRecorder, SyncEvent, STATE_OBJECT};
use std::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applied_rejected_and_drift_events_land_on_the_state_object() {
    let emu = Emulator::start(EmuConfig {
        namespaces: vec!["netpol-sync".into()],
        ..EmuConfig::default()
    })
    .unwrap();
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&emu.kubeconfig_yaml()).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let recorder = EventRecorder::new(client, "netpol-sync", "pod-a");
    let events = [
        SyncEvent::Applied {
            revision: "1111111111111111111111111111111111111111".into(),
            bundles: vec![("prod".into(), "sha256:abcd".into())],
            created: 2,
            updated: 1,
            deleted: 0,
            reachability: Some("+1 opened, -0 closed, ~2 changed over 3 workloads".into()),
        },
        SyncEvent::Rejected {
            revision: Some("2222222".into()),
            reason: "not-fast-forward".into(),
            message: "force-push".into(),
        },
        SyncEvent::DriftReverted {
            namespace: "payments".into(),
            name: "allow-web".into(),
            change: "updated".into(),
            field_manager: Some("kubectl-edit".into()),
        },
    ];
    for e in &events {
        recorder.publish(e).await.unwrap();
    }
    let stored = emu.list_objects("events");
    assert_eq!(stored.len(), 3, "{stored:#?}");
    for e in &stored {
        assert_eq!(e["involvedObject"]["kind"], "ConfigMap");
        assert_eq!(e["involvedObject"]["name"], STATE_OBJECT);
        assert_eq!(e["involvedObject"]["namespace"], "netpol-sync");
        assert_eq!(e["reportingInstance"], "pod-a");
    }
    let reasons: Vec<&str> = stored
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    for r in ["Applied", "Rejected", "DriftReverted"] {
        assert!(reasons.contains(&r), "{reasons:?}");
    }

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    emu.write_kubeconfig(&path).unwrap();
    let out = Command::new("kubectl").arg("--kubeconfig").arg(&path).args([
            "get",
            "events",
            "-n",
            "netpol-sync",
            "-o",
            "custom-columns=REASON:.reason,TYPE:.type,OBJECT:.involvedObject.kind,NAME:.involvedObject.name,MESSAGE:.message",
        ]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("not-fast-forward")
            && text.contains("kubectl-edit")
            && text.contains("prod=sha256:abcd"),
        "{text}"
    );
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows.len(), 3, "{text}");
    assert!(
        rows.iter()
            .all(|r| r.contains("ConfigMap") && r.contains(STATE_OBJECT)),
        "{text}"
    );
}
