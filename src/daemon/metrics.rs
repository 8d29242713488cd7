//! The daemon's Prometheus metrics (prometheus-client), rendered in the text format on
//! `/metrics`. Names are a contract with dashboards and alerts.

use super::engine::HeldReport;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    /// `applied`, `unchanged`, `rejected`, `error`
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    /// The sync engine's drift kinds: `modified` (a hand edit undone), `created` (a
    /// hand-made policy removed), `deleted` (a policy deleted by hand put back), `held`
    /// (someone else's finalizers removed from a policy they held after its deletion).
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RevisionLabels {
    pub revision: String,
    pub bundles: String,
}

pub struct Metrics {
    registry: Registry,
    pub last_success: Gauge<f64, AtomicU64>,
    pub applied_revision: Family<RevisionLabels, Gauge>,
    pub cycles: Family<ResultLabels, Counter>,
    pub failures: Family<ReasonLabels, Counter>,
    pub drift_reverted: Family<KindLabels, Counter>,
    pub objects_managed: Gauge,
    pub cycle_duration: Histogram,
    pub git_fetch_duration: Histogram,
    pub leader: Gauge,
    pub drift_watch_wakeups: Counter,
    pub drift_watch_own_changes: Counter,
    /// Cycles that planned against an earlier read the drift watch vouched for.
    pub cycles_live_from_watch: Counter,
    /// Policies held by someone else's finalizers after the last cycle.
    pub held_policies: Gauge,
    /// Those policies, so that only newly held ones are announced (an Event each).
    held: Mutex<Vec<HeldReport>>,
    /// The labels currently set on `applied_revision`, so a new revision replaces them.
    current_revision: Mutex<Option<RevisionLabels>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let buckets = [
            0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
        ];
        let m = Metrics {
            registry: Registry::with_prefix("netpol_sync"),
            last_success: Gauge::default(),
            applied_revision: Family::default(),
            cycles: Family::default(),
            failures: Family::default(),
            drift_reverted: Family::default(),
            objects_managed: Gauge::default(),
            cycle_duration: Histogram::new(buckets),
            git_fetch_duration: Histogram::new(buckets),
            leader: Gauge::default(),
            drift_watch_wakeups: Counter::default(),
            drift_watch_own_changes: Counter::default(),
            cycles_live_from_watch: Counter::default(),
            held_policies: Gauge::default(),
            held: Mutex::new(Vec::new()),
            current_revision: Mutex::new(None),
        };
        let mut m = m;
        let r = &mut m.registry;
        r.register(
            "last_successful_sync_timestamp_seconds",
            "Unix time of the last cycle that succeeded",
            m.last_success.clone(),
        );
        r.register(
            "applied_revision_info",
            "The revision enforced now (value 1), by commit and bundle digests",
            m.applied_revision.clone(),
        );
        r.register("cycles", "Sync cycles run, by result", m.cycles.clone());
        r.register(
            "cycle_failures",
            "Cycles that rejected a revision or failed, by reason code",
            m.failures.clone(),
        );
        r.register(
            "drift_reverted",
            "Live policies put back to the revision, by kind of drift",
            m.drift_reverted.clone(),
        );
        r.register(
            "objects_managed",
            "NetworkPolicies netpol-sync manages now",
            m.objects_managed.clone(),
        );
        r.register(
            "cycle_duration_seconds",
            "Wall time of one sync cycle",
            m.cycle_duration.clone(),
        );
        r.register(
            "git_fetch_duration_seconds",
            "Wall time of one git fetch",
            m.git_fetch_duration.clone(),
        );
        r.register(
            "leader",
            "1 on the replica holding the lease, 0 on the others",
            m.leader.clone(),
        );
        r.register(
            "drift_watch_wakeups",
            "Changes to NetworkPolicies in scope seen by the drift watch and handed to the loop (those it recognises as its own start no cycle)",
            m.drift_watch_wakeups.clone(),
        );
        r.register(
            "drift_watch_own_changes",
            "Changes seen by the drift watch that the last cycles had already accounted for (their own writes, versions they read); no cycle ran for them",
            m.drift_watch_own_changes.clone(),
        );
        r.register(
            "cycles_live_from_watch",
            "Quiet cycles: no NetworkPolicy changed since the last read, which needed no write (the drift watch vouched for it), so the cycle planned against that read instead of listing",
            m.cycles_live_from_watch.clone(),
        );
        r.register(
            "held_policies",
            "NetworkPolicies the enforced revision does not contain that someone else's finalizers hold after their deletion, so they still apply (the cycle fails with held-by-finalizer while there is one)",
            m.held_policies.clone(),
        );
        m
    }

    /// After a cycle that got as far as a plan: the policies held by someone else's
    /// finalizers now (`CycleReport::held`). Sets `held_policies` and returns those that
    /// were not held after the previous cycle, to announce with a warning Event each.
    pub fn observe_held(&self, now: &[HeldReport]) -> Vec<HeldReport> {
        self.held_policies
            .set(i64::try_from(now.len()).unwrap_or(i64::MAX));
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let new = now
            .iter()
            .filter(|h| {
                !held
                    .iter()
                    .any(|o| o.namespace == h.namespace && o.name == h.name)
            })
            .cloned()
            .collect();
        *held = now.to_vec();
        new
    }

    pub fn set_applied_revision(&self, revision: &str, bundles: &str) {
        let labels = RevisionLabels {
            revision: revision.to_string(),
            bundles: bundles.to_string(),
        };
        let mut current = self
            .current_revision
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(old) = current.take() {
            if old != labels {
                self.applied_revision.remove(&old);
            }
        }
        self.applied_revision.get_or_create(&labels).set(1);
        *current = Some(labels);
    }

    pub fn record_cycle(&self, result: &str, reason: Option<&str>) {
        self.cycles
            .get_or_create(&ResultLabels {
                result: result.to_string(),
            })
            .inc();
        if let Some(reason) = reason {
            self.failures
                .get_or_create(&ReasonLabels {
                    reason: reason.to_string(),
                })
                .inc();
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_metric_the_issue_lists() {
        let m = Metrics::new();
        m.leader.set(1);
        m.record_cycle("rejected", Some("bad-signature"));
        m.set_applied_revision("abc", "prod=sha256:00");
        m.drift_reverted
            .get_or_create(&KindLabels {
                kind: "updated".into(),
            })
            .inc();
        m.cycle_duration.observe(0.2);
        m.git_fetch_duration.observe(0.1);
        m.objects_managed.set(7);
        let text = m.render();
        for needle in [
            "netpol_sync_leader 1",
            "netpol_sync_cycles_total{result=\"rejected\"} 1",
            "netpol_sync_cycle_failures_total{reason=\"bad-signature\"} 1",
            "netpol_sync_applied_revision_info{revision=\"abc\",bundles=\"prod=sha256:00\"} 1",
            "netpol_sync_drift_reverted_total{kind=\"updated\"} 1",
            "netpol_sync_objects_managed 7",
            "netpol_sync_cycle_duration_seconds_count 1",
            "netpol_sync_git_fetch_duration_seconds_count 1",
            "netpol_sync_last_successful_sync_timestamp_seconds",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
    }

    #[test]
    fn held_policies_are_a_gauge_and_only_newly_held_ones_are_announced() {
        let m = Metrics::new();
        let held = |name: &str| HeldReport {
            namespace: "payments".into(),
            name: name.into(),
            finalizers: vec!["example.com/keep".into()],
        };
        assert_eq!(m.observe_held(&[held("a")]), vec![held("a")]);
        assert!(m.render().contains("netpol_sync_held_policies 1"));
        assert_eq!(m.observe_held(&[held("a"), held("b")]), vec![held("b")]);
        assert!(m.render().contains("netpol_sync_held_policies 2"));
        assert!(m.observe_held(&[]).is_empty());
        assert!(m.render().contains("netpol_sync_held_policies 0"));
        assert_eq!(m.observe_held(&[held("a")]), vec![held("a")]);
    }

    #[test]
    fn a_new_revision_replaces_the_old_info_series() {
        let m = Metrics::new();
        m.set_applied_revision("old", "b");
        m.set_applied_revision("new", "b");
        let text = m.render();
        assert!(text.contains("revision=\"new\""));
        assert!(!text.contains("revision=\"old\""));
    }
}
