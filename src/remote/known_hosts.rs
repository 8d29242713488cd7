//! A pinned `known_hosts` file (sshd(8) SSH_KNOWN_HOSTS FILE FORMAT), the only source of
//! trust for SSH host keys: a host with no matching entry, or whose key differs from every
//! entry, is refused. There is no trust-on-first-use and nothing is ever written back.
//!
//! Supported: plain host patterns with `*`/`?` wildcards and `!` negation, the
//! `[host]:port` form, and `@revoked`. Hashed host names (`|1|…`) and `@cert-authority`
//! lines are refused when the file is loaded, so an entry is never silently ignored.

use base64::Engine;

/// A known_hosts file larger than this is refused: a pin list is a handful of lines.
pub const MAX_KNOWN_HOSTS_BYTES: usize = 256 * 1024;
/// Longest key blob accepted (an RSA-16384 key blob is about 2 KiB).
const MAX_KEY_BLOB_BYTES: usize = 4096;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KnownHostsError {
    #[error("known_hosts is {0} bytes, over the {MAX_KNOWN_HOSTS_BYTES}-byte limit")]
    TooLarge(usize),
    #[error("known_hosts line {line}: {why}")]
    Malformed { line: usize, why: &'static str },
    #[error("known_hosts line {line}: hashed host names are not supported; list the host in clear (ssh-keyscan without -H)")]
    Hashed { line: usize },
    #[error("known_hosts line {line}: @cert-authority is not supported; pin the host key itself")]
    CertAuthority { line: usize },
    #[error("known_hosts has no usable entry")]
    Empty,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    patterns: Vec<String>,
    key_blob: Vec<u8>,
    revoked: bool,
}

/// The verdict on a host key presented by a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKeyVerdict {
    /// An entry for this host holds exactly this key.
    Trusted,
    /// The host has entries, none with this key (a changed or impostor key).
    Mismatch,
    /// No entry names this host.
    UnknownHost,
    /// The key is listed as `@revoked`.
    Revoked,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownHosts {
    entries: Vec<Entry>,
}

impl KnownHosts {
    pub fn parse(bytes: &[u8]) -> Result<KnownHosts, KnownHostsError> {
        if bytes.len() > MAX_KNOWN_HOSTS_BYTES {
            return Err(KnownHostsError::TooLarge(bytes.len()));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| KnownHostsError::Malformed {
            line: 0,
            why: "not UTF-8",
        })?;
        let mut entries = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let mut fields = trimmed.split_whitespace();
            let mut first = fields
                .next()
                .ok_or(KnownHostsError::Malformed { line, why: "empty" })?;
            let mut revoked = false;
            if first.starts_with('@') {
                match first {
                    "@revoked" => revoked = true,
                    "@cert-authority" => return Err(KnownHostsError::CertAuthority { line }),
                    _ => {
                        return Err(KnownHostsError::Malformed {
                            line,
                            why: "unknown marker",
                        })
                    }
                }
                first = fields.next().ok_or(KnownHostsError::Malformed {
                    line,
                    why: "marker without host",
                })?;
            }
            if first.starts_with('|') {
                return Err(KnownHostsError::Hashed { line });
            }
            let key_type = fields.next().ok_or(KnownHostsError::Malformed {
                line,
                why: "missing key type",
            })?;
            let key_b64 = fields.next().ok_or(KnownHostsError::Malformed {
                line,
                why: "missing key",
            })?;
            if key_b64.len() > MAX_KEY_BLOB_BYTES * 2 {
                return Err(KnownHostsError::Malformed {
                    line,
                    why: "key too long",
                });
            }
            let key_blob = base64::engine::general_purpose::STANDARD
                .decode(key_b64)
                .map_err(|_| KnownHostsError::Malformed {
                    line,
                    why: "key is not base64",
                })?;
            if blob_key_type(&key_blob) != Some(key_type.as_bytes()) {
                return Err(KnownHostsError::Malformed {
                    line,
                    why: "key type does not match the key blob",
                });
            }
            let patterns: Vec<String> = first
                .split(',')
                .filter(|p| !p.is_empty())
                .map(str::to_ascii_lowercase)
                .collect();
            if patterns.is_empty() {
                return Err(KnownHostsError::Malformed {
                    line,
                    why: "no host pattern",
                });
            }
            entries.push(Entry {
                patterns,
                key_blob,
                revoked,
            });
        }
        if entries.iter().all(|e| e.revoked) {
            return Err(KnownHostsError::Empty);
        }
        Ok(KnownHosts { entries })
    }

    /// Judges the raw key blob (SSH wire format) that `host` on `port` presented.
    pub fn check(&self, host: &str, port: u16, key_blob: &[u8]) -> HostKeyVerdict {
        let name = if port == 22 {
            host.to_ascii_lowercase()
        } else {
            format!("[{}]:{port}", host.to_ascii_lowercase())
        };
        let matching: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|e| host_matches(&e.patterns, &name))
            .collect();
        if self
            .entries
            .iter()
            .any(|e| e.revoked && e.key_blob == key_blob)
        {
            return HostKeyVerdict::Revoked;
        }
        if matching
            .iter()
            .any(|e| !e.revoked && e.key_blob == key_blob)
        {
            return HostKeyVerdict::Trusted;
        }
        if matching.iter().any(|e| !e.revoked) {
            HostKeyVerdict::Mismatch
        } else {
            HostKeyVerdict::UnknownHost
        }
    }
}

/// The key type string at the start of an SSH public key blob (`string` = u32 length + bytes).
fn blob_key_type(blob: &[u8]) -> Option<&[u8]> {
    let len_bytes: [u8; 4] = blob.get(..4)?.try_into().ok()?;
    let len = u32::from_be_bytes(len_bytes) as usize;
    blob.get(4..4usize.checked_add(len)?)
}

/// A host matches when some positive pattern matches and no negated one does.
fn host_matches(patterns: &[String], name: &str) -> bool {
    let mut matched = false;
    for pattern in patterns {
        if let Some(negated) = pattern.strip_prefix('!') {
            if glob(negated.as_bytes(), name.as_bytes()) {
                return false;
            }
        } else if glob(pattern.as_bytes(), name.as_bytes()) {
            matched = true;
        }
    }
    matched
}

/// `*` and `?` wildcards, iterative with one backtrack point (linear in practice, never
/// exponential on hostile patterns).
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn blob(kind: &str, body: &[u8]) -> Vec<u8> {
        let mut b = (kind.len() as u32).to_be_bytes().to_vec();
        b.extend_from_slice(kind.as_bytes());
        b.extend_from_slice(body);
        b
    }

    fn line(hosts: &str, kind: &str, body: &[u8]) -> String {
        let b64 = base64::engine::general_purpose::STANDARD.encode(blob(kind, body));
        format!("{hosts} {kind} {b64}\n")
    }

    #[test]
    fn pinned_key_on_default_and_custom_port_is_trusted() {
        let text = line("git.example.com", "ssh-ed25519", b"k1")
            + &line("[127.0.0.1]:2222", "ssh-ed25519", b"k2");
        let kh = KnownHosts::parse(text.as_bytes()).unwrap();
        assert_eq!(
            kh.check("git.example.com", 22, &blob("ssh-ed25519", b"k1")),
            HostKeyVerdict::Trusted
        );
        assert_eq!(
            kh.check("127.0.0.1", 2222, &blob("ssh-ed25519", b"k2")),
            HostKeyVerdict::Trusted
        );
    }

    #[test]
    fn changed_host_key_is_a_mismatch() {
        let kh =
            KnownHosts::parse(line("git.example.com", "ssh-ed25519", b"k1").as_bytes()).unwrap();
        assert_eq!(
            kh.check("git.example.com", 22, &blob("ssh-ed25519", b"impostor")),
            HostKeyVerdict::Mismatch
        );
    }

    #[test]
    fn unlisted_host_is_unknown_not_trusted_on_first_use() {
        let kh =
            KnownHosts::parse(line("git.example.com", "ssh-ed25519", b"k1").as_bytes()).unwrap();
        assert_eq!(
            kh.check("other.example.com", 22, &blob("ssh-ed25519", b"k1")),
            HostKeyVerdict::UnknownHost
        );
        // Same host on another port is another host.
        assert_eq!(
            kh.check("git.example.com", 2222, &blob("ssh-ed25519", b"k1")),
            HostKeyVerdict::UnknownHost
        );
    }

    #[test]
    fn revoked_key_is_refused_even_when_also_pinned() {
        let text = line("@revoked *", "ssh-ed25519", b"k1")
            + &line("git.example.com", "ssh-ed25519", b"k1");
        let kh = KnownHosts::parse(text.as_bytes()).unwrap();
        assert_eq!(
            kh.check("git.example.com", 22, &blob("ssh-ed25519", b"k1")),
            HostKeyVerdict::Revoked
        );
    }

    #[test]
    fn wildcard_and_negation() {
        let kh = KnownHosts::parse(
            line("*.example.com,!evil.example.com", "ssh-ed25519", b"k").as_bytes(),
        )
        .unwrap();
        assert_eq!(
            kh.check("git.example.com", 22, &blob("ssh-ed25519", b"k")),
            HostKeyVerdict::Trusted
        );
        assert_eq!(
            kh.check("evil.example.com", 22, &blob("ssh-ed25519", b"k")),
            HostKeyVerdict::UnknownHost
        );
    }

    #[test]
    fn hashed_host_names_are_refused_at_load() {
        let text = line("|1|c2FsdA==|aGFzaA==", "ssh-ed25519", b"k");
        assert_eq!(
            KnownHosts::parse(text.as_bytes()),
            Err(KnownHostsError::Hashed { line: 1 })
        );
    }

    #[test]
    fn cert_authority_is_refused_at_load() {
        let text = line("@cert-authority *.example.com", "ssh-ed25519", b"k");
        assert_eq!(
            KnownHosts::parse(text.as_bytes()),
            Err(KnownHostsError::CertAuthority { line: 1 })
        );
    }

    #[test]
    fn key_type_lying_about_its_blob_is_malformed() {
        let b64 = base64::engine::general_purpose::STANDARD.encode(blob("ssh-rsa", b"k"));
        let text = format!("host ssh-ed25519 {b64}\n");
        assert!(matches!(
            KnownHosts::parse(text.as_bytes()),
            Err(KnownHostsError::Malformed { .. })
        ));
    }

    #[test]
    fn empty_and_comment_only_files_are_refused() {
        assert_eq!(
            KnownHosts::parse(b"# nothing\n\n"),
            Err(KnownHostsError::Empty)
        );
    }

    #[test]
    fn oversized_file_is_refused() {
        let big = vec![b'#'; MAX_KNOWN_HOSTS_BYTES + 1];
        assert_eq!(
            KnownHosts::parse(&big),
            Err(KnownHostsError::TooLarge(MAX_KNOWN_HOSTS_BYTES + 1))
        );
    }

    #[test]
    fn hostile_glob_pattern_finishes() {
        let pattern = "*a".repeat(200);
        let kh = KnownHosts::parse(line(&pattern, "ssh-ed25519", b"k").as_bytes()).unwrap();
        let host = "a".repeat(199) + "b";
        assert_eq!(
            kh.check(&host, 22, &blob("ssh-ed25519", b"k")),
            HostKeyVerdict::UnknownHost
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = KnownHosts::parse(&bytes);
        }

        #[test]
        fn arbitrary_host_and_blob_never_panic(host in ".{0,64}", port in any::<u16>(), key in proptest::collection::vec(any::<u8>(), 0..64)) {
            let kh = KnownHosts::parse(line("*", "ssh-ed25519", b"k").as_bytes()).unwrap();
            let _ = kh.check(&host, port, &key);
        }
    }
}
