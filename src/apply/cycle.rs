//! One sync cycle, end to end: live set, plan, guard, dry-run, apply-then-prune, restore
//! on failure, record. Everything the cycle decides ends up in one [`Outcome`].

use super::{Applier, ApplyError, ApplyOptions, WriteError, WriteFailure};
use crate::bundle::{load_verified, BundleOptions, VerifiedBundles};
use crate::git::Repo;
use crate::kube_client::error_chain;
use crate::outcome::{Outcome, Verdict};
use crate::plan::{read_live, LiveError, LiveHashes, Plan};
use crate::reason::ReasonCode;
use crate::state::{
    LoadedState, RecordedBundle, RecordedFailure, RecordedSigner, StateRecord, StateStore,
};
use crate::verify::VerifiedRevision;
use std::time::{Instant, SystemTime};

/// Where the cycle runs and what it already knows.
pub struct SyncContext<'a> {
    pub client: kube::Client,
    pub state: &'a StateStore,
    /// The record read at the start of the cycle (`None`: first run or record lost).
    pub loaded: Option<LoadedState>,
    pub options: ApplyOptions,
    /// Content hashes of live versions already seen (the daemon keeps one across cycles).
    pub live_hashes: Option<std::sync::Arc<LiveHashes>>,
}

/// The last applied revision, loaded from its verified commit (never from memory) only
/// when a failed apply must put it back.
pub struct PreviousRevision {
    pub repo: Repo,
    pub base: VerifiedRevision,
    pub options: BundleOptions,
}

impl PreviousRevision {
    fn load(&self) -> Option<VerifiedBundles> {
        match load_verified(&self.repo, &self.base, &self.options) {
            Ok(b) => Some(b),
            Err(e) => {
                // A base that no longer loads (stricter validation since) cannot be restored;
                // the failure message says so.
                tracing::warn!(revision = %self.base.commit_id(), error = %e, "the previous revision's bundles do not load");
                None
            }
        }
    }
}

/// The verified revision to enforce, and the one to put back if that fails.
pub struct SyncInput {
    pub bundles: VerifiedBundles,
    /// `None` on the first sync ever or after the state was lost.
    pub previous: Option<PreviousRevision>,
    /// Who signed the revision's head commit.
    pub signer: Option<RecordedSigner>,
}

/// Restore attempts (each re-reads the live set) before giving up on putting back the
/// previous revision.
const RESTORE_ROUNDS: usize = 3;

impl SyncContext<'_> {
    fn inventory(&self) -> Option<std::collections::BTreeSet<crate::plan::ObjectKey>> {
        self.loaded.as_ref().map(|l| l.record.inventory_keys())
    }

    /// Read the live set and compute the plan; no writes.
    pub async fn plan(&self, bundles: &VerifiedBundles) -> Result<Plan, LiveError> {
        let started = Instant::now();
        let live = read_live(
            &self.client,
            &bundles.governed_namespaces(),
            self.live_hashes.as_ref(),
        )
        .await?;
        let listed = started.elapsed();
        let plan = Plan::compute(bundles, &live, self.inventory().as_ref());
        tracing::info!(live = live.len(), ?listed, planned = ?(started.elapsed() - listed), "live set read and plan computed");
        Ok(plan)
    }

    /// `netpol-sync plan`: what a sync would do, and whether it would be allowed to.
    pub async fn plan_outcome(&self, bundles: &VerifiedBundles) -> Outcome {
        let plan = match self.plan(bundles).await {
            Ok(p) => p,
            Err(e) => return with_revision(Outcome::error(error_chain(&e)), bundles),
        };
        let mut outcome = match refusal(&plan) {
            Some(o) => o,
            None if plan.is_empty() => {
                Outcome::new(Verdict::Unchanged, "the cluster already is this revision")
            }
            None => Outcome::new(
                Verdict::Verified,
                "verified; these writes would make the cluster this revision",
            ),
        };
        describe(&mut outcome, &plan);
        outcome
    }

    /// `netpol-sync sync --once`.
    pub async fn sync_once(&self, input: SyncInput) -> Outcome {
        let SyncInput {
            bundles,
            previous,
            signer,
        } = input;
        let plan = match self.plan(&bundles).await {
            Ok(p) => p,
            Err(e) => return with_revision(Outcome::error(error_chain(&e)), &bundles),
        };
        let revision = bundles.revision().to_string();
        // The plan carries its own write bodies; the loaded bundles are not needed any
        // more, and a first sync of 10,000 policies should not hold both.
        drop(bundles);
        for d in plan.drift() {
            tracing::warn!(kind = ?d.kind, object = %format!("{}/{}", d.namespace, d.name),
                field_manager = d.field_manager.as_deref().unwrap_or("unknown"), "drift: reverting");
        }
        if let Some(mut refused) = refusal(&plan) {
            describe(&mut refused, &plan);
            self.record_failure(&refused).await;
            return refused;
        }
        let recorded_revision = self.loaded.as_ref().and_then(|l| l.record.revision.clone());
        let bundles_now: Vec<RecordedBundle> = plan
            .bundles()
            .iter()
            .map(|b| RecordedBundle {
                name: b.name.clone(),
                digest: b.digest.clone(),
            })
            .collect();
        let record_unchanged = recorded_revision.as_deref() == Some(revision.as_str())
            && self
                .loaded
                .as_ref()
                .is_some_and(|l| l.record.bundles == bundles_now);

        let inventory = plan.inventory().clone();
        let mut outcome;
        if plan.is_empty() {
            outcome = Outcome::new(Verdict::Unchanged, "the cluster already is this revision");
            describe(&mut outcome, &plan);
            if record_unchanged {
                return outcome;
            }
        } else {
            // The plan moves into the applier; what the outcome reports of it is kept
            // small (a 10,000-object plan is not held twice).
            let snapshot = PlanSummary::of(&plan);
            let writes = plan.writes().len();
            let applier = Applier::new(self.client.clone(), self.options.clone());
            let started = Instant::now();
            let applied = applier.apply(plan).await;
            tracing::info!(writes, took = ?started.elapsed(), "dry-run and apply");
            match applied {
                Ok(report) => {
                    outcome = Outcome::new(
                        Verdict::Applied,
                        format!("applied: {} writes", report.written),
                    );
                    snapshot.describe(&mut outcome);
                }
                Err(ApplyError::DryRun(e)) => {
                    let mut o = dry_run_refused(&e);
                    snapshot.describe(&mut o);
                    self.record_failure(&o).await;
                    return o;
                }
                Err(ApplyError::Write { error, .. }) => {
                    let previous = previous.as_ref().and_then(PreviousRevision::load);
                    let restored = self.restore(&applier, previous.as_ref()).await;
                    let mut o = Outcome::error(format!("{error}; {restored}"));
                    o.reason = Some(ReasonCode::ApplyFailed);
                    o.extra.insert(
                        "failedObject".into(),
                        serde_json::json!(error.key.to_string()),
                    );
                    snapshot.describe(&mut o);
                    o.counts = None;
                    self.record_failure(&o).await;
                    return o;
                }
            }
        }
        let record = StateRecord {
            revision: Some(revision),
            bundles: bundles_now,
            signer,
            applied_at: Some(now()),
            last_failure: self
                .loaded
                .as_ref()
                .and_then(|l| l.record.last_failure.clone()),
            inventory,
        };
        if let Err(e) = self.state.save(&record, self.loaded.as_ref()).await {
            outcome.verdict = Verdict::Error;
            outcome.message = format!(
                "{}; but the state record could not be written: {}",
                outcome.message,
                error_chain(&e)
            );
        }
        outcome
    }

    /// Put back the previous revision, read from its verified commit.
    async fn restore(&self, applier: &Applier, previous: Option<&VerifiedBundles>) -> String {
        let Some(old) = previous else {
            return "no previously applied revision is known (first sync, or state lost), so nothing was put back; \
                    deletes had not started, and the next cycle retries"
                .to_string();
        };
        let mut last_error = String::new();
        for round in 1..=RESTORE_ROUNDS {
            let plan = match self.plan(old).await {
                Ok(p) => p,
                Err(e) => {
                    last_error = error_chain(&e);
                    continue;
                }
            };
            let report = restore_report(old, &plan);
            if plan.is_empty() {
                return report;
            }
            match applier.apply_without_dry_run(plan).await {
                Ok(_) => return report,
                Err(e) => {
                    tracing::warn!(round, error = %e, "restoring the previous revision failed");
                    last_error = e.to_string();
                }
            }
        }
        format!("putting back previous revision {} FAILED too ({last_error}); the next cycle repairs it", old.revision())
    }

    /// Keep the failure in the state record for `status`, without touching the applied revision.
    pub async fn record_failure(&self, outcome: &Outcome) {
        let mut record = self
            .loaded
            .as_ref()
            .map(|l| l.record.clone())
            .unwrap_or_default();
        record.last_failure = Some(RecordedFailure {
            revision: outcome.revision.clone(),
            reason: outcome
                .reason
                .map(|r| r.to_string())
                .unwrap_or_else(|| "error".into()),
            message: outcome.message.clone(),
            at: now(),
        });
        if let Err(e) = self.state.save(&record, self.loaded.as_ref()).await {
            tracing::warn!(error = %error_chain(&e), "could not record the failure in the state record");
        }
    }
}

/// What a restore by `plan` achieves. A policy of the old revision that is being deleted
/// and held by someone else's finalizers (a delete of this cycle marked it) cannot be
/// written back; saying "put back" would hide that it is about to disappear.
fn restore_report(old: &VerifiedBundles, plan: &Plan) -> String {
    let held: Vec<String> = plan
        .blockers()
        .iter()
        .filter_map(|b| match b {
            crate::plan::Blocker::ObjectTerminating {
                namespace,
                name,
                finalizers,
            } => Some(format!(
                "{namespace}/{name} (being deleted, held by finalizers [{}])",
                finalizers.join(", ")
            )),
            _ => None,
        })
        .collect();
    if held.is_empty() {
        format!("previous revision {} put back", old.revision())
    } else {
        format!(
            "previous revision {} put back EXCEPT NetworkPolicy {}: it is gone once those finalizers are removed",
            old.revision(),
            held.join(", ")
        )
    }
}

fn now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// A plan the guard or the cluster's shape forbids.
fn refusal(plan: &Plan) -> Option<Outcome> {
    let forbidden = plan.forbidden_openings();
    if !forbidden.is_empty() {
        let names: Vec<&str> = forbidden.iter().map(|w| w.namespace.as_str()).collect();
        let mut o = Outcome::rejected(
            ReasonCode::WouldOpenNamespace,
            format!(
                "the revision would leave namespace(s) {} with no NetworkPolicy at all; list them under allowOpen: in the bundle if that is intended",
                names.join(", ")
            ),
            Default::default(),
        );
        o.location.bundle = forbidden.first().map(|w| w.bundle.clone());
        return Some(o);
    }
    if !plan.blockers().is_empty() {
        let text: Vec<String> = plan.blockers().iter().map(|b| b.to_string()).collect();
        let mut o = Outcome::error(format!("cannot apply: {}", text.join("; ")));
        o.reason = Some(ReasonCode::ApplyRejected);
        return Some(o);
    }
    None
}

fn dry_run_refused(e: &WriteError) -> Outcome {
    let message =
        format!("the API server refused the revision in dry-run, nothing was changed: {e}");
    let mut o = match (e.failure, e.code) {
        (WriteFailure::Refused, Some(400 | 422)) => {
            Outcome::rejected(ReasonCode::ApplyRejected, message, Default::default())
        }
        (WriteFailure::Refused, _) => {
            let mut o = Outcome::error(message);
            o.reason = Some(ReasonCode::ApplyRejected);
            o
        }
        _ => {
            let mut o = Outcome::error(message);
            o.reason = Some(ReasonCode::ApplyFailed);
            o
        }
    };
    o.extra
        .insert("failedObject".into(), serde_json::json!(e.key.to_string()));
    o
}

fn with_revision(mut o: Outcome, bundles: &VerifiedBundles) -> Outcome {
    o.revision = Some(bundles.revision().to_string());
    o
}

/// Revision, bundles, counts and plan detail on any outcome about `plan`.
fn describe(o: &mut Outcome, plan: &Plan) {
    PlanSummary::of(plan).describe(o);
}

/// What an outcome reports of a plan, kept after the plan itself moved into the applier.
struct PlanSummary {
    revision: String,
    bundles: Vec<crate::outcome::BundleSummary>,
    counts: crate::outcome::Counts,
    extra: serde_json::Map<String, serde_json::Value>,
}

impl PlanSummary {
    fn of(plan: &Plan) -> PlanSummary {
        PlanSummary {
            revision: plan.revision().to_string(),
            bundles: plan.bundles().to_vec(),
            counts: plan.counts(),
            extra: plan.to_extra(),
        }
    }

    fn describe(&self, o: &mut Outcome) {
        o.revision = Some(self.revision.clone());
        o.bundles = self.bundles.clone();
        o.counts = Some(self.counts);
        o.extra.extend(self.extra.clone());
    }
}
