//! `netpol-sync audit`: evidence that the live cluster is the signed revision it enforces
//! (docs/audit.md). The revision comes from the authenticated state record, is verified
//! again as `verify` verifies it, and every live NetworkPolicy netpol-sync governs is
//! matched to the bundle, file and signed content it comes from; whatever matches nothing
//! signed, differs from it, or is missing is listed. Read only.

use crate::bundle::{BundleSummary, VerifiedBundles};
use crate::plan::live::{read_live, LiveSet};
use crate::plan::naming::Naming;
use crate::plan::{expected_object, ObjectKey};
use crate::state::{RecordedSigner, StateStore};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How one policy stands against the enforced revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuditStatus {
    /// Live, carrying exactly the signed content.
    Signed,
    /// Live under a name the revision has, with other content (or without netpol-sync's
    /// marks for its bundle).
    Differs,
    /// In the revision, not live.
    Missing,
    /// Live in a governed namespace (or carrying netpol-sync's label anywhere), and in no
    /// bundle of the revision.
    Unsigned,
}

/// One policy's line of evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyAudit {
    /// The live object's name.
    pub name: String,
    /// With `--immutable-objects`: the policy's own name (`name` is `<policy>-<hash>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    pub status: AuditStatus,
    /// Where the signed content comes from (`None` for an unsigned object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_digest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<usize>,
    /// The signed content's hash (`sha256:…` of the normalised policy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_hash: Option<String>,
    /// The live object's hash, computed the same way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_hash: Option<String>,
    /// Who last wrote the live object, other than netpol-sync (from managedFields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_manager: Option<String>,
}

/// One namespace's policies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceAudit {
    pub namespace: String,
    pub governed: bool,
    pub policies: Vec<PolicyAudit>,
}

/// The whole evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditReport {
    /// The live cluster is exactly the revision: every policy `signed`.
    pub exact: bool,
    pub revision: String,
    /// Who signed the revision's commit, and when it was committed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<RecordedSigner>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub committed_at: Option<String>,
    /// When netpol-sync applied it (the state record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_at: Option<String>,
    pub bundles: Vec<BundleSummary>,
    pub namespaces: Vec<NamespaceAudit>,
    pub counts: AuditCounts,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditCounts {
    pub signed: usize,
    pub differs: usize,
    pub missing: usize,
    pub unsigned: usize,
}

/// What the state record says is enforced, when it authenticates.
pub struct Enforced {
    pub revision: String,
    pub applied_at: Option<String>,
}

/// Why there is no evidence to give.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("reading the state record: {0}")]
    State(#[from] crate::state::StateError),
    #[error("no revision is enforced: there is no state record in namespace {0}")]
    NoRecord(String),
    #[error("the state record does not authenticate ({0}): what it claims is no evidence")]
    Distrusted(String),
    #[error("the state record names no applied revision yet")]
    NoRevision,
    #[error("reading the live NetworkPolicies: {0}")]
    Live(#[from] crate::plan::live::LiveError),
}

/// The revision the authenticated state record says is enforced.
pub async fn enforced(store: &StateStore) -> Result<Enforced, AuditError> {
    let loaded = store
        .load()
        .await?
        .ok_or_else(|| AuditError::NoRecord(store.namespace().to_string()))?;
    if let Some(why) = loaded.distrusted() {
        return Err(AuditError::Distrusted(why.to_string()));
    }
    let record = loaded.record();
    Ok(Enforced {
        revision: record.revision.clone().ok_or(AuditError::NoRevision)?,
        applied_at: record.applied_at.clone(),
    })
}

/// The live set of what `bundles` governs.
pub async fn live(client: &kube::Client, bundles: &VerifiedBundles) -> Result<LiveSet, AuditError> {
    Ok(read_live(client, &bundles.governed_namespaces(), None).await?)
}

/// Match every policy of `bundles` with `live`, and every live object with the revision.
pub fn compare(
    bundles: &VerifiedBundles,
    live: &LiveSet,
    enforced: &Enforced,
    signer: Option<RecordedSigner>,
    committed_at: Option<String>,
    naming: Naming,
) -> AuditReport {
    let governed = bundles.governed_namespaces();
    let summaries: BTreeMap<&str, BundleSummary> = bundles
        .bundles()
        .iter()
        .map(|b| (b.name(), b.summary()))
        .collect();
    let mut by_namespace: BTreeMap<String, Vec<PolicyAudit>> =
        governed.iter().map(|ns| (ns.clone(), Vec::new())).collect();
    let mut desired_keys = std::collections::BTreeSet::new();
    for d in bundles.policies() {
        // With --immutable-objects the name alone says which content the object holds.
        let (name, signed_hash) = expected_object(d, naming);
        let key = ObjectKey {
            namespace: d.namespace().to_string(),
            name,
        };
        let found = live.get(&key);
        let status = match found {
            None => AuditStatus::Missing,
            Some(l)
                if l.content_hash == signed_hash
                    && l.managed
                    && l.bundle.as_deref() == Some(d.bundle()) =>
            {
                AuditStatus::Signed
            }
            Some(_) => AuditStatus::Differs,
        };
        by_namespace
            .entry(key.namespace.clone())
            .or_default()
            .push(PolicyAudit {
                name: key.name.clone(),
                policy: (key.name != d.name()).then(|| d.name().to_string()),
                status,
                bundle: Some(d.bundle().to_string()),
                bundle_digest: summaries.get(d.bundle()).map(|s| s.digest.clone()),
                file: Some(d.file().to_string()),
                document: Some(d.document()),
                signed_hash: Some(signed_hash),
                live_hash: found.map(|l| l.content_hash.clone()),
                field_manager: found
                    .filter(|_| status != AuditStatus::Signed)
                    .and_then(|l| l.last_foreign_manager.clone()),
            });
        desired_keys.insert(key);
    }
    for l in live.policies() {
        if desired_keys.contains(&l.key) {
            continue;
        }
        by_namespace
            .entry(l.key.namespace.clone())
            .or_default()
            .push(PolicyAudit {
                name: l.key.name.clone(),
                policy: None,
                status: AuditStatus::Unsigned,
                bundle: None,
                bundle_digest: None,
                file: None,
                document: None,
                signed_hash: None,
                live_hash: Some(l.content_hash.clone()),
                field_manager: l.last_foreign_manager.clone(),
            });
    }
    let mut counts = AuditCounts::default();
    let namespaces: Vec<NamespaceAudit> = by_namespace
        .into_iter()
        .map(|(namespace, mut policies)| {
            policies.sort_by(|a, b| a.name.cmp(&b.name));
            for p in &policies {
                match p.status {
                    AuditStatus::Signed => counts.signed += 1,
                    AuditStatus::Differs => counts.differs += 1,
                    AuditStatus::Missing => counts.missing += 1,
                    AuditStatus::Unsigned => counts.unsigned += 1,
                }
            }
            NamespaceAudit {
                governed: governed.contains(&namespace),
                namespace,
                policies,
            }
        })
        .collect();
    AuditReport {
        exact: counts.differs == 0 && counts.missing == 0 && counts.unsigned == 0,
        revision: enforced.revision.clone(),
        signer,
        committed_at,
        applied_at: enforced.applied_at.clone(),
        bundles: summaries.into_values().collect(),
        namespaces,
        counts,
    }
}
