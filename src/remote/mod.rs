//! Git remotes with git2: a cheap head check (ls-remote), a fetch into a local cache
//! (the pod's emptyDir) only when the branch moved, HTTPS with a token or basic auth and
//! an optional CA bundle, SSH with a deploy key and a pinned known_hosts file (no
//! trust-on-first-use), a time limit and a size cap on every fetch, and a cache that is
//! recloned when it turns out corrupted.
//!
//! This module moves bytes; it decides nothing about trust. A force-pushed branch is
//! fetched like any other: refusing it (`not-fast-forward`) is `verify`'s job.
//!
//! git2 calls block; the daemon runs them on a blocking thread.

mod cache;
mod credentials;
mod error;
mod known_hosts;
pub mod repack;
mod session;
mod url;

pub use cache::{FetchOutcome, GitRemote, RemoteConfig};
pub use credentials::{CredentialsError, GitAuth, TOKEN_USERNAME};
pub use error::RemoteError;
pub use known_hosts::{HostKeyVerdict, KnownHosts, KnownHostsError, MAX_KNOWN_HOSTS_BYTES};
pub use url::{transport, Transport};
