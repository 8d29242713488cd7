//! Leader election on a `coordination.k8s.io/v1` Lease, with client-go's semantics:
//!
//! - acquire and renew are compare-and-swap writes: a PUT carrying the resourceVersion just
//!   read (a create when there is no Lease), so of two racing replicas exactly one wins;
//! - whether another holder's lease has expired is judged by the LOCAL monotonic clock from
//!   the moment this replica last saw the record change, never from the `renewTime` another
//!   host wrote (clocks differ and jump);
//! - a leader whose renewals have not succeeded for `renew_deadline` stops acting as leader.
//!   `renew_deadline < lease_duration`, and the authority is measured from before the last
//!   successful renewal was sent, so it ends before any other replica could take over;
//! - on shutdown the holder releases the lease (empty holder) so a successor need not wait.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    #[error("invalid leader election settings: {0}")]
    Config(String),
    #[error("lease {namespace}/{name}: {source}")]
    Kube {
        namespace: String,
        name: String,
        source: kube::Error,
    },
    #[error("lease request timed out after {0:?}")]
    Timeout(Duration),
}

#[derive(Debug, Clone)]
pub struct LeaderConfig {
    pub namespace: String,
    pub lease_name: String,
    /// Unique per replica (the pod name, plus a random suffix).
    pub identity: String,
    pub lease_duration: Duration,
    pub renew_deadline: Duration,
    pub retry_period: Duration,
}

impl LeaderConfig {
    pub fn new(namespace: impl Into<String>, identity: impl Into<String>) -> Self {
        LeaderConfig {
            namespace: namespace.into(),
            lease_name: "netpol-sync-leader".into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }

    pub fn validate(&self) -> Result<(), LeaderError> {
        if self.identity.is_empty() {
            return Err(LeaderError::Config("identity is empty".into()));
        }
        if self.lease_duration <= self.renew_deadline {
            return Err(LeaderError::Config(
                "lease duration must be greater than the renew deadline".into(),
            ));
        }
        if self.renew_deadline <= self.retry_period {
            return Err(LeaderError::Config(
                "renew deadline must be greater than the retry period".into(),
            ));
        }
        if self.lease_duration.as_secs() < 1 || self.lease_duration.as_secs() > i32::MAX as u64 {
            return Err(LeaderError::Config(
                "lease duration must be whole seconds, at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// What this replica last saw in the Lease, and when (local monotonic clock).
#[derive(Debug, Clone)]
struct Observed {
    record: LeaseSpec,
    at: Instant,
}

/// What one acquire-or-renew step must do, decided from the Lease just read.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Create(LeaseSpec),
    Update(LeaseSpec),
    /// Another replica holds a lease that has not expired by our clock.
    HeldByOther {
        holder: String,
    },
}

/// Shared view of this replica's authority: valid until an instant, so it ends on its own
/// even when the elector task is stuck on a hung request.
#[derive(Debug, Clone, Default)]
pub struct LeaderHandle {
    valid_until: Arc<Mutex<Option<Instant>>>,
}

impl LeaderHandle {
    /// A handle that is always leader: for `--leader-elect=false` (one replica).
    pub fn always() -> LeaderHandle {
        let far = Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600);
        LeaderHandle {
            valid_until: Arc::new(Mutex::new(Some(far))),
        }
    }

    pub fn is_leader(&self) -> bool {
        let guard = self.valid_until.lock().unwrap_or_else(|p| p.into_inner());
        guard.is_some_and(|until| Instant::now() < until)
    }

    /// Time left as leader (zero when not leader).
    pub fn remaining(&self) -> Duration {
        let guard = self.valid_until.lock().unwrap_or_else(|p| p.into_inner());
        guard
            .map(|until| until.saturating_duration_since(Instant::now()))
            .unwrap_or_default()
    }

    fn set(&self, until: Option<Instant>) {
        *self.valid_until.lock().unwrap_or_else(|p| p.into_inner()) = until;
    }
}

pub struct LeaderElector {
    api: Api<Lease>,
    config: LeaderConfig,
    observed: Option<Observed>,
    handle: LeaderHandle,
}

impl LeaderElector {
    pub fn new(client: kube::Client, config: LeaderConfig) -> Result<Self, LeaderError> {
        config.validate()?;
        Ok(LeaderElector {
            api: Api::namespaced(client, &config.namespace),
            config,
            observed: None,
            handle: LeaderHandle::default(),
        })
    }

    pub fn handle(&self) -> LeaderHandle {
        self.handle.clone()
    }

    pub fn identity(&self) -> &str {
        &self.config.identity
    }

    /// One attempt to acquire or renew. On success this replica is leader until
    /// `renew_deadline` after the instant the attempt started.
    pub async fn try_acquire_or_renew(&mut self) -> Result<bool, LeaderError> {
        let started = Instant::now();
        let timeout = self.config.retry_period.max(Duration::from_secs(1));
        let attempt = self.attempt(started);
        let acquired = match tokio::time::timeout(timeout, attempt).await {
            Ok(result) => result?,
            Err(_) => return Err(LeaderError::Timeout(timeout)),
        };
        if acquired {
            self.handle.set(Some(started + self.config.renew_deadline));
        }
        Ok(acquired)
    }

    async fn attempt(&mut self, now: Instant) -> Result<bool, LeaderError> {
        let current = self
            .api
            .get_opt(&self.config.lease_name)
            .await
            .map_err(|e| self.kube_err(e))?;
        let step = decide(
            current.as_ref().and_then(|l| l.spec.as_ref()),
            current.is_some(),
            &mut self.observed,
            &self.config,
            now,
            k8s_openapi::jiff::Timestamp::now(),
        );
        let written = match step {
            Step::HeldByOther { holder } => {
                tracing::debug!(%holder, "lease held by another replica");
                return Ok(false);
            }
            Step::Create(spec) => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.config.lease_name.clone()),
                        namespace: Some(self.config.namespace.clone()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(spec),
                };
                self.api.create(&PostParams::default(), &lease).await
            }
            Step::Update(spec) => {
                let mut lease = current.unwrap_or_default();
                lease.spec = Some(spec);
                // Carries the resourceVersion read above: a concurrent writer makes this a 409.
                self.api
                    .replace(&self.config.lease_name, &PostParams::default(), &lease)
                    .await
            }
        };
        match written {
            Ok(lease) => {
                if let Some(spec) = lease.spec {
                    self.observed = Some(Observed {
                        record: spec,
                        at: now,
                    });
                }
                Ok(true)
            }
            Err(kube::Error::Api(status)) if status.code == 409 => {
                tracing::debug!("lost the race for the lease (409)");
                Ok(false)
            }
            Err(e) => Err(self.kube_err(e)),
        }
    }

    /// Gives the lease up if this replica holds it, so a successor need not wait for expiry.
    /// The handle stops being leader first: nothing is written after the release.
    pub async fn release(&mut self) -> Result<(), LeaderError> {
        self.handle.set(None);
        let Some(mut lease) = self
            .api
            .get_opt(&self.config.lease_name)
            .await
            .map_err(|e| self.kube_err(e))?
        else {
            return Ok(());
        };
        let Some(spec) = lease.spec.as_mut() else {
            return Ok(());
        };
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(MicroTime(k8s_openapi::jiff::Timestamp::now()));
        match self
            .api
            .replace(&self.config.lease_name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
            Err(e) => Err(self.kube_err(e)),
        }
    }

    /// Keeps trying to acquire, then renews every `retry_period`, until `stop` fires; then
    /// releases. Authority lapses on its own `renew_deadline` after the last good renewal.
    pub async fn run(mut self, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            let was_leader = self.handle.is_leader();
            match self.try_acquire_or_renew().await {
                Ok(true) if !was_leader => {
                    tracing::info!(identity = %self.config.identity, "became leader")
                }
                Ok(true) => {}
                Ok(false) if was_leader => {
                    self.handle.set(None);
                    tracing::warn!(identity = %self.config.identity, "lost the lease to another replica")
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "lease acquire/renew failed"),
            }
            if was_leader && !self.handle.is_leader() {
                tracing::warn!(identity = %self.config.identity, "stepped down: could not renew within the renew deadline");
            }
            tokio::select! {
                _ = tokio::time::sleep(self.config.retry_period) => {}
                _ = stop.changed() => break,
            }
            if *stop.borrow() {
                break;
            }
        }
        match self.release().await {
            Ok(()) => tracing::info!(identity = %self.config.identity, "released the lease"),
            Err(e) => {
                tracing::warn!(error = %e, "could not release the lease; it expires on its own")
            }
        }
    }

    fn kube_err(&self, source: kube::Error) -> LeaderError {
        LeaderError::Kube {
            namespace: self.config.namespace.clone(),
            name: self.config.lease_name.clone(),
            source,
        }
    }
}

/// Test entry to [`decide`] with plain tuples.
#[cfg(test)]
fn decide_for_tests(
    current: Option<&LeaseSpec>,
    exists: bool,
    observed_at: &mut Option<(LeaseSpec, Instant)>,
    config: &LeaderConfig,
    now: Instant,
    wall: k8s_openapi::jiff::Timestamp,
) -> Step {
    let mut observed = observed_at
        .take()
        .map(|(record, at)| Observed { record, at });
    let step = decide(current, exists, &mut observed, config, now, wall);
    *observed_at = observed.map(|o| (o.record, o.at));
    step
}

/// client-go's tryAcquireOrRenew decision, free of I/O so it can be tested directly.
/// `exists` is whether a Lease object was found (it may have no spec).
fn decide(
    current: Option<&LeaseSpec>,
    exists: bool,
    observed: &mut Option<Observed>,
    config: &LeaderConfig,
    now: Instant,
    wall: k8s_openapi::jiff::Timestamp,
) -> Step {
    let lease_seconds = i32::try_from(config.lease_duration.as_secs()).unwrap_or(i32::MAX);
    let fresh = |acquire: Option<MicroTime>, transitions: i32| LeaseSpec {
        holder_identity: Some(config.identity.clone()),
        lease_duration_seconds: Some(lease_seconds),
        acquire_time: Some(acquire.unwrap_or(MicroTime(wall))),
        renew_time: Some(MicroTime(wall)),
        lease_transitions: Some(transitions),
        ..LeaseSpec::default()
    };
    if !exists {
        return Step::Create(fresh(None, 0));
    }
    let record = current.cloned().unwrap_or_default();
    if observed.as_ref().is_none_or(|o| o.record != record) {
        *observed = Some(Observed {
            record: record.clone(),
            at: now,
        });
    }
    let observed_at = observed.as_ref().map(|o| o.at).unwrap_or(now);
    let holder = record.holder_identity.clone().unwrap_or_default();
    let i_hold = holder == config.identity;
    // The other holder's own duration, as it wrote it; ours if it wrote none.
    let their_duration = record
        .lease_duration_seconds
        .and_then(|s| u64::try_from(s).ok())
        .map(Duration::from_secs)
        .unwrap_or(config.lease_duration);
    if !holder.is_empty() && !i_hold && now < observed_at + their_duration {
        return Step::HeldByOther { holder };
    }
    let transitions = record.lease_transitions.unwrap_or(0);
    if i_hold {
        Step::Update(fresh(record.acquire_time.clone(), transitions))
    } else {
        Step::Update(fresh(None, transitions.saturating_add(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(id: &str) -> LeaderConfig {
        LeaderConfig::new("netpol-sync", id)
    }

    fn held_by(id: &str, renew_secs: i64) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(id.into()),
            lease_duration_seconds: Some(15),
            renew_time: Some(MicroTime(
                k8s_openapi::jiff::Timestamp::from_second(renew_secs).unwrap(),
            )),
            lease_transitions: Some(3),
            ..LeaseSpec::default()
        }
    }

    fn wall() -> k8s_openapi::jiff::Timestamp {
        k8s_openapi::jiff::Timestamp::from_second(1_000_000).unwrap()
    }

    #[test]
    fn absent_lease_is_created_with_us_as_holder() {
        let mut obs = None;
        let step = decide_for_tests(None, false, &mut obs, &config("a"), Instant::now(), wall());
        let Step::Create(spec) = step else {
            panic!("{step:?}")
        };
        assert_eq!(spec.holder_identity.as_deref(), Some("a"));
        assert_eq!(spec.lease_duration_seconds, Some(15));
        assert_eq!(spec.lease_transitions, Some(0));
    }

    #[test]
    fn other_holder_is_respected_until_our_clock_says_it_expired() {
        let mut obs = None;
        let cfg = config("b");
        let record = held_by("a", 0); // renewTime far in the past by the wall clock: ignored
        let t0 = Instant::now();
        assert!(matches!(
            decide_for_tests(Some(&record), true, &mut obs, &cfg, t0, wall()),
            Step::HeldByOther { .. }
        ));
        let t14 = t0 + Duration::from_secs(14);
        assert!(matches!(
            decide_for_tests(Some(&record), true, &mut obs, &cfg, t14, wall()),
            Step::HeldByOther { .. }
        ));
        let t16 = t0 + Duration::from_secs(16);
        let step = decide_for_tests(Some(&record), true, &mut obs, &cfg, t16, wall());
        let Step::Update(spec) = step else {
            panic!("{step:?}")
        };
        assert_eq!(spec.holder_identity.as_deref(), Some("b"));
        assert_eq!(
            spec.lease_transitions,
            Some(4),
            "a take-over counts as a transition"
        );
    }

    #[test]
    fn a_renewal_by_the_holder_restarts_our_expiry_clock() {
        let mut obs = None;
        let cfg = config("b");
        let t0 = Instant::now();
        decide_for_tests(Some(&held_by("a", 10)), true, &mut obs, &cfg, t0, wall());
        // The holder renewed at t0+10s: the record changed, so our clock restarts then.
        let t10 = t0 + Duration::from_secs(10);
        decide_for_tests(Some(&held_by("a", 20)), true, &mut obs, &cfg, t10, wall());
        let t20 = t0 + Duration::from_secs(20);
        assert!(matches!(
            decide_for_tests(Some(&held_by("a", 20)), true, &mut obs, &cfg, t20, wall()),
            Step::HeldByOther { .. }
        ));
        // Without the renewal it would have expired at t0+15s.
        let mut fresh = None;
        decide_for_tests(Some(&held_by("a", 10)), true, &mut fresh, &cfg, t0, wall());
        assert!(matches!(
            decide_for_tests(Some(&held_by("a", 10)), true, &mut fresh, &cfg, t20, wall()),
            Step::Update(_)
        ));
    }

    #[test]
    fn our_own_lease_is_renewed_keeping_acquire_time_and_transitions() {
        let mut obs = None;
        let mut mine = held_by("a", 0);
        mine.acquire_time = Some(MicroTime(
            k8s_openapi::jiff::Timestamp::from_second(5).unwrap(),
        ));
        let step = decide_for_tests(
            Some(&mine),
            true,
            &mut obs,
            &config("a"),
            Instant::now(),
            wall(),
        );
        let Step::Update(spec) = step else {
            panic!("{step:?}")
        };
        assert_eq!(spec.acquire_time, mine.acquire_time);
        assert_eq!(spec.lease_transitions, Some(3));
        assert_eq!(spec.renew_time, Some(MicroTime(wall())));
    }

    #[test]
    fn released_lease_is_taken_at_once() {
        let mut obs = None;
        let released = LeaseSpec {
            holder_identity: None,
            lease_duration_seconds: Some(1),
            ..LeaseSpec::default()
        };
        assert!(matches!(
            decide_for_tests(
                Some(&released),
                true,
                &mut obs,
                &config("b"),
                Instant::now(),
                wall()
            ),
            Step::Update(_)
        ));
    }

    #[test]
    fn settings_must_keep_the_renew_deadline_inside_the_lease() {
        let mut c = config("a");
        c.renew_deadline = c.lease_duration;
        assert!(c.validate().is_err());
        let mut c = config("a");
        c.retry_period = c.renew_deadline;
        assert!(c.validate().is_err());
        assert!(config("").validate().is_err());
        assert!(config("a").validate().is_ok());
    }

    #[test]
    fn handle_authority_lapses_on_its_own() {
        let handle = LeaderHandle::default();
        assert!(!handle.is_leader());
        handle.set(Some(Instant::now() + Duration::from_millis(100)));
        assert!(handle.is_leader());
        std::thread::sleep(Duration::from_millis(150));
        assert!(
            !handle.is_leader(),
            "no renewal: authority ends at the renew deadline"
        );
    }
}
