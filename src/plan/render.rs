//! What a plan reports of itself: its writes as [`PlanEntry`]s and its [`Counts`].

use super::{Action, Plan};
use serde::{Deserialize, Serialize};

/// One planned write as a cycle reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanEntry {
    pub action: Action,
    pub namespace: String,
    pub name: String,
    /// For a create or update: the bundle the policy comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
    /// For a create or update: the policy's content hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<String>,
    /// With `--immutable-objects`, for a create: the policy's own name (`name` is its
    /// object's, `<policy>-<hash>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// For an update: the live object already holds the signed content, and only
    /// netpol-sync's label and annotations are written (a hand-made or imported policy
    /// is adopted; docs/sync.md).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub adopt: bool,
}

/// Writes by kind, and policies already as the revision says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub created: usize,
    pub updated: usize,
    pub deleted: usize,
    pub unchanged: usize,
}

impl Plan {
    /// The planned writes, in the order they are made.
    /// The planned writes, in the order they are made (with `--immutable-objects`, the
    /// creates of edited objects last, after their deletes).
    pub fn entries(&self) -> Vec<PlanEntry> {
        self.writes
            .iter()
            .chain(&self.recreate)
            .map(|w| PlanEntry {
                action: w.action,
                namespace: w.key.namespace.clone(),
                name: w.key.name.clone(),
                bundle: w.desired.as_ref().map(|d| d.bundle.clone()),
                content_hash: w.desired.as_ref().map(|d| d.content_hash.clone()),
                policy: w.desired.as_ref().and_then(|d| d.policy.clone()),
                adopt: w.action == Action::Update
                    && matches!((&w.desired, &w.live), (Some(d), Some(l)) if d.content_hash == l.content_hash),
            })
            .collect()
    }
}
