//! An SSH public key file (`id_ed25519.pub`, one `TYPE BASE64 [COMMENT]` line), read
//! by the authoring commands (`bundle sign`, `init`) with the parser that reads
//! allowed_signers, so a key they accept is a key the verifier accepts.

use super::key::{is_known_type, KeyError, KeyKind, PublicKey};
use std::path::{Path, PathBuf};

/// A public key file is one line; anything much larger is not one.
pub const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}: more than {MAX_KEY_FILE_BYTES} bytes; not an SSH public key file")]
    TooLarge(PathBuf),
    #[error("{0}: is a private key; give its public key (the .pub file)")]
    PrivateKey(PathBuf),
    #[error("{path}: not an SSH public key ({why})")]
    NotAKey { path: PathBuf, why: String },
    #[error("{path}: key type {type_name} is not accepted by netpol-sync's verifier (only ssh-ed25519 and sk-ssh-ed25519@openssh.com; docs/trust.md)")]
    Unsupported { path: PathBuf, type_name: String },
}

/// Whether `bytes` look like a private key file (OpenSSH's own format or PEM), so that a
/// caller can say "private key" rather than "not a key".
pub fn is_private_key(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]);
    text.lines()
        .any(|l| l.starts_with("-----BEGIN ") && l.trim_end().ends_with("PRIVATE KEY-----"))
}

/// Read the public key file at `path`: exactly one key line (blank lines and `#`
/// comments aside), of a type the verifier accepts.
pub fn read_public_key_file(path: &Path) -> Result<PublicKey, KeyFileError> {
    let io = |source| KeyFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > MAX_KEY_FILE_BYTES {
        return Err(KeyFileError::TooLarge(path.to_path_buf()));
    }
    let bytes = std::fs::read(path).map_err(io)?;
    parse_public_key(path, &bytes)
}

/// [`read_public_key_file`] on bytes already read; `path` names them in errors.
pub fn parse_public_key(path: &Path, bytes: &[u8]) -> Result<PublicKey, KeyFileError> {
    let not_a_key = |why: String| KeyFileError::NotAKey {
        path: path.to_path_buf(),
        why,
    };
    if is_private_key(bytes) {
        return Err(KeyFileError::PrivateKey(path.to_path_buf()));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| not_a_key("not UTF-8 text".into()))?;
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    let line = lines.next().ok_or_else(|| not_a_key("empty".into()))?;
    if lines.next().is_some() {
        return Err(not_a_key("more than one line; give one key".into()));
    }
    let mut tokens = line.split_whitespace();
    let type_name = tokens.next().unwrap_or_default();
    if !is_known_type(type_name) {
        let shown: String = type_name.chars().take(40).collect();
        return Err(not_a_key(format!(
            "expected `KEYTYPE BASE64 [COMMENT]`, found {shown:?} where the key type goes"
        )));
    }
    let blob = tokens
        .next()
        .ok_or_else(|| not_a_key(format!("no key data after {type_name}")))?;
    let key =
        PublicKey::from_text(type_name, blob).map_err(|e: KeyError| not_a_key(e.to_string()))?;
    if key.kind() == KeyKind::Unsupported {
        return Err(KeyFileError::Unsupported {
            path: path.to_path_buf(),
            type_name: key.type_name().to_string(),
        });
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The public half of keys/allowed_signers' example key.
    const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIbGy0IqZbocdkLuH9h5xrkiM0U1DOal+sNAfJkjpYA/ shop-admin@example.com\n";

    fn parse(text: &str) -> Result<PublicKey, KeyFileError> {
        parse_public_key(Path::new("k.pub"), text.as_bytes())
    }

    #[test]
    fn an_ed25519_public_key_line_parses_with_or_without_comment() {
        let with = parse(ED25519).unwrap();
        let without = parse(
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIbGy0IqZbocdkLuH9h5xrkiM0U1DOal+sNAfJkjpYA/",
        )
        .unwrap();
        assert_eq!(with, without);
        assert_eq!(with.kind(), KeyKind::Ed25519);
    }

    #[test]
    fn a_private_key_is_named_as_such() {
        let e =
            parse("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n-----END OPENSSH PRIVATE KEY-----\n")
                .unwrap_err();
        assert!(matches!(e, KeyFileError::PrivateKey(_)), "{e}");
    }

    #[test]
    fn text_that_is_not_a_key_is_refused_naming_the_file() {
        for text in [
            "",
            "hello world\n",
            "ssh-ed25519\n",
            "ssh-ed25519 !!!\n",
            "\u{0}\u{1}",
        ] {
            let e = parse(text).unwrap_err();
            assert!(matches!(e, KeyFileError::NotAKey { .. }), "{text:?}: {e}");
            assert!(e.to_string().starts_with("k.pub: "), "{e}");
        }
    }

    #[test]
    fn two_keys_in_one_file_are_refused() {
        let e = parse(&format!("{ED25519}{ED25519}")).unwrap_err();
        assert!(e.to_string().contains("more than one line"), "{e}");
    }

    #[test]
    fn a_key_type_the_verifier_refuses_is_refused() {
        // Made with `ssh-keygen -t ecdsa`.
        let ecdsa = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBPf0Xl1bn9ngyblqVlz4KbKk8zjPn6OaW06zntR+fXYDBXczwnuNJM0v6dKmaTH3z8ckLq0z+qiFvR6qJEpeCPI= e\n";
        let e = parse(ecdsa).unwrap_err();
        assert!(matches!(e, KeyFileError::Unsupported { .. }), "{e}");
    }
}
