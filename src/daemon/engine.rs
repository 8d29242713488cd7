//! The seam between the loop and the sync engine (`verify` → `bundle` → `plan` → `apply`
//! → `state`). The loop only decides *when* a cycle runs and reports its [`Outcome`]; what
//! a cycle does is the engine's. Tests drive the loop with their own engine.

use crate::outcome::Outcome;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

/// What one cycle is asked to enforce.
#[derive(Debug, Clone)]
pub struct CycleInput {
    /// The bare repository holding the fetched branch (the cache).
    pub repo: PathBuf,
    /// The fetched branch head (full commit id).
    pub revision: String,
    /// The branch head moved since the previous cycle (false: a drift-only check).
    pub moved: bool,
}

/// Live policies the cycle put back (for events and the drift metric).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftReverted {
    pub namespace: String,
    pub name: String,
    /// What was found, as the sync engine names it: `modified` (edited by hand, undone),
    /// `created` (made by hand, removed), `deleted` (deleted by hand, put back).
    pub kind: String,
    pub field_manager: Option<String>,
}

/// The result of a cycle: the command outcome plus what the daemon reports on top.
#[derive(Debug, Clone)]
pub struct CycleReport {
    pub outcome: Outcome,
    pub drift: Vec<DriftReverted>,
    /// Policies managed after the cycle.
    pub managed: Option<usize>,
}

impl From<Outcome> for CycleReport {
    fn from(outcome: Outcome) -> Self {
        CycleReport {
            outcome,
            drift: Vec::new(),
            managed: None,
        }
    }
}

pub type CycleFuture<'a> = Pin<Box<dyn Future<Output = CycleReport> + Send + 'a>>;

pub trait SyncEngine: Send {
    /// Runs one cycle. Dropping the future abandons the cycle (leadership lost or the
    /// shutdown grace period over); the next cycle, here or on another replica, repairs
    /// whatever it left half done, because it converges the cluster to a whole revision.
    fn cycle(&mut self, input: CycleInput) -> CycleFuture<'_>;
}
