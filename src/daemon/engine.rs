//! The seam between the loop and the sync engine (`verify` → `bundle` → `plan` → `apply`
//! → `state`). The loop only decides *when* a cycle runs and reports its
//! [`CycleResult`]; what a cycle does is the engine's. Tests drive the loop with their own
//! engine.

use crate::engine::CycleResult;
use crate::plan::Drift;
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

/// A policy the cycle's revision does not contain that someone else's finalizers still
/// hold after its deletion: it still applies, and the cycle is no success while it does.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct HeldReport {
    pub namespace: String,
    pub name: String,
    pub finalizers: Vec<String>,
}

/// The result of a cycle, and how the engine came by it.
#[derive(Debug, Clone)]
pub struct CycleReport {
    pub result: CycleResult,
    /// The cycle planned against an earlier read that the drift watch vouched for, and
    /// listed nothing (a quiet cycle).
    pub live_from_watch: bool,
}

impl CycleReport {
    /// Drift the cycle reverted (for events and the drift metric). A `held` policy counts
    /// only once its finalizers were removed.
    pub fn drift(&self) -> Vec<&Drift> {
        self.result.drift_reverted()
    }

    /// Policies managed after the cycle.
    pub fn managed(&self) -> Option<usize> {
        self.result.managed()
    }

    /// The namespaces the cycle's revision governs, when it got as far as a plan: what
    /// the drift watch looks at until the next cycle.
    pub fn governed(&self) -> Option<&BTreeSet<String>> {
        self.result.detail.governed.as_ref()
    }

    /// Policies held by someone else's finalizers after the cycle. While there is one,
    /// the cycle is an error (`held-by-finalizer`), so `/readyz` does not say ready.
    pub fn held(&self) -> Vec<HeldReport> {
        let mut held: Vec<HeldReport> = self
            .result
            .detail
            .held
            .iter()
            .map(|h| HeldReport {
                namespace: h.namespace.clone(),
                name: h.name.clone(),
                finalizers: h.finalizers.clone(),
            })
            .collect();
        held.sort();
        held
    }
}

impl From<CycleResult> for CycleReport {
    fn from(result: CycleResult) -> Self {
        CycleReport {
            result,
            live_from_watch: false,
        }
    }
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

pub trait SyncEngine: Send + Sync {
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
    use crate::engine::Verdict;
    use crate::plan::DriftKind;
    use serde_json::json;

    fn report(detail: serde_json::Value) -> CycleReport {
        let mut r = CycleResult::new(Verdict::Error, "held");
        r.detail = serde_json::from_value(detail).unwrap();
        CycleReport::from(r)
    }

    #[test]
    fn a_held_policy_is_reported_held_and_is_not_drift_reverted() {
        let report = report(json!({
            "drift": [
                {"kind": "held", "namespace": "payments", "name": "debug", "finalizers": ["example.com/keep"]},
                {"kind": "created", "namespace": "payments", "name": "other"}
            ],
            "held": [{"namespace": "payments", "name": "debug", "finalizers": ["example.com/keep"]}]
        }));
        assert_eq!(
            report.held(),
            vec![HeldReport {
                namespace: "payments".into(),
                name: "debug".into(),
                finalizers: vec!["example.com/keep".into()],
            }]
        );
        let kinds: Vec<DriftKind> = report.drift().iter().map(|d| d.kind).collect();
        assert_eq!(kinds, [DriftKind::Created]);
    }

    #[test]
    fn a_held_policy_whose_finalizers_were_removed_is_drift_reverted() {
        let report = report(json!({
            "drift": [{"kind": "held", "namespace": "payments", "name": "debug", "finalizers": ["example.com/keep"]}]
        }));
        assert!(report.held().is_empty());
        assert_eq!(report.drift().len(), 1);
        assert_eq!(report.drift()[0].kind, DriftKind::Held);
    }
}
