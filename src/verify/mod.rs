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
mod key_file;
pub(crate) mod sshsig;
mod wire;

pub use allowed_signers::{AllowedSigners, KeyLine, SignerIdentity};
pub use chain::{
    verify_revision, CommitSummary, RecordedBase, SignaturePolicy, VerifiedCommit,
    VerifiedRevision, GIT_NAMESPACE, KEYS_PATH, KEY_CHANGE_NAMESPACE, KEY_SIGNATURES_DIR,
    MAX_CHAIN,
};
pub use error::{ErrorClass, VerifyError};
pub use key::{KeyKind, PublicKey};
pub use key_file::{
    is_private_key, parse_public_key, read_public_key_file, KeyFileError, MAX_KEY_FILE_BYTES,
};

/// The SSHSIG namespace of bundle signatures (`ssh-keygen -Y sign -n netpol-sync-bundle`).
pub const BUNDLE_NAMESPACE: &str = "netpol-sync-bundle";
