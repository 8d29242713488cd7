//! The daemon's default [`SyncEngine`]: each cycle runs in this process, over one kube
//! client, with a [`PolicyCache`] so that a revision whose files were already validated is
//! not parsed again, and the content hash of each live object version (uid and
//! resourceVersion) it has seen. A drift-only cycle over 10,000 unchanged policies then costs a list of
//! the live set and a diff, and a one-policy change parses one file.
//!
//! Nothing about trust is cached: every cycle reads the state record and the revisions
//! the live policies carry, verifies the chain since the newest of them, re-reads every bundle.yaml and checks its signatures
//! against the clock. Policy files are re-read and re-hashed against their signed
//! manifest whenever the tree changed; only the parse of bytes whose SHA-256 was just
//! checked is reused. A cycle over the very tree of the last load (the branch did not
//! move) reuses that load's files without reading them again (see [`PolicyCache`]).
//!
//! A *quiet* cycle does not list at all: when the last cycle read the live set and found
//! nothing to write, the branch has not moved, and the drift watch vouches that no
//! NetworkPolicy changed since before that read ([`WatchWitness`]), the cycle plans
//! against that read again. It still reads the state record and verifies the revision.
//! At least every `--relist-interval` a cycle lists regardless (docs/operations.md,
//! "Quiet cycles").
//!
//! `--cycle-isolation process` (the [`SubprocessEngine`](super::subprocess_engine)) runs
//! each cycle as a child process instead, giving all its memory back between cycles.

use super::engine::{CycleFuture, CycleInput, CycleReport, SyncEngine, WatchedChange};
use super::watch_witness::{WatchMark, WatchWitness};
use crate::apply::cycle::{LiveReuse, SyncContext};
use crate::apply::{ApplyOptions, OwnWrites};
use crate::bundle::{BundleOptions, PolicyCache};
use crate::kube_client::error_chain;
use crate::outcome::{Outcome, Verdict};
use crate::plan::{LiveHashes, LiveSet};
use crate::revision::{
    since_from_cluster, since_from_revisions, verify_and_load, RevisionRequest, Since,
};
use crate::state::base::LiveRevisions;
use crate::state::{StateKey, StateStore};
use crate::verify::SignaturePolicy;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

/// What a quiet cycle plans against: the last read that needed no write, and the drift
/// watch's mark taken before it.
struct QuietBasis {
    mark: WatchMark,
    revision: String,
    read_at: Instant,
    revisions: LiveRevisions,
    live: Arc<LiveSet>,
}

pub struct InProcessEngine {
    client: kube::Client,
    state: StateStore,
    trust_anchor: PathBuf,
    require_user_presence: bool,
    key_change_signatures: usize,
    bundles: BundleOptions,
    live_hashes: Arc<LiveHashes>,
    /// What this engine's writes stored, so the drift watch's echo of them is no drift.
    own_writes: Arc<OwnWrites>,
    max_in_flight: usize,
    remove_foreign_finalizers: bool,
    /// The drift watch's witness; without one every cycle lists.
    witness: Option<Arc<WatchWitness>>,
    relist_interval: Duration,
    quiet: Mutex<Option<QuietBasis>>,
}

impl InProcessEngine {
    pub fn new(
        client: kube::Client,
        state_namespace: &str,
        state_key: StateKey,
        trust_anchor: PathBuf,
        require_user_presence: bool,
        mut bundles: BundleOptions,
    ) -> InProcessEngine {
        bundles.cache = Some(Arc::new(PolicyCache::new()));
        InProcessEngine {
            state: StateStore::new(&client, state_namespace, state_key),
            client,
            trust_anchor,
            require_user_presence,
            key_change_signatures: 1,
            bundles,
            live_hashes: Arc::new(LiveHashes::default()),
            own_writes: Arc::new(OwnWrites::default()),
            max_in_flight: ApplyOptions::DEFAULT_CONCURRENCY,
            remove_foreign_finalizers: false,
            witness: None,
            relist_interval: Duration::ZERO,
            quiet: Mutex::new(None),
        }
    }

    /// Let cycles plan against the last unchanged read while `witness` vouches that no
    /// NetworkPolicy changed since, for at most `relist_interval` after that read
    /// (`--relist-interval`; zero: every cycle lists).
    pub fn with_quiet_cycles(
        mut self,
        witness: Arc<WatchWitness>,
        relist_interval: Duration,
    ) -> InProcessEngine {
        self.witness = Some(witness);
        self.relist_interval = relist_interval;
        self
    }

    /// A rejected or failed cycle: the next one reads.
    fn forget_quiet_basis(&self) {
        *self.quiet.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// The last unchanged read, if a cycle for `revision` may plan against it now.
    fn quiet_basis(&self, revision: &str) -> Option<(LiveRevisions, Arc<LiveSet>)> {
        let witness = self.witness.as_ref()?;
        let mut quiet = self.quiet.lock().unwrap_or_else(PoisonError::into_inner);
        let usable = quiet.as_ref().is_some_and(|b| {
            b.revision == revision
                && b.read_at.elapsed() < self.relist_interval
                && witness.unchanged_since(b.mark)
        });
        if !usable {
            *quiet = None;
            return None;
        }
        quiet
            .as_ref()
            .map(|b| (b.revisions.clone(), b.live.clone()))
    }

    /// Distinct keys trusted before a key change that must sign it
    /// (`--key-change-signatures`).
    pub fn with_key_change_signatures(mut self, n: usize) -> InProcessEngine {
        self.key_change_signatures = n;
        self
    }

    /// Take foreign finalizers off policies the revision prunes
    /// (`--remove-foreign-finalizers`).
    pub fn with_remove_foreign_finalizers(mut self, on: bool) -> InProcessEngine {
        self.remove_foreign_finalizers = on;
        self
    }

    /// Writes in flight at once (`--max-in-flight`).
    pub fn with_max_in_flight(mut self, n: usize) -> InProcessEngine {
        self.max_in_flight = n;
        self
    }

    /// One cycle, and whether it planned against a read the drift watch vouched for (a
    /// cycle that ends before it plans planned against nothing).
    async fn run_cycle(&self, input: CycleInput) -> (Outcome, bool) {
        self.own_writes.begin_cycle();
        // Taken before anything is read: a change after this point is one the watch sees.
        let mark = self.witness.as_ref().and_then(|w| w.mark());
        let started = Instant::now();
        let reuse = self.quiet_basis(&input.revision);
        let quiet = reuse.is_some();
        let loaded = match self.state.load().await {
            Ok(l) => l,
            Err(e) => return (Outcome::error(error_chain(&e)), false),
        };
        let (since, live_reuse) = match reuse {
            Some((revisions, live)) => (
                since_from_revisions(loaded.as_ref(), revisions, false),
                LiveReuse::given(live),
            ),
            None => match since_from_cluster(&self.client, loaded.as_ref(), false).await {
                Ok(s) => (s, LiveReuse::default()),
                Err(o) => return (*o, false),
            },
        };
        let revisions_read = match &since {
            Since::Cluster { live, .. } if !quiet => Some(live.clone()),
            _ => None,
        };
        let revision = input.revision.clone();
        let request = RevisionRequest {
            repo: input.repo,
            rev: input.revision,
            since,
            trust_anchor: self.trust_anchor.clone(),
            policy: SignaturePolicy {
                at: SystemTime::now(),
                require_user_presence: self.require_user_presence,
                key_change_signatures: self.key_change_signatures,
            },
            bundles: self.bundles.clone(),
        };
        let ctx = SyncContext {
            client: self.client.clone(),
            state: &self.state,
            loaded,
            options: ApplyOptions {
                concurrency: self.max_in_flight,
                remove_foreign_finalizers: self.remove_foreign_finalizers,
                own_writes: Some(self.own_writes.clone()),
                ..ApplyOptions::default()
            },
            live_hashes: Some(self.live_hashes.clone()),
            live_reuse,
        };
        // git2 and YAML parsing block: off the async workers.
        let prepared = match tokio::task::spawn_blocking(move || verify_and_load(&request)).await {
            Ok(Ok(p)) => p,
            Ok(Err(rejected)) => {
                self.forget_quiet_basis();
                ctx.record_failure(&rejected).await;
                return (*rejected, false);
            }
            Err(e) => {
                self.forget_quiet_basis();
                let o = Outcome::error(format!("the verification task failed: {e}"));
                return (o, false);
            }
        };
        let base = prepared.base.clone();
        let mut outcome = ctx.sync_once(prepared.input).await;
        outcome.commits = prepared.commits;
        outcome.extra.insert("base".into(), base.to_json());
        let unchanged = ctx
            .live_reuse
            .take_unchanged()
            .filter(|_| outcome.verdict == Verdict::Unchanged);
        let mut basis = self.quiet.lock().unwrap_or_else(PoisonError::into_inner);
        match (unchanged, quiet) {
            // A quiet cycle that again changed nothing: the basis stands, read_at and all.
            (Some(_), true) => {}
            (Some(live), false) => {
                *basis = match (mark, revisions_read) {
                    (Some(mark), Some(revisions)) => Some(QuietBasis {
                        mark,
                        revision,
                        read_at: started,
                        revisions,
                        live,
                    }),
                    _ => None,
                }
            }
            (None, _) => *basis = None,
        }
        (outcome, quiet)
    }
}

impl SyncEngine for InProcessEngine {
    fn cycle(&mut self, input: CycleInput) -> CycleFuture<'_> {
        Box::pin(async move {
            let (outcome, quiet) = self.run_cycle(input).await;
            // The cycle's transient memory (pages of live objects, parsed YAML) is free
            // now; hand it back rather than hold the peak through the idle interval.
            crate::memory::release_unused();
            let mut report = CycleReport::from(outcome);
            report.live_from_watch = quiet;
            report
        })
    }

    fn accounts_for(&self, change: &WatchedChange) -> bool {
        change.made_or_read(&self.own_writes, |uid, version| {
            self.live_hashes.saw(uid, version)
        })
    }
}
