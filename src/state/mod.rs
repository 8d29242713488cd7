//! Stage 6: the state record (docs/sync.md, docs/trust.md). After a successful apply, the
//! revision, its bundles and digests, the signer, the time and the inventory of managed
//! objects are written to the ConfigMap `netpol-sync-state` in `--state-namespace`,
//! authenticated with a key only the daemon reads ([`StateKey`]), so a restarted process
//! knows where it stands and `sync`/`plan` enforce fast-forward from there.
//!
//! The record is not the only witness: every policy netpol-sync writes carries the
//! revision it came from, and the admission lock lets nobody else write those. [`base`]
//! takes the newest revision either proves as the base of the next cycle, so a record that
//! is lost, forged or replayed is recovered from the cluster, never silently reset to the
//! trust anchor.

pub mod base;
mod key;
mod record;
mod store;

pub use key::{StateKey, StateKeyError};
pub use record::{RecordedBundle, RecordedFailure, RecordedSigner, StateRecord, STATE_CONFIGMAP};
pub use store::{LoadedState, StateStore};

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(
        "state namespace {0} does not exist: create it (deploy/ does) or pass --state-namespace"
    )]
    NamespaceMissing(String),
    #[error("state record (ConfigMap netpol-sync-state) is malformed: {0}")]
    Malformed(String),
    #[error(
        "no --state-key: the state record cannot be written without the key that authenticates it"
    )]
    NoKey,
    #[error("state record would be {bytes} bytes, over the {limit}-byte limit")]
    TooLarge { bytes: usize, limit: usize },
    #[error("cannot {action} the state record in namespace {namespace}")]
    Api {
        action: &'static str,
        namespace: String,
        #[source]
        source: kube::Error,
    },
}
