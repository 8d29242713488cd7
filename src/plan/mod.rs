//! Stage 4: desired vs live (DESIGN §3.1–3.3, 3.8, 3.9). A [`Plan`] can only be computed
//! from [`VerifiedBundles`], so nothing unverified can ever be written: the applier takes a
//! `Plan` and nothing else.

mod drift;
mod guard;
pub mod live;
pub mod pager;
mod render;

pub use drift::{Drift, DriftKind};
pub use guard::WouldOpen;
pub use live::{read_live, LiveError, LiveHashes, LivePolicy, LiveSet, NamespacePhase};

use crate::bundle::{
    DesiredPolicy, PolicyJson, VerifiedBundles, MANAGED_BY_LABEL, MANAGED_BY_VALUE,
};
use crate::outcome::{BundleSummary, Counts};
use live::{
    BUNDLE_ANNOTATION, BUNDLE_DIGEST_ANNOTATION, CONTENT_HASH_ANNOTATION, REVISION_ANNOTATION,
};
use netpol_policy::NetworkPolicy;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// namespace/name of a NetworkPolicy.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ObjectKey {
    pub namespace: String,
    pub name: String,
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Create,
    Update,
    Delete,
}

/// What a write replaces: enough for `resourceVersion` and `uid` preconditions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveVersion {
    pub uid: Option<String>,
    pub resource_version: Option<String>,
    pub content_hash: String,
    pub finalizers: Vec<String>,
}

/// The object a create or update writes, carrying our ownership marks. The verified
/// policy is shared with the loaded bundles, and the marked copy is built only when the
/// write is sent ([`DesiredObject::object`]): a 10,000-object first sync holds each policy
/// once, not once per stage.
#[derive(Debug, Clone)]
pub struct DesiredObject {
    source: PolicyJson,
    namespace: String,
    name: String,
    revision: std::sync::Arc<str>,
    digest: std::sync::Arc<str>,
    pub content_hash: String,
    pub bundle: String,
}

impl DesiredObject {
    fn from_desired(
        d: &DesiredPolicy,
        revision: &std::sync::Arc<str>,
        digest: &std::sync::Arc<str>,
    ) -> DesiredObject {
        DesiredObject {
            source: d.object.clone(),
            namespace: d.namespace.clone(),
            name: d.name.clone(),
            revision: revision.clone(),
            digest: digest.clone(),
            content_hash: d.content_hash.clone(),
            bundle: d.bundle.clone(),
        }
    }

    /// The object to send: the verified policy with our label and annotations.
    pub fn object(&self) -> NetworkPolicy {
        let mut object = self.source.decode();
        let meta = &mut object.metadata;
        meta.namespace = Some(self.namespace.clone());
        meta.name = Some(self.name.clone());
        meta.labels
            .get_or_insert_with(Default::default)
            .insert(MANAGED_BY_LABEL.into(), MANAGED_BY_VALUE.into());
        let annotations = meta.annotations.get_or_insert_with(Default::default);
        annotations.insert(REVISION_ANNOTATION.into(), self.revision.to_string());
        annotations.insert(BUNDLE_ANNOTATION.into(), self.bundle.clone());
        annotations.insert(BUNDLE_DIGEST_ANNOTATION.into(), self.digest.to_string());
        annotations.insert(CONTENT_HASH_ANNOTATION.into(), self.content_hash.clone());
        object
    }

    /// True when `live` needs no write: same content after defaulting, and it carries
    /// our marks for the same bundle. Revision and digest annotations are deliberately not
    /// compared: they record when the object was last written, and comparing them would
    /// rewrite every policy of a bundle whenever one of its files changed.
    pub fn matches(&self, live: &LivePolicy) -> bool {
        live.content_hash == self.content_hash
            && live.managed
            && live.written_hash.as_deref() == Some(self.content_hash.as_str())
            && live.bundle.as_deref() == Some(self.bundle.as_str())
    }
}

/// A desired policy as the diff sees it, borrowed from the verified bundles.
struct Wanted<'a> {
    policy: &'a DesiredPolicy,
    digest: &'a std::sync::Arc<str>,
}

impl Wanted<'_> {
    /// [`DesiredObject::matches`] without building the object.
    fn matches(&self, live: &LivePolicy) -> bool {
        let hash = self.policy.content_hash.as_str();
        live.content_hash == hash
            && live.managed
            && live.written_hash.as_deref() == Some(hash)
            && live.bundle.as_deref() == Some(self.policy.bundle.as_str())
    }

    fn object(&self, revision: &std::sync::Arc<str>) -> DesiredObject {
        DesiredObject::from_desired(self.policy, revision, self.digest)
    }
}

#[derive(Debug, Clone)]
pub struct PlannedWrite {
    pub action: Action,
    pub key: ObjectKey,
    /// For create/update: the object to write.
    pub desired: Option<DesiredObject>,
    /// For update/delete: the version read.
    pub live: Option<LiveVersion>,
}

/// Why a plan cannot be applied as it stands, named precisely.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "kebab-case")]
pub enum Blocker {
    NamespaceMissing {
        namespace: String,
    },
    NamespaceTerminating {
        namespace: String,
    },
    /// A policy the revision needs is being deleted and held by finalizers.
    ObjectTerminating {
        namespace: String,
        name: String,
        finalizers: Vec<String>,
    },
}

impl fmt::Display for Blocker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Blocker::NamespaceMissing { namespace } => {
                write!(f, "namespace {namespace} does not exist; the revision has policies for it")
            }
            Blocker::NamespaceTerminating { namespace } => {
                write!(f, "namespace {namespace} is terminating; the API server refuses new content in it")
            }
            Blocker::ObjectTerminating { namespace, name, finalizers } => write!(
                f,
                "NetworkPolicy {namespace}/{name} is being deleted and held by finalizers [{}]; it cannot be replaced until they are removed",
                finalizers.join(", ")
            ),
        }
    }
}

/// One bundle's contents as the plan reads them.
struct BundleView<'a> {
    name: &'a str,
    digest: std::sync::Arc<str>,
    namespaces: &'a BTreeSet<String>,
    allow_open: &'a BTreeSet<String>,
    signers: Vec<String>,
    policies: Vec<&'a DesiredPolicy>,
}

/// Desired vs live for one verified revision.
#[derive(Debug, Clone)]
pub struct Plan {
    revision: git2::Oid,
    bundles: Vec<BundleSummary>,
    governed: BTreeSet<String>,
    writes: Vec<PlannedWrite>,
    unchanged: usize,
    would_open: Vec<WouldOpen>,
    drift: Vec<Drift>,
    blockers: Vec<Blocker>,
    inventory: BTreeMap<ObjectKey, String>,
}

impl Plan {
    /// `previously_applied`: the inventory recorded by the last successful sync, when known;
    /// it turns "absent" into "deleted by hand" in the drift report.
    pub fn compute(
        bundles: &VerifiedBundles,
        live: &LiveSet,
        previously_applied: Option<&BTreeSet<ObjectKey>>,
    ) -> Plan {
        let views: Vec<BundleView<'_>> = bundles
            .bundles()
            .iter()
            .map(|b| BundleView {
                name: b.name(),
                digest: b.digest().to_string().into(),
                namespaces: b.namespaces(),
                allow_open: b.allow_open(),
                signers: b.signers().iter().map(|s| s.fingerprint.clone()).collect(),
                policies: b.policies().iter().collect(),
            })
            .collect();
        Plan::from_views(bundles.revision(), &views, live, previously_applied)
    }

    /// The pure core, over borrowed bundle contents. Private to `plan` so that outside
    /// this module a plan only comes from [`VerifiedBundles`].
    fn from_views(
        revision_id: git2::Oid,
        views: &[BundleView<'_>],
        live: &LiveSet,
        previously_applied: Option<&BTreeSet<ObjectKey>>,
    ) -> Plan {
        let revision: std::sync::Arc<str> = revision_id.to_string().into();
        // Borrowed: a write's object is built only for the writes (a no-op cycle over
        // 10,000 policies builds none).
        let desired: BTreeMap<ObjectKey, Wanted<'_>> = views
            .iter()
            .flat_map(|b| b.policies.iter().map(move |d| (b, *d)))
            .map(|(b, d)| {
                let key = ObjectKey {
                    namespace: d.namespace.clone(),
                    name: d.name.clone(),
                };
                (
                    key,
                    Wanted {
                        policy: d,
                        digest: &b.digest,
                    },
                )
            })
            .collect();
        let governed: BTreeSet<String> = views
            .iter()
            .flat_map(|b| b.namespaces.iter().cloned())
            .collect();
        let mut plan = Plan {
            revision: revision_id,
            bundles: views
                .iter()
                .map(|b| BundleSummary {
                    name: b.name.to_string(),
                    digest: b.digest.to_string(),
                    signers: b.signers.clone(),
                })
                .collect(),
            governed,
            writes: Vec::new(),
            unchanged: 0,
            would_open: Vec::new(),
            drift: Vec::new(),
            blockers: Vec::new(),
            inventory: desired
                .iter()
                .map(|(k, d)| (k.clone(), d.policy.content_hash.clone()))
                .collect(),
        };
        plan.diff(&revision, &desired, live, previously_applied);
        plan.would_open = guard::would_open(views, &desired, live);
        plan.blockers = blockers(&plan.writes, live);
        plan
    }

    fn diff(
        &mut self,
        revision: &std::sync::Arc<str>,
        desired: &BTreeMap<ObjectKey, Wanted<'_>>,
        live: &LiveSet,
        previously_applied: Option<&BTreeSet<ObjectKey>>,
    ) {
        for (key, want) in desired {
            match live.get(key) {
                None => {
                    if previously_applied.is_some_and(|inv| inv.contains(key)) {
                        self.drift.push(Drift::deleted(key.clone()));
                    }
                    self.writes.push(PlannedWrite {
                        action: Action::Create,
                        key: key.clone(),
                        desired: Some(want.object(revision)),
                        live: None,
                    });
                }
                // One being deleted is not there for long, whatever it says: it must be
                // written again, and `blockers` refuses that while finalizers hold it.
                Some(have) if want.matches(have) && !have.terminating => self.unchanged += 1,
                Some(have) => {
                    if let Some(d) = drift::classify_changed(have, &want.policy.content_hash) {
                        self.drift.push(d);
                    }
                    self.writes.push(PlannedWrite {
                        action: Action::Update,
                        key: key.clone(),
                        desired: Some(want.object(revision)),
                        live: Some(version(have)),
                    });
                }
            }
        }
        for have in live.policies() {
            if desired.contains_key(&have.key) || have.terminating {
                continue;
            }
            if self.governed.contains(&have.key.namespace) && !have.managed {
                self.drift.push(Drift::created(have));
            }
            self.writes.push(PlannedWrite {
                action: Action::Delete,
                key: have.key.clone(),
                desired: None,
                live: Some(version(have)),
            });
        }
        self.writes
            .sort_by(|a, b| a.action.cmp(&b.action).then_with(|| a.key.cmp(&b.key)));
    }

    pub fn revision(&self) -> git2::Oid {
        self.revision
    }
    pub fn bundles(&self) -> &[BundleSummary] {
        &self.bundles
    }
    pub fn governed(&self) -> &BTreeSet<String> {
        &self.governed
    }
    pub fn writes(&self) -> &[PlannedWrite] {
        &self.writes
    }
    pub fn drift(&self) -> &[Drift] {
        &self.drift
    }
    pub fn would_open(&self) -> &[WouldOpen] {
        &self.would_open
    }
    /// Namespaces this revision would open without the bundle's permission.
    pub fn forbidden_openings(&self) -> Vec<&WouldOpen> {
        self.would_open.iter().filter(|w| !w.allowed).collect()
    }
    pub fn blockers(&self) -> &[Blocker] {
        &self.blockers
    }
    /// Every policy the revision makes live, with its content hash.
    pub fn inventory(&self) -> &BTreeMap<ObjectKey, String> {
        &self.inventory
    }
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }
    pub fn counts(&self) -> Counts {
        let count = |a: Action| self.writes.iter().filter(|w| w.action == a).count();
        Counts {
            created: count(Action::Create),
            updated: count(Action::Update),
            deleted: count(Action::Delete),
            unchanged: self.unchanged,
        }
    }

    pub(crate) fn into_writes(self) -> Vec<PlannedWrite> {
        self.writes
    }
}

fn version(p: &LivePolicy) -> LiveVersion {
    LiveVersion {
        uid: p.uid.clone(),
        resource_version: p.resource_version.clone(),
        content_hash: p.content_hash.clone(),
        finalizers: p.finalizers.clone(),
    }
}

fn blockers(writes: &[PlannedWrite], live: &LiveSet) -> Vec<Blocker> {
    let mut out = BTreeSet::new();
    for w in writes.iter().filter(|w| w.action != Action::Delete) {
        match live.namespace_phase(&w.key.namespace) {
            Some(None) => {
                out.insert(Blocker::NamespaceMissing {
                    namespace: w.key.namespace.clone(),
                });
            }
            Some(Some(NamespacePhase::Terminating)) => {
                out.insert(Blocker::NamespaceTerminating {
                    namespace: w.key.namespace.clone(),
                });
            }
            _ => {}
        }
        if let Some(have) = live.get(&w.key).filter(|h| h.terminating) {
            out.insert(Blocker::ObjectTerminating {
                namespace: w.key.namespace.clone(),
                name: w.key.name.clone(),
                finalizers: have.finalizers.clone(),
            });
        }
    }
    out.into_iter().collect()
}

impl PartialOrd for Blocker {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Blocker {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.to_string().cmp(&other.to_string())
    }
}

#[cfg(test)]
pub(crate) mod tests;
