//! SSH public keys: the two Ed25519 kinds netpol-sync verifies, and every other type
//! recognised only so that it can be named in an `unsupported-key-type` rejection.

use super::wire::{WireError, WireReader};
use base64::Engine;
use sha2::{Digest, Sha256};

pub const SSH_ED25519: &str = "ssh-ed25519";
pub const SK_SSH_ED25519: &str = "sk-ssh-ed25519@openssh.com";

/// Key types OpenSSH knows that netpol-sync refuses (docs/trust.md, "The model"). Listed so that an
/// allowed_signers file may carry them (their signatures are then `unsupported-key-type`),
/// while a type nobody knows is a malformed line.
const KNOWN_UNSUPPORTED: &[&str] = &[
    "ssh-rsa",
    "ssh-dss",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "ssh-rsa-cert-v01@openssh.com",
    "ssh-dss-cert-v01@openssh.com",
    "ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "ecdsa-sha2-nistp384-cert-v01@openssh.com",
    "ecdsa-sha2-nistp521-cert-v01@openssh.com",
    "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "ssh-ed25519-cert-v01@openssh.com",
    "sk-ssh-ed25519-cert-v01@openssh.com",
];

/// Longest public key blob accepted (a 16384-bit RSA key is about 2 KiB).
pub const MAX_KEY_BLOB: usize = 8 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("unknown key type {0:?}")]
    UnknownType(String),
    #[error("key type {declared:?} does not match the key blob's type {inner:?}")]
    TypeMismatch { declared: String, inner: String },
    #[error("key is not valid base64")]
    Base64,
    #[error("key blob is {0} bytes, more than the {MAX_KEY_BLOB} allowed")]
    TooLong(usize),
    #[error("malformed key blob: {0}")]
    Malformed(String),
}

impl From<WireError> for KeyError {
    fn from(e: WireError) -> Self {
        KeyError::Malformed(e.to_string())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Ed25519,
    /// A FIDO hardware key (`sk-ssh-ed25519@openssh.com`).
    SkEd25519,
    /// Any other type; the name is kept in [`PublicKey::type_name`].
    Unsupported,
}

/// A public key, kept with its exact wire blob: the blob is the key's identity (two keys
/// are the same key exactly when their blobs are equal) and what the fingerprint hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    blob: Vec<u8>,
    type_name: String,
    kind: KeyKind,
    /// The 32-byte Ed25519 point for both supported kinds.
    ed25519: [u8; 32],
    /// The FIDO application string (usually `ssh:`) of a hardware key.
    application: Vec<u8>,
}

impl PublicKey {
    /// Parse a wire blob. Types other than the Ed25519 kinds are accepted as
    /// [`KeyKind::Unsupported`] after checking only that the type name is printable.
    pub fn from_blob(blob: &[u8]) -> Result<PublicKey, KeyError> {
        if blob.len() > MAX_KEY_BLOB {
            return Err(KeyError::TooLong(blob.len()));
        }
        let mut r = WireReader::new(blob);
        let type_bytes = r.string()?;
        let type_name = printable(type_bytes)
            .ok_or_else(|| KeyError::Malformed("key type is not printable ASCII".into()))?;
        let mut key = PublicKey {
            blob: blob.to_vec(),
            type_name: type_name.to_string(),
            kind: KeyKind::Unsupported,
            ed25519: [0; 32],
            application: Vec::new(),
        };
        match type_name {
            SSH_ED25519 => {
                key.ed25519 = ed25519_point(r.string()?)?;
                r.finish()?;
                key.kind = KeyKind::Ed25519;
            }
            SK_SSH_ED25519 => {
                key.ed25519 = ed25519_point(r.string()?)?;
                key.application = r.string()?.to_vec();
                r.finish()?;
                key.kind = KeyKind::SkEd25519;
            }
            _ => {}
        }
        Ok(key)
    }

    /// Parse the `TYPE BASE64` pair of an allowed_signers or `.pub` line. Unlike
    /// [`PublicKey::from_blob`], an unknown type is an error here: a trust file naming a
    /// key type nobody knows is a mistake to report, not a key to ignore.
    pub fn from_text(type_name: &str, base64_blob: &str) -> Result<PublicKey, KeyError> {
        if !is_known_type(type_name) {
            return Err(KeyError::UnknownType(type_name.to_string()));
        }
        if base64_blob.len() > MAX_KEY_BLOB * 4 / 3 + 4 {
            return Err(KeyError::TooLong(base64_blob.len() * 3 / 4));
        }
        let blob = base64::engine::general_purpose::STANDARD
            .decode(base64_blob)
            .map_err(|_| KeyError::Base64)?;
        let key = PublicKey::from_blob(&blob)?;
        if key.type_name != type_name {
            return Err(KeyError::TypeMismatch {
                declared: type_name.to_string(),
                inner: key.type_name.clone(),
            });
        }
        Ok(key)
    }

    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    pub fn type_name(&self) -> &str {
        &self.type_name
    }

    pub fn blob(&self) -> &[u8] {
        &self.blob
    }

    pub fn is_certificate(&self) -> bool {
        self.type_name.ends_with("-cert-v01@openssh.com")
    }

    pub(crate) fn ed25519_point(&self) -> &[u8; 32] {
        &self.ed25519
    }

    pub(crate) fn application(&self) -> &[u8] {
        &self.application
    }

    /// `SHA256:` and the unpadded base64 of the blob's SHA-256, as `ssh-keygen -l` prints.
    pub fn fingerprint(&self) -> String {
        fingerprint_of_blob(&self.blob)
    }
}

pub fn fingerprint_of_blob(blob: &[u8]) -> String {
    let digest = Sha256::digest(blob);
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest.as_slice())
    )
}

pub fn is_known_type(name: &str) -> bool {
    name == SSH_ED25519 || name == SK_SSH_ED25519 || KNOWN_UNSUPPORTED.contains(&name)
}

fn ed25519_point(bytes: &[u8]) -> Result<[u8; 32], KeyError> {
    <[u8; 32]>::try_from(bytes)
        .map_err(|_| KeyError::Malformed(format!("Ed25519 key is {} bytes, not 32", bytes.len())))
}

fn printable(bytes: &[u8]) -> Option<&str> {
    if bytes.is_empty() || bytes.len() > 64 || !bytes.iter().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    std::str::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::super::wire::put_string;
    use super::*;

    fn ed25519_blob(point: &[u8]) -> Vec<u8> {
        let mut blob = Vec::new();
        put_string(&mut blob, SSH_ED25519.as_bytes());
        put_string(&mut blob, point);
        blob
    }

    #[test]
    fn ed25519_blob_parses_and_fingerprints() {
        let key = PublicKey::from_blob(&ed25519_blob(&[7; 32])).unwrap();
        assert_eq!(key.kind(), KeyKind::Ed25519);
        assert!(key.fingerprint().starts_with("SHA256:"));
        assert!(!key.fingerprint().ends_with('='));
    }

    #[test]
    fn ed25519_point_of_wrong_length_is_malformed() {
        assert!(matches!(
            PublicKey::from_blob(&ed25519_blob(&[7; 31])),
            Err(KeyError::Malformed(_))
        ));
    }

    #[test]
    fn trailing_bytes_after_ed25519_key_are_malformed() {
        let mut blob = ed25519_blob(&[7; 32]);
        blob.push(0);
        assert!(matches!(
            PublicKey::from_blob(&blob),
            Err(KeyError::Malformed(_))
        ));
    }

    #[test]
    fn rsa_blob_is_kept_as_unsupported() {
        let mut blob = Vec::new();
        put_string(&mut blob, b"ssh-rsa");
        put_string(&mut blob, &[1, 0, 1]);
        let key = PublicKey::from_blob(&blob).unwrap();
        assert_eq!(key.kind(), KeyKind::Unsupported);
        assert_eq!(key.type_name(), "ssh-rsa");
    }

    #[test]
    fn text_with_unknown_type_is_rejected() {
        assert_eq!(
            PublicKey::from_text("ssh-foo", "AAAA"),
            Err(KeyError::UnknownType("ssh-foo".into()))
        );
    }

    #[test]
    fn text_type_must_match_blob_type() {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(ed25519_blob(&[1; 32]));
        assert!(matches!(
            PublicKey::from_text("ssh-rsa", &b64),
            Err(KeyError::TypeMismatch { .. })
        ));
        assert!(PublicKey::from_text("ssh-ed25519", &b64).is_ok());
    }

    #[test]
    fn text_with_bad_base64_is_rejected() {
        assert_eq!(
            PublicKey::from_text("ssh-ed25519", "AAA!"),
            Err(KeyError::Base64)
        );
    }
}
