use super::credentials::CredentialsError;
use super::known_hosts::KnownHostsError;

/// Why talking to the Git host, or keeping its cache, failed. Every variant is retried by
/// the daemon's loop with back-off; none is fatal to the process.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("invalid remote configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    #[error(transparent)]
    KnownHosts(#[from] KnownHostsError),
    #[error("authentication to {url} was refused")]
    AuthRejected { url: String },
    #[error("host key of {host} refused: {why}")]
    HostKeyRejected { host: String, why: &'static str },
    #[error("fetch from {url} exceeded the {limit}-byte size cap")]
    TooLarge { url: String, limit: u64 },
    #[error("talking to {url} took longer than {timeout:?}")]
    Timeout {
        url: String,
        timeout: std::time::Duration,
    },
    #[error("branch {branch} not found on {url}")]
    BranchNotFound { url: String, branch: String },
    #[error("cache at {path}: {source}")]
    CacheIo {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{url}: {source}")]
    Git { url: String, source: git2::Error },
}
