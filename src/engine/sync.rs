//! The cluster half of a cycle, on a verified revision: live set, plan, guard, dry-run,
//! apply-then-prune, restore on failure, record. Everything it decides ends up in one
//! [`CycleResult`].

use super::result::{CycleResult, Verdict};
use crate::apply::{Applier, ApplyError, ApplyOptions, WriteError, WriteFailure};
use crate::bundle::{load_recorded_base, BundleOptions, BundleSummary, VerifiedBundles};
use crate::git::Repo;
use crate::kube_client::error_chain;
use crate::plan::{
    read_live, Counts, Drift, DriftKind, HeldPolicy, LiveError, LiveHashes, LiveSet, Plan,
    PlanEntry,
};
use crate::reason::ReasonCode;
use crate::state::{
    LoadedState, RecordedBundle, RecordedFailure, RecordedSigner, StateRecord, StateStore,
};
use crate::verify::RecordedBase;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

/// Where the cycle runs and what it already knows.
pub(crate) struct SyncContext<'a> {
    pub client: kube::Client,
    pub state: &'a StateStore,
    /// The record read at the start of the cycle (`None`: first run or record lost).
    pub loaded: Option<LoadedState>,
    pub options: ApplyOptions,
    /// Content hashes of live versions already seen (the daemon keeps one across cycles).
    pub live_hashes: Option<std::sync::Arc<LiveHashes>>,
    /// A live set to plan against instead of listing, and the one this cycle found
    /// unchanged (the daemon's quiet cycles).
    pub live_reuse: LiveReuse,
}

/// The live set across the daemon's cycles (docs/operations.md, "Quiet cycles"). The
/// caller gives one only when it proves that no NetworkPolicy changed since it was read;
/// the cycle hands back the set it read when that set needed no write at all, which is
/// the only kind worth planning against again.
#[derive(Default)]
pub(crate) struct LiveReuse {
    given: Option<Arc<LiveSet>>,
    unchanged: std::sync::Mutex<Option<Arc<LiveSet>>>,
}

impl LiveReuse {
    /// Plan against `live` instead of listing: the caller proved nothing changed since it
    /// was read.
    pub fn given(live: Arc<LiveSet>) -> LiveReuse {
        LiveReuse {
            given: Some(live),
            unchanged: Default::default(),
        }
    }

    /// The live set the cycle planned against when it wrote nothing (not even the state
    /// record), held nothing and skipped no namespace; `None` otherwise.
    pub fn take_unchanged(&self) -> Option<Arc<LiveSet>> {
        self.unchanged
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }
}

/// The last applied revision, loaded from its signed commit (never from memory) only
/// when a failed apply must put it back.
pub struct PreviousRevision {
    pub repo: Repo,
    pub base: RecordedBase,
    pub options: BundleOptions,
}

impl PreviousRevision {
    fn load(&self) -> Option<VerifiedBundles> {
        match load_recorded_base(&self.repo, &self.base, &self.options) {
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
    /// What the last applied revision's record says netpol-sync wrote. `None` when there
    /// is no applied revision to go by: no record, a record holding only a failure, or a
    /// record that did not authenticate (the store then hands an empty one). Without it
    /// nothing outside the governed namespaces is deleted.
    fn inventory(&self) -> Option<std::collections::BTreeSet<crate::plan::ObjectKey>> {
        self.loaded
            .as_ref()
            .filter(|l| l.record().revision.is_some())
            .map(|l| l.record().inventory_keys())
    }

    /// Read the live set and compute the plan; no writes.
    pub async fn plan(&self, bundles: &VerifiedBundles) -> Result<Plan, LiveError> {
        Ok(self.plan_against(bundles, None).await?.0)
    }

    /// [`Self::plan`] against `given` when there is one (never read again), else against
    /// a fresh read; the live set comes back with the plan.
    async fn plan_against(
        &self,
        bundles: &VerifiedBundles,
        given: Option<Arc<LiveSet>>,
    ) -> Result<(Plan, Arc<LiveSet>), LiveError> {
        let started = Instant::now();
        let reused = given.is_some();
        let live = match given {
            Some(live) => live,
            None => Arc::new(
                read_live(
                    &self.client,
                    &bundles.governed_namespaces(),
                    self.live_hashes.as_ref(),
                )
                .await?,
            ),
        };
        let listed = started.elapsed();
        let plan = Plan::compute(
            bundles,
            &live,
            self.inventory().as_ref(),
            self.options.naming(),
        );
        tracing::info!(live = live.len(), reused, ?listed, planned = ?(started.elapsed() - listed), "live set read and plan computed");
        Ok((plan, live))
    }

    /// A revision with a bundle governing netpol-sync's own state namespace is refused
    /// before anything is read or written: it could prune netpol-sync's own
    /// NetworkPolicy and deny its egress to the API server and Git, a lock-out that no
    /// later revision could undo through netpol-sync.
    fn governs_state_namespace(&self, bundles: &VerifiedBundles) -> Option<CycleResult> {
        let state_ns = self.state.namespace();
        let bundle = bundles
            .bundles()
            .iter()
            .find(|b| b.namespaces().contains(state_ns))?;
        let mut o = CycleResult::rejected(
            ReasonCode::GovernsStateNamespace,
            format!(
                "bundle {} governs namespace {state_ns}, netpol-sync's own state namespace: it could cut netpol-sync off from the API server and Git for good; remove it from the bundle's namespaces:",
                bundle.name()
            ),
            crate::reason::Location {
                bundle: Some(bundle.name().to_string()),
                field: Some("namespaces".into()),
                ..Default::default()
            },
        );
        o.revision = Some(bundles.revision().to_string());
        o.bundles = bundles.summaries();
        Some(o)
    }

    /// `netpol-sync plan`: what a sync would do, and whether it would be allowed to.
    pub async fn plan_outcome(&self, bundles: &VerifiedBundles) -> CycleResult {
        if let Some(refused) = self.governs_state_namespace(bundles) {
            return refused;
        }
        let plan = match self.plan(bundles).await {
            Ok(p) => p,
            Err(e) => return with_revision(CycleResult::error(error_chain(&e)), bundles),
        };
        let remove = self.options.remove_foreign_finalizers;
        let mut outcome = match refusal(&plan) {
            Some(o) => o,
            None if !plan.held().is_empty() && !remove => held_failure(
                plan.held(),
                "a sync would apply everything else and still fail: ",
            ),
            None if plan.is_empty() && plan.held().is_empty() => CycleResult::new(
                Verdict::Unchanged,
                with_skipped("the cluster already is this revision", &plan),
            ),
            None => CycleResult::new(
                Verdict::Verified,
                with_skipped(
                    "verified; these writes would make the cluster this revision",
                    &plan,
                ),
            ),
        };
        describe(&mut outcome, &plan);
        if self.options.report_reachability && !plan.is_empty() {
            outcome.detail.reachability =
                Some(super::reachability::of_plan(&self.client, &plan, true).await);
        }
        outcome
    }

    /// `netpol-sync sync --once`.
    pub async fn sync_once(&self, input: SyncInput) -> CycleResult {
        let SyncInput {
            bundles,
            previous,
            signer,
        } = input;
        if let Some(refused) = self.governs_state_namespace(&bundles) {
            self.record_failure(&refused).await;
            return refused;
        }
        let (plan, live) = match self
            .plan_against(&bundles, self.live_reuse.given.clone())
            .await
        {
            Ok(planned) => planned,
            Err(e) => return with_revision(CycleResult::error(error_chain(&e)), &bundles),
        };
        // Kept only for a cycle that changes nothing; otherwise not held through the apply.
        let live =
            (plan.is_empty() && plan.held().is_empty() && plan.skipped_namespaces().is_empty())
                .then_some(live);
        let revision = bundles.revision().to_string();
        // The plan carries its own write bodies; the loaded bundles are not needed any
        // more, and a first sync of 10,000 policies should not hold both.
        drop(bundles);
        log_plan_findings(&plan);
        if let Some(mut refused) = refusal(&plan) {
            describe(&mut refused, &plan);
            self.record_failure(&refused).await;
            return refused;
        }
        let recorded_revision = self
            .loaded
            .as_ref()
            .and_then(|l| l.record().revision.clone());
        let bundles_now: Vec<RecordedBundle> = plan
            .bundles()
            .iter()
            .map(|b| RecordedBundle {
                name: b.name.clone(),
                digest: b.digest.clone(),
            })
            .collect();
        // The inventory is compared too: a namespace that went missing takes its policies
        // out of it, so that they are ordinary creates when it is back.
        let record_unchanged = recorded_revision.as_deref() == Some(revision.as_str())
            && self.loaded.as_ref().is_some_and(|l| {
                l.record().bundles == bundles_now
                    && l.record().inventory.len() == plan.inventory().len()
                    && l.record().inventory.keys().eq(plan.inventory().keys())
            });

        let remove = self.options.remove_foreign_finalizers;
        let mut inventory = plan.inventory().clone();
        let governed = plan.governed().clone();
        let mut snapshot = PlanSummary::of(&plan);
        let mut outcome;
        let held;
        let mut release_errors = Vec::new();
        if plan.is_empty() && (plan.held().is_empty() || !remove) {
            held = plan.held().to_vec();
            outcome = CycleResult::new(
                Verdict::Unchanged,
                with_skipped("the cluster already is this revision", &plan),
            );
            if record_unchanged && held.is_empty() {
                snapshot.describe(&mut outcome);
                *self
                    .live_reuse
                    .unchanged
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = live;
                return outcome;
            }
        } else {
            // The plan moves into the applier; what the outcome reports of it is kept
            // small (a 10,000-object plan is not held twice).
            let writes = plan.writes().len();
            let skipped = with_skipped("", &plan);
            if self.options.report_reachability {
                snapshot.reachability =
                    Some(super::reachability::of_plan(&self.client, &plan, false).await);
            }
            let applier = Applier::new(self.client.clone(), self.options.clone());
            let started = Instant::now();
            let applied = applier.apply(plan).await;
            tracing::info!(writes, took = ?started.elapsed(), "dry-run and apply");
            match applied {
                Ok(report) => {
                    outcome = CycleResult::new(
                        Verdict::Applied,
                        format!("applied: {} writes{skipped}", report.written),
                    );
                    snapshot.note_marked(&report.marked);
                    for r in &report.released {
                        tracing::warn!(object = %format!("{}/{}", r.namespace, r.name),
                            finalizers = ?r.finalizers, "drift: someone else's finalizers removed (--remove-foreign-finalizers); the policy is gone");
                    }
                    held = report.held;
                    release_errors = report.release_errors;
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
                    let mut o = CycleResult::error_because(
                        ReasonCode::ApplyFailed,
                        format!("{error}; {restored}"),
                    );
                    o.detail.failed_object = Some(error.key.to_string());
                    snapshot.describe(&mut o);
                    o.counts = None;
                    self.record_failure(&o).await;
                    return o;
                }
            }
        }
        let mut last_failure = self
            .loaded
            .as_ref()
            .and_then(|l| l.record().last_failure.clone());
        if !held.is_empty() {
            // Everything else is applied, so the revision is recorded; but a policy the
            // revision does not contain still applies, so this is no success.
            outcome = held_failure(&held, &format!("{}; but ", outcome.message));
            if !release_errors.is_empty() {
                outcome.message = format!(
                    "{}; removing their finalizers failed: {}",
                    outcome.message,
                    release_errors.join("; ")
                );
            }
            for h in &held {
                tracing::warn!(object = %format!("{}/{}", h.namespace, h.name), finalizers = ?h.finalizers,
                    "a policy the revision does not contain is held by someone else's finalizers and still applies");
                // Outside the governed namespaces a policy is ours only by the inventory:
                // it stays in it while it is held, so the next cycle still reports it.
                if !governed.contains(&h.namespace) {
                    inventory.insert(h.key(), h.content_hash.clone());
                }
            }
            last_failure = Some(failure_record(&outcome));
        }
        snapshot.describe(&mut outcome);
        // What is still held after this cycle (none when their finalizers were removed).
        outcome.detail.held = held;
        let record = StateRecord {
            revision: Some(revision),
            bundles: bundles_now,
            signer,
            applied_at: Some(now()),
            last_failure,
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
    pub async fn record_failure(&self, outcome: &CycleResult) {
        let mut record = self
            .loaded
            .as_ref()
            .map(|l| l.record().clone())
            .unwrap_or_default();
        record.last_failure = Some(failure_record(outcome));
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
        .map(|b| match b {
            crate::plan::Blocker::ObjectTerminating {
                namespace,
                name,
                finalizers,
            } => format!(
                "{namespace}/{name} (being deleted, held by finalizers [{}])",
                finalizers.join(", ")
            ),
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

/// The failure as the state record keeps it (for `status`).
fn failure_record(outcome: &CycleResult) -> RecordedFailure {
    RecordedFailure {
        revision: outcome.revision.clone(),
        reason: outcome
            .reason
            .map(|r| r.to_string())
            .unwrap_or_else(|| "error".into()),
        message: outcome.message.clone(),
        at: now(),
    }
}

/// What a cycle found besides its writes, in the log: drift, held policies, policies
/// carrying our label outside the scope that are left alone, skipped namespaces.
fn log_plan_findings(plan: &Plan) {
    for d in plan.drift() {
        let object = format!("{}/{}", d.namespace, d.name);
        let manager = d.field_manager.as_deref().unwrap_or("unknown");
        if d.kind == DriftKind::Held {
            tracing::warn!(kind = ?d.kind, object = %object, finalizers = ?d.finalizers, field_manager = manager,
                "drift: a policy the revision does not contain is being deleted but held by someone else's finalizers");
        } else {
            tracing::warn!(kind = ?d.kind, object = %object, field_manager = manager, "drift: reverting");
        }
    }
    for key in plan.foreign_labelled() {
        tracing::warn!(object = %key,
            "carries netpol-sync's managed-by label outside the governed namespaces, but netpol-sync's inventory does not say it wrote it: left alone");
    }
    for s in plan.skipped_namespaces() {
        tracing::warn!(namespace = %s.namespace, reason = ?s.reason, policies = s.policies,
            "governed namespace skipped: its policies are written when it exists again");
    }
}

/// `message`, plus which governed namespaces were skipped, if any.
fn with_skipped(message: &str, plan: &Plan) -> String {
    if plan.skipped_namespaces().is_empty() {
        return message.to_string();
    }
    let names: Vec<String> = plan
        .skipped_namespaces()
        .iter()
        .map(|s| s.to_string())
        .collect();
    format!("{message}; skipped namespace(s) {}", names.join(", "))
}

/// The outcome of a cycle that leaves policies held by someone else's finalizers: they
/// still apply, so it is no success (reason `held-by-finalizer`), naming each policy and
/// its finalizers (`namespace/name [finalizer, …]`; `status` reads them back from the
/// recorded message, [`held_in_message`]).
fn held_failure(held: &[HeldPolicy], context: &str) -> CycleResult {
    let list: Vec<String> = held.iter().map(|h| h.to_string()).collect();
    let mut o = CycleResult::error(format!(
        "{context}{} NetworkPolic{} the revision does not contain {} being deleted but held by someone else's finalizers, so {} still appl{}: {}; their controllers must remove those finalizers, or run with --remove-foreign-finalizers",
        held.len(),
        if held.len() == 1 { "y" } else { "ies" },
        if held.len() == 1 { "is" } else { "are" },
        if held.len() == 1 { "it" } else { "they" },
        if held.len() == 1 { "ies" } else { "y" },
        list.join("; ")
    ));
    o.reason = Some(ReasonCode::HeldByFinalizer);
    o
}

/// The held policies a `held-by-finalizer` message names (`namespace/name [f1, f2]`), for
/// `status`, which has only the recorded message.
pub fn held_in_message(message: &str) -> Vec<HeldPolicy> {
    let mut out = Vec::new();
    let mut rest = message;
    while let Some(open) = rest.find(" [") {
        let before = &rest[..open];
        let token = before.rsplit([' ', ':', ';']).next().unwrap_or("");
        let after = &rest[open + 2..];
        let Some(close) = after.find(']') else { break };
        if let Some((namespace, name)) = token.split_once('/') {
            if !namespace.is_empty() && !name.is_empty() && !name.contains('/') {
                out.push(HeldPolicy {
                    namespace: namespace.to_string(),
                    name: name.to_string(),
                    finalizers: after[..close]
                        .split(", ")
                        .filter(|f| !f.is_empty())
                        .map(str::to_string)
                        .collect(),
                    uid: None,
                    resource_version: None,
                    content_hash: String::new(),
                });
            }
        }
        rest = &after[close + 1..];
    }
    out
}

/// A plan the guard or the cluster's shape forbids.
fn refusal(plan: &Plan) -> Option<CycleResult> {
    let forbidden = plan.forbidden_openings();
    if !forbidden.is_empty() {
        let names: Vec<String> = forbidden
            .iter()
            .map(|w| match &w.bundle {
                Some(b) => format!("{} (bundle {b})", w.namespace),
                None => format!("{} (no selected bundle governs it any more)", w.namespace),
            })
            .collect();
        let how = if plan.bundles().is_empty() {
            "no bundle is selected, so nothing can acknowledge that: a revision without bundles never prunes a namespace that has policies"
        } else {
            "list them under allowOpen: in a bundle of the revision if that is intended"
        };
        let mut o = CycleResult::rejected(
            ReasonCode::WouldOpenNamespace,
            format!(
                "the revision would leave namespace(s) {} with no NetworkPolicy at all; {how}",
                names.join(", ")
            ),
            Default::default(),
        );
        o.location.bundle = forbidden.first().and_then(|w| w.bundle.clone());
        return Some(o);
    }
    if !plan.blockers().is_empty() {
        let text: Vec<String> = plan.blockers().iter().map(|b| b.to_string()).collect();
        let mut o = CycleResult::error(format!("cannot apply: {}", text.join("; ")));
        o.reason = Some(ReasonCode::ApplyRejected);
        return Some(o);
    }
    None
}

fn dry_run_refused(e: &WriteError) -> CycleResult {
    let message =
        format!("the API server refused the revision in dry-run, nothing was changed: {e}");
    let mut o = match (e.failure, e.code) {
        (WriteFailure::Refused, Some(400 | 422)) => {
            CycleResult::rejected(ReasonCode::ApplyRejected, message, Default::default())
        }
        (WriteFailure::Refused, _) => {
            let mut o = CycleResult::error(message);
            o.reason = Some(ReasonCode::ApplyRejected);
            o
        }
        _ => {
            let mut o = CycleResult::error(message);
            o.reason = Some(ReasonCode::ApplyFailed);
            o
        }
    };
    o.detail.failed_object = Some(e.key.to_string());
    o
}

fn with_revision(mut o: CycleResult, bundles: &VerifiedBundles) -> CycleResult {
    o.revision = Some(bundles.revision().to_string());
    o
}

/// Revision, bundles, counts and plan detail on any outcome about `plan`.
fn describe(o: &mut CycleResult, plan: &Plan) {
    PlanSummary::of(plan).describe(o);
}

/// What a result reports of a plan, kept after the plan itself moved into the applier.
struct PlanSummary {
    revision: String,
    bundles: Vec<BundleSummary>,
    counts: Counts,
    drift: Vec<Drift>,
    entries: Vec<PlanEntry>,
    would_open: Vec<crate::plan::WouldOpen>,
    governed: std::collections::BTreeSet<String>,
    blockers: Vec<crate::plan::Blocker>,
    held: Vec<HeldPolicy>,
    ignored: Vec<crate::plan::ObjectKey>,
    skipped: Vec<crate::plan::SkippedNamespace>,
    reachability: Option<super::reachability::ReachabilityChange>,
}

impl PlanSummary {
    fn of(plan: &Plan) -> PlanSummary {
        PlanSummary {
            revision: plan.revision().to_string(),
            bundles: plan.bundles().to_vec(),
            counts: plan.counts(),
            drift: plan.drift().to_vec(),
            entries: plan.entries(),
            would_open: plan.would_open().to_vec(),
            governed: plan.governed().clone(),
            blockers: plan.blockers().to_vec(),
            held: plan.held().to_vec(),
            ignored: plan.foreign_labelled().to_vec(),
            skipped: plan.skipped_namespaces().to_vec(),
            reachability: None,
        }
    }

    /// Policies this cycle's deletes only marked are held from now on: their drift entry
    /// (a hand-made policy) says so, and one that was no drift (a policy of ours the
    /// revision prunes) gets one.
    fn note_marked(&mut self, marked: &[HeldPolicy]) {
        for m in marked {
            match self
                .drift
                .iter_mut()
                .find(|d| d.namespace == m.namespace && d.name == m.name)
            {
                Some(d) => {
                    d.kind = DriftKind::Held;
                    d.finalizers = m.finalizers.clone();
                }
                None => self
                    .drift
                    .push(Drift::marked(&m.key(), &m.finalizers, None)),
            }
        }
    }

    /// Move the summary into `o`: each path of a cycle describes its plan once.
    fn describe(self, o: &mut CycleResult) {
        o.revision = Some(self.revision);
        o.bundles = self.bundles;
        o.counts = Some(self.counts);
        let d = &mut o.detail;
        d.plan = Some(self.entries);
        d.drift = Some(self.drift);
        d.would_open = Some(self.would_open);
        d.governed = Some(self.governed);
        d.blockers = self.blockers;
        d.held = self.held;
        d.ignored = self.ignored;
        d.skipped_namespaces = self.skipped;
        if self.reachability.is_some() {
            d.reachability = self.reachability;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(ns: &str, name: &str, finalizers: &[&str]) -> HeldPolicy {
        HeldPolicy {
            namespace: ns.into(),
            name: name.into(),
            finalizers: finalizers.iter().map(|f| f.to_string()).collect(),
            uid: None,
            resource_version: None,
            content_hash: String::new(),
        }
    }

    #[test]
    fn a_held_failure_names_each_policy_and_its_finalizers_and_status_reads_them_back() {
        let list = [
            held("payments", "debug", &["example.com/keep"]),
            held("frontend", "old", &["a.example/x", "b.example/y"]),
        ];
        let o = held_failure(
            &list,
            "applied: 2 writes; skipped namespace(s) gone (does not exist; 1 of the revision's policies not written); but ",
        );
        assert_eq!(o.verdict, Verdict::Error);
        assert_eq!(o.reason, Some(ReasonCode::HeldByFinalizer));
        assert!(
            o.message.contains("payments/debug [example.com/keep]")
                && o.message
                    .contains("frontend/old [a.example/x, b.example/y]"),
            "{}",
            o.message
        );
        assert_eq!(held_in_message(&o.message), list);
        let one = held_failure(&list[..1], "");
        assert!(one
            .message
            .starts_with("1 NetworkPolicy the revision does not contain is"));
        assert_eq!(held_in_message(&one.message), list[..1]);
        assert!(held_in_message("nothing [here]").is_empty());
    }
}
