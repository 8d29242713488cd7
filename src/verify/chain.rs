use super::{AllowedSigners, VerifyError};
use crate::git::Repo;
use std::time::SystemTime;

#[derive(Debug, Clone)]
pub struct SignaturePolicy {
    /// The verifier's clock for valid-after/valid-before.
    pub at: SystemTime,
    /// Hardware keys must assert user presence unless this is false.
    pub require_user_presence: bool,
}

#[derive(Debug, Clone)]
pub struct VerifiedCommit {
    pub commit: git2::Oid,
    pub principal: String,
    pub fingerprint: String,
}

/// A revision whose whole first-parent chain verified. Only [`verify_revision`] builds one.
#[derive(Debug)]
pub struct VerifiedRevision {
    commit: git2::Oid,
    tree: git2::Oid,
    allowed_signers: Result<AllowedSigners, String>,
    commits: Vec<VerifiedCommit>,
    policy: SignaturePolicy,
}

impl VerifiedRevision {
    pub fn commit_id(&self) -> git2::Oid {
        self.commit
    }
    pub fn tree_id(&self) -> git2::Oid {
        self.tree
    }
    pub fn allowed_signers(&self) -> Result<&AllowedSigners, VerifyError> {
        unimplemented!("being built")
    }
    pub fn commits(&self) -> &[VerifiedCommit] {
        &self.commits
    }
    pub fn policy(&self) -> &SignaturePolicy {
        &self.policy
    }
}

pub fn verify_revision(
    _repo: &Repo,
    _rev: &str,
    _since: Option<&str>,
    _anchor: &AllowedSigners,
    _policy: &SignaturePolicy,
) -> Result<VerifiedRevision, VerifyError> {
    unimplemented!("being built")
}
