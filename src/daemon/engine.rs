//! The seam between the loop and the sync engine (`verify` → `bundle` → `plan` → `apply`
//! → `state`). The loop only decides *when* a cycle runs and reports its [`Outcome`]; what
//! a cycle does is the engine's. Tests drive the loop with their own engine.

use crate::outcome::Outcome;
use serde_json::Value;
use std::collections::BTreeSet;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

/// What one cycle is asked to enforce.
#[derive(Debug, Clone)]
pub struct CycleInput {
    /// The bare repository holding the fetched branch (the cache).
    pub repo: PathBuf,
    /// The fetched branch head (full commit id).
    pub revision: String,
    /// The branch head moved since the previous cycle (false: a drift-only check).
    pub moved: bool,
}

/// Live policies the cycle put back (for events and the drift metric).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftReverted {
    pub namespace: String,
    pub name: String,
    /// What was found, as the sync engine names it: `modified` (edited by hand, undone),
    /// `created` (made by hand, removed), `deleted` (deleted by hand, put back), `held`
    /// (held by someone else's finalizers after its deletion; they were removed).
    pub kind: String,
    pub field_manager: Option<String>,
}

/// A policy the cycle's revision does not contain that someone else's finalizers still
/// hold after its deletion: it still applies, and the cycle is no success while it does.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct HeldReport {
    pub namespace: String,
    pub name: String,
    pub finalizers: Vec<String>,
}

/// The result of a cycle: the command outcome plus what the daemon reports on top.
#[derive(Debug, Clone)]
pub struct CycleReport {
    pub outcome: Outcome,
    pub drift: Vec<DriftReverted>,
    /// Policies managed after the cycle.
    pub managed: Option<usize>,
    /// The namespaces the cycle's revision governs, when it got as far as a plan: what
    /// the drift watch looks at until the next cycle.
    pub governed: Option<BTreeSet<String>>,
    /// The cycle planned against an earlier read that the drift watch vouched for, and
    /// listed nothing (a quiet cycle).
    pub live_from_watch: bool,
}

impl CycleReport {
    /// Policies held by someone else's finalizers after the cycle (`extra.held`, as
    /// `sync --output json` prints it). While there is one, the cycle is an error
    /// (`held-by-finalizer`), so `/readyz` does not say ready.
    pub fn held(&self) -> Vec<HeldReport> {
        held_in(&self.outcome)
    }
}

fn held_in(outcome: &Outcome) -> Vec<HeldReport> {
    let mut held: Vec<HeldReport> = outcome
        .extra
        .get("held")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|v| {
                    Some(HeldReport {
                        namespace: v.get("namespace")?.as_str()?.to_string(),
                        name: v.get("name")?.as_str()?.to_string(),
                        finalizers: v
                            .get("finalizers")
                            .and_then(Value::as_array)
                            .map(|f| {
                                f.iter()
                                    .filter_map(|s| s.as_str().map(str::to_string))
                                    .collect()
                            })
                            .unwrap_or_default(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    held.sort();
    held
}

/// The report of a cycle is read off its outcome: drift and the governed namespaces from
/// the plan detail (`extra.drift`, `extra.governed`, as `sync --output json` prints
/// them), policies managed from the counts. A `held` drift entry is drift reverted only
/// when its finalizers were removed: one still listed under `extra.held` is not.
impl From<Outcome> for CycleReport {
    fn from(outcome: Outcome) -> Self {
        let still_held = held_in(&outcome);
        let drift = outcome
            .extra
            .get("drift")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(drift_entry)
                    .filter(|d| {
                        d.kind != "held"
                            || !still_held
                                .iter()
                                .any(|h| h.namespace == d.namespace && h.name == d.name)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let managed = outcome.counts.map(|c| c.created + c.updated + c.unchanged);
        let governed = outcome
            .extra
            .get("governed")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|n| n.as_str().map(str::to_string))
                    .collect()
            });
        CycleReport {
            outcome,
            drift,
            managed,
            governed,
            live_from_watch: false,
        }
    }
}

fn drift_entry(v: &Value) -> Option<DriftReverted> {
    Some(DriftReverted {
        namespace: v.get("namespace")?.as_str()?.to_string(),
        name: v.get("name")?.as_str()?.to_string(),
        kind: v
            .get("kind")
            .or_else(|| v.get("action"))
            .and_then(Value::as_str)
            .unwrap_or("updated")
            .to_string(),
        field_manager: v
            .get("field_manager")
            .or_else(|| v.get("fieldManager"))
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

/// A change to a NetworkPolicy that the drift watch saw in scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedChange {
    pub uid: Option<String>,
    pub resource_version: Option<String>,
    pub deleted: bool,
}

impl WatchedChange {
    /// Whether this change is one the engine's own cycles made, as `own` remembers them,
    /// or, for a change that is not a deletion, a version `read` says a cycle read and
    /// planned with. A deletion is only ever ours if we made it: anyone else's is drift.
    /// A change without its uid and version cannot be told, so it is not ours.
    pub fn made_or_read(
        &self,
        own: &crate::apply::OwnWrites,
        read: impl FnOnce(&str, &str) -> bool,
    ) -> bool {
        let (Some(uid), Some(version)) = (&self.uid, &self.resource_version) else {
            return false;
        };
        if self.deleted {
            return own.deleted(uid);
        }
        own.wrote(uid, version) || read(uid, version)
    }
}

pub type CycleFuture<'a> = Pin<Box<dyn Future<Output = CycleReport> + Send + 'a>>;

pub trait SyncEngine: Send {
    /// Runs one cycle. Dropping the future abandons the cycle (leadership lost or the
    /// shutdown grace period over); the next cycle, here or on another replica, repairs
    /// whatever it left half done, because it converges the cluster to a whole revision.
    fn cycle(&mut self, input: CycleInput) -> CycleFuture<'_>;

    /// Whether the last cycles already accounted for this change: they read this very
    /// version and planned with it, or wrote it, or deleted this object. Such a change is
    /// no reason for another cycle. An engine that cannot tell says no.
    fn accounts_for(&self, _change: &WatchedChange) -> bool {
        false
    }
}

/// The engine `run` picks at start-up (`--cycle-isolation`).
impl SyncEngine for Box<dyn SyncEngine> {
    fn cycle(&mut self, input: CycleInput) -> CycleFuture<'_> {
        (**self).cycle(input)
    }

    fn accounts_for(&self, change: &WatchedChange) -> bool {
        (**self).accounts_for(change)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Verdict;
    use serde_json::json;

    fn outcome(extra: Value) -> Outcome {
        let mut o = Outcome::new(Verdict::Error, "held");
        o.extra = extra.as_object().unwrap().clone();
        o
    }

    #[test]
    fn a_held_policy_is_reported_held_and_is_not_drift_reverted() {
        let report = CycleReport::from(outcome(json!({
            "drift": [
                {"kind": "held", "namespace": "payments", "name": "debug", "finalizers": ["example.com/keep"]},
                {"kind": "created", "namespace": "payments", "name": "other"}
            ],
            "held": [{"namespace": "payments", "name": "debug", "finalizers": ["example.com/keep"]}]
        })));
        assert_eq!(
            report.held(),
            vec![HeldReport {
                namespace: "payments".into(),
                name: "debug".into(),
                finalizers: vec!["example.com/keep".into()],
            }]
        );
        let kinds: Vec<&str> = report.drift.iter().map(|d| d.kind.as_str()).collect();
        assert_eq!(kinds, ["created"]);
    }

    #[test]
    fn a_held_policy_whose_finalizers_were_removed_is_drift_reverted() {
        let report = CycleReport::from(outcome(json!({
            "drift": [{"kind": "held", "namespace": "payments", "name": "debug", "finalizers": ["example.com/keep"]}]
        })));
        assert!(report.held().is_empty());
        assert_eq!(report.drift.len(), 1);
        assert_eq!(report.drift[0].kind, "held");
    }
}
