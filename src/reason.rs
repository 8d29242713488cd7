//! Stable reason codes. They are a public contract: scripts, alerts and the JSON output
//! match on these strings, so a variant is never renamed once released. [`Location`] says
//! where in a revision a refusal was found.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a revision was rejected or a cycle failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReasonCode {
    /// A commit on the first-parent chain carries no signature.
    UnsignedCommit,
    /// A signature (or the commit carrying it) is malformed, or does not verify.
    BadSignature,
    /// The signing key is not trusted for this commit (absent, revoked, out of its
    /// validity window, or not allowed for the namespace).
    UntrustedKey,
    /// RSA, ECDSA, OpenPGP, x509, certificates: anything but the Ed25519 key types.
    UnsupportedKeyType,
    /// The new head does not descend from the last applied revision.
    NotFastForward,
    /// The trust file (`keys/allowed_signers` or the trust anchor) is missing or malformed.
    TrustFileInvalid,
    /// `bundle.yaml` is malformed or breaks a manifest rule.
    ManifestInvalid,
    /// A listed file's size or SHA-256 differs from the manifest.
    DigestMismatch,
    /// A file in a bundle directory that the manifest does not list.
    UnlistedFile,
    /// A file the manifest lists is not in the revision.
    MissingFile,
    /// A document is not a valid `networking.k8s.io/v1` NetworkPolicy.
    InvalidPolicy,
    /// Two documents in the selected bundles name the same namespace/name.
    DuplicatePolicy,
    /// A policy in a namespace the bundle does not govern.
    NamespaceOutOfScope,
    /// Two selected bundles govern the same namespace.
    NamespaceConflict,
    /// Fewer distinct trusted keys signed `bundle.yaml` than the deployment requires.
    BundleSignatureThreshold,
    /// The revision would leave a governed namespace that has policies with none.
    WouldOpenNamespace,
    /// An input exceeded a configured limit (bytes, files, documents, nesting).
    LimitExceeded,
    /// The revision or bundle asked for does not exist.
    NotFound,
    /// The API server refused a write of the revision (dry-run or real).
    ApplyRejected,
    /// Writes kept failing; the previous revision was put back when one is known (the
    /// message says whether it was).
    ApplyFailed,
    /// The state record does not authenticate, or contradicts the revisions the live
    /// policies carry, and nothing in the cluster proves a revision to recover from.
    StateUnauthenticated,
    /// A change to `keys/allowed_signers` is signed by fewer distinct keys trusted before
    /// it than the deployment requires (`--key-change-signatures`).
    KeyChangeThreshold,
    /// A bundle governs netpol-sync's own state namespace.
    GovernsStateNamespace,
    /// A policy the revision does not contain is held in a governed namespace by someone
    /// else's finalizers, so it survives its deletion.
    HeldByFinalizer,
    /// A git tree of the revision is malformed (a name with `/`, a duplicate or empty name):
    /// git fsck refuses it, and reading it would drop entries silently.
    MalformedTree,
    /// The revision's policies break a `reachability:` assertion of a bundle: a path it
    /// must allow is denied, or one it must deny is allowed.
    ReachabilityViolated,
}

impl ReasonCode {
    pub const ALL: &'static [ReasonCode] = &[
        ReasonCode::UnsignedCommit,
        ReasonCode::BadSignature,
        ReasonCode::UntrustedKey,
        ReasonCode::UnsupportedKeyType,
        ReasonCode::NotFastForward,
        ReasonCode::TrustFileInvalid,
        ReasonCode::ManifestInvalid,
        ReasonCode::DigestMismatch,
        ReasonCode::UnlistedFile,
        ReasonCode::MissingFile,
        ReasonCode::InvalidPolicy,
        ReasonCode::DuplicatePolicy,
        ReasonCode::NamespaceOutOfScope,
        ReasonCode::NamespaceConflict,
        ReasonCode::BundleSignatureThreshold,
        ReasonCode::WouldOpenNamespace,
        ReasonCode::LimitExceeded,
        ReasonCode::NotFound,
        ReasonCode::ApplyRejected,
        ReasonCode::ApplyFailed,
        ReasonCode::StateUnauthenticated,
        ReasonCode::KeyChangeThreshold,
        ReasonCode::GovernsStateNamespace,
        ReasonCode::HeldByFinalizer,
        ReasonCode::MalformedTree,
        ReasonCode::ReachabilityViolated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::UnsignedCommit => "unsigned-commit",
            ReasonCode::BadSignature => "bad-signature",
            ReasonCode::UntrustedKey => "untrusted-key",
            ReasonCode::UnsupportedKeyType => "unsupported-key-type",
            ReasonCode::NotFastForward => "not-fast-forward",
            ReasonCode::TrustFileInvalid => "trust-file-invalid",
            ReasonCode::ManifestInvalid => "manifest-invalid",
            ReasonCode::DigestMismatch => "digest-mismatch",
            ReasonCode::UnlistedFile => "unlisted-file",
            ReasonCode::MissingFile => "missing-file",
            ReasonCode::InvalidPolicy => "invalid-policy",
            ReasonCode::DuplicatePolicy => "duplicate-policy",
            ReasonCode::NamespaceOutOfScope => "namespace-out-of-scope",
            ReasonCode::NamespaceConflict => "namespace-conflict",
            ReasonCode::BundleSignatureThreshold => "bundle-signature-threshold",
            ReasonCode::WouldOpenNamespace => "would-open-namespace",
            ReasonCode::LimitExceeded => "limit-exceeded",
            ReasonCode::NotFound => "not-found",
            ReasonCode::ApplyRejected => "apply-rejected",
            ReasonCode::ApplyFailed => "apply-failed",
            ReasonCode::StateUnauthenticated => "state-unauthenticated",
            ReasonCode::KeyChangeThreshold => "key-change-threshold",
            ReasonCode::GovernsStateNamespace => "governs-state-namespace",
            ReasonCode::HeldByFinalizer => "held-by-finalizer",
            ReasonCode::MalformedTree => "malformed-tree",
            ReasonCode::ReachabilityViolated => "reachability-violated",
        }
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_name_matches_as_str_for_every_code() {
        for code in ReasonCode::ALL {
            let json = serde_json::to_string(code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }
}

/// Where a rejection happened, as precisely as it is known.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl Location {
    pub fn is_empty(&self) -> bool {
        self == &Location::default()
    }
}
