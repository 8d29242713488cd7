//! The callbacks of one git2 network operation: credentials (offered once, so a wrong
//! token fails instead of looping), host-key pinning, and the deadline and size cap that
//! abort a transfer. What went wrong is remembered so the error names the real cause
//! rather than libgit2's generic "callback returned error".

use super::credentials::GitAuth;
use super::error::RemoteError;
use super::known_hosts::{HostKeyVerdict, KnownHosts};
use super::url::Transport;
use git2::{CertificateCheckStatus, Cred, CredentialType, RemoteCallbacks};
use std::cell::Cell;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abort {
    None,
    AuthRejected,
    HostKey(&'static str),
    TooLarge,
    Timeout,
}

pub struct Session<'a> {
    pub url: &'a str,
    pub transport: &'a Transport,
    pub auth: &'a GitAuth,
    pub known_hosts: Option<&'a KnownHosts>,
    pub deadline: Instant,
    pub timeout: Duration,
    pub max_bytes: u64,
    pub abort: Cell<Abort>,
    pub received_bytes: Cell<u64>,
    credential_offers: Cell<u32>,
}

impl<'a> Session<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        url: &'a str,
        transport: &'a Transport,
        auth: &'a GitAuth,
        known_hosts: Option<&'a KnownHosts>,
        timeout: Duration,
        max_bytes: u64,
    ) -> Self {
        Session {
            url,
            transport,
            auth,
            known_hosts,
            deadline: Instant::now() + timeout,
            timeout,
            max_bytes,
            abort: Cell::new(Abort::None),
            received_bytes: Cell::new(0),
            credential_offers: Cell::new(0),
        }
    }

    pub fn callbacks(&self) -> RemoteCallbacks<'_> {
        let mut cb = RemoteCallbacks::new();
        cb.credentials(move |_url, username_from_url, allowed| {
            self.credentials(username_from_url, allowed)
        });
        cb.certificate_check(move |cert, host| self.certificate(cert, host));
        cb.transfer_progress(move |progress| self.progress(progress.received_bytes() as u64));
        cb.sideband_progress(move |_| self.within_deadline());
        cb
    }

    fn credentials(
        &self,
        username_from_url: Option<&str>,
        allowed: CredentialType,
    ) -> Result<Cred, git2::Error> {
        // libgit2 asks again after every refusal; a second ask means the first was refused.
        let offers = self.credential_offers.get() + 1;
        self.credential_offers.set(offers);
        if offers > 1 {
            self.abort.set(Abort::AuthRejected);
            return Err(git2::Error::from_str("credentials refused by the server"));
        }
        match self.auth {
            GitAuth::Basic { username, password }
                if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) =>
            {
                Cred::userpass_plaintext(username, password)
            }
            GitAuth::SshKey {
                username,
                private_key,
            } if allowed.contains(CredentialType::SSH_KEY) => {
                let user = username_from_url.unwrap_or(username);
                Cred::ssh_key(user, None, private_key, None)
            }
            GitAuth::SshKey { username, .. } if allowed.contains(CredentialType::USERNAME) => {
                Cred::username(username_from_url.unwrap_or(username))
            }
            _ => {
                self.abort.set(Abort::AuthRejected);
                Err(git2::Error::from_str(
                    "the server asks for credentials that are not configured",
                ))
            }
        }
    }

    fn certificate(
        &self,
        cert: &git2::cert::Cert<'_>,
        host: &str,
    ) -> Result<CertificateCheckStatus, git2::Error> {
        let Transport::Ssh { port, .. } = self.transport else {
            // TLS: libgit2 has already validated the chain against the system store or the
            // configured CA bundle; keep its verdict.
            return Ok(CertificateCheckStatus::CertificatePassthrough);
        };
        let refuse = |why: &'static str| {
            self.abort.set(Abort::HostKey(why));
            Err(git2::Error::from_str(why))
        };
        let Some(known_hosts) = self.known_hosts else {
            return refuse("no known_hosts file is configured (trust on first use is never done)");
        };
        let Some(blob) = cert.as_hostkey().and_then(|h| h.hostkey()) else {
            return refuse("the server presented no raw host key");
        };
        match known_hosts.check(host, *port, blob) {
            HostKeyVerdict::Trusted => Ok(CertificateCheckStatus::CertificateOk),
            HostKeyVerdict::Mismatch => refuse("the host key differs from the pinned one"),
            HostKeyVerdict::UnknownHost => refuse("the host is not in known_hosts"),
            HostKeyVerdict::Revoked => refuse("the host key is revoked"),
        }
    }

    fn progress(&self, received: u64) -> bool {
        self.received_bytes.set(received);
        if received > self.max_bytes {
            self.abort.set(Abort::TooLarge);
            return false;
        }
        self.within_deadline()
    }

    fn within_deadline(&self) -> bool {
        if Instant::now() > self.deadline {
            self.abort.set(Abort::Timeout);
            return false;
        }
        true
    }

    /// The error to report for a failed git2 call, naming the cause the callbacks saw.
    pub fn error(&self, source: git2::Error) -> RemoteError {
        let url = self.url.to_string();
        match self.abort.get() {
            Abort::AuthRejected => RemoteError::AuthRejected { url },
            Abort::HostKey(why) => RemoteError::HostKeyRejected {
                host: host_of(self.transport),
                why,
            },
            Abort::TooLarge => RemoteError::TooLarge {
                url,
                limit: self.max_bytes,
            },
            Abort::Timeout => RemoteError::Timeout {
                url,
                timeout: self.timeout,
            },
            Abort::None
                if source.class() == git2::ErrorClass::Http && source.message().contains("401") =>
            {
                RemoteError::AuthRejected { url }
            }
            Abort::None if source.code() == git2::ErrorCode::Auth => {
                RemoteError::AuthRejected { url }
            }
            Abort::None if source.message().contains("timed out") => RemoteError::Timeout {
                url,
                timeout: self.timeout,
            },
            Abort::None => RemoteError::Git { url, source },
        }
    }
}

fn host_of(transport: &Transport) -> String {
    match transport {
        Transport::Ssh { host, port, .. } => format!("{host}:{port}"),
        _ => String::new(),
    }
}
