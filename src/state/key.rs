//! The key that authenticates the state record. It is a secret only the daemon reads (a
//! file from a Secret of its own, `--state-key`), so whoever can write the state
//! ConfigMap cannot write a record that authenticates: not a revision, not an inventory
//! (docs/trust.md, "The state record").

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::io::Read;
use std::path::Path;

/// Shortest key accepted: 32 bytes (`openssl rand -hex 32` writes 64).
pub const MIN_KEY_BYTES: usize = 32;
/// Largest key file read.
pub const MAX_KEY_BYTES: usize = 4096;
/// Domain separation: a MAC made for another purpose with the same key never verifies.
const DOMAIN: &[u8] = b"netpol-sync state record v1\0";

/// The state record's MAC key. Its bytes never leave this type (no `Debug` of them).
#[derive(Clone)]
pub struct StateKey(Vec<u8>);

impl std::fmt::Debug for StateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StateKey(…)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StateKeyError {
    #[error("cannot read the state key {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("the state key {path} is {len} bytes; it needs at least {MIN_KEY_BYTES} (make one with `openssl rand -hex 32`)")]
    TooShort { path: String, len: usize },
    #[error("the state key {path} is more than {MAX_KEY_BYTES} bytes")]
    TooLong { path: String },
}

impl StateKey {
    /// Read a key file. Surrounding white space (a trailing newline) is not part of it.
    pub fn load(path: &Path) -> Result<StateKey, StateKeyError> {
        let shown = path.display().to_string();
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_KEY_BYTES as u64 + 1).read_to_end(&mut bytes))
            .map_err(|source| StateKeyError::Io {
                path: shown.clone(),
                source,
            })?;
        if bytes.len() > MAX_KEY_BYTES {
            return Err(StateKeyError::TooLong { path: shown });
        }
        StateKey::from_bytes(&shown, bytes.trim_ascii())
    }

    pub fn from_bytes(shown: &str, bytes: &[u8]) -> Result<StateKey, StateKeyError> {
        if bytes.len() < MIN_KEY_BYTES {
            return Err(StateKeyError::TooShort {
                path: shown.to_string(),
                len: bytes.len(),
            });
        }
        Ok(StateKey(bytes.to_vec()))
    }

    fn mac_over(&self, namespace: &str, parts: &[&[u8]]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .expect("HMAC accepts any key length");
        mac.update(DOMAIN);
        // Length-prefixed, so no two different inputs concatenate to the same bytes.
        for part in std::iter::once(&namespace.as_bytes()).chain(parts) {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac
    }

    /// Hex HMAC-SHA256 over the record's parts, bound to the namespace it lives in.
    pub fn sign(&self, namespace: &str, parts: &[&[u8]]) -> String {
        hex::encode(self.mac_over(namespace, parts).finalize().into_bytes())
    }

    /// Constant-time check of a hex MAC.
    pub fn verify(&self, namespace: &str, parts: &[&[u8]], mac_hex: &str) -> bool {
        let Ok(tag) = hex::decode(mac_hex) else {
            return false;
        };
        self.mac_over(namespace, parts).verify_slice(&tag).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> StateKey {
        StateKey::from_bytes("test", &[byte; 32]).unwrap()
    }

    #[test]
    fn a_mac_verifies_only_with_the_same_key_namespace_and_parts() {
        let mac = key(1).sign("netpol-sync", &[b"a", b"b"]);
        assert!(key(1).verify("netpol-sync", &[b"a", b"b"], &mac));
        assert!(!key(2).verify("netpol-sync", &[b"a", b"b"], &mac));
        assert!(!key(1).verify("other", &[b"a", b"b"], &mac));
        assert!(!key(1).verify("netpol-sync", &[b"ab", b""], &mac));
        assert!(!key(1).verify("netpol-sync", &[b"a", b"b"], "zz"));
        assert!(!key(1).verify("netpol-sync", &[b"a", b"b"], ""));
    }

    #[test]
    fn short_keys_are_refused_and_white_space_is_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "too-short\n").unwrap();
        assert!(matches!(
            StateKey::load(&path),
            Err(StateKeyError::TooShort { .. })
        ));
        std::fs::write(&path, format!("{}\n", "ab".repeat(32))).unwrap();
        let a = StateKey::load(&path).unwrap();
        std::fs::write(&path, "ab".repeat(32)).unwrap();
        let b = StateKey::load(&path).unwrap();
        assert_eq!(a.sign("n", &[b"x"]), b.sign("n", &[b"x"]));
        std::fs::write(&path, vec![b'x'; MAX_KEY_BYTES + 1]).unwrap();
        assert!(matches!(
            StateKey::load(&path),
            Err(StateKeyError::TooLong { .. })
        ));
        assert!(matches!(
            StateKey::load(&dir.path().join("missing")),
            Err(StateKeyError::Io { .. })
        ));
    }
}
