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
//! `--cycle-isolation process` (the [`SubprocessEngine`](super::subprocess_engine)) runs
//! each cycle as a child process instead, giving all its memory back between cycles.

use super::engine::{CycleFuture, CycleInput, CycleReport, SyncEngine, WatchedChange};
use crate::apply::cycle::SyncContext;
use crate::apply::{ApplyOptions, OwnWrites};
use crate::bundle::{BundleOptions, PolicyCache};
use crate::kube_client::error_chain;
use crate::outcome::Outcome;
use crate::plan::LiveHashes;
use crate::revision::{since_from_cluster, verify_and_load, RevisionRequest};
use crate::state::{StateKey, StateStore};
use crate::verify::SignaturePolicy;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

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
        }
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

    async fn run_cycle(&self, input: CycleInput) -> Outcome {
        self.own_writes.begin_cycle();
        let loaded = match self.state.load().await {
            Ok(l) => l,
            Err(e) => return Outcome::error(error_chain(&e)),
        };
        let since = match since_from_cluster(&self.client, loaded.as_ref(), false).await {
            Ok(s) => s,
            Err(o) => return *o,
        };
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
        };
        // git2 and YAML parsing block: off the async workers.
        let prepared = match tokio::task::spawn_blocking(move || verify_and_load(&request)).await {
            Ok(Ok(p)) => p,
            Ok(Err(rejected)) => {
                ctx.record_failure(&rejected).await;
                return *rejected;
            }
            Err(e) => return Outcome::error(format!("the verification task failed: {e}")),
        };
        let base = prepared.base.clone();
        let mut outcome = ctx.sync_once(prepared.input).await;
        outcome.commits = prepared.commits;
        outcome.extra.insert("base".into(), base.to_json());
        outcome
    }
}

impl SyncEngine for InProcessEngine {
    fn cycle(&mut self, input: CycleInput) -> CycleFuture<'_> {
        Box::pin(async move {
            let outcome = self.run_cycle(input).await;
            // The cycle's transient memory (pages of live objects, parsed YAML) is free
            // now; hand it back rather than hold the peak through the idle interval.
            crate::memory::release_unused();
            CycleReport::from(outcome)
        })
    }

    fn accounts_for(&self, change: &WatchedChange) -> bool {
        change.made_or_read(&self.own_writes, |uid, version| {
            self.live_hashes.saw(uid, version)
        })
    }
}
