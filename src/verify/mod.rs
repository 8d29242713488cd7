//! Stage 2: trust. SSHSIG signatures, allowed_signers, raw commit parsing and the
//! first-parent chain. The only way to obtain a [`VerifiedRevision`] is
//! [`verify_revision`]; everything downstream takes one, so nothing unverified can flow
//! on. The trust model and where it is stricter than `git verify-commit`: docs/trust.md.

mod allowed_signers;
pub(crate) mod armor;
mod chain;
pub(crate) mod commit;
mod error;
mod key;
pub(crate) mod sshsig;
mod wire;

pub use allowed_signers::{AllowedSigners, SignerIdentity};
pub use chain::{
    verify_revision, CommitSummary, RecordedBase, SignaturePolicy, VerifiedCommit,
    VerifiedRevision, GIT_NAMESPACE, KEYS_PATH, KEY_CHANGE_NAMESPACE, KEY_SIGNATURES_DIR,
    MAX_CHAIN,
};
pub use error::{ErrorClass, VerifyError};
pub use key::{KeyKind, PublicKey};

/// The SSHSIG namespace of bundle signatures (`ssh-keygen -Y sign -n netpol-sync-bundle`).
pub const BUNDLE_NAMESPACE: &str = "netpol-sync-bundle";
