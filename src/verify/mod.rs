//! Stage 2: trust. SSHSIG signatures, allowed_signers, raw commit parsing and the
//! first-parent chain. The only way to obtain a [`VerifiedRevision`] is
//! [`verify_revision`]; everything downstream takes one, so nothing unverified can flow
//! on. The trust model and where it is stricter than `git verify-commit`: docs/trust.md.
//!
//! API CONTRACT used by `bundle` (keep these signatures):
//! - `AllowedSigners::parse(source_name: &str, bytes: &[u8]) -> Result<AllowedSigners, VerifyError>`
//! - `AllowedSigners::verify_detached(&self, armored: &[u8], namespace: &str, message: &[u8],
//!   policy: &SignaturePolicy) -> Result<SignerIdentity, VerifyError>`
//! - `SignerIdentity { principal, fingerprint, key_blob }`
//! - `SignaturePolicy { at: SystemTime, require_user_presence: bool }`
//! - `verify_revision(repo: &Repo, rev: &str, since: Option<&str>, anchor: &AllowedSigners,
//!   policy: &SignaturePolicy) -> Result<VerifiedRevision, VerifyError>`
//! - `VerifiedRevision::base(&self) -> Option<VerifiedRevision>`: the `--since` commit, trusted as
//!   previously applied (used to restore it); its allowed_signers is its own keys file.
//! - `VerifiedRevision::{commit_id() -> git2::Oid, tree_id() -> git2::Oid,
//!   allowed_signers() -> Result<&AllowedSigners, VerifyError>, commits() -> &[VerifiedCommit],
//!   policy() -> &SignaturePolicy}`
//! - `VerifyError::{reason() -> ReasonCode, location() -> Location}`

mod allowed_signers;
mod armor;
mod chain;
mod commit;
mod error;
mod key;
mod sshsig;
mod wire;

pub use allowed_signers::{AllowedSigners, SignerIdentity};
pub use chain::{
    verify_revision, SignaturePolicy, VerifiedCommit, VerifiedRevision, GIT_NAMESPACE, KEYS_PATH,
    MAX_CHAIN,
};
pub use error::{ErrorClass, VerifyError};
pub use key::{KeyKind, PublicKey};

/// The SSHSIG namespace of bundle signatures (`ssh-keygen -Y sign -n netpol-sync-bundle`).
pub const BUNDLE_NAMESPACE: &str = "netpol-sync-bundle";
