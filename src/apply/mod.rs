//! Stage 5: writes (docs/sync.md, "One cycle"). The applier takes a [`Plan`], which only
//! [`Plan::compute`] over [`crate::bundle::VerifiedBundles`] builds, so nothing
//! unverified reaches the API server.
//!
//! Order: every write is dry-run first (`dryRun=All`), and any refusal rejects the revision
//! with nothing changed. Then creates and updates run concurrently (bounded), and only
//! when all of them have succeeded do the deletes start: NetworkPolicies are allow-lists,
//! so applying first never allows more than the old or the new revision allows. Deletes
//! of objects held by someone else's finalizers go last (see `apply_checked`). A policy the
//! revision does not contain that such finalizers keep after its delete (one the plan found
//! held, or one this apply's delete only marked) is reported back in
//! [`ApplyReport::held`]; with [`ApplyOptions::remove_foreign_finalizers`] their
//! finalizers are removed instead, after every other write, and it goes.

mod own_writes;
pub mod retry;
mod wire;
mod writer;

pub use own_writes::{Journal, OwnWrites, MAX_ID_BYTES};
pub use retry::RetryPolicy;
pub use writer::{WriteDone, WriteError, WriteFailure};

use crate::plan::{Action, HeldPolicy, Plan, PlannedWrite};
use futures::{StreamExt, TryStreamExt};
use std::sync::atomic::{AtomicUsize, Ordering};
use writer::Writer;

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Writes in flight at once.
    pub concurrency: usize,
    pub retry: RetryPolicy,
    /// Re-read/re-plan rounds per object on 409 before the write counts as failed.
    pub conflict_limit: u32,
    /// Where real (not dry-run) writes are noted, for the daemon's drift watch.
    pub own_writes: Option<std::sync::Arc<OwnWrites>>,
    /// Remove someone else's finalizers from policies the revision does not contain that
    /// they hold after their deletion (`--remove-foreign-finalizers`). Off by default:
    /// a finalizer is its controller's promise to do something before the object goes,
    /// and only the operator can decide to break it (docs/sync.md).
    pub remove_foreign_finalizers: bool,
    /// Before writing, compute what the writes open and close between the cluster's
    /// workloads (docs/reachability.md, "In plan, sync and run"). Not the applier's
    /// concern: it travels with the write options to every engine a cycle runs in.
    pub report_reachability: bool,
    /// `--immutable-objects`: each policy is an object `<name>-<hash>` that is only ever
    /// created and deleted (docs/sync.md, "Immutable objects"). It decides the plan's
    /// names; it travels with the write options to every engine a cycle runs in.
    pub immutable_objects: bool,
}

impl ApplyOptions {
    /// How the plan names objects under these options.
    pub fn naming(&self) -> crate::plan::naming::Naming {
        if self.immutable_objects {
            crate::plan::naming::Naming::Immutable
        } else {
            crate::plan::naming::Naming::Plain
        }
    }

    /// Writes in flight at once unless `--max-in-flight` says otherwise. A write's round
    /// trip is mostly waiting, so more in flight means fewer idle waits; 64 takes most of
    /// the gain (docs/performance.md) and stays well under kube-apiserver's default of
    /// 200 mutating requests in flight; a server that wants fewer says 429, which is
    /// retried after its Retry-After.
    pub const DEFAULT_CONCURRENCY: usize = 64;
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            concurrency: ApplyOptions::DEFAULT_CONCURRENCY,
            retry: RetryPolicy::default(),
            conflict_limit: 5,
            own_writes: None,
            remove_foreign_finalizers: false,
            report_reachability: true,
            immutable_objects: false,
        }
    }
}

/// What the API server did with a plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// Writes the server accepted.
    pub written: usize,
    /// Writes found unnecessary on re-reading after a conflict.
    pub already_right: usize,
    /// Policies the revision does not contain that someone else's finalizers still hold:
    /// those the plan found so, and those this apply's deletes only marked. They still
    /// apply. Empty when the finalizers were to be removed.
    pub held: Vec<HeldPolicy>,
    /// Of those, the ones this apply's deletes marked (the plan saw them live).
    pub marked: Vec<HeldPolicy>,
    /// Held policies whose finalizers this apply removed (`remove_foreign_finalizers`):
    /// they are gone.
    pub released: Vec<HeldPolicy>,
    /// Why removing the finalizers of some of `held` failed (`remove_foreign_finalizers`).
    pub release_errors: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// A dry-run write was refused or could not be sent: nothing was changed.
    #[error("dry-run failed, nothing was changed: {0}")]
    DryRun(#[source] WriteError),
    /// A real write failed after retries: the cluster may hold part of the new revision.
    #[error("write failed after retries: {error}")]
    Write {
        #[source]
        error: WriteError,
        report: ApplyReport,
    },
}

pub struct Applier {
    writer: Writer,
    concurrency: usize,
    remove_foreign_finalizers: bool,
}

impl Applier {
    pub fn new(client: kube::Client, opts: ApplyOptions) -> Applier {
        Applier {
            writer: Writer::new(client, opts.retry, opts.conflict_limit, opts.own_writes),
            concurrency: opts.concurrency.max(1),
            remove_foreign_finalizers: opts.remove_foreign_finalizers,
        }
    }

    /// Dry-run every write, then creates and updates, then deletes; then the held
    /// policies: reported, or (with `remove_foreign_finalizers`) released. A finalizer
    /// removal that fails (in its dry run or for real) leaves that policy held and
    /// reported, with why: it never rejects or rolls back the revision, whose writes are
    /// all done by then.
    pub async fn apply(&self, mut plan: Plan) -> Result<ApplyReport, ApplyError> {
        // With --immutable-objects an edited object's signed content is created again once
        // its delete (with the prunes) is done: the same name (docs/sync.md).
        let recreate = plan.take_recreate();
        let mut report = self.apply_phases(plan).await?;
        if let Some(again) = recreate {
            report.written += self.apply_phases(again).await?.written;
        }
        Ok(report)
    }

    /// Dry-run every write, then make them, creates and updates before deletes.
    async fn apply_phases(&self, plan: Plan) -> Result<ApplyReport, ApplyError> {
        let (writes, held) = plan.into_writes_and_held();
        let all: Vec<&PlannedWrite> = writes.iter().collect();
        self.phase(&all, true).await.map_err(ApplyError::DryRun)?;
        let mut refused = Vec::new();
        if self.remove_foreign_finalizers {
            refused = self.release(&held, true).await.1;
        }
        let mut report = self.apply_checked(&writes).await?;
        let mut held = held;
        held.extend(report.marked.iter().cloned());
        if !self.remove_foreign_finalizers {
            report.held = held;
            return Ok(report);
        }
        let (to_release, mut still_held): (Vec<HeldPolicy>, Vec<HeldPolicy>) = held
            .into_iter()
            .partition(|h| !refused.iter().any(|(r, _)| r == h));
        let (released, failed) = self.release(&to_release, false).await;
        report.released = released;
        report.release_errors = refused
            .iter()
            .chain(failed.iter())
            .map(|(_, e)| e.to_string())
            .collect();
        still_held.extend(failed.into_iter().map(|(h, _)| h));
        still_held.sort_by_key(HeldPolicy::key);
        report.held = still_held;
        Ok(report)
    }

    /// Remove the finalizers of `held`, concurrently: those released (gone now), and
    /// those whose removal failed, with why. One already gone is neither.
    async fn release(
        &self,
        held: &[HeldPolicy],
        dry_run: bool,
    ) -> (Vec<HeldPolicy>, Vec<(HeldPolicy, WriteError)>) {
        let outcomes = std::sync::Mutex::new((Vec::new(), Vec::new()));
        futures::stream::iter(held.iter())
            .for_each_concurrent(self.concurrency, |h| {
                let outcomes = &outcomes;
                async move {
                    let result = self.writer.remove_finalizers(h, dry_run).await;
                    let mut o = outcomes
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    match result {
                        Ok(WriteDone::Written) => o.0.push(h.clone()),
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(object = %e.key, error = %e, "could not remove someone else's finalizers; the policy stays held");
                            o.1.push((h.clone(), e));
                        }
                    }
                }
            })
            .await;
        let (mut released, mut failed): (Vec<HeldPolicy>, Vec<(HeldPolicy, WriteError)>) = outcomes
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        released.sort_by_key(HeldPolicy::key);
        failed.sort_by_key(|(h, _)| h.key());
        (released, failed)
    }

    /// The real writes, in the documented order (docs/sync.md), without a dry-run (used to put back a revision
    /// that already applied once).
    pub async fn apply_without_dry_run(&self, mut plan: Plan) -> Result<ApplyReport, ApplyError> {
        let recreate = plan.take_recreate();
        let mut report = self.apply_checked(&plan.into_writes()).await?;
        if let Some(again) = recreate {
            report.written += self.apply_checked(&again.into_writes()).await?.written;
        }
        Ok(report)
    }

    async fn apply_checked(&self, writes: &[PlannedWrite]) -> Result<ApplyReport, ApplyError> {
        let (deletes, upserts): (Vec<&PlannedWrite>, Vec<&PlannedWrite>) =
            writes.iter().partition(|w| w.action == Action::Delete);
        // A delete of an object that carries someone else's finalizers only marks it, and a
        // marked object cannot be written again until they let go: if a later write failed,
        // that policy could not be put back. Those deletes go last, after every other write
        // has succeeded.
        let (held, plain): (Vec<&PlannedWrite>, Vec<&PlannedWrite>) = deletes
            .into_iter()
            .partition(|w| w.live.as_ref().is_some_and(|l| !l.finalizers.is_empty()));
        let mut report = ApplyReport::default();
        for phase in [upserts, plain, held] {
            match self.phase(&phase, false).await {
                Ok(r) => {
                    report.written += r.written;
                    report.already_right += r.already_right;
                    report.marked.extend(r.marked);
                }
                Err(error) => return Err(ApplyError::Write { error, report }),
            }
        }
        report.marked.sort_by_key(HeldPolicy::key);
        Ok(report)
    }

    /// Run `writes` concurrently; the first failure stops new writes from starting.
    async fn phase(
        &self,
        writes: &[&PlannedWrite],
        dry_run: bool,
    ) -> Result<ApplyReport, WriteError> {
        let written = AtomicUsize::new(0);
        let already_right = AtomicUsize::new(0);
        let marked = std::sync::Mutex::new(Vec::new());
        futures::stream::iter(writes.iter().map(Ok))
            .try_for_each_concurrent(self.concurrency, |w| {
                let (written, already_right, marked) = (&written, &already_right, &marked);
                async move {
                    match self.writer.execute(w, dry_run).await? {
                        WriteDone::Written => {
                            written.fetch_add(1, Ordering::Relaxed);
                        }
                        WriteDone::Marked { resource_version } => {
                            written.fetch_add(1, Ordering::Relaxed);
                            if let (false, Some(live)) = (dry_run, &w.live) {
                                marked
                                    .lock()
                                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                                    .push(HeldPolicy::marked(&w.key, live, resource_version));
                            }
                        }
                        WriteDone::AlreadyRight | WriteDone::Gone => {
                            already_right.fetch_add(1, Ordering::Relaxed);
                        }
                    };
                    Ok(())
                }
            })
            .await?;
        Ok(ApplyReport {
            written: written.into_inner(),
            already_right: already_right.into_inner(),
            marked: marked
                .into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
            ..ApplyReport::default()
        })
    }
}
