//! Real Git servers on loopback for the remote tests: git's own `http-backend` (CGI)
//! behind a small HTTP front written with axum, and OpenSSH's `sshd` run as the current
//! user on a high port with its own config and a generated host key. Only the HTTP
//! framing is ours; every byte of the Git protocol comes from git itself.
#![allow(dead_code)]

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Request, Response, StatusCode};
use base64::Engine;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Poll `cond` until it holds or `limit` passes.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A bare repository "on the server", pushed to with the real git.
pub fn bare_repo(dir: &Path) -> PathBuf {
    let path = dir.join("srv/policies.git");
    std::fs::create_dir_all(&path).unwrap();
    git(&path, &["init", "-q", "--bare", "-b", "main"]);
    path
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A work tree whose commits are pushed to the bare repository by path.
pub struct Author {
    pub dir: PathBuf,
    pub bare: PathBuf,
}

impl Author {
    pub fn new(root: &Path, bare: &Path) -> Author {
        let dir = root.join("author");
        std::fs::create_dir_all(&dir).unwrap();
        git(&dir, &["init", "-q", "-b", "main"]);
        Author {
            dir,
            bare: bare.to_path_buf(),
        }
    }

    /// Commits a file and pushes; returns the new head.
    pub fn commit_and_push(&self, file: &str, contents: &[u8]) -> String {
        std::fs::write(self.dir.join(file), contents).unwrap();
        git(&self.dir, &["add", "-A"]);
        git(&self.dir, &["commit", "-q", "-m", file]);
        git(
            &self.dir,
            &["push", "-q", "--force", self.bare.to_str().unwrap(), "main"],
        );
        git(&self.dir, &["rev-parse", "HEAD"])
    }

    /// Rewrites the branch on the server to `rev` (a force-push).
    pub fn force_push(&self, rev: &str) {
        git(
            &self.dir,
            &[
                "push",
                "-q",
                "--force",
                self.bare.to_str().unwrap(),
                &format!("{rev}:refs/heads/main"),
            ],
        );
    }
}

struct HttpState {
    project_root: PathBuf,
    basic: Option<(String, String)>,
}

/// Smart HTTP via `git http-backend`, optionally behind basic auth.
pub struct HttpGitServer {
    pub port: u16,
    state: Arc<HttpState>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl HttpGitServer {
    pub fn start(project_root: &Path, basic: Option<(&str, &str)>) -> HttpGitServer {
        let state = Arc::new(HttpState {
            project_root: project_root.to_path_buf(),
            basic: basic.map(|(u, p)| (u.to_string(), p.to_string())),
        });
        let mut server = HttpGitServer {
            port: free_port(),
            state,
            runtime: None,
        };
        server.resume();
        server
    }

    pub fn url(&self, repo: &str) -> String {
        format!("http://127.0.0.1:{}/{repo}", self.port)
    }

    /// Stops serving: new connections are refused.
    pub fn stop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(2));
        }
        assert!(wait_until(Duration::from_secs(5), || TcpStream::connect((
            "127.0.0.1",
            self.port
        ))
        .is_err()));
    }

    /// Serves again on the same port.
    pub fn resume(&mut self) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let listener = rt.block_on(async {
            let end = Instant::now() + Duration::from_secs(5);
            loop {
                match tokio::net::TcpListener::bind(addr).await {
                    Ok(l) => break l,
                    Err(e) if Instant::now() < end => {
                        let _ = e;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    Err(e) => panic!("bind {addr}: {e}"),
                }
            }
        });
        let app = axum::Router::new()
            .fallback(cgi)
            .with_state(self.state.clone());
        rt.spawn(async move { axum::serve(listener, app).await });
        self.runtime = Some(rt);
    }
}

impl Drop for HttpGitServer {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

fn authorised(state: &HttpState, headers: &HeaderMap) -> bool {
    let Some((user, pass)) = &state.basic else {
        return true;
    };
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    );
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(expected.as_str())
}

async fn cgi(State(state): State<Arc<HttpState>>, request: Request<Body>) -> Response<Body> {
    if !authorised(&state, request.headers()) {
        return Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .header("WWW-Authenticate", "Basic realm=\"git\"")
            .body(Body::empty())
            .unwrap();
    }
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or("").to_string();
    let content_type = header(request.headers(), "content-type");
    let content_encoding = header(request.headers(), "content-encoding");
    let protocol = header(request.headers(), "git-protocol");
    let body = axum::body::to_bytes(request.into_body(), 256 << 20)
        .await
        .unwrap();
    let root = state.project_root.clone();
    let output = tokio::task::spawn_blocking(move || {
        let exec_path = Command::new("git").arg("--exec-path").output().unwrap();
        let backend = PathBuf::from(String::from_utf8(exec_path.stdout).unwrap().trim())
            .join("git-http-backend");
        let mut child = Command::new(backend)
            .env_clear()
            .env("GIT_PROJECT_ROOT", &root)
            .env("GIT_HTTP_EXPORT_ALL", "1")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("PATH_INFO", &path)
            .env("REQUEST_METHOD", &method)
            .env("QUERY_STRING", &query)
            .env("CONTENT_TYPE", &content_type)
            .env("CONTENT_LENGTH", body.len().to_string())
            .env("HTTP_CONTENT_ENCODING", &content_encoding)
            .env("GIT_PROTOCOL", &protocol)
            .env("REMOTE_ADDR", "127.0.0.1")
            .env("REMOTE_USER", "test")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&body).unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    cgi_response(&output.stdout)
}

fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// Splits a CGI response into its header block and body (RFC 3875 §6).
fn cgi_response(raw: &[u8]) -> Response<Body> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, i + 4))
        .or_else(|| {
            raw.windows(2)
                .position(|w| w == b"\n\n")
                .map(|i| (i, i + 2))
        })
        .unwrap_or((raw.len(), raw.len()));
    let head = String::from_utf8_lossy(&raw[..split.0]).to_string();
    let mut response = Response::builder().status(StatusCode::OK);
    for line in head.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code = value
                .split_whitespace()
                .next()
                .and_then(|c| c.parse::<u16>().ok())
                .unwrap_or(500);
            response = response.status(code);
        } else {
            response = response.header(name.trim(), value);
        }
    }
    response.body(Body::from(raw[split.1..].to_vec())).unwrap()
}

/// Accepts connections and never answers: a Git host that hangs.
pub struct HangingServer {
    pub port: u16,
    _thread: std::thread::JoinHandle<()>,
}

impl HangingServer {
    pub fn start() -> HangingServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming().flatten() {
                held.push(stream);
            }
        });
        HangingServer {
            port,
            _thread: thread,
        }
    }
}

/// A real OpenSSH server running as the current user, serving git over SSH.
pub struct SshGitServer {
    pub port: u16,
    pub user: String,
    pub host_public_key: String,
    pub client_key: PathBuf,
    child: Child,
}

pub fn sshd_path() -> Option<PathBuf> {
    let find = || {
        ["/usr/sbin/sshd", "/usr/local/sbin/sshd"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
    };
    if find().is_none() {
        // A fresh machine lacks sshd: the project's own script installs it (once per
        // test process), so `cargo test` alone is enough.
        static INSTALL: std::sync::Once = std::sync::Once::new();
        INSTALL.call_once(|| {
            let script =
                Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install-test-servers.sh");
            let _ = Command::new("bash").arg(script).status();
        });
    }
    find()
}

impl SshGitServer {
    pub fn start(dir: &Path) -> SshGitServer {
        let sshd = sshd_path().expect("sshd not installed: run scripts/install-test-servers.sh");
        let dir = dir.join("sshd");
        std::fs::create_dir_all(&dir).unwrap();
        let keygen = |path: &Path| {
            let status = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", "", "-f"])
                .arg(path)
                .status()
                .unwrap();
            assert!(status.success());
        };
        let host_key = dir.join("host_ed25519");
        let client_key = dir.join("deploy_ed25519");
        keygen(&host_key);
        keygen(&client_key);
        let user = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout)
            .unwrap()
            .trim()
            .to_string();
        // git-upload-pack lives wherever git does; the session's PATH is sshd's default.
        let git_dir = PathBuf::from(
            String::from_utf8(
                Command::new("git")
                    .arg("--exec-path")
                    .output()
                    .unwrap()
                    .stdout,
            )
            .unwrap()
            .trim(),
        );
        let wrapper = dir.join("git-only");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nPATH={}:/usr/local/bin:/usr/bin:/bin\nexport PATH\nexec sh -c \"$SSH_ORIGINAL_COMMAND\"\n",
                git_dir.display()
            ),
        )
        .unwrap();
        std::process::Command::new("chmod")
            .arg("755")
            .arg(&wrapper)
            .status()
            .unwrap();
        let client_pub = std::fs::read_to_string(client_key.with_extension("pub")).unwrap();
        std::fs::write(
            dir.join("authorized_keys"),
            format!(
                "command=\"{}\",no-pty,no-port-forwarding {}",
                wrapper.display(),
                client_pub
            ),
        )
        .unwrap();
        if is_root() {
            // Privilege separation needs this directory when sshd starts as root.
            let _ = std::fs::create_dir_all("/run/sshd");
        }
        let port = free_port();
        let config = dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile {}\nAuthorizedKeysFile {}\n\
                 StrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nAllowUsers {user}\nLogLevel ERROR\n",
                host_key.display(),
                dir.join("sshd.pid").display(),
                dir.join("authorized_keys").display(),
            ),
        )
        .unwrap();
        let child = Command::new(sshd)
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        assert!(
            wait_until(Duration::from_secs(10), || TcpStream::connect((
                "127.0.0.1",
                port
            ))
            .is_ok()),
            "sshd did not start listening on {port}"
        );
        let host_public_key = std::fs::read_to_string(host_key.with_extension("pub")).unwrap();
        SshGitServer {
            port,
            user,
            host_public_key,
            client_key,
            child,
        }
    }

    pub fn url(&self, repo_path: &Path) -> String {
        format!(
            "ssh://{}@127.0.0.1:{}{}",
            self.user,
            self.port,
            repo_path.display()
        )
    }

    /// A known_hosts line pinning this server's real host key.
    pub fn known_hosts_line(&self) -> String {
        let mut parts = self.host_public_key.split_whitespace();
        format!(
            "[127.0.0.1]:{} {} {}\n",
            self.port,
            parts.next().unwrap(),
            parts.next().unwrap()
        )
    }
}

impl Drop for SshGitServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn is_root() -> bool {
    String::from_utf8(Command::new("id").arg("-u").output().unwrap().stdout)
        .unwrap()
        .trim()
        == "0"
}
