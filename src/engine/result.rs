//! What one cycle found, as data: [`CycleResult`]. Every command that judges a revision
//! (`verify`, `plan`, `sync --once`) and both daemon engines produce one; the command line
//! renders it (`cli/render.rs`) and the process-isolated daemon reads its child's JSON
//! back into the same type. The JSON shape is the command line's stable contract
//! (docs/architecture.md, "The cycle's result").

use crate::apply::Journal;
use crate::bundle::BundleSummary;
use crate::plan::{Blocker, Counts, Drift, HeldPolicy, ObjectKey, PlanEntry, SkippedNamespace};
use crate::plan::{DriftKind, WouldOpen};
use crate::reason::{Location, ReasonCode};
use crate::state::base::BaseReport;
use crate::verify::CommitSummary;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The verdict on a revision, or on a cycle that could not reach one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Verified and loaded; for `plan`, writes would make the cluster this revision.
    Verified,
    /// The cluster was made this revision.
    Applied,
    /// The cluster already was this revision.
    Unchanged,
    /// The revision was refused; the cluster is untouched.
    Rejected,
    /// Usage, I/O or cluster error: nothing was said of the revision.
    Error,
}

impl Verdict {
    /// Whether the cycle ended in a success (the command exits 0).
    pub fn is_success(self) -> bool {
        matches!(
            self,
            Verdict::Verified | Verdict::Applied | Verdict::Unchanged
        )
    }
}

/// What a cycle reports besides its verdict: printed under `extra` in the JSON output.
/// A list that is `None` was never computed (the cycle ended before it planned); an
/// empty one was computed and is empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CycleDetail {
    /// Where the chain was verified from, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<BaseReport>,
    /// Why the plan could not be applied as it stands.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blockers: Vec<Blocker>,
    /// Changes no verified revision made, reverted by this cycle's writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<Vec<Drift>>,
    /// The object whose write failed (`apply-failed`, `apply-rejected`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_object: Option<String>,
    /// The namespaces the revision governs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub governed: Option<BTreeSet<String>>,
    /// Policies the revision does not contain that someone else's finalizers still hold
    /// after the cycle: they still apply.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<HeldPolicy>,
    /// Policies carrying netpol-sync's label outside the governed namespaces that its
    /// inventory does not say it wrote: left alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignored: Vec<ObjectKey>,
    /// The versions this cycle wrote or deleted (`sync --report-own-writes`, for the
    /// daemon that runs it as a child).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub own_writes: Option<Journal>,
    /// The writes that make (or would make) the cluster this revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Vec<PlanEntry>>,
    /// Governed namespaces whose part of the revision was not written (missing or
    /// terminating).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped_namespaces: Vec<SkippedNamespace>,
    /// Governed namespaces the revision would leave with no policy at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub would_open: Option<Vec<WouldOpen>>,
    /// What the writes open and close between the cluster's workloads (when there are
    /// writes, and `--no-reachability` is not given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reachability: Option<super::reachability::ReachabilityChange>,
}

impl CycleDetail {
    pub fn is_empty(&self) -> bool {
        self == &CycleDetail::default()
    }
}

/// One cycle's result: the verdict, why, on which revision, and what it found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CycleResult {
    pub verdict: Verdict,
    /// Full commit id of the revision the cycle looked at, when one was resolved.
    #[serde(default)]
    pub revision: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<ReasonCode>,
    pub message: String,
    /// Where a rejection happened, as precisely as it is known.
    #[serde(default, skip_serializing_if = "Location::is_empty")]
    pub location: Location,
    #[serde(default)]
    pub bundles: Vec<BundleSummary>,
    /// The commits verified along the first-parent chain, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commits: Vec<CommitSummary>,
    /// The plan's counts, when the cycle got as far as a plan.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub counts: Option<Counts>,
    #[serde(
        rename = "extra",
        default,
        skip_serializing_if = "CycleDetail::is_empty"
    )]
    pub detail: CycleDetail,
}

impl CycleResult {
    pub fn new(verdict: Verdict, message: impl Into<String>) -> Self {
        CycleResult {
            verdict,
            revision: None,
            reason: None,
            message: message.into(),
            location: Location::default(),
            bundles: Vec::new(),
            commits: Vec::new(),
            counts: None,
            detail: CycleDetail::default(),
        }
    }

    pub fn rejected(reason: ReasonCode, message: impl Into<String>, location: Location) -> Self {
        let mut r = CycleResult::new(Verdict::Rejected, message);
        r.reason = Some(reason);
        r.location = location;
        r
    }

    pub fn error(message: impl Into<String>) -> Self {
        CycleResult::new(Verdict::Error, message)
    }

    /// An error with its reason code.
    pub fn error_because(reason: ReasonCode, message: impl Into<String>) -> Self {
        let mut r = CycleResult::error(message);
        r.reason = Some(reason);
        r
    }

    /// Drift this cycle reverted: a `held` policy counts only once its finalizers were
    /// removed (one still listed under `held` still applies).
    pub fn drift_reverted(&self) -> Vec<&Drift> {
        let still_held = |d: &Drift| {
            self.detail
                .held
                .iter()
                .any(|h| h.namespace == d.namespace && h.name == d.name)
        };
        self.detail
            .drift
            .iter()
            .flatten()
            .filter(|d| d.kind != DriftKind::Held || !still_held(d))
            .collect()
    }

    /// Policies managed after the cycle, when it got as far as a plan.
    pub fn managed(&self) -> Option<usize> {
        self.counts.map(|c| c.created + c.updated + c.unchanged)
    }
}

/// A verification failure as a cycle reports it: a verdict on the revision (rejected) or
/// an error that says nothing about it (unreadable repository, …).
impl From<crate::verify::VerifyError> for CycleResult {
    fn from(e: crate::verify::VerifyError) -> CycleResult {
        let location = e.location();
        let reason = e.reason();
        if e.is_rejection() {
            CycleResult::rejected(reason, e.message, location)
        } else {
            let mut r = CycleResult::error_because(reason, e.message);
            r.location = location;
            r
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_of_a_cycle_reads_back_as_the_same_cycle() {
        let json = br#"{"verdict":"applied","revision":"abc","message":"ok","bundles":[{"name":"prod","digest":"sha256:00"}],"created":1,"updated":2,"deleted":3,"unchanged":4,"extra":{"drift":[{"namespace":"p","name":"n","kind":"modified","field_manager":"kubectl-edit"}],"governed":["p"]}}"#;
        let r: CycleResult = serde_json::from_slice(json).unwrap();
        assert_eq!(r.verdict, Verdict::Applied);
        assert_eq!(
            r.counts,
            Some(Counts {
                created: 1,
                updated: 2,
                deleted: 3,
                unchanged: 4
            })
        );
        assert_eq!(r.managed(), Some(7));
        let drift = r.drift_reverted();
        assert_eq!(drift.len(), 1);
        assert_eq!(drift[0].kind, DriftKind::Modified);
        assert_eq!(drift[0].field_manager.as_deref(), Some("kubectl-edit"));
        let again: CycleResult = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(
            serde_json::to_value(&again).unwrap(),
            serde_json::to_value(&r).unwrap()
        );
    }

    #[test]
    fn a_result_without_counts_or_detail_prints_neither() {
        let r = CycleResult::rejected(
            ReasonCode::UnsignedCommit,
            "no signature",
            Location::default(),
        );
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["reason"], "unsigned-commit");
        assert!(v.get("created").is_none() && v.get("extra").is_none());
        assert!(v.get("location").is_none() && v.get("commits").is_none());
        let back: CycleResult = serde_json::from_value(v).unwrap();
        assert!(back.counts.is_none() && back.detail.is_empty());
    }

    #[test]
    fn a_held_policy_still_listed_is_not_drift_reverted() {
        let json = br#"{"verdict":"error","revision":null,"message":"held","bundles":[],"extra":{"drift":[{"namespace":"p","name":"a","kind":"held","finalizers":["x/y"]},{"namespace":"p","name":"b","kind":"held","finalizers":["x/y"]}],"held":[{"namespace":"p","name":"a","finalizers":["x/y"]}]}}"#;
        let r: CycleResult = serde_json::from_slice(json).unwrap();
        let names: Vec<&str> = r.drift_reverted().iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["b"]);
    }

    #[test]
    fn an_unknown_verdict_or_reason_is_not_a_cycle_result() {
        for json in [
            r#"{"verdict":"maybe","message":""}"#,
            r#"{"verdict":"rejected","reason":"no-such-reason","message":""}"#,
            r#"{"message":""}"#,
        ] {
            assert!(serde_json::from_str::<CycleResult>(json).is_err(), "{json}");
        }
    }
}
