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
    pub fn entries(&self) -> Vec<PlanEntry> {
        self.writes
            .iter()
            .map(|w| PlanEntry {
                action: w.action,
                namespace: w.key.namespace.clone(),
                name: w.key.name.clone(),
                bundle: w.desired.as_ref().map(|d| d.bundle.clone()),
                content_hash: w.desired.as_ref().map(|d| d.content_hash.clone()),
            })
            .collect()
    }
}
