//! Authenticating webhook deliveries. GitHub (and Gitea, Forgejo) sign the body with
//! HMAC-SHA256 in `X-Hub-Signature-256: sha256=<hex>`; GitLab sends the shared secret in
//! `X-Gitlab-Token`. Both are compared in constant time. The body is never parsed: a
//! delivery only says "look now"; what to apply is decided by the signed Git history.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Largest accepted delivery (GitHub caps payloads at 25 MB; a push event is a few KiB,
/// and the body is only hashed, so this is generous).
pub const MAX_WEBHOOK_BODY_BYTES: usize = 1024 * 1024;
/// A webhook secret file longer than this is refused.
const MAX_SECRET_BYTES: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("no X-Hub-Signature-256 or X-Gitlab-Token header")]
    MissingSignature,
    #[error("malformed X-Hub-Signature-256 header (want sha256=<64 hex>)")]
    MalformedSignature,
    #[error("signature or token does not match")]
    BadSignature,
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("reading webhook secret {path}: {source}")]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("webhook secret {path} is empty or longer than {MAX_SECRET_BYTES} bytes")]
    BadLength { path: std::path::PathBuf },
}

#[derive(Clone)]
pub struct WebhookSecret(Vec<u8>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

impl WebhookSecret {
    pub fn new(secret: &[u8]) -> Option<WebhookSecret> {
        (!secret.is_empty() && secret.len() <= MAX_SECRET_BYTES)
            .then(|| WebhookSecret(secret.to_vec()))
    }

    /// Reads a mounted secret; a trailing newline (from `echo` or an editor) is not part of it.
    pub fn from_file(path: &std::path::Path) -> Result<WebhookSecret, SecretError> {
        let bytes = std::fs::read(path).map_err(|source| SecretError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let trimmed = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
        let trimmed = trimmed.strip_suffix(b"\r").unwrap_or(trimmed);
        WebhookSecret::new(trimmed).ok_or(SecretError::BadLength {
            path: path.to_path_buf(),
        })
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes keys of any length.
        <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0).expect("HMAC accepts any key length")
    }

    /// Checks one delivery. `github_signature` is the `X-Hub-Signature-256` value,
    /// `gitlab_token` the `X-Gitlab-Token` value. A present signature header is decisive.
    pub fn authenticate(
        &self,
        github_signature: Option<&[u8]>,
        gitlab_token: Option<&[u8]>,
        body: &[u8],
    ) -> Result<(), WebhookError> {
        if let Some(header) = github_signature {
            let hex_sig = header
                .strip_prefix(b"sha256=")
                .ok_or(WebhookError::MalformedSignature)?;
            if hex_sig.len() != 64 {
                return Err(WebhookError::MalformedSignature);
            }
            let sig = hex::decode(hex_sig).map_err(|_| WebhookError::MalformedSignature)?;
            let mut mac = self.mac();
            mac.update(body);
            return mac
                .verify_slice(&sig)
                .map_err(|_| WebhookError::BadSignature);
        }
        if let Some(token) = gitlab_token {
            // Constant-time equality of token and secret: compare their MACs under the
            // secret with the constant-time verifier.
            let mut expected = self.mac();
            expected.update(&self.0);
            let expected = expected.finalize().into_bytes();
            let mut got = self.mac();
            got.update(token);
            return got
                .verify_slice(&expected)
                .map_err(|_| WebhookError::BadSignature);
        }
        Err(WebhookError::MissingSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn github_header(secret: &[u8], body: &[u8]) -> String {
        // Computed with openssl, independent of the code under test.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("body");
        std::fs::write(&path, body).unwrap();
        let out = std::process::Command::new("openssl")
            .args(["dgst", "-sha256", "-hmac"])
            .arg(std::str::from_utf8(secret).unwrap())
            .arg(&path)
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        format!("sha256={}", text.trim().rsplit(' ').next().unwrap())
    }

    #[test]
    fn github_signature_made_by_openssl_is_accepted() {
        let secret = WebhookSecret::new(b"It's a Secret to Everybody").unwrap();
        let body = b"Hello, World!";
        let header = github_header(b"It's a Secret to Everybody", body);
        assert_eq!(
            secret.authenticate(Some(header.as_bytes()), None, body),
            Ok(())
        );
    }

    #[test]
    fn github_documented_example_signature_is_accepted() {
        // GitHub's docs: secret "It's a Secret to Everybody", payload "Hello, World!".
        let secret = WebhookSecret::new(b"It's a Secret to Everybody").unwrap();
        let header = b"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(
            secret.authenticate(Some(header), None, b"Hello, World!"),
            Ok(())
        );
    }

    #[test]
    fn tampered_body_or_wrong_secret_is_rejected() {
        let secret = WebhookSecret::new(b"s3cret").unwrap();
        let header = github_header(b"s3cret", b"{\"ref\":\"refs/heads/main\"}");
        assert_eq!(
            secret.authenticate(
                Some(header.as_bytes()),
                None,
                b"{\"ref\":\"refs/heads/evil\"}"
            ),
            Err(WebhookError::BadSignature)
        );
        let other = WebhookSecret::new(b"other").unwrap();
        assert_eq!(
            other.authenticate(
                Some(header.as_bytes()),
                None,
                b"{\"ref\":\"refs/heads/main\"}"
            ),
            Err(WebhookError::BadSignature)
        );
    }

    #[test]
    fn missing_or_malformed_signatures_are_rejected() {
        let secret = WebhookSecret::new(b"s3cret").unwrap();
        assert_eq!(
            secret.authenticate(None, None, b"x"),
            Err(WebhookError::MissingSignature)
        );
        for bad in [
            &b"sha1=abcd"[..],
            b"sha256=",
            b"sha256=zz",
            &[b's'; 300][..],
        ] {
            assert_eq!(
                secret.authenticate(Some(bad), None, b"x"),
                Err(WebhookError::MalformedSignature)
            );
        }
        let not_hex = format!("sha256={}", "g".repeat(64));
        assert_eq!(
            secret.authenticate(Some(not_hex.as_bytes()), None, b"x"),
            Err(WebhookError::MalformedSignature)
        );
    }

    #[test]
    fn gitlab_token_must_equal_the_secret() {
        let secret = WebhookSecret::new(b"s3cret").unwrap();
        assert_eq!(secret.authenticate(None, Some(b"s3cret"), b"{}"), Ok(()));
        assert_eq!(
            secret.authenticate(None, Some(b"s3cre"), b"{}"),
            Err(WebhookError::BadSignature)
        );
        assert_eq!(
            secret.authenticate(None, Some(b""), b"{}"),
            Err(WebhookError::BadSignature)
        );
    }

    #[test]
    fn secret_file_trailing_newline_is_not_part_of_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, b"s3cret\n").unwrap();
        let secret = WebhookSecret::from_file(&path).unwrap();
        assert_eq!(secret.authenticate(None, Some(b"s3cret"), b""), Ok(()));
        std::fs::write(&path, b"\n").unwrap();
        assert!(WebhookSecret::from_file(&path).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_headers_and_bodies_never_panic(
            sig in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..100)),
            token in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..100)),
            body in proptest::collection::vec(any::<u8>(), 0..512),
        ) {
            let secret = WebhookSecret::new(b"s3cret").unwrap();
            let _ = secret.authenticate(sig.as_deref(), token.as_deref(), &body);
        }
    }
}
