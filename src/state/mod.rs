//! Stage 6: the state record (DESIGN §3.7). After a successful apply, the revision, its
//! bundles and digests, the signer, the time and the inventory of managed objects are
//! written to the ConfigMap `netpol-sync-state` in `--state-namespace`, so a restarted
//! process knows where it stands and `sync`/`plan` enforce fast-forward from there.
//!
//! Losing the record is not a security hole but a reset: without it, the next revision is
//! judged against the deployment's trust anchor alone, exactly like the first one ever.

mod record;
mod store;

pub use record::{RecordedBundle, RecordedFailure, RecordedSigner, StateRecord, STATE_CONFIGMAP};
pub use store::{LoadedState, StateStore};

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(
        "state namespace {0} does not exist: create it (deploy/ does) or pass --state-namespace"
    )]
    NamespaceMissing(String),
    #[error("state record (ConfigMap netpol-sync-state) is malformed: {0}; delete it to fall back to the trust anchor")]
    Malformed(String),
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
