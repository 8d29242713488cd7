//! Bundle signatures: detached SSHSIG files in `signatures/`, namespace
//! `netpol-sync-bundle`, over bundle.yaml's exact bytes. The threshold counts distinct
//! public keys (their wire bytes), never principals or files: one key listed under two
//! principals, or two copies of one signature, count once.

use super::BundleError;
use crate::reason::ReasonCode;
use crate::verify::{AllowedSigners, SignaturePolicy, SignerIdentity};
use std::collections::BTreeSet;

/// The SSHSIG namespace of bundle signatures; distinct from `git` so that a commit
/// signature can never be replayed as a bundle signature, or the reverse.
pub const BUNDLE_SIGNATURE_NAMESPACE: &str = "netpol-sync-bundle";

/// Why one signature file did not count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureRejection {
    pub reason: ReasonCode,
    pub message: String,
}

/// Checks one detached signature over bundle.yaml. Private to `bundle`: outside its
/// tests the only implementation is [`RevisionSigners`], the keys a verified revision
/// carries, so no other code can load bundles with a verifier of its own.
pub(super) trait DetachedVerifier {
    fn verify(&self, armored: &[u8], message: &[u8]) -> Result<SignerIdentity, SignatureRejection>;
}

/// The revision's own keys/allowed_signers, judged with its signature policy.
pub(super) struct RevisionSigners<'a> {
    pub(super) signers: &'a AllowedSigners,
    pub(super) policy: &'a SignaturePolicy,
}

impl DetachedVerifier for RevisionSigners<'_> {
    fn verify(&self, armored: &[u8], message: &[u8]) -> Result<SignerIdentity, SignatureRejection> {
        self.signers
            .verify_detached(armored, BUNDLE_SIGNATURE_NAMESPACE, message, self.policy)
            .map_err(|e| SignatureRejection {
                reason: e.reason(),
                message: e.message,
            })
    }
}

/// Verify every signature file and require `required` distinct keys. Signatures that
/// fail do not reject on their own (an old signature by a since-revoked key may linger
/// beside enough good ones) but they are named when the threshold is not met.
pub(super) fn check_threshold(
    manifest: &[u8],
    signatures: &[(String, Vec<u8>)],
    verifier: &dyn DetachedVerifier,
    required: usize,
) -> Result<Vec<SignerIdentity>, BundleError> {
    let mut keys = BTreeSet::new();
    let mut signers = Vec::new();
    let mut failures: Vec<(String, String)> = Vec::new();
    for (file, armored) in signatures {
        match verifier.verify(armored, manifest) {
            Ok(id) => {
                if keys.insert(id.key_blob().to_vec()) {
                    signers.push(id);
                }
            }
            Err(e) => failures.push((
                format!("signatures/{file}"),
                format!("{} ({})", e.message, e.reason),
            )),
        }
    }
    if signers.len() >= required {
        return Ok(signers);
    }
    let mut message = format!(
        "bundle.yaml is signed by {} distinct trusted key(s), {required} required",
        signers.len()
    );
    if signatures.is_empty() {
        message.push_str("; signatures/ holds no *.sig file");
    }
    for (file, why) in &failures {
        message.push_str(&format!("; {file}: {why}"));
    }
    let e = BundleError::new(ReasonCode::BundleSignatureThreshold, message);
    Err(match failures.into_iter().next() {
        Some((file, _)) => e.in_file(file),
        None => e,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stands in for allowed_signers in counting tests only: `key:<name>` verifies as
    /// key <name>; anything else fails. Real SSHSIG cases live in tests/bundle_*.rs.
    struct NamedKeys;

    impl DetachedVerifier for NamedKeys {
        fn verify(
            &self,
            armored: &[u8],
            _message: &[u8],
        ) -> Result<SignerIdentity, SignatureRejection> {
            let s = std::str::from_utf8(armored).unwrap_or("");
            match s.strip_prefix("key:") {
                Some(name) => Ok(SignerIdentity::for_test(
                    &format!("{name}@example.com"),
                    &format!("SHA256:{name}"),
                    name.split('/').next().unwrap_or("").as_bytes(),
                )),
                None => Err(SignatureRejection {
                    reason: ReasonCode::UntrustedKey,
                    message: "not trusted".into(),
                }),
            }
        }
    }

    fn sigs(list: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        list.iter()
            .map(|(f, s)| (f.to_string(), s.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn threshold_met_twice_by_one_key_counts_once() {
        // Same key bytes under two principals and two files.
        let s = sigs(&[("a.sig", "key:alice/one"), ("b.sig", "key:alice/two")]);
        let e = check_threshold(b"m", &s, &NamedKeys, 2).unwrap_err();
        assert_eq!(e.reason, ReasonCode::BundleSignatureThreshold);
        assert!(e.message.contains("1 distinct"), "{}", e.message);
        assert_eq!(check_threshold(b"m", &s, &NamedKeys, 1).unwrap().len(), 1);
    }

    #[test]
    fn two_distinct_keys_meet_a_threshold_of_two() {
        let s = sigs(&[("a.sig", "key:alice"), ("b.sig", "key:bob")]);
        assert_eq!(check_threshold(b"m", &s, &NamedKeys, 2).unwrap().len(), 2);
    }

    #[test]
    fn unsigned_bundle_fails_the_threshold() {
        let e = check_threshold(b"m", &[], &NamedKeys, 1).unwrap_err();
        assert_eq!(e.reason, ReasonCode::BundleSignatureThreshold);
        assert!(e.message.contains("no *.sig"), "{}", e.message);
    }

    #[test]
    fn a_failing_signature_is_named_but_does_not_block_a_met_threshold() {
        let s = sigs(&[("old.sig", "garbage"), ("b.sig", "key:bob")]);
        assert_eq!(check_threshold(b"m", &s, &NamedKeys, 1).unwrap().len(), 1);
        let e = check_threshold(b"m", &s, &NamedKeys, 2).unwrap_err();
        assert_eq!(e.location.file.as_deref(), Some("signatures/old.sig"));
        assert!(e.message.contains("not trusted"), "{}", e.message);
    }
}
