//! An API server emulator in this process and a client of it, for the tests of what reads
//! and writes the cluster.

use apiserver_emu::{EmuConfig, Emulator};

/// A running emulator, a client of it, and the kubeconfig the client was made from.
pub struct TestCluster {
    pub emu: Emulator,
    pub client: kube::Client,
    pub kubeconfig: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

/// An emulator (plain HTTP, no token) holding `namespaces`, and a client of it.
pub async fn start(namespaces: &[&str]) -> TestCluster {
    let emu = Emulator::start(EmuConfig {
        tls: false,
        token: None,
        namespaces: namespaces.iter().map(|n| n.to_string()).collect(),
    })
    .expect("the emulator starts");
    let dir = tempfile::tempdir().expect("a temp dir");
    let kubeconfig = dir.path().join("kubeconfig");
    emu.write_kubeconfig(&kubeconfig)
        .expect("the emulator writes its kubeconfig");
    let (client, _) = netpol_sync::kube_client::connect(&netpol_sync::kube_client::ClusterTarget {
        kubeconfig: Some(kubeconfig.clone()),
        context: None,
    })
    .await
    .expect("a client of the emulator");
    TestCluster {
        emu,
        client,
        kubeconfig,
        _dir: dir,
    }
}

/// Create empty-spec NetworkPolicies `names` in `namespace`.
pub async fn create_policies(client: &kube::Client, namespace: &str, names: &[&str]) {
    use k8s_openapi::api::networking::v1::NetworkPolicy;
    let api: kube::Api<NetworkPolicy> = kube::Api::namespaced(client.clone(), namespace);
    for name in names {
        let np: NetworkPolicy = serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "namespace": namespace},
            "spec": {}
        }))
        .expect("a NetworkPolicy");
        api.create(&Default::default(), &np)
            .await
            .expect("the emulator creates the policy");
    }
}
