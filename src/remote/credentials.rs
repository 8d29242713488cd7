//! Git credentials read from mounted files. Secrets are kept out of `Debug` output and
//! logs; only what kind of credential is configured is ever printed.

use std::path::{Path, PathBuf};

/// A credentials file longer than this is refused (a token is well under 1 KiB).
const MAX_TOKEN_FILE_BYTES: u64 = 16 * 1024;
/// The user name sent with a bare token: GitHub and Gitea accept any name with a token
/// as the password; this one is the conventional one.
pub const TOKEN_USERNAME: &str = "x-access-token";

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is over {MAX_TOKEN_FILE_BYTES} bytes")]
    TooLarge { path: PathBuf },
    #[error("{path}: {why}")]
    Malformed { path: PathBuf, why: &'static str },
}

/// How to authenticate to the Git host.
#[derive(Clone, Default)]
pub enum GitAuth {
    /// Public repository or local path.
    #[default]
    Anonymous,
    /// HTTPS basic authentication (a bare token is sent as the password).
    Basic { username: String, password: String },
    /// SSH with a deploy key (private key file, OpenSSH format, no passphrase).
    SshKey {
        username: String,
        private_key: PathBuf,
    },
}

impl std::fmt::Debug for GitAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GitAuth::Anonymous => f.write_str("Anonymous"),
            GitAuth::Basic { username, .. } => write!(
                f,
                "Basic {{ username: {username:?}, password: <redacted> }}"
            ),
            GitAuth::SshKey {
                username,
                private_key,
            } => {
                write!(
                    f,
                    "SshKey {{ username: {username:?}, private_key: {private_key:?} }}"
                )
            }
        }
    }
}

impl GitAuth {
    /// Reads a token file: either `username:password` on the first line, or a bare token.
    /// Surrounding whitespace (the trailing newline of `echo`) is ignored.
    pub fn from_token_file(path: &Path) -> Result<GitAuth, CredentialsError> {
        let read_err = |source| CredentialsError::Read {
            path: path.to_path_buf(),
            source,
        };
        let len = std::fs::metadata(path).map_err(read_err)?.len();
        if len > MAX_TOKEN_FILE_BYTES {
            return Err(CredentialsError::TooLarge {
                path: path.to_path_buf(),
            });
        }
        let bytes = std::fs::read(path).map_err(read_err)?;
        Self::parse_token(&bytes).map_err(|why| CredentialsError::Malformed {
            path: path.to_path_buf(),
            why,
        })
    }

    fn parse_token(bytes: &[u8]) -> Result<GitAuth, &'static str> {
        let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8")?;
        let first = text.lines().next().unwrap_or("").trim();
        if first.is_empty() {
            return Err("empty");
        }
        if first.chars().any(char::is_control) {
            return Err("contains control characters");
        }
        Ok(match first.split_once(':') {
            Some((user, pass)) if !user.is_empty() && !pass.is_empty() => GitAuth::Basic {
                username: user.to_string(),
                password: pass.to_string(),
            },
            Some(_) => return Err("`username:password` with an empty half"),
            None => GitAuth::Basic {
                username: TOKEN_USERNAME.to_string(),
                password: first.to_string(),
            },
        })
    }

    /// An SSH deploy key; the user name comes from the URL (`ssh://git@host/…`), else `git`.
    pub fn ssh_key(
        private_key: &Path,
        url_username: Option<&str>,
    ) -> Result<GitAuth, CredentialsError> {
        std::fs::metadata(private_key).map_err(|source| CredentialsError::Read {
            path: private_key.to_path_buf(),
            source,
        })?;
        Ok(GitAuth::SshKey {
            username: url_username
                .filter(|u| !u.is_empty())
                .unwrap_or("git")
                .to_string(),
            private_key: private_key.to_path_buf(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bare_token_is_sent_as_password() {
        match GitAuth::parse_token(b"ghp_abc123\n").unwrap() {
            GitAuth::Basic { username, password } => {
                assert_eq!(username, TOKEN_USERNAME);
                assert_eq!(password, "ghp_abc123");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn user_colon_password_is_basic_auth() {
        match GitAuth::parse_token(b"deploy:s3cret").unwrap() {
            GitAuth::Basic { username, password } => {
                assert_eq!((username.as_str(), password.as_str()), ("deploy", "s3cret"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn empty_or_half_empty_token_files_are_refused() {
        assert!(GitAuth::parse_token(b"\n").is_err());
        assert!(GitAuth::parse_token(b":pass").is_err());
        assert!(GitAuth::parse_token(b"user:").is_err());
        assert!(GitAuth::parse_token(b"tok\x1ben").is_err());
    }

    #[test]
    fn debug_output_never_shows_the_password() {
        let auth = GitAuth::parse_token(b"deploy:s3cret").unwrap();
        assert!(!format!("{auth:?}").contains("s3cret"));
    }

    #[test]
    fn oversized_token_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, vec![b'a'; MAX_TOKEN_FILE_BYTES as usize + 1]).unwrap();
        assert!(matches!(
            GitAuth::from_token_file(&path),
            Err(CredentialsError::TooLarge { .. })
        ));
    }

    proptest! {
        #[test]
        fn arbitrary_token_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = GitAuth::parse_token(&bytes);
        }
    }
}
