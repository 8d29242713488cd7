//! The live set (DESIGN §3.2): what the cluster holds, reduced to what the plan compares.
//! Building it from objects is pure; [`read_live`] fetches those objects.

use super::ObjectKey;
use crate::bundle::{ANNOTATION_PREFIX, MANAGED_BY_LABEL, MANAGED_BY_VALUE};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, ListParams};
use std::collections::{BTreeMap, BTreeSet};

/// The annotation carrying the content hash netpol-sync wrote.
pub const CONTENT_HASH_ANNOTATION: &str = "netpol-sync.io/content-hash";
pub const REVISION_ANNOTATION: &str = "netpol-sync.io/revision";
pub const BUNDLE_ANNOTATION: &str = "netpol-sync.io/bundle";
pub const BUNDLE_DIGEST_ANNOTATION: &str = "netpol-sync.io/bundle-digest";
/// Our field manager, on every write.
pub const FIELD_MANAGER: &str = "netpol-sync";

/// One live NetworkPolicy as the plan sees it.
#[derive(Debug, Clone)]
pub struct LivePolicy {
    pub key: ObjectKey,
    /// Hash of the normalised object (defaulted, our marks stripped): comparable with a
    /// `DesiredPolicy::content_hash`.
    pub content_hash: String,
    pub uid: Option<String>,
    pub resource_version: Option<String>,
    /// Carries `app.kubernetes.io/managed-by: netpol-sync`.
    pub managed: bool,
    /// The content hash netpol-sync annotated when it last wrote the object.
    pub written_hash: Option<String>,
    pub bundle: Option<String>,
    pub finalizers: Vec<String>,
    pub terminating: bool,
    /// The most recent field manager other than netpol-sync, from managedFields.
    pub last_foreign_manager: Option<String>,
}

impl LivePolicy {
    pub fn from_object(np: &NetworkPolicy) -> Option<LivePolicy> {
        let meta = &np.metadata;
        let key = ObjectKey {
            namespace: meta.namespace.clone()?,
            name: meta.name.clone()?,
        };
        let label = |k: &str| meta.labels.as_ref().and_then(|l| l.get(k)).cloned();
        let annotation = |k: &str| meta.annotations.as_ref().and_then(|a| a.get(k)).cloned();
        Some(LivePolicy {
            key,
            content_hash: content_hash_without_finalizers(np),
            uid: meta.uid.clone(),
            resource_version: meta.resource_version.clone(),
            managed: label(MANAGED_BY_LABEL).as_deref() == Some(MANAGED_BY_VALUE),
            written_hash: annotation(CONTENT_HASH_ANNOTATION),
            bundle: annotation(BUNDLE_ANNOTATION),
            finalizers: meta.finalizers.clone().unwrap_or_default(),
            terminating: meta.deletion_timestamp.is_some(),
            last_foreign_manager: last_foreign_manager(np),
        })
    }
}

/// Finalizers are lifecycle, not policy: a controller's finalizer on a policy we manage must
/// not make it differ from the revision forever (the writer keeps them on replace).
fn content_hash_without_finalizers(np: &NetworkPolicy) -> String {
    if np.metadata.finalizers.as_ref().is_none_or(|f| f.is_empty()) {
        return netpol_policy::content_hash(np, ANNOTATION_PREFIX);
    }
    let mut copy = np.clone();
    copy.metadata.finalizers = None;
    netpol_policy::content_hash(&copy, ANNOTATION_PREFIX)
}

fn last_foreign_manager(np: &NetworkPolicy) -> Option<String> {
    let entries = np.metadata.managed_fields.as_ref()?;
    entries
        .iter()
        .enumerate()
        .filter(|(_, e)| e.manager.as_deref().is_some_and(|m| m != FIELD_MANAGER))
        // Latest time wins; among equal (or absent) times the later entry wins.
        .max_by(|(ia, a), (ib, b)| a.time.cmp(&b.time).then(ia.cmp(ib)))
        .and_then(|(_, e)| e.manager.clone())
}

/// Lifecycle of a namespace as far as writes care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamespacePhase {
    Active,
    Terminating,
}

#[derive(Debug, Clone, Default)]
pub struct LiveSet {
    policies: BTreeMap<ObjectKey, LivePolicy>,
    /// Every namespace in the cluster. `None` when unknown (namespaces not read).
    namespaces: Option<BTreeMap<String, NamespacePhase>>,
}

impl LiveSet {
    /// Keep what DESIGN §3.2 calls the live set: every policy in a governed namespace, plus
    /// every policy carrying our managed-by label anywhere.
    pub fn from_objects<'a>(
        objects: impl IntoIterator<Item = &'a NetworkPolicy>,
        governed: &BTreeSet<String>,
    ) -> LiveSet {
        let policies = objects
            .into_iter()
            .filter_map(LivePolicy::from_object)
            .filter(|p| p.managed || governed.contains(&p.key.namespace))
            .map(|p| (p.key.clone(), p))
            .collect();
        LiveSet {
            policies,
            namespaces: None,
        }
    }

    pub fn with_namespaces(mut self, namespaces: BTreeMap<String, NamespacePhase>) -> LiveSet {
        self.namespaces = Some(namespaces);
        self
    }

    pub fn get(&self, key: &ObjectKey) -> Option<&LivePolicy> {
        self.policies.get(key)
    }

    pub fn policies(&self) -> impl Iterator<Item = &LivePolicy> {
        self.policies.values()
    }

    pub fn len(&self) -> usize {
        self.policies.len()
    }

    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    pub fn namespace_phase(&self, namespace: &str) -> Option<Option<NamespacePhase>> {
        self.namespaces.as_ref().map(|n| n.get(namespace).copied())
    }

    pub fn count_in(&self, namespace: &str) -> usize {
        self.policies
            .keys()
            .filter(|k| k.namespace == namespace)
            .count()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("cannot list NetworkPolicies")]
    ListPolicies(#[source] kube::Error),
    #[error("cannot list Namespaces")]
    ListNamespaces(#[source] kube::Error),
}

/// Page size for lists: what kubectl uses, so a 10,000-object list is never one giant body.
const LIST_PAGE: u32 = 500;

/// Read the live set with one paginated cluster-wide list (one request per page instead of
/// one per namespace) and the namespaces' phases.
pub async fn read_live(
    client: &kube::Client,
    governed: &BTreeSet<String>,
) -> Result<LiveSet, LiveError> {
    let objects = list_all::<NetworkPolicy>(&Api::all(client.clone()))
        .await
        .map_err(LiveError::ListPolicies)?;
    let namespaces = list_all::<Namespace>(&Api::all(client.clone()))
        .await
        .map_err(LiveError::ListNamespaces)?
        .into_iter()
        .filter_map(|ns| {
            let phase = match ns.status.as_ref().and_then(|s| s.phase.as_deref()) {
                Some("Terminating") => NamespacePhase::Terminating,
                _ if ns.metadata.deletion_timestamp.is_some() => NamespacePhase::Terminating,
                _ => NamespacePhase::Active,
            };
            Some((ns.metadata.name?, phase))
        })
        .collect();
    Ok(LiveSet::from_objects(&objects, governed).with_namespaces(namespaces))
}

pub async fn list_all<K>(api: &Api<K>) -> Result<Vec<K>, kube::Error>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let mut out = Vec::new();
    let mut params = ListParams::default().limit(LIST_PAGE);
    loop {
        let page = api.list(&params).await?;
        let next = page.metadata.continue_.clone().filter(|c| !c.is_empty());
        out.extend(page.items);
        match next {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ManagedFieldsEntry, ObjectMeta, Time};

    fn policy(ns: &str, name: &str, labels: &[(&str, &str)]) -> NetworkPolicy {
        NetworkPolicy {
            metadata: ObjectMeta {
                namespace: Some(ns.into()),
                name: Some(name.into()),
                labels: Some(
                    labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn live_set_holds_governed_namespaces_and_our_objects_anywhere_but_not_foreign_objects_elsewhere(
    ) {
        let governed: BTreeSet<String> = ["payments".to_string()].into();
        let objects = [
            policy("payments", "hand-made", &[]),
            policy(
                "left-scope",
                "ours",
                &[(MANAGED_BY_LABEL, MANAGED_BY_VALUE)],
            ),
            policy("kube-system", "theirs", &[(MANAGED_BY_LABEL, "helm")]),
        ];
        let live = LiveSet::from_objects(&objects, &governed);
        let keys: Vec<String> = live.policies().map(|p| p.key.to_string()).collect();
        assert_eq!(keys, vec!["left-scope/ours", "payments/hand-made"]);
    }

    #[test]
    fn object_without_namespace_or_name_is_skipped_not_a_panic() {
        let mut np = policy("x", "y", &[]);
        np.metadata.namespace = None;
        assert!(LivePolicy::from_object(&np).is_none());
        np.metadata.namespace = Some("x".into());
        np.metadata.name = None;
        assert!(LivePolicy::from_object(&np).is_none());
    }

    #[test]
    fn last_foreign_manager_is_the_latest_non_netpol_sync_entry() {
        let entry = |m: &str, t: &str| ManagedFieldsEntry {
            manager: Some(m.into()),
            operation: Some("Update".into()),
            time: Some(Time(t.parse().unwrap())),
            ..Default::default()
        };
        let mut np = policy("ns", "p", &[]);
        np.metadata.managed_fields = Some(vec![
            entry("kubectl-edit", "2026-01-01T00:00:02Z"),
            entry("kubectl-client-side-apply", "2026-01-01T00:00:01Z"),
            entry(FIELD_MANAGER, "2026-01-01T00:00:03Z"),
        ]);
        assert_eq!(last_foreign_manager(&np).as_deref(), Some("kubectl-edit"));
        np.metadata.managed_fields = Some(vec![entry(FIELD_MANAGER, "2026-01-01T00:00:03Z")]);
        assert_eq!(last_foreign_manager(&np), None);
    }
}
