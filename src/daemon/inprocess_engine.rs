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
use crate::apply::{ApplyOptions, OwnWrites};
use crate::bundle::{BundleOptions, PolicyCache};
use crate::engine::{
    run_cycle_reading, ClusterContext, Context, CycleResult, LiveRead, Mode, Request, SinceRequest,
    TrustSettings,
};
use crate::plan::LiveHashes;
use crate::state::{StateKey, StateStore};

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// What a quiet cycle plans against: the last read that needed no write, and the drift
/// watch's mark taken before it.
struct QuietBasis {
    mark: WatchMark,
    revision: String,
    read_at: Instant,
    read: LiveRead,
}

pub struct InProcessEngine {
    context: Context,
    live_hashes: Arc<LiveHashes>,
    /// What this engine's writes stored, so the drift watch's echo of them is no drift.
    own_writes: Arc<OwnWrites>,
    /// The drift watch's witness; without one every cycle lists.
    witness: Option<Arc<WatchWitness>>,
    relist_interval: Duration,
    quiet: Mutex<Option<QuietBasis>>,
}

impl InProcessEngine {
    /// An engine enforcing with `trust` and `bundles` on `apply`'s terms (its
    /// `own_writes` is the engine's own).
    pub fn new(
        client: kube::Client,
        state_namespace: &str,
        state_key: StateKey,
        trust: TrustSettings,
        mut bundles: BundleOptions,
        apply: ApplyOptions,
    ) -> InProcessEngine {
        bundles.cache = Some(Arc::new(PolicyCache::new()));
        let live_hashes = Arc::new(LiveHashes::default());
        let own_writes = Arc::new(OwnWrites::default());
        InProcessEngine {
            context: Context {
                trust,
                bundles,
                cluster: Some(ClusterContext {
                    state: StateStore::new(&client, state_namespace, state_key),
                    client,
                    server: None,
                    apply: ApplyOptions {
                        own_writes: Some(own_writes.clone()),
                        ..apply
                    },
                    live_hashes: Some(live_hashes.clone()),
                    report_own_writes: false,
                }),
            },
            live_hashes,
            own_writes,
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

    /// The last unchanged read, if a cycle for `revision` may plan against it now.
    fn quiet_basis(&self, revision: &str) -> Option<LiveRead> {
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
        quiet.as_ref().map(|b| b.read.clone())
    }

    /// One cycle, and whether it planned against a read the drift watch vouched for (a
    /// cycle that ends before it plans planned against nothing).
    async fn run_cycle(&self, input: CycleInput) -> (CycleResult, bool) {
        self.own_writes.begin_cycle();
        // Taken before anything is read: a change after this point is one the watch sees.
        let mark = self.witness.as_ref().and_then(|w| w.mark());
        let started = Instant::now();
        let reuse = self.quiet_basis(&input.revision);
        let quiet = reuse.is_some();
        let revision = input.revision.clone();
        let request = Request {
            repo: input.repo,
            rev: input.revision,
            since: SinceRequest::Cluster { reset: false },
            mode: Mode::Sync,
            reuse,
        };
        let (result, unchanged) = run_cycle_reading(&self.context, request).await;
        // A quiet cycle counts only when it got as far as a plan.
        let quiet = quiet && result.detail.plan.is_some();
        let mut basis = self.quiet.lock().unwrap_or_else(PoisonError::into_inner);
        match (unchanged, quiet) {
            // A quiet cycle that again changed nothing: the basis stands, read_at and all.
            (Some(_), true) => {}
            (Some(read), false) => {
                *basis = mark.map(|mark| QuietBasis {
                    mark,
                    revision,
                    read_at: started,
                    read,
                })
            }
            (None, _) => *basis = None,
        }
        (result, quiet)
    }
}

impl SyncEngine for InProcessEngine {
    fn cycle(&mut self, input: CycleInput) -> CycleFuture<'_> {
        Box::pin(async move {
            let (result, quiet) = self.run_cycle(input).await;
            // The cycle's transient memory (pages of live objects, parsed YAML) is free
            // now; hand it back rather than hold the peak through the idle interval.
            crate::memory::release_unused();
            let mut report = CycleReport::from(result);
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
