//! HTTPS remotes: git's http-backend behind TLS (scripts/git-http-backend-server.py, with
//! a certificate made by openssl). libgit2's CA setting is process-wide, so this file is
//! its own test binary and its one test checks the system store first, then `--ca-file`.

use crate::remote_servers;

use netpol_sync::remote::{GitAuth, GitRemote, RemoteConfig, RemoteError};
use remote_servers::{bare_repo, wait_until, Author};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Server(Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn self_signed(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
        ])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(ok, "openssl req");
    (cert, key)
}

#[test]
fn https_remote_trusts_the_ca_bundle_it_is_given_and_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = bare_repo(tmp.path());
    let head = Author::new(tmp.path(), &bare).commit_and_push("a.yaml", b"one\n");
    let srv = bare.parent().unwrap();
    let (cert, key) = self_signed(tmp.path());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/git-http-backend-server.py"))
        .arg(srv)
        .arg(port.to_string())
        .arg(&cert)
        .arg(&key)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3");
    let _server = Server(child);
    assert!(wait_until(Duration::from_secs(10), || TcpStream::connect(
        ("127.0.0.1", port)
    )
    .is_ok()));
    let url = format!("https://127.0.0.1:{port}/policies.git");
    let config = |ca: Option<&Path>| {
        let mut c = RemoteConfig::new(url.clone(), "main");
        c.auth = GitAuth::Anonymous;
        c.timeout = Duration::from_secs(10);
        c.ca_bundle = ca.map(Path::to_path_buf);
        c
    };

    // The system store does not know this CA: refused before any Git traffic.
    let remote = GitRemote::new(config(None), &tmp.path().join("cache")).unwrap();
    let err = remote.fetch().unwrap_err();
    let text = err.to_string().to_lowercase();
    assert!(
        text.contains("certificate") || text.contains("ssl") || text.contains("tls"),
        "{err}"
    );
    assert_eq!(remote.cached_head(), None);

    // With the CA bundle: fetched.
    let remote = GitRemote::new(config(Some(&cert)), &tmp.path().join("cache")).unwrap();
    assert_eq!(remote.remote_head().unwrap().to_string(), head);
    assert_eq!(remote.fetch().unwrap().head.to_string(), head);

    // A CA bundle path that does not exist is a configuration error, not a silent fallback.
    assert!(matches!(
        GitRemote::new(
            config(Some(&tmp.path().join("missing.pem"))),
            &tmp.path().join("cache")
        ),
        Err(RemoteError::Config(_))
    ));
}
