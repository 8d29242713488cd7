//! Stage 4: desired vs live (docs/sync.md, "One cycle"). A [`Plan`] can only be computed
//! from [`VerifiedBundles`], so nothing unverified can ever be written: the applier takes a
//! `Plan` and nothing else.

mod drift;
mod guard;
pub mod live;
pub mod naming;
mod render;

pub use drift::{Drift, DriftKind};
pub use guard::WouldOpen;
pub use live::{read_live, LiveError, LiveHashes, LivePolicy, LiveSet, NamespacePhase};
pub use render::{Counts, PlanEntry};

use crate::bundle::{BundleSummary, DesiredPolicy, PolicyJson, VerifiedBundles};
use crate::marks::{
    ANNOTATION_PREFIX, BUNDLE_ANNOTATION, BUNDLE_DIGEST_ANNOTATION, CONTENT_HASH_ANNOTATION,
    MANAGED_BY_LABEL, MANAGED_BY_VALUE, POLICY_LABEL, REVISION_ANNOTATION,
};
use netpol_policy::NetworkPolicy;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// namespace/name of a NetworkPolicy.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectKey {
    pub namespace: String,
    pub name: String,
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
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
    /// With `--immutable-objects`: the policy's own name, labelled on its object.
    pub policy: Option<String>,
}

impl DesiredObject {
    fn from_desired(
        d: &DesiredPolicy,
        revision: &std::sync::Arc<str>,
        digest: &std::sync::Arc<str>,
    ) -> DesiredObject {
        DesiredObject {
            source: d.object().clone(),
            namespace: d.namespace().to_string(),
            name: d.name().to_string(),
            revision: revision.clone(),
            digest: digest.clone(),
            content_hash: d.content_hash().to_string(),
            bundle: d.bundle().to_string(),
            policy: None,
        }
    }

    /// The same policy as an immutable object: named `<name>-<hash>`, labelled with its
    /// own name, and compared by the hash of the object as written (its name and label
    /// are part of what the live object's hash covers).
    fn immutable(mut self) -> DesiredObject {
        let policy = std::mem::take(&mut self.name);
        self.name = naming::immutable_name(&policy, &self.content_hash);
        self.policy = Some(policy);
        self.content_hash = netpol_policy::content_hash(&self.object(), ANNOTATION_PREFIX);
        self
    }

    /// The object to send: the verified policy with our label and annotations.
    pub fn object(&self) -> NetworkPolicy {
        let mut object = self.source.decode();
        let meta = &mut object.metadata;
        meta.namespace = Some(self.namespace.clone());
        meta.name = Some(self.name.clone());
        let labels = meta.labels.get_or_insert_with(Default::default);
        labels.insert(MANAGED_BY_LABEL.into(), MANAGED_BY_VALUE.into());
        if let Some(policy) = &self.policy {
            labels.insert(POLICY_LABEL.into(), policy.clone());
        }
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

/// The object a verified policy is written as under `naming`: its name, and the content
/// hash a live object of that name must have (what `audit` compares with).
pub fn expected_object(d: &DesiredPolicy, naming: naming::Naming) -> (String, String) {
    match naming {
        naming::Naming::Plain => (d.name().to_string(), d.content_hash().to_string()),
        naming::Naming::Immutable => {
            // Revision and digest are annotations, which the content hash leaves out.
            let none: std::sync::Arc<str> = "".into();
            let object = DesiredObject::from_desired(d, &none, &none).immutable();
            (object.name, object.content_hash)
        }
    }
}

/// A desired policy as the diff sees it, borrowed from the verified bundles.
struct Wanted<'a> {
    policy: &'a DesiredPolicy,
    digest: &'a std::sync::Arc<str>,
    /// With `--immutable-objects`: its object, built up front, since the object's own
    /// hash (which covers its name and label) is what the live one is compared with.
    immutable: Option<DesiredObject>,
}

impl Wanted<'_> {
    /// The hash the live object must have.
    fn hash(&self) -> &str {
        match &self.immutable {
            Some(object) => &object.content_hash,
            None => self.policy.content_hash(),
        }
    }

    /// [`DesiredObject::matches`] without building the object.
    fn matches(&self, live: &LivePolicy) -> bool {
        let hash = self.hash();
        live.content_hash == hash
            && live.managed
            && live.written_hash.as_deref() == Some(hash)
            && live.bundle.as_deref() == Some(self.policy.bundle())
    }

    fn object(&self, revision: &std::sync::Arc<str>) -> DesiredObject {
        match &self.immutable {
            Some(object) => object.clone(),
            None => DesiredObject::from_desired(self.policy, revision, self.digest),
        }
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "problem", rename_all = "kebab-case")]
pub enum Blocker {
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
            Blocker::ObjectTerminating { namespace, name, finalizers } => write!(
                f,
                "NetworkPolicy {namespace}/{name} is being deleted and held by finalizers [{}]; it cannot be replaced until they are removed",
                finalizers.join(", ")
            ),
        }
    }
}

/// A live policy the revision does not contain that is being deleted, but that someone
/// else's finalizers keep: it still applies until they are removed. Reported every cycle
/// (in a governed namespace, or one netpol-sync's inventory says it wrote anywhere).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldPolicy {
    pub namespace: String,
    pub name: String,
    pub finalizers: Vec<String>,
    /// The version read: what a finalizer removal must still find.
    #[serde(skip)]
    pub uid: Option<String>,
    #[serde(skip)]
    pub resource_version: Option<String>,
    /// Its content hash, for the inventory (outside the governed namespaces it stays ours
    /// only through the inventory).
    #[serde(skip)]
    pub content_hash: String,
}

impl HeldPolicy {
    fn of(live: &LivePolicy) -> HeldPolicy {
        HeldPolicy {
            namespace: live.key.namespace.clone(),
            name: live.key.name.clone(),
            finalizers: live.finalizers.clone(),
            uid: live.uid.clone(),
            resource_version: live.resource_version.clone(),
            content_hash: live.content_hash.clone(),
        }
    }

    /// A policy this cycle's delete only marked: held from now on.
    pub fn marked(
        key: &ObjectKey,
        version: &LiveVersion,
        resource_version: Option<String>,
    ) -> HeldPolicy {
        HeldPolicy {
            namespace: key.namespace.clone(),
            name: key.name.clone(),
            finalizers: version.finalizers.clone(),
            uid: version.uid.clone(),
            resource_version: resource_version.or_else(|| version.resource_version.clone()),
            content_hash: version.content_hash.clone(),
        }
    }

    pub fn key(&self) -> ObjectKey {
        ObjectKey {
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }
}

impl fmt::Display for HeldPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} [{}]",
            self.namespace,
            self.name,
            self.finalizers.join(", ")
        )
    }
}

/// Why a governed namespace's part of the revision is not written this cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipReason {
    /// The namespace does not exist.
    Missing,
    /// The namespace is being deleted: the API server refuses new content in it.
    Terminating,
}

/// A governed namespace that is missing or terminating: the revision's writes into it are
/// left out of the plan (and its policies out of the inventory), the rest is applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkippedNamespace {
    pub namespace: String,
    pub reason: SkipReason,
    /// Policies of the revision in it, not written.
    pub policies: usize,
}

impl fmt::Display for SkippedNamespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match self.reason {
            SkipReason::Missing => "does not exist",
            SkipReason::Terminating => "is terminating",
        };
        write!(
            f,
            "{} ({why}; {} of the revision's policies not written)",
            self.namespace, self.policies
        )
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

/// Desired vs live for one verified revision. Built only by [`Plan::compute`] from
/// [`VerifiedBundles`]: every create or update it holds carries a policy of a verified
/// bundle, so the applier, which takes nothing but a `Plan`, writes nothing unverified.
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
    held: Vec<HeldPolicy>,
    foreign_labelled: Vec<ObjectKey>,
    skipped_namespaces: Vec<SkippedNamespace>,
    /// With `--immutable-objects`: objects whose live content was edited. They are
    /// deleted with the prunes and created again once gone: an object is never updated,
    /// and its name must hold its content.
    recreate: Vec<PlannedWrite>,
}

impl Plan {
    /// `previously_applied`: the inventory recorded by the last successful sync, when known
    /// (and authenticated). It turns "absent" into "deleted by hand" in the drift report,
    /// and it is the only thing that makes a policy outside the governed namespaces ours:
    /// outside them netpol-sync deletes only what it says netpol-sync wrote, never what
    /// merely carries our label. `None` (first run, or a record that is not believed):
    /// nothing outside the governed namespaces is deleted.
    pub fn compute(
        bundles: &VerifiedBundles,
        live: &LiveSet,
        previously_applied: Option<&BTreeSet<ObjectKey>>,
        naming: naming::Naming,
    ) -> Plan {
        let views: Vec<BundleView<'_>> = bundles
            .bundles()
            .iter()
            .map(|b| BundleView {
                name: b.name(),
                digest: b.digest().to_string().into(),
                namespaces: b.namespaces(),
                allow_open: b.allow_open(),
                signers: b
                    .signers()
                    .iter()
                    .map(|s| s.fingerprint().to_string())
                    .collect(),
                policies: b.policies().iter().collect(),
            })
            .collect();
        Plan::from_views(bundles.revision(), &views, live, previously_applied, naming)
    }

    /// The pure core, over borrowed bundle contents. Private to `plan` so that outside
    /// this module a plan only comes from [`VerifiedBundles`].
    fn from_views(
        revision_id: git2::Oid,
        views: &[BundleView<'_>],
        live: &LiveSet,
        previously_applied: Option<&BTreeSet<ObjectKey>>,
        naming: naming::Naming,
    ) -> Plan {
        let revision: std::sync::Arc<str> = revision_id.to_string().into();
        let governed: BTreeSet<String> = views
            .iter()
            .flat_map(|b| b.namespaces.iter().cloned())
            .collect();
        // A governed namespace that is missing or being deleted cannot take the revision's
        // policies: its part is left out, the rest applied.
        let skip: BTreeMap<String, SkipReason> = governed
            .iter()
            .filter_map(|ns| match live.namespace_phase(ns) {
                Some(None) => Some((ns.clone(), SkipReason::Missing)),
                Some(Some(NamespacePhase::Terminating)) => {
                    Some((ns.clone(), SkipReason::Terminating))
                }
                _ => None,
            })
            .collect();
        let mut skipped_policies: BTreeMap<&str, usize> = BTreeMap::new();
        // Borrowed: a write's object is built only for the writes (a no-op cycle over
        // 10,000 policies builds none).
        let mut desired: BTreeMap<ObjectKey, Wanted<'_>> = BTreeMap::new();
        for b in views {
            for d in &b.policies {
                if let Some((ns, _)) = skip.get_key_value(d.namespace()) {
                    *skipped_policies.entry(ns.as_str()).or_insert(0) += 1;
                    continue;
                }
                let immutable = (naming == naming::Naming::Immutable)
                    .then(|| DesiredObject::from_desired(d, &revision, &b.digest).immutable());
                let key = ObjectKey {
                    namespace: d.namespace().to_string(),
                    name: match &immutable {
                        Some(object) => object.name.clone(),
                        None => d.name().to_string(),
                    },
                };
                desired.insert(
                    key,
                    Wanted {
                        policy: d,
                        digest: &b.digest,
                        immutable,
                    },
                );
            }
        }
        let has_live_in = live.counts_by_namespace();
        let skipped_namespaces = skip
            .iter()
            .filter(|(ns, _)| {
                skipped_policies.contains_key(ns.as_str()) || has_live_in.contains_key(ns.as_str())
            })
            .map(|(ns, reason)| SkippedNamespace {
                namespace: ns.clone(),
                reason: *reason,
                policies: skipped_policies.get(ns.as_str()).copied().unwrap_or(0),
            })
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
                .map(|(k, d)| (k.clone(), d.hash().to_string()))
                .collect(),
            held: Vec::new(),
            foreign_labelled: Vec::new(),
            skipped_namespaces,
            recreate: Vec::new(),
        };
        let skipped: BTreeSet<&str> = skip.keys().map(String::as_str).collect();
        plan.diff(&revision, &desired, live, previously_applied, &skipped);
        plan.would_open = guard::would_open(views, &desired, live, &plan.writes, &skipped);
        plan.blockers = blockers(&plan.writes, live);
        plan
    }

    fn diff(
        &mut self,
        revision: &std::sync::Arc<str>,
        desired: &BTreeMap<ObjectKey, Wanted<'_>>,
        live: &LiveSet,
        previously_applied: Option<&BTreeSet<ObjectKey>>,
        skipped: &BTreeSet<&str>,
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
                    if let Some(d) = drift::classify_changed(have, want.hash()) {
                        self.drift.push(d);
                    }
                    if want.immutable.is_some() {
                        // Never updated: the edited object goes with the prunes, and its
                        // signed content is created again under its name once it is gone.
                        self.writes.push(PlannedWrite {
                            action: Action::Delete,
                            key: key.clone(),
                            desired: None,
                            live: Some(version(have)),
                        });
                        self.recreate.push(PlannedWrite {
                            action: Action::Create,
                            key: key.clone(),
                            desired: Some(want.object(revision)),
                            live: None,
                        });
                        continue;
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
        let in_inventory =
            |key: &ObjectKey| previously_applied.is_some_and(|inv| inv.contains(key));
        for have in live.policies() {
            if desired.contains_key(&have.key) || skipped.contains(have.key.namespace.as_str()) {
                continue;
            }
            let governed = self.governed.contains(&have.key.namespace);
            // Outside the governed namespaces the live set holds what carries our label,
            // and anyone who can write a policy can write a label: only the inventory
            // says what netpol-sync wrote there.
            if !governed && !in_inventory(&have.key) {
                self.foreign_labelled.push(have.key.clone());
                continue;
            }
            if have.terminating {
                // Our delete (or anyone's) only marked it: it still applies until its
                // finalizers go, so it is reported every cycle, not taken as gone.
                if !have.finalizers.is_empty() {
                    self.drift.push(Drift::held(have));
                    self.held.push(HeldPolicy::of(have));
                }
                continue;
            }
            // In a governed namespace, a policy nobody committed is drift: one without our
            // label, or one with it that the known inventory does not list (a forged
            // label). Without an inventory the label is all there is to go by.
            let ours = have.managed && previously_applied.is_none_or(|inv| inv.contains(&have.key));
            if governed && !ours {
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
    /// Every write in the order made: [`Plan::writes`], then (with
    /// `--immutable-objects`) the creates of edited objects after their deletes.
    pub fn all_writes(&self) -> impl Iterator<Item = &PlannedWrite> {
        self.writes.iter().chain(&self.recreate)
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
    /// Every policy the revision makes live, with its content hash (those of skipped
    /// namespaces left out: when such a namespace appears, they are ordinary creates).
    pub fn inventory(&self) -> &BTreeMap<ObjectKey, String> {
        &self.inventory
    }
    /// Policies the revision does not contain that are being deleted but held by
    /// finalizers: they still apply (in a governed namespace, or ours by the inventory).
    pub fn held(&self) -> &[HeldPolicy] {
        &self.held
    }
    /// Policies outside the governed namespaces that carry our label but that the
    /// inventory does not say netpol-sync wrote: reported, never touched.
    pub fn foreign_labelled(&self) -> &[ObjectKey] {
        &self.foreign_labelled
    }
    /// Governed namespaces that are missing or terminating, whose writes are left out.
    pub fn skipped_namespaces(&self) -> &[SkippedNamespace] {
        &self.skipped_namespaces
    }
    /// No write planned. Held policies are not writes: whether they are a failure, or get
    /// their finalizers removed, is the applier's option.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }
    pub fn counts(&self) -> Counts {
        let count = |a: Action| {
            self.writes
                .iter()
                .chain(&self.recreate)
                .filter(|w| w.action == a)
                .count()
        };
        Counts {
            created: count(Action::Create),
            updated: count(Action::Update),
            deleted: count(Action::Delete),
            unchanged: self.unchanged,
        }
    }

    /// With `--immutable-objects`: the creates of edited objects, to make once this plan's
    /// deletes are done, as a plan of their own (the same revision and bundles).
    pub(crate) fn take_recreate(&mut self) -> Option<Plan> {
        if self.recreate.is_empty() {
            return None;
        }
        Some(Plan {
            revision: self.revision,
            bundles: self.bundles.clone(),
            governed: self.governed.clone(),
            writes: std::mem::take(&mut self.recreate),
            unchanged: 0,
            would_open: Vec::new(),
            drift: Vec::new(),
            blockers: Vec::new(),
            inventory: self.inventory.clone(),
            held: Vec::new(),
            foreign_labelled: Vec::new(),
            skipped_namespaces: Vec::new(),
            recreate: Vec::new(),
        })
    }

    pub(crate) fn into_writes(self) -> Vec<PlannedWrite> {
        self.writes
    }

    /// The writes and the held policies, for the applier.
    pub(crate) fn into_writes_and_held(self) -> (Vec<PlannedWrite>, Vec<HeldPolicy>) {
        (self.writes, self.held)
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
