use super::{SignaturePolicy, VerifyError};

/// A parsed allowed_signers file.
#[derive(Debug, Clone)]
pub struct AllowedSigners {}

/// Who made a signature that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerIdentity {
    pub principal: String,
    /// `SHA256:…` as ssh-keygen prints it.
    pub fingerprint: String,
    /// The public key in SSH wire format: the identity used to count distinct signers.
    pub key_blob: Vec<u8>,
}

impl AllowedSigners {
    pub fn parse(_source_name: &str, _bytes: &[u8]) -> Result<AllowedSigners, VerifyError> {
        unimplemented!("being built")
    }

    pub fn verify_detached(
        &self,
        _armored: &[u8],
        _namespace: &str,
        _message: &[u8],
        _policy: &SignaturePolicy,
    ) -> Result<SignerIdentity, VerifyError> {
        unimplemented!("being built")
    }
}
