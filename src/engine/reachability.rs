//! What a cycle's writes open and close, over the live cluster's workloads
//! (docs/reachability.md, "In plan, sync and run"). Before: every NetworkPolicy in the
//! cluster as read. After: the same with the plan's writes made (creates and updates
//! replace, deletes remove). The workloads are the cluster's pods, grouped by owner.
//! Reporting only: a failure to read or evaluate is noted in the result and never stops
//! the cycle.

use crate::plan::{Action, ObjectKey, Plan};
use crate::reach::{self, DiffReport, Model};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use netpol_reach::Evaluator;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Paths between workloads (and address ranges) that a cycle's writes open, close or
/// change, with the paths themselves for `plan`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReachabilityChange {
    /// Paths allowed after the writes on some port and before on none.
    pub opened: usize,
    /// Paths allowed before on some port and after on none.
    pub closed: usize,
    /// Paths allowed before and after, on different ports.
    pub changed: usize,
    /// The workloads the paths were computed over.
    pub workloads: usize,
    /// The paths (`plan`); a cycle that applies keeps the counts only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<DiffReport>,
    /// Why it could not be computed (the counts are then zero).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ReachabilityChange {
    fn failed(error: String) -> ReachabilityChange {
        ReachabilityChange {
            error: Some(error),
            ..ReachabilityChange::default()
        }
    }

    /// `+2 opened, -1 closed, ~0 changed over 40 workloads`, or why there is none.
    pub fn summary(&self) -> String {
        match &self.error {
            Some(e) => format!("not computed: {e}"),
            None => format!(
                "+{} opened, -{} closed, ~{} changed over {} workloads",
                self.opened, self.closed, self.changed, self.workloads
            ),
        }
    }
}

/// The change `plan`'s writes make, read from the cluster `client` reaches; `keep_paths`
/// keeps the paths themselves, not only their counts.
pub async fn of_plan(client: &kube::Client, plan: &Plan, keep_paths: bool) -> ReachabilityChange {
    let started = std::time::Instant::now();
    let live = match crate::kube_client::pods::read_network_policies(client).await {
        Ok(live) => live,
        Err(e) => return ReachabilityChange::failed(format!("listing NetworkPolicies: {e}")),
    };
    let workloads = match reach::live::workloads_from_cluster(client).await {
        Ok(w) => w,
        Err(e) => return ReachabilityChange::failed(format!("reading the workloads: {e}")),
    };
    let change = match between(live, plan, &workloads) {
        Ok(mut c) => {
            if !keep_paths {
                c.paths = None;
            }
            c
        }
        Err(e) => ReachabilityChange::failed(e),
    };
    tracing::info!(
        opened = change.opened,
        closed = change.closed,
        changed = change.changed,
        workloads = change.workloads,
        error = change.error.as_deref(),
        took = ?started.elapsed(),
        "reachability: what this revision's writes open and close"
    );
    change
}

/// The change from `live` to `live` with `plan`'s writes made, over `workloads`.
pub fn between(
    live: Vec<NetworkPolicy>,
    plan: &Plan,
    workloads: &reach::workloads::Workloads,
) -> Result<ReachabilityChange, String> {
    let key = |np: &NetworkPolicy| ObjectKey {
        namespace: np.metadata.namespace.clone().unwrap_or_default(),
        name: np.metadata.name.clone().unwrap_or_default(),
    };
    let before: BTreeMap<ObjectKey, NetworkPolicy> =
        live.into_iter().map(|np| (key(&np), np)).collect();
    let mut after = before.clone();
    for write in plan.all_writes() {
        match (write.action, &write.desired) {
            (Action::Delete, _) => {
                after.remove(&write.key);
            }
            (Action::Create | Action::Update, Some(desired)) => {
                after.insert(write.key.clone(), desired.object());
            }
            (Action::Create | Action::Update, None) => {
                return Err(format!(
                    "the plan's write of {} carries no object",
                    write.key
                ))
            }
        }
    }
    let old = Evaluator::new(before.values())
        .map_err(|e| format!("a live policy cannot be evaluated: {e}"))?;
    let new = Evaluator::new(after.values())
        .map_err(|e| format!("a policy of the revision cannot be evaluated: {e}"))?;
    let model = Model::new(workloads, Vec::new()).map_err(|e| e.to_string())?;
    let paths = reach::diff(&model, &old, &new);
    Ok(ReachabilityChange {
        opened: paths.added.len(),
        closed: paths.removed.len(),
        changed: paths.changed.len(),
        workloads: workloads.pods.len(),
        paths: Some(paths),
        error: None,
    })
}
