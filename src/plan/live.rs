//! The live set (docs/sync.md, "One cycle"): what the cluster holds, reduced to what the plan compares.
//! Building it from objects is pure; [`read_live`] fetches those objects.

use super::ObjectKey;
use crate::kube_client::read::{
    ListPage, PageError, PageLimits, Pager, NAMESPACES_PATH, NETWORK_POLICIES_PATH,
};
use crate::marks::{
    ANNOTATION_PREFIX, BUNDLE_ANNOTATION, CONTENT_HASH_ANNOTATION, FIELD_MANAGER, MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use std::collections::{BTreeMap, BTreeSet};

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
        Self::from_object_known(np, None, None)
    }

    /// `known`: this version's hash as `hashes` remembers it (then `np.spec` is not read).
    fn from_object_known(
        np: &NetworkPolicy,
        known: Option<String>,
        hashes: Option<&LiveHashes>,
    ) -> Option<LivePolicy> {
        let meta = &np.metadata;
        let key = ObjectKey {
            namespace: meta.namespace.clone()?,
            name: meta.name.clone()?,
        };
        let version = match (&meta.uid, &meta.resource_version) {
            (Some(uid), Some(rv)) => Some((uid.clone(), rv.clone())),
            _ => None,
        };
        let content_hash = match known {
            Some(hash) => hash,
            None => {
                let hash = content_hash_without_finalizers(np);
                if let (Some(h), Some(v)) = (hashes, version) {
                    h.record(v, &hash);
                }
                hash
            }
        };
        let label = |k: &str| meta.labels.as_ref().and_then(|l| l.get(k)).cloned();
        let annotation = |k: &str| meta.annotations.as_ref().and_then(|a| a.get(k)).cloned();
        Some(LivePolicy {
            key,
            content_hash,
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

/// Content hashes of live objects by version, for a process that reads the live set cycle
/// after cycle (the daemon). The API server changes an object's resourceVersion on every
/// write, so `(uid, resourceVersion)` names one immutable content. Holds the versions of
/// the latest read only ([`LiveHashes::finish_read`]).
#[derive(Debug, Default)]
pub struct LiveHashes {
    inner: std::sync::Mutex<LiveHashesInner>,
}

#[derive(Debug, Default)]
struct LiveHashesInner {
    previous: std::collections::HashMap<(String, String), String>,
    current: std::collections::HashMap<(String, String), String>,
}

impl LiveHashes {
    fn lock(&self) -> std::sync::MutexGuard<'_, LiveHashesInner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The remembered hash of this version (uid, resourceVersion), if any; it is
    /// remembered for the current read too. The entry moves from the previous read's map
    /// with its allocations: a daemon re-reading an unchanged live set does not
    /// re-allocate what it keeps between cycles, scattered among each page's garbage.
    fn recall(&self, version: (String, String)) -> Option<String> {
        let mut inner = self.lock();
        if let Some(hash) = inner.current.get(&version) {
            return Some(hash.clone());
        }
        let (version, hash) = inner.previous.remove_entry(&version)?;
        let copy = hash.clone();
        inner.current.insert(version, hash);
        Some(copy)
    }

    fn record(&self, version: (String, String), hash: &str) {
        self.lock().current.insert(version, hash.to_string());
    }

    /// A read is complete: forget versions it did not see.
    fn finish_read(&self) {
        let mut inner = self.lock();
        let capacity = inner.current.len();
        inner.previous = std::mem::replace(
            &mut inner.current,
            std::collections::HashMap::with_capacity(capacity),
        );
    }

    /// Whether the latest read (or the one under way) saw this version: a cycle planned
    /// with it, so a watch event about it brings nothing new.
    pub fn saw(&self, uid: &str, resource_version: &str) -> bool {
        let version = (uid.to_string(), resource_version.to_string());
        let inner = self.lock();
        inner.current.contains_key(&version) || inner.previous.contains_key(&version)
    }

    /// Versions remembered.
    pub fn len(&self) -> usize {
        let inner = self.lock();
        inner.previous.len().max(inner.current.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The content hash of a live policy. Finalizers are lifecycle, not policy: a controller's
/// finalizer on a policy we manage must not make it differ from the revision forever (the
/// writer keeps them on replace), and the invariant checker compares policies this way too.
pub fn content_hash_without_finalizers(np: &NetworkPolicy) -> String {
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
    /// Keep what docs/sync.md calls the live set: every policy in a governed namespace, plus
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

    /// Live policies per namespace.
    pub fn counts_by_namespace(&self) -> BTreeMap<&str, usize> {
        let mut counts = BTreeMap::new();
        for key in self.policies.keys() {
            *counts.entry(key.namespace.as_str()).or_insert(0) += 1;
        }
        counts
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("cannot list NetworkPolicies")]
    ListPolicies(#[source] PageError),
    #[error("reading the live set was interrupted (the process is shutting down)")]
    Interrupted,
    #[error("cannot list Namespaces")]
    ListNamespaces(#[source] PageError),
}

/// A listed NetworkPolicy with only what the live set reads. The apiserver sends each
/// object's managedFields with a `fieldsV1` as large as the object itself; it is skipped
/// unparsed (only each entry's manager and time are read), which halves the cost of
/// reading 10,000 policies.
mod listed {
    use super::{LiveHashes, LivePolicy};
    use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicySpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
        ListMeta, ManagedFieldsEntry, ObjectMeta, OwnerReference, Time,
    };
    use serde::Deserialize;
    use std::collections::BTreeMap;

    #[derive(Deserialize)]
    pub(super) struct Page {
        #[serde(default)]
        pub metadata: ListMeta,
        #[serde(default)]
        pub items: Vec<Item>,
    }

    impl super::ListPage for Page {
        fn continue_token(&self) -> Option<&str> {
            self.metadata.continue_.as_deref()
        }
    }

    #[derive(Deserialize)]
    pub(super) struct Item {
        #[serde(default)]
        metadata: Meta,
        /// Parsed only when this version's content hash is not already known.
        spec: Option<Box<serde_json::value::RawValue>>,
    }

    #[derive(Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    struct Meta {
        name: Option<String>,
        namespace: Option<String>,
        uid: Option<String>,
        resource_version: Option<String>,
        labels: Option<BTreeMap<String, String>>,
        annotations: Option<BTreeMap<String, String>>,
        finalizers: Option<Vec<String>>,
        owner_references: Option<Vec<OwnerReference>>,
        deletion_timestamp: Option<Time>,
        managed_fields: Option<Vec<Manager>>,
    }

    #[derive(Deserialize)]
    struct Manager {
        manager: Option<String>,
        time: Option<Time>,
    }

    impl Item {
        /// The same [`LivePolicy`] as [`LivePolicy::from_object`] on the whole object,
        /// taking the content hash from `hashes` when this exact version (uid and
        /// resourceVersion) was hashed before.
        pub(super) fn into_live(
            self,
            hashes: Option<&LiveHashes>,
        ) -> Result<Option<LivePolicy>, serde_json::Error> {
            let m = self.metadata;
            let version = (m.uid.clone(), m.resource_version.clone());
            let known = match (hashes, version) {
                (Some(h), (Some(uid), Some(rv))) => h.recall((uid, rv)),
                _ => None,
            };
            let spec: Option<NetworkPolicySpec> = match &self.spec {
                Some(raw) if known.is_none() => Some(serde_json::from_str(raw.get())?),
                _ => None,
            };
            let object = NetworkPolicy {
                metadata: ObjectMeta {
                    name: m.name,
                    namespace: m.namespace,
                    uid: m.uid,
                    resource_version: m.resource_version,
                    labels: m.labels,
                    annotations: m.annotations,
                    finalizers: m.finalizers,
                    owner_references: m.owner_references,
                    deletion_timestamp: m.deletion_timestamp,
                    managed_fields: m.managed_fields.map(|entries| {
                        entries
                            .into_iter()
                            .map(|e| ManagedFieldsEntry {
                                manager: e.manager,
                                time: e.time,
                                ..Default::default()
                            })
                            .collect()
                    }),
                    ..Default::default()
                },
                spec,
            };
            Ok(LivePolicy::from_object_known(&object, known, hashes))
        }
    }
}

/// Read the live set with one paginated cluster-wide list (one request per page instead of
/// one per namespace) and the namespaces' phases. Each page is reduced to [`LivePolicy`]
/// values as it arrives, so at most one page of full objects is in memory at a time.
pub async fn read_live(
    client: &kube::Client,
    governed: &BTreeSet<String>,
    hashes: Option<&std::sync::Arc<LiveHashes>>,
) -> Result<LiveSet, LiveError> {
    read_live_paged(client, governed, hashes, PageLimits::default()).await
}

/// [`read_live`] with the page limits given (tests use small ones).
async fn read_live_paged(
    client: &kube::Client,
    governed: &BTreeSet<String>,
    hashes: Option<&std::sync::Arc<LiveHashes>>,
    limits: PageLimits,
) -> Result<LiveSet, LiveError> {
    // Hashing a page runs on the blocking pool while the next page is fetched and parsed.
    let governed_shared = std::sync::Arc::new(governed.clone());
    let reductions = Pager::new(client, NETWORK_POLICIES_PATH, limits)
        .fold(Vec::new(), Vec::clear, |reductions, page: listed::Page| {
            let governed = governed_shared.clone();
            let hashes = hashes.cloned();
            reductions.push(tokio::task::spawn_blocking(move || {
                let mut kept = Vec::with_capacity(page.items.len());
                for item in page.items {
                    if let Some(p) = item.into_live(hashes.as_deref())? {
                        if p.managed || governed.contains(&p.key.namespace) {
                            kept.push(p);
                        }
                    }
                }
                Ok::<_, serde_json::Error>(kept)
            }));
        })
        .await
        .map_err(LiveError::ListPolicies)?;
    let mut policies = BTreeMap::new();
    for reduction in reductions {
        let reduced = match reduction.await {
            Ok(r) => r.map_err(|e| LiveError::ListPolicies(kube::Error::SerdeError(e).into()))?,
            // A panic while hashing is a bug; surface it here.
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => return Err(LiveError::Interrupted),
        };
        policies.extend(reduced.into_iter().map(|p| (p.key.clone(), p)));
    }
    if let Some(h) = hashes {
        h.finish_read();
    }
    let namespaces = Pager::new(client, NAMESPACES_PATH, limits)
        .fold(
            BTreeMap::new(),
            BTreeMap::clear,
            |namespaces, page: kube::core::ObjectList<Namespace>| {
                namespaces.extend(page.items.into_iter().filter_map(|ns| {
                    let phase = match ns.status.as_ref().and_then(|s| s.phase.as_deref()) {
                        Some("Terminating") => NamespacePhase::Terminating,
                        _ if ns.metadata.deletion_timestamp.is_some() => {
                            NamespacePhase::Terminating
                        }
                        _ => NamespacePhase::Active,
                    };
                    Some((ns.metadata.name?, phase))
                }))
            },
        )
        .await
        .map_err(LiveError::ListNamespaces)?;
    Ok(LiveSet {
        policies,
        namespaces: Some(namespaces),
    })
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_list_page_over_the_byte_limit_is_refused_not_buffered() {
        let cluster = netpol_testkit::cluster::start(&["payments"]).await;
        let client = cluster.client.clone();
        let api: kube::Api<NetworkPolicy> = kube::Api::namespaced(client.clone(), "payments");
        for name in ["a", "b", "c"] {
            let mut np = policy("payments", name, &[("team", "a")]);
            np.spec = Some(Default::default());
            api.create(&Default::default(), &np).await.unwrap();
        }
        let governed: BTreeSet<String> = ["payments".to_string()].into();
        let whole = read_live_paged(&client, &governed, None, PageLimits::default())
            .await
            .unwrap();
        assert_eq!(whole.len(), 3);
        // The same page from a server that sends more than the limit allows.
        let small = PageLimits {
            bytes: 200,
            ..PageLimits::default()
        };
        let err = read_live_paged(&client, &governed, None, small)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                LiveError::ListPolicies(PageError::TooLarge { limit: 200 })
            ),
            "{err}"
        );
        cluster.emu.shutdown();
    }

    /// An object deleted after its page was read must not survive into the live set when
    /// the list restarts: the pages read before the restart are dropped.
    #[tokio::test]
    async fn a_live_read_whose_list_expires_midway_is_the_list_read_again_not_a_mix() {
        use apiserver_emu::{FaultAction, FaultRule};
        let cluster = netpol_testkit::cluster::start(&["payments"]).await;
        let client = cluster.client.clone();
        netpol_testkit::cluster::create_policies(&client, "payments", &["a", "b", "c"]).await;
        // The first continue request waits long enough for `a` (on the first page) to be
        // deleted and history compacted before the server looks at its token.
        cluster.emu.inject(
            FaultRule::new(
                "/apis/networking.k8s.io/v1/networkpolicies",
                FaultAction::Latency(std::time::Duration::from_secs(3)),
            )
            .method("GET")
            .query_param("continue")
            .times(1),
        );
        let governed: BTreeSet<String> = ["payments".to_string()].into();
        let limits = PageLimits {
            items: 1,
            ..PageLimits::default()
        };
        let read = tokio::spawn({
            let client = client.clone();
            async move { read_live_paged(&client, &governed, None, limits).await }
        });
        // The rule is gone once it has fired: the second page request is now waiting.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !cluster.emu.faults().is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "the list never continued"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let api: kube::Api<NetworkPolicy> = kube::Api::namespaced(client.clone(), "payments");
        api.delete("a", &Default::default()).await.unwrap();
        cluster.emu.compact();
        let live = read.await.unwrap().unwrap();
        let names: Vec<&str> = live.policies().map(|p| p.key.name.as_str()).collect();
        assert_eq!(names, ["b", "c"]);
        let restarted = cluster
            .emu
            .requests()
            .iter()
            .any(|r| r.status == 410 && r.path.ends_with("/networkpolicies"));
        assert!(
            restarted,
            "the server expired the token and the reader started over"
        );
        cluster.emu.shutdown();
    }

    /// `np` read as a list item is read, with `hashes`.
    fn listed(np: &NetworkPolicy, hashes: &LiveHashes) -> LivePolicy {
        let item: listed::Item = serde_json::from_value(serde_json::to_value(np).unwrap()).unwrap();
        item.into_live(Some(hashes)).unwrap().unwrap()
    }

    #[test]
    fn a_remembered_hash_is_used_only_for_the_same_uid_and_resource_version() {
        let hashes = LiveHashes::default();
        let mut np = policy("ns", "p", &[]);
        np.metadata.uid = Some("u1".into());
        np.metadata.resource_version = Some("7".into());
        let fresh = listed(&np, &hashes);
        assert_eq!(
            fresh.content_hash,
            LivePolicy::from_object(&np).unwrap().content_hash
        );
        hashes.finish_read();
        assert_eq!(hashes.len(), 1);
        // Plant a different hash for this version: a hit must return it unrecomputed...
        hashes.record(("u1".into(), "7".into()), "sha256:planted");
        let hit = listed(&np, &hashes);
        assert_eq!(hit.content_hash, "sha256:planted");
        // ...and any other version (an edit bumps resourceVersion) is hashed afresh.
        np.metadata.resource_version = Some("8".into());
        np.metadata.labels = Some([("edited".to_string(), "yes".to_string())].into());
        let edited = listed(&np, &hashes);
        assert_eq!(
            edited.content_hash,
            LivePolicy::from_object(&np).unwrap().content_hash
        );
        assert_ne!(edited.content_hash, fresh.content_hash);
        // Versions not seen in the latest read are forgotten.
        hashes.finish_read();
        hashes.finish_read();
        assert!(hashes.is_empty());
    }

    #[test]
    fn the_lean_list_reading_equals_reading_the_whole_object() {
        let json = serde_json::json!({
            "metadata": {"resourceVersion": "9", "continue": ""},
            "items": [{
                "metadata": {
                    "name": "p", "namespace": "ns", "uid": "u", "resourceVersion": "8",
                    "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE, "team": "a"},
                    "annotations": {CONTENT_HASH_ANNOTATION: "sha256:x", "note": "n", BUNDLE_ANNOTATION: "b"},
                    "finalizers": ["example.com/hold"],
                    "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": "ou"}],
                    "managedFields": [
                        {"manager": "netpol-sync", "operation": "Update", "time": "2026-01-01T00:00:01Z",
                         "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:podSelector": {}}}},
                        {"manager": "kubectl-edit", "operation": "Update", "time": "2026-01-01T00:00:02Z",
                         "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:labels": {"f:team": {}}}}}
                    ]
                },
                "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"],
                         "ingress": [{"ports": [{"port": 80}]}]}
            }]
        });
        let page: listed::Page = serde_json::from_value(json.clone()).unwrap();
        let whole: NetworkPolicy = serde_json::from_value(json["items"][0].clone()).unwrap();
        let lean = page
            .items
            .into_iter()
            .next()
            .unwrap()
            .into_live(None)
            .unwrap()
            .unwrap();
        let full = LivePolicy::from_object(&whole).unwrap();
        assert_eq!(format!("{lean:?}"), format!("{full:?}"));
        assert_eq!(lean.last_foreign_manager.as_deref(), Some("kubectl-edit"));
        assert!(lean.managed);

        // A known version is not parsed again: its spec may as well be garbage.
        let hashes = LiveHashes::default();
        hashes.record(("u".into(), "8".into()), &full.content_hash);
        let mut garbled = json.clone();
        garbled["items"][0]["spec"] = serde_json::json!({"podSelector": 42});
        let page: listed::Page = serde_json::from_value(garbled.clone()).unwrap();
        let item = page.items.into_iter().next().unwrap();
        let known = item.into_live(Some(&hashes)).unwrap().unwrap();
        assert_eq!(known.content_hash, full.content_hash);
        // An unknown version with a malformed spec is an error, not a silent skip.
        let page: listed::Page = serde_json::from_value(garbled).unwrap();
        let item = page.items.into_iter().next().unwrap();
        assert!(item.into_live(None).is_err());
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
