//! The poll loop: wait for the interval (with jitter) or a webhook, check the remote head
//! cheaply, fetch only when it moved, then run a cycle — drift checks run every interval
//! even when the branch did not move. Only the leader runs cycles. Failures back off and
//! never end the loop; SIGTERM stops taking cycles and lets a running one finish within
//! the grace period.

use super::drift_watch::DriftScope;
use super::engine::{CycleInput, CycleReport, SyncEngine};
use super::events::SyncEvent;
use super::http::{HttpState, Readiness};
use super::leader::LeaderHandle;
use super::metrics::{KindLabels, Metrics};
use super::trigger::{DriftChanges, Trigger};
use crate::engine::Verdict;
use crate::remote::GitRemote;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::{mpsc, watch};
use tracing::Instrument;

#[derive(Debug, Clone)]
pub struct LoopConfig {
    pub interval: Duration,
    /// Up to this fraction of the interval is added at random, so replicas and fleets do
    /// not poll in lock-step.
    pub jitter: f64,
    /// How long a running cycle may take to finish after SIGTERM.
    pub shutdown_grace: Duration,
    /// Longest wait after repeated failures.
    pub max_backoff: Duration,
}

impl Default for LoopConfig {
    fn default() -> Self {
        LoopConfig {
            interval: Duration::from_secs(30),
            jitter: 0.1,
            shutdown_grace: Duration::from_secs(20),
            max_backoff: Duration::from_secs(300),
        }
    }
}

/// How often a standby replica looks at its leadership.
const STANDBY_CHECK: Duration = Duration::from_secs(1);

/// Why the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoopExit {
    Shutdown,
}

pub struct RunLoop<E: SyncEngine> {
    pub config: LoopConfig,
    pub remote: Arc<GitRemote>,
    pub engine: E,
    pub leader: LeaderHandle,
    pub trigger: Trigger,
    pub http: HttpState,
    pub metrics: Arc<Metrics>,
    /// Events to publish (a separate task posts them, so a slow API server never stalls
    /// the loop). Bounded; when full, events are dropped and logged.
    pub events: Option<mpsc::Sender<SyncEvent>>,
    /// Where the drift watch learns which namespaces the enforced revision governs (set
    /// after each cycle that enforces one, cleared while standing by).
    pub drift_scope: Option<watch::Sender<DriftScope>>,
    /// What the drift watch saw; a change the engine already accounted for (the echo of
    /// the last cycle's own writes) does not start a cycle.
    pub drift_changes: Option<DriftChanges>,
}

async fn drift_fired(changes: Option<&DriftChanges>) {
    match changes {
        Some(c) => c.fired().await,
        None => std::future::pending().await,
    }
}

/// The delay before the next cycle.
pub fn next_delay(config: &LoopConfig, consecutive_failures: u32, random: f64) -> Duration {
    let base = if consecutive_failures == 0 {
        config.interval
    } else {
        // 1, 2, 4, … × the interval, capped.
        let factor = 1u32
            .checked_shl(consecutive_failures.saturating_sub(1).min(16))
            .unwrap_or(u32::MAX);
        config
            .interval
            .saturating_mul(factor)
            .min(config.max_backoff.max(config.interval))
    };
    base + base.mul_f64(config.jitter.clamp(0.0, 1.0) * random.clamp(0.0, 1.0))
}

impl<E: SyncEngine> RunLoop<E> {
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) -> LoopExit {
        let mut failures = 0u32;
        let mut last_revision: Option<String> = None;
        let mut first = true;
        let mut standby = false;
        loop {
            if !first {
                let mut delay = next_delay(&self.config, failures, rand::random::<f64>());
                if standby {
                    // A standby replica checks its leadership often, so it starts syncing
                    // soon after it acquires the lease, not an interval later.
                    delay = delay.min(STANDBY_CHECK);
                }
                let deadline = tokio::time::Instant::now() + delay;
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep_until(deadline) => break,
                        _ = self.trigger.fired() => {
                            tracing::debug!("woken by a webhook, or a drift watch that may have missed changes");
                            break;
                        }
                        _ = shutdown.changed() => break,
                        _ = drift_fired(self.drift_changes.as_ref()) => {
                            // After a failed cycle nothing counts as accounted for.
                            if failures == 0 && self.drift_already_accounted_for() {
                                continue;
                            }
                            tracing::debug!("woken by the drift watch");
                            break;
                        }
                    }
                }
            }
            first = false;
            if *shutdown.borrow() {
                return LoopExit::Shutdown;
            }
            standby = !self.leader.is_leader();
            if standby {
                if let Some(scope) = &self.drift_scope {
                    scope.send_if_modified(|s| s.take().is_some());
                }
                self.metrics.leader.set(0);
                self.http.set_readiness(Readiness::Standby);
                failures = 0;
                continue;
            }
            self.metrics.leader.set(1);
            let ok = self.one_cycle(&mut last_revision, &mut shutdown).await;
            if !ok {
                // Whatever failed may have been the cache itself (a damaged emptyDir):
                // the next cycle checks it in full, and reclones it if need be.
                self.remote.recheck_cache();
            }
            failures = if ok { 0 } else { failures.saturating_add(1) };
            self.tidy_cache().await;
            if *shutdown.borrow() {
                return LoopExit::Shutdown;
            }
        }
    }

    /// Between cycles: fold the git cache's packs into one once fetches have piled them up.
    async fn tidy_cache(&self) {
        let remote = self.remote.clone();
        let started = std::time::Instant::now();
        match tokio::task::spawn_blocking(move || remote.consolidate_packs()).await {
            Ok(Ok(0)) => {}
            Ok(Ok(removed)) => {
                tracing::info!(removed, took = ?started.elapsed(), "git cache packs consolidated into one")
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "could not consolidate the git cache's packs; it stays usable")
            }
            Err(e) => tracing::warn!(error = %e, "git cache consolidation task failed"),
        }
    }

    /// Takes the drift watch's pending changes: true when there were none left or every
    /// one is accounted for by the engine, so no cycle is needed for them.
    fn drift_already_accounted_for(&self) -> bool {
        let Some(changes) = self.drift_changes.as_ref().map(DriftChanges::take) else {
            return false;
        };
        let Some(changes) = changes else {
            return false; // more than are kept: cannot tell
        };
        let accounted = changes.iter().all(|c| self.engine.accounts_for(c));
        if accounted && !changes.is_empty() {
            self.metrics
                .drift_watch_own_changes
                .inc_by(u64::try_from(changes.len()).unwrap_or(u64::MAX));
            tracing::debug!(
                changes = changes.len(),
                "drift watch: only changes the last cycles accounted for"
            );
        }
        accounted
    }

    /// Returns whether the cycle succeeded.
    async fn one_cycle(
        &mut self,
        last_revision: &mut Option<String>,
        shutdown: &mut watch::Receiver<bool>,
    ) -> bool {
        let started = std::time::Instant::now();
        let remote = self.remote.clone();
        let (head, moved) = match tokio::task::spawn_blocking(move || check_and_fetch(&remote))
            .await
        {
            Ok(Ok((head, fetched))) => {
                if let Some(seconds) = fetched {
                    self.metrics.git_fetch_duration.observe(seconds);
                }
                let moved = last_revision.as_deref() != Some(head.as_str());
                (head, moved)
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "git remote unavailable; the enforced revision stays in place");
                self.metrics.record_cycle("error", Some("git-unavailable"));
                self.set_failing(format!("git: {e}"), last_revision.clone());
                return false;
            }
            Err(e) => {
                tracing::error!(error = %e, "git task failed");
                self.metrics.record_cycle("error", Some("git-unavailable"));
                return false;
            }
        };
        let span = tracing::info_span!("cycle", revision = %head, moved);
        let input = CycleInput {
            repo: self.remote.cache_path().to_path_buf(),
            revision: head.clone(),
            moved,
        };
        let leader = self.leader.clone();
        let grace = self.config.shutdown_grace;
        let cycle = self.engine.cycle(input).instrument(span.clone());
        // The cycle is abandoned (dropped) when leadership lapses, or when the grace
        // period after SIGTERM is over; the next cycle converges whatever it left.
        let report = tokio::select! {
            report = cycle => Some(report),
            _ = lost_leadership(leader) => {
                tracing::warn!(parent: &span, "leadership lapsed during the cycle; abandoning it");
                None
            }
            _ = shutdown_then_grace(shutdown.clone(), grace) => {
                tracing::warn!(parent: &span, "shutdown grace period over; abandoning the running cycle");
                None
            }
        };
        let Some(report) = report else {
            self.metrics.record_cycle("error", Some("abandoned"));
            return false;
        };
        // Counted before the cycle is: whoever sees a cycle finished sees how it read.
        if report.live_from_watch {
            self.metrics.cycles_live_from_watch.inc();
        }
        self.metrics
            .cycle_duration
            .observe(started.elapsed().as_secs_f64());
        let _entered = span.enter();
        self.report(report, last_revision)
    }

    fn report(&mut self, report: CycleReport, last_revision: &mut Option<String>) -> bool {
        let outcome = &report.result;
        let revision = outcome.revision.clone();
        // A base recovered from the live policies (the record was lost, forged or behind)
        // is on the record as an Event: docs/trust.md, "The state record".
        if let Some(event) = outcome.detail.base.as_ref().and_then(SyncEvent::for_base) {
            self.send_event(event);
        }
        for drift in report.drift() {
            let kind = drift.kind.as_str();
            self.metrics
                .drift_reverted
                .get_or_create(&KindLabels { kind: kind.into() })
                .inc();
            tracing::warn!(namespace = %drift.namespace, name = %drift.name, kind = %kind,
                field_manager = drift.field_manager.as_deref().unwrap_or("unknown"), "drift reverted");
            self.send_event(SyncEvent::DriftReverted {
                namespace: drift.namespace.clone(),
                name: drift.name.clone(),
                change: kind.into(),
                field_manager: drift.field_manager.clone(),
            });
        }
        if report.governed().is_some() {
            for held in self.metrics.observe_held(&report.held()) {
                self.send_event(SyncEvent::from(&held));
            }
        }
        if let Some(managed) = report.managed() {
            self.metrics
                .objects_managed
                .set(i64::try_from(managed).unwrap_or(i64::MAX));
        }
        let bundles: Vec<(String, String)> = outcome
            .bundles
            .iter()
            .map(|b| (b.name.clone(), b.digest.clone()))
            .collect();
        match outcome.verdict {
            Verdict::Applied | Verdict::Unchanged | Verdict::Verified => {
                let result = if outcome.verdict == Verdict::Applied {
                    "applied"
                } else {
                    "unchanged"
                };
                self.metrics.record_cycle(result, None);
                if let (Some(scope), Some(governed)) = (&self.drift_scope, report.governed()) {
                    scope.send_if_modified(|s| {
                        let changed = s.as_deref() != Some(governed);
                        if changed {
                            *s = Some(Arc::new(governed.clone()));
                        }
                        changed
                    });
                }
                let now = SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap_or_default();
                self.metrics.last_success.set(now.as_secs_f64());
                if let Some(rev) = &revision {
                    let label = bundles
                        .iter()
                        .map(|(n, d)| format!("{n}={d}"))
                        .collect::<Vec<_>>()
                        .join(",");
                    self.metrics.set_applied_revision(rev, &label);
                    self.http.set_readiness(Readiness::Enforced {
                        revision: rev.clone(),
                    });
                    if outcome.verdict == Verdict::Applied {
                        let counts = outcome.counts.unwrap_or_default();
                        let reachability =
                            outcome.detail.reachability.as_ref().map(|r| r.summary());
                        tracing::info!(revision = %rev, created = counts.created, updated = counts.updated,
                            deleted = counts.deleted, reachability = reachability.as_deref(), "revision applied");
                        self.send_event(SyncEvent::Applied {
                            revision: rev.clone(),
                            bundles,
                            created: counts.created,
                            updated: counts.updated,
                            deleted: counts.deleted,
                            reachability,
                        });
                    }
                }
                *last_revision = revision;
                true
            }
            Verdict::Rejected => {
                let reason = outcome
                    .reason
                    .map(|r| r.as_str().to_string())
                    .unwrap_or_else(|| "rejected".into());
                self.metrics.record_cycle("rejected", Some(&reason));
                tracing::warn!(reason = %reason, message = %outcome.message, "revision rejected; the enforced revision stays in place");
                // Only announce a rejection once per head, not every interval.
                if last_revision.as_deref() != revision.as_deref() {
                    self.send_event(SyncEvent::Rejected {
                        revision: revision.clone(),
                        reason: reason.clone(),
                        message: outcome.message.clone(),
                    });
                }
                let enforced = self.currently_enforced();
                self.set_failing(format!("{reason}: {}", outcome.message), enforced);
                *last_revision = revision;
                false
            }
            Verdict::Error => {
                self.metrics.record_cycle("error", Some("error"));
                tracing::warn!(message = %outcome.message, "cycle failed; will retry with back-off");
                let enforced = self.currently_enforced();
                self.set_failing(outcome.message.clone(), enforced);
                false
            }
        }
    }

    fn currently_enforced(&self) -> Option<String> {
        match &*self
            .http
            .readiness
            .lock()
            .unwrap_or_else(|p| p.into_inner())
        {
            Readiness::Enforced { revision } => Some(revision.clone()),
            Readiness::Failing { enforced, .. } => enforced.clone(),
            _ => None,
        }
    }

    fn set_failing(&self, reason: String, enforced: Option<String>) {
        let enforced = enforced.or_else(|| self.currently_enforced());
        self.http
            .set_readiness(Readiness::Failing { reason, enforced });
    }

    fn send_event(&self, event: SyncEvent) {
        if let Some(tx) = &self.events {
            if tx.try_send(event).is_err() {
                tracing::warn!("event queue full; event dropped (it is also in the log)");
            }
        }
    }
}

/// ls-remote, then a fetch only when the remote head differs from the cache. Returns the
/// head to enforce and, when a fetch ran, how long it took.
fn check_and_fetch(
    remote: &GitRemote,
) -> Result<(String, Option<f64>), crate::remote::RemoteError> {
    let remote_head = remote.remote_head()?;
    if remote.cached_head() == Some(remote_head) {
        return Ok((remote_head.to_string(), None));
    }
    let started = std::time::Instant::now();
    let fetched = remote.fetch()?;
    if fetched.recloned {
        tracing::warn!(cache = %remote.cache_path().display(), "git cache was rebuilt");
    }
    Ok((
        fetched.head.to_string(),
        Some(started.elapsed().as_secs_f64()),
    ))
}

async fn lost_leadership(leader: LeaderHandle) {
    loop {
        let left = leader.remaining();
        if left.is_zero() {
            return;
        }
        tokio::time::sleep(left.min(Duration::from_millis(500))).await;
    }
}

async fn shutdown_then_grace(mut shutdown: watch::Receiver<bool>, grace: Duration) {
    while !*shutdown.borrow() {
        if shutdown.changed().await.is_err() {
            // The sender is gone: no shutdown will ever be signalled.
            std::future::pending::<()>().await;
        }
    }
    tokio::time::sleep(grace).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_is_the_interval_plus_bounded_jitter() {
        let c = LoopConfig {
            interval: Duration::from_secs(30),
            jitter: 0.1,
            ..LoopConfig::default()
        };
        assert_eq!(next_delay(&c, 0, 0.0), Duration::from_secs(30));
        assert_eq!(next_delay(&c, 0, 1.0), Duration::from_secs(33));
    }

    #[test]
    fn failures_back_off_exponentially_up_to_the_cap() {
        let c = LoopConfig {
            interval: Duration::from_secs(10),
            jitter: 0.0,
            max_backoff: Duration::from_secs(60),
            ..LoopConfig::default()
        };
        assert_eq!(next_delay(&c, 1, 0.5), Duration::from_secs(10));
        assert_eq!(next_delay(&c, 2, 0.5), Duration::from_secs(20));
        assert_eq!(next_delay(&c, 3, 0.5), Duration::from_secs(40));
        assert_eq!(next_delay(&c, 4, 0.5), Duration::from_secs(60));
        assert_eq!(next_delay(&c, u32::MAX, 0.5), Duration::from_secs(60));
    }
}
