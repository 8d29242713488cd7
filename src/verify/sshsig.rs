//! The SSHSIG blob (OpenSSH PROTOCOL.sshsig) and its verification. The signed data is
//! rebuilt here from the expected namespace and the message: nothing the signer wrote
//! beyond the signature bytes, the key and the reserved field is trusted.

use super::key::{KeyKind, PublicKey, SK_SSH_ED25519, SSH_ED25519};
use super::wire::{put_string, WireError, WireReader};
use sha2::{Digest, Sha256, Sha512};

const MAGIC: &[u8] = b"SSHSIG";
const VERSION: u32 = 1;
/// FIDO "user present" flag (OpenSSH sk-api.h `SSH_SK_USER_PRESENCE_REQD`).
const USER_PRESENCE: u8 = 0x01;
pub const MAX_BLOB: usize = 48 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SshsigError {
    #[error("signature blob is {0} bytes, more than the {MAX_BLOB} allowed")]
    TooLong(usize),
    #[error("not an SSHSIG blob (bad magic)")]
    BadMagic,
    #[error("unsupported SSHSIG version {0}")]
    BadVersion(u32),
    #[error("malformed signature: {0}")]
    Malformed(String),
    #[error("signature hash algorithm {0:?} is not sha256 or sha512")]
    BadHashAlgorithm(String),
    #[error("key type {0} is not supported (only ssh-ed25519 and sk-ssh-ed25519@openssh.com)")]
    UnsupportedKey(String),
    #[error("signature type {sig:?} does not match key type {key:?}")]
    TypeMismatch { sig: String, key: String },
    #[error("signature namespace is {found:?}, expected {expected:?}")]
    WrongNamespace { found: String, expected: String },
    #[error("hardware key signature without user presence (touch)")]
    NoUserPresence,
    #[error("signature does not verify")]
    Invalid,
}

impl From<WireError> for SshsigError {
    fn from(e: WireError) -> Self {
        SshsigError::Malformed(e.to_string())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    Sha256,
    Sha512,
}

impl HashAlg {
    fn name(self) -> &'static str {
        match self {
            HashAlg::Sha256 => "sha256",
            HashAlg::Sha512 => "sha512",
        }
    }

    fn digest(self, message: &[u8]) -> Vec<u8> {
        match self {
            HashAlg::Sha256 => Sha256::digest(message).to_vec(),
            HashAlg::Sha512 => Sha512::digest(message).to_vec(),
        }
    }
}

/// A parsed SSHSIG blob.
#[derive(Debug, Clone)]
pub struct SshSig {
    public_key: PublicKey,
    namespace: Vec<u8>,
    reserved: Vec<u8>,
    hash_alg: HashAlg,
    /// Raw Ed25519 signature (R || S); empty for unsupported key types.
    signature: [u8; 64],
    /// Flags and counter of a hardware-key signature.
    sk: Option<(u8, u32)>,
}

impl SshSig {
    /// Parse a binary blob. A well-formed blob whose key is not an Ed25519 kind parses,
    /// so that the rejection can name the key; [`SshSig::verify`] then refuses it.
    pub fn parse(blob: &[u8]) -> Result<SshSig, SshsigError> {
        if blob.len() > MAX_BLOB {
            return Err(SshsigError::TooLong(blob.len()));
        }
        let mut r = WireReader::new(blob);
        if r.bytes(MAGIC.len()).map_err(|_| SshsigError::BadMagic)? != MAGIC {
            return Err(SshsigError::BadMagic);
        }
        let version = r.u32()?;
        if version != VERSION {
            return Err(SshsigError::BadVersion(version));
        }
        let public_key = PublicKey::from_blob(r.string()?)
            .map_err(|e| SshsigError::Malformed(format!("public key: {e}")))?;
        let namespace = r.string()?.to_vec();
        let reserved = r.string()?.to_vec();
        let hash_alg = match r.string()? {
            b"sha256" => HashAlg::Sha256,
            b"sha512" => HashAlg::Sha512,
            other => {
                return Err(SshsigError::BadHashAlgorithm(
                    String::from_utf8_lossy(&other[..other.len().min(32)]).into_owned(),
                ))
            }
        };
        let signature_blob = r.string()?;
        r.finish()?;

        let mut sig = SshSig {
            public_key,
            namespace,
            reserved,
            hash_alg,
            signature: [0; 64],
            sk: None,
        };
        if sig.public_key.kind() == KeyKind::Unsupported {
            return Ok(sig);
        }
        let mut s = WireReader::new(signature_blob);
        let sig_type = s.string()?;
        let key_type = sig.public_key.type_name();
        let expected = match sig.public_key.kind() {
            KeyKind::SkEd25519 => SK_SSH_ED25519,
            _ => SSH_ED25519,
        };
        if sig_type != expected.as_bytes() {
            return Err(SshsigError::TypeMismatch {
                sig: String::from_utf8_lossy(&sig_type[..sig_type.len().min(64)]).into_owned(),
                key: key_type.to_string(),
            });
        }
        let raw = s.string()?;
        sig.signature = <[u8; 64]>::try_from(raw).map_err(|_| {
            SshsigError::Malformed(format!("Ed25519 signature is {} bytes, not 64", raw.len()))
        })?;
        if sig.public_key.kind() == KeyKind::SkEd25519 {
            let flags = s.u8()?;
            let counter = s.u32()?;
            sig.sk = Some((flags, counter));
        }
        s.finish()?;
        Ok(sig)
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// Verify over `message` in `namespace` (compared byte for byte).
    #[cfg(test)]
    pub fn verify(
        &self,
        namespace: &str,
        message: &[u8],
        require_user_presence: bool,
    ) -> Result<(), SshsigError> {
        self.verify_with(namespace, message, require_user_presence, None)
    }

    /// [`SshSig::verify`] with the signature's own key already decompressed (`point`,
    /// which the caller got from the very same key bytes), or decompressed here.
    pub(crate) fn verify_with(
        &self,
        namespace: &str,
        message: &[u8],
        require_user_presence: bool,
        point: Option<&ed25519_dalek::VerifyingKey>,
    ) -> Result<(), SshsigError> {
        let key = &self.public_key;
        if key.kind() == KeyKind::Unsupported {
            return Err(SshsigError::UnsupportedKey(key.type_name().to_string()));
        }
        if self.namespace != namespace.as_bytes() {
            return Err(SshsigError::WrongNamespace {
                found: String::from_utf8_lossy(&self.namespace[..self.namespace.len().min(64)])
                    .into_owned(),
                expected: namespace.to_string(),
            });
        }
        let signed_data = self.signed_data(message);
        let verifying_key = match point {
            Some(point) if point.as_bytes() == key.ed25519_point() => *point,
            _ => ed25519_dalek::VerifyingKey::from_bytes(key.ed25519_point())
                .map_err(|_| SshsigError::Invalid)?,
        };
        let signature = ed25519_dalek::Signature::from_bytes(&self.signature);
        let to_verify = match self.sk {
            None => signed_data,
            Some((flags, counter)) => {
                if require_user_presence && flags & USER_PRESENCE == 0 {
                    return Err(SshsigError::NoUserPresence);
                }
                sk_signed_data(key.application(), flags, counter, &signed_data)
            }
        };
        verifying_key
            .verify_strict(&to_verify, &signature)
            .map_err(|_| SshsigError::Invalid)
    }

    /// PROTOCOL.sshsig "Signed Data": what the key actually signed.
    fn signed_data(&self, message: &[u8]) -> Vec<u8> {
        let mut data = Vec::with_capacity(128);
        data.extend_from_slice(MAGIC);
        put_string(&mut data, &self.namespace);
        put_string(&mut data, &self.reserved);
        put_string(&mut data, self.hash_alg.name().as_bytes());
        put_string(&mut data, &self.hash_alg.digest(message));
        data
    }
}

/// What a FIDO authenticator signs (OpenSSH PROTOCOL.u2f): the application's hash, the
/// flags, the counter and the hash of the message.
pub(crate) fn sk_signed_data(
    application: &[u8],
    flags: u8,
    counter: u32,
    message: &[u8],
) -> Vec<u8> {
    let mut data = Vec::with_capacity(69);
    data.extend_from_slice(Sha256::digest(application).as_slice());
    data.push(flags);
    data.extend_from_slice(&counter.to_be_bytes());
    data.extend_from_slice(Sha256::digest(message).as_slice());
    data
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};
    use proptest::prelude::*;

    /// The project's own signer, for signatures no real tool would make (hardware-key
    /// flags, wrong fields). Happy paths are covered with `ssh-keygen` in tests/.
    pub(crate) struct TestSigner {
        pub key: SigningKey,
        pub application: Option<Vec<u8>>,
    }

    impl TestSigner {
        pub fn ed25519(seed: u8) -> Self {
            TestSigner {
                key: SigningKey::from_bytes(&[seed; 32]),
                application: None,
            }
        }
        pub fn sk(seed: u8) -> Self {
            TestSigner {
                key: SigningKey::from_bytes(&[seed; 32]),
                application: Some(b"ssh:".to_vec()),
            }
        }
        pub fn public_blob(&self) -> Vec<u8> {
            let mut blob = Vec::new();
            match &self.application {
                None => put_string(&mut blob, SSH_ED25519.as_bytes()),
                Some(_) => put_string(&mut blob, SK_SSH_ED25519.as_bytes()),
            }
            put_string(&mut blob, self.key.verifying_key().as_bytes());
            if let Some(app) = &self.application {
                put_string(&mut blob, app);
            }
            blob
        }
        /// Sign `message` as ssh-keygen would, with `flags` for a hardware key.
        pub fn sign(&self, namespace: &str, hash: &str, message: &[u8], flags: u8) -> Vec<u8> {
            let alg = if hash == "sha512" {
                HashAlg::Sha512
            } else {
                HashAlg::Sha256
            };
            let mut data = Vec::new();
            data.extend_from_slice(MAGIC);
            put_string(&mut data, namespace.as_bytes());
            put_string(&mut data, b"");
            put_string(&mut data, hash.as_bytes());
            put_string(&mut data, &alg.digest(message));
            let mut sig = Vec::new();
            match &self.application {
                None => {
                    put_string(&mut sig, SSH_ED25519.as_bytes());
                    put_string(&mut sig, &self.key.sign(&data).to_bytes());
                }
                Some(app) => {
                    let counter = 42;
                    let to_sign = sk_signed_data(app, flags, counter, &data);
                    put_string(&mut sig, SK_SSH_ED25519.as_bytes());
                    put_string(&mut sig, &self.key.sign(&to_sign).to_bytes());
                    sig.push(flags);
                    sig.extend_from_slice(&counter.to_be_bytes());
                }
            }
            let mut blob = Vec::new();
            blob.extend_from_slice(MAGIC);
            blob.extend_from_slice(&VERSION.to_be_bytes());
            put_string(&mut blob, &self.public_blob());
            put_string(&mut blob, namespace.as_bytes());
            put_string(&mut blob, b"");
            put_string(&mut blob, hash.as_bytes());
            put_string(&mut blob, &sig);
            blob
        }
    }

    /// A point decompressed from other key bytes is never used for this signature's key.
    #[test]
    fn a_point_given_for_another_key_is_not_used() {
        let s = TestSigner::ed25519(1);
        let other = TestSigner::ed25519(2);
        let other_point = other.key.verifying_key();
        let own_point = s.key.verifying_key();
        let sig = SshSig::parse(&s.sign("git", "sha512", b"payload", 0)).unwrap();
        sig.verify_with("git", b"payload", true, Some(&other_point))
            .unwrap();
        sig.verify_with("git", b"payload", true, Some(&own_point))
            .unwrap();
        assert!(sig
            .verify_with("git", b"payl0ad", true, Some(&own_point))
            .is_err());
        let forged = SshSig::parse(&other.sign("git", "sha512", b"payload", 0)).unwrap();
        assert!(forged
            .verify_with("git", b"payl0ad", true, Some(&other_point))
            .is_err());
    }

    #[test]
    fn ed25519_sha512_and_sha256_verify() {
        let s = TestSigner::ed25519(1);
        for hash in ["sha512", "sha256"] {
            let blob = s.sign("git", hash, b"payload", 0);
            SshSig::parse(&blob)
                .unwrap()
                .verify("git", b"payload", true)
                .unwrap();
        }
    }

    #[test]
    fn tampered_message_fails() {
        let blob = TestSigner::ed25519(1).sign("git", "sha512", b"payload", 0);
        assert_eq!(
            SshSig::parse(&blob)
                .unwrap()
                .verify("git", b"payl0ad", true),
            Err(SshsigError::Invalid)
        );
    }

    #[test]
    fn file_namespace_signature_is_not_a_git_signature() {
        let blob = TestSigner::ed25519(1).sign("file", "sha512", b"payload", 0);
        assert!(matches!(
            SshSig::parse(&blob)
                .unwrap()
                .verify("git", b"payload", true),
            Err(SshsigError::WrongNamespace { .. })
        ));
    }

    #[test]
    fn namespace_prefix_is_not_equal() {
        let blob = TestSigner::ed25519(1).sign("git2", "sha512", b"m", 0);
        assert!(SshSig::parse(&blob)
            .unwrap()
            .verify("git", b"m", true)
            .is_err());
    }

    #[test]
    fn md5_hash_algorithm_is_rejected() {
        let blob = TestSigner::ed25519(1).sign("git", "md5", b"m", 0);
        assert_eq!(
            SshSig::parse(&blob).unwrap_err(),
            SshsigError::BadHashAlgorithm("md5".into())
        );
    }

    #[test]
    fn hardware_key_with_touch_verifies() {
        let blob = TestSigner::sk(3).sign("git", "sha512", b"m", USER_PRESENCE);
        SshSig::parse(&blob)
            .unwrap()
            .verify("git", b"m", true)
            .unwrap();
    }

    #[test]
    fn hardware_key_without_touch_is_rejected_unless_allowed() {
        let blob = TestSigner::sk(3).sign("git", "sha512", b"m", 0);
        let sig = SshSig::parse(&blob).unwrap();
        assert_eq!(
            sig.verify("git", b"m", true),
            Err(SshsigError::NoUserPresence)
        );
        sig.verify("git", b"m", false).unwrap();
    }

    #[test]
    fn hardware_key_flags_are_covered_by_the_signature() {
        // Signed without touch, then the flag byte flipped to claim touch.
        let mut blob = TestSigner::sk(3).sign("git", "sha512", b"m", 0);
        let flags_at = blob.len() - 5;
        blob[flags_at] = USER_PRESENCE;
        assert_eq!(
            SshSig::parse(&blob).unwrap().verify("git", b"m", true),
            Err(SshsigError::Invalid)
        );
    }

    #[test]
    fn trailing_bytes_after_blob_are_rejected() {
        let mut blob = TestSigner::ed25519(1).sign("git", "sha512", b"m", 0);
        blob.push(0);
        assert!(matches!(
            SshSig::parse(&blob),
            Err(SshsigError::Malformed(_))
        ));
    }

    #[test]
    fn every_truncation_is_an_error() {
        let blob = TestSigner::ed25519(1).sign("git", "sha512", b"m", 0);
        for len in 0..blob.len() {
            assert!(
                SshSig::parse(&blob[..len]).is_err(),
                "truncated to {len} parsed"
            );
        }
    }

    #[test]
    fn wrong_version_is_rejected() {
        let mut blob = TestSigner::ed25519(1).sign("git", "sha512", b"m", 0);
        blob[9] = 2;
        assert_eq!(
            SshSig::parse(&blob).unwrap_err(),
            SshsigError::BadVersion(2)
        );
    }

    #[test]
    fn non_canonical_s_is_rejected_by_verify_strict() {
        // Adding the group order L to S gives a signature plain `verify` may accept on some
        // implementations; `verify_strict` must not.
        let s = TestSigner::ed25519(1);
        let mut blob = s.sign("git", "sha512", b"m", 0);
        let sig_at = blob.len() - 32;
        const L: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut carry = 0u16;
        for i in 0..32 {
            let v = u16::from(blob[sig_at + i]) + u16::from(L[i]) + carry;
            blob[sig_at + i] = v as u8;
            carry = v >> 8;
        }
        assert_eq!(
            SshSig::parse(&blob).unwrap().verify("git", b"m", true),
            Err(SshsigError::Invalid)
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
            if let Ok(sig) = SshSig::parse(&bytes) {
                let _ = sig.verify("git", b"m", true);
            }
        }

        #[test]
        fn mutated_valid_blobs_never_panic_nor_verify(index in 0usize..4096, byte in any::<u8>()) {
            let blob = TestSigner::ed25519(1).sign("git", "sha512", b"m", 0);
            let mut mutated = blob.clone();
            let i = index % mutated.len();
            prop_assume!(mutated[i] != byte);
            mutated[i] = byte;
            if let Ok(sig) = SshSig::parse(&mutated) {
                prop_assert!(sig.verify("git", b"m", true).is_err());
            }
        }
    }
}
