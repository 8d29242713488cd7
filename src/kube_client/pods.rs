//! The cluster's namespaces (with labels) and pods (labels, owners, phase and container
//! ports), read with paged LISTs for `netpol-sync reach` (docs/reachability.md). Only the
//! fields the reachability model needs are decoded: a page is reduced to these records as
//! it arrives, so a cluster of many pods never holds more than one page of full objects.
//! A field of an unexpected type fails the read with the decoder's message; a missing
//! field is absent here, and the caller decides what that means.

use super::read::{
    ListPage, PageError, PageLimits, Paged, Pager, NAMESPACES_PATH, NETWORK_POLICIES_PATH,
};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Every Pod, cluster-wide.
pub(crate) const PODS_PATH: &str = "/api/v1/pods";

/// Most objects one list may hold: twice the 150,000 pods of Kubernetes' largest tested
/// cluster. A server paging on past it (a hostile or broken one) is refused rather than
/// followed without end.
const MAX_OBJECTS: usize = 300_000;

/// Why a list could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error(transparent)]
    Page(#[from] PageError),
    #[error("the API server listed more than {limit} objects at {path}; refusing to hold them")]
    TooMany { path: String, limit: usize },
}

/// A Namespace: its name and labels.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ListedNamespace {
    pub metadata: Meta,
}

/// A Pod, reduced to what reachability reads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ListedPod {
    pub metadata: Meta,
    #[serde(default)]
    pub spec: Option<PodSpec>,
    #[serde(default)]
    pub status: Option<PodStatus>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub owner_references: Option<Vec<OwnerReference>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnerReference {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub controller: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    #[serde(default)]
    pub containers: Option<Vec<Container>>,
    #[serde(default)]
    pub init_containers: Option<Vec<Container>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Container {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub ports: Option<Vec<ContainerPort>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    #[serde(default)]
    pub name: Option<String>,
    /// As sent (the API says 1-65535; the caller checks it).
    #[serde(default)]
    pub container_port: Option<i64>,
    #[serde(default)]
    pub protocol: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct PodStatus {
    #[serde(default)]
    pub phase: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ListMeta {
    #[serde(default, rename = "continue")]
    continue_: Option<String>,
}

#[derive(Debug, Deserialize)]
struct List<T> {
    #[serde(default = "ListMeta::none")]
    metadata: ListMeta,
    #[serde(default = "Vec::new")]
    items: Vec<T>,
}

impl ListMeta {
    fn none() -> ListMeta {
        ListMeta { continue_: None }
    }
}

impl<T: serde::de::DeserializeOwned> ListPage for List<T> {
    fn continue_token(&self) -> Option<&str> {
        self.metadata.continue_.as_deref()
    }
}

/// Every Namespace, with its labels.
pub async fn read_namespaces(client: &kube::Client) -> Result<Vec<ListedNamespace>, ListError> {
    read_all(client, NAMESPACES_PATH, PageLimits::default(), MAX_OBJECTS).await
}

/// Every NetworkPolicy of every namespace, whole (what a cycle's reachability report
/// evaluates; the sync engine's own live read keeps only hashes).
pub async fn read_network_policies(
    client: &kube::Client,
) -> Result<Vec<k8s_openapi::api::networking::v1::NetworkPolicy>, ListError> {
    read_all(
        client,
        NETWORK_POLICIES_PATH,
        PageLimits::default(),
        MAX_OBJECTS,
    )
    .await
}

/// Every Pod of every namespace.
pub async fn read_pods(client: &kube::Client) -> Result<Vec<ListedPod>, ListError> {
    read_all(client, PODS_PATH, PageLimits::default(), MAX_OBJECTS).await
}

async fn read_all<T: serde::de::DeserializeOwned>(
    client: &kube::Client,
    path: &str,
    limits: PageLimits,
    max: usize,
) -> Result<Vec<T>, ListError> {
    let mut pages = Pager::new(client, path, limits);
    let mut all = Vec::new();
    while let Some(paged) = pages.next::<List<T>>().await? {
        match paged {
            Paged::Page(page) => all.extend(page.items),
            Paged::Restarted => all.clear(),
        }
        if all.len() > max {
            return Err(ListError::TooMany {
                path: path.to_string(),
                limit: max,
            });
        }
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pods_and_namespaces_are_read_in_pages() {
        let cluster = netpol_testkit::cluster::start(&["a", "b"]).await;
        let api: kube::Api<k8s_openapi::api::core::v1::Pod> =
            kube::Api::namespaced(cluster.client.clone(), "a");
        for name in ["p1", "p2", "p3"] {
            let pod = serde_json::from_value(serde_json::json!({
                "metadata": {"name": name, "labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80, "name": "http"}]}]}
            }))
            .unwrap();
            api.create(&Default::default(), &pod).await.unwrap();
        }
        let one = PageLimits {
            items: 1,
            ..PageLimits::default()
        };
        let pods: Vec<ListedPod> = read_all(&cluster.client, PODS_PATH, one, 10).await.unwrap();
        let names: Vec<&str> = pods
            .iter()
            .map(|p| p.metadata.name.as_deref().unwrap())
            .collect();
        assert_eq!(names, ["p1", "p2", "p3"]);
        let port = &pods[0].spec.as_ref().unwrap().containers.as_ref().unwrap()[0]
            .ports
            .as_ref()
            .unwrap()[0];
        assert_eq!(port.container_port, Some(80));
        assert_eq!(port.protocol.as_deref(), Some("TCP"));
        let err = read_all::<ListedPod>(&cluster.client, PODS_PATH, one, 2)
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("more than 2 objects at /api/v1/pods"),
            "{err}"
        );
        let namespaces = read_namespaces(&cluster.client).await.unwrap();
        let a = namespaces
            .iter()
            .find(|n| n.metadata.name.as_deref() == Some("a"))
            .unwrap();
        assert_eq!(
            a.metadata.labels.as_ref().unwrap()["kubernetes.io/metadata.name"],
            "a"
        );
        cluster.emu.shutdown();
    }
}
