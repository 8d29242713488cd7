//! What the transport of a repository URL is, and for SSH where it points: enough to pick
//! credentials and to look the host up in known_hosts. Forms accepted are git's own:
//! `https://…`, `http://…`, `ssh://[user@]host[:port]/path`, scp-like `[user@]host:path`,
//! `file://…` and local paths.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    Local,
    Http {
        tls: bool,
    },
    Ssh {
        user: Option<String>,
        host: String,
        port: u16,
    },
}

pub fn transport(url: &str) -> Result<Transport, String> {
    if url.is_empty() {
        return Err("empty repository URL".into());
    }
    if let Some(rest) = url.strip_prefix("https://") {
        non_empty_host(rest)?;
        return Ok(Transport::Http { tls: true });
    }
    if let Some(rest) = url.strip_prefix("http://") {
        non_empty_host(rest)?;
        return Ok(Transport::Http { tls: false });
    }
    if url.starts_with("file://") {
        return Ok(Transport::Local);
    }
    if let Some(rest) = url.strip_prefix("ssh://") {
        let authority = rest.split('/').next().unwrap_or("");
        let (user, host_port) = split_user(authority);
        let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
            let (host, after) = bracketed.split_once(']').ok_or("unclosed [ in ssh URL")?;
            let port = match after.strip_prefix(':') {
                Some(p) => p
                    .parse::<u16>()
                    .map_err(|_| format!("bad port {p:?} in ssh URL"))?,
                None => 22,
            };
            (host.to_string(), port)
        } else {
            match host_port.rsplit_once(':') {
                Some((h, p)) => (
                    h.to_string(),
                    p.parse::<u16>()
                        .map_err(|_| format!("bad port {p:?} in ssh URL"))?,
                ),
                None => (host_port.to_string(), 22),
            }
        };
        if host.is_empty() {
            return Err("ssh URL without a host".into());
        }
        return Ok(Transport::Ssh { user, host, port });
    }
    if url.contains("://") {
        return Err(format!(
            "unsupported URL scheme in {url:?} (use https://, ssh://, file:// or a path)"
        ));
    }
    // scp-like syntax: a colon before any slash, as git decides it.
    if let Some((authority, _path)) = url.split_once(':') {
        if !authority.contains('/') && !authority.is_empty() {
            let (user, host) = split_user(authority);
            return Ok(Transport::Ssh {
                user,
                host: host.to_string(),
                port: 22,
            });
        }
    }
    Ok(Transport::Local)
}

fn non_empty_host(rest: &str) -> Result<(), String> {
    if rest.split('/').next().unwrap_or("").is_empty() {
        Err("URL without a host".into())
    } else {
        Ok(())
    }
}

fn split_user(authority: &str) -> (Option<String>, &str) {
    match authority.rsplit_once('@') {
        Some((user, host)) => (Some(user.to_string()), host),
        None => (None, authority),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn recognises_git_url_forms() {
        assert_eq!(
            transport("https://git.example.com/org/repo.git"),
            Ok(Transport::Http { tls: true })
        );
        assert_eq!(
            transport("http://127.0.0.1:8080/repo.git"),
            Ok(Transport::Http { tls: false })
        );
        assert_eq!(
            transport("ssh://git@127.0.0.1:2222/srv/repo.git"),
            Ok(Transport::Ssh {
                user: Some("git".into()),
                host: "127.0.0.1".into(),
                port: 2222
            })
        );
        assert_eq!(
            transport("ssh://[::1]:2200/repo.git"),
            Ok(Transport::Ssh {
                user: None,
                host: "::1".into(),
                port: 2200
            })
        );
        assert_eq!(
            transport("git@github.com:org/repo.git"),
            Ok(Transport::Ssh {
                user: Some("git".into()),
                host: "github.com".into(),
                port: 22
            })
        );
        assert_eq!(transport("/srv/policies"), Ok(Transport::Local));
        assert_eq!(transport("./policies"), Ok(Transport::Local));
        assert_eq!(transport("file:///srv/policies"), Ok(Transport::Local));
    }

    #[test]
    fn refuses_unknown_schemes_and_hostless_urls() {
        assert!(transport("git://example.com/repo").is_err());
        assert!(transport("https:///repo").is_err());
        assert!(transport("ssh://git@:22/repo").is_err());
        assert!(transport("ssh://host:notaport/repo").is_err());
        assert!(transport("").is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_urls_never_panic(url in ".{0,128}") {
            let _ = transport(&url);
        }
    }
}
