//! `netpol-sync run` end to end on loopback: a signed policy repository served by git's
//! http-backend behind basic auth, the API server emulator, the real binary. Covers
//! applying at start, webhook-triggered sync of a push, drift put back with an event, a
//! force-push refused as not-fast-forward with the cluster untouched, and SIGTERM.

use crate::remote_servers;
use crate::support::{metric_value, wait_for};
use crate::sync_support;

use hmac::{KeyInit, Mac};
use remote_servers::HttpGitServer;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use sync_support::{BundleSpec, Cluster, PolicyRepo};

const SECRET: &str = "hook-s3cret";

pub(crate) fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> (u16, String) {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new());
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
    let mut raw = String::new();
    let _ = stream.read_to_string(&mut raw);
    let status = raw
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (
        status,
        raw.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default(),
    )
}

fn hook(port: u16) -> u16 {
    let body = br#"{"ref":"refs/heads/main"}"#;
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    let sig = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    http(
        port,
        "POST",
        "/hooks/git",
        &[("X-Hub-Signature-256", sig)],
        body,
    )
    .0
}

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A policy repository's branch `main`, served by git's http-backend behind basic auth.
pub(crate) struct GitRemote {
    tmp: tempfile::TempDir,
    bare: PathBuf,
    server: HttpGitServer,
}

impl GitRemote {
    pub(crate) fn serve() -> GitRemote {
        let tmp = tempfile::tempdir().unwrap();
        let srv = tmp.path().join("srv");
        let bare = srv.join("policies.git");
        std::fs::create_dir_all(&bare).unwrap();
        remote_servers::git(&bare, &["init", "-q", "--bare", "-b", "main"]);
        let server = HttpGitServer::start(&srv, Some(("deploy", "git-token")));
        std::fs::write(tmp.path().join("token"), "deploy:git-token\n").unwrap();
        std::fs::write(tmp.path().join("hook"), format!("{SECRET}\n")).unwrap();
        GitRemote { tmp, bare, server }
    }

    /// Make `rev` of `repo` the branch head (a force-push when it is not a descendant).
    pub(crate) fn push(&self, repo: &PolicyRepo, rev: &str) {
        repo.repo.git(&[
            "push",
            "-q",
            "--force",
            self.bare.to_str().unwrap(),
            &format!("{rev}:refs/heads/main"),
        ]);
    }

    /// `netpol-sync run` on this branch and `cluster`, the webhook on, an hour's interval
    /// (so cycles run when a test asks for them); `extra` goes on the command line.
    pub(crate) fn run_daemon(
        &self,
        repo: &PolicyRepo,
        cluster: &Cluster,
        extra: &[&str],
    ) -> Daemon {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_netpol-sync"))
            .env("NETPOL_SYNC_STATE_KEY", crate::support::state_key())
            .arg("run")
            .args([
                "--repo",
                &self.server.url("policies.git"),
                "--branch",
                "main",
            ])
            .arg("--trust-anchor")
            .arg(&repo.anchor)
            .arg("--token-file")
            .arg(self.tmp.path().join("token"))
            .arg("--webhook-secret-file")
            .arg(self.tmp.path().join("hook"))
            .arg("--cache-dir")
            .arg(self.tmp.path().join(format!("cache-{port}")))
            .arg("--kubeconfig")
            .arg(&cluster.kubeconfig)
            .args([
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--interval",
                "1h",
                "--log-format",
                "json",
            ])
            .args(extra)
            .env_remove("KUBECONFIG")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Daemon {
            port,
            child: Killed(child),
        }
    }
}

/// A running `netpol-sync run`, killed when dropped.
pub(crate) struct Daemon {
    pub(crate) port: u16,
    child: Killed,
}

impl Daemon {
    pub(crate) fn get(&self, path: &str) -> (u16, String) {
        http(self.port, "GET", path, &[], b"")
    }

    /// A signed webhook delivery: "look now".
    pub(crate) fn hook(&self) -> u16 {
        hook(self.port)
    }

    pub(crate) fn metric(&self, name: &str) -> Option<f64> {
        metric_value(&self.get("/metrics").1, name)
    }

    /// Wait until `/readyz` says ready.
    pub(crate) fn wait_ready(&self) {
        let ready = wait_for(Duration::from_secs(30), || self.get("/readyz").0 == 200);
        assert!(ready.is_some(), "readyz: {:?}", self.get("/readyz"));
    }

    /// Cycles finished so far.
    pub(crate) fn cycles(&self) -> f64 {
        self.metric("netpol_sync_cycle_duration_seconds_count")
            .unwrap_or(0.0)
    }

    /// Ask for a cycle by webhook and wait until it has finished.
    pub(crate) fn one_cycle(&self) {
        let before = self.cycles();
        assert_eq!(self.hook(), 202);
        assert!(
            wait_for(Duration::from_secs(30), || self.cycles() > before).is_some(),
            "no cycle after a webhook: {}",
            self.get("/metrics").1
        );
    }
}

#[test]
fn run_applies_syncs_on_webhook_reverts_drift_refuses_force_push_and_stops_on_sigterm() {
    daemon_scenario("thread");
}

/// The same scenario with every cycle in a `sync --once` child process.
#[test]
fn the_same_with_cycles_in_child_processes() {
    daemon_scenario("process");
}

/// `kubectl delete` of a policy, as a person would.
pub(crate) fn delete_by_hand(cluster: &Cluster, namespace: &str, name: &str) {
    let out = cluster.kubectl(&["delete", "networkpolicy", name, "-n", namespace], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn daemon_scenario(isolation: &str) {
    let repo = PolicyRepo::new();
    let first = repo.revision(
        &[BundleSpec::new(
            "prod",
            &["payments"],
            &[("payments", "allow-web", 80)],
        )],
        "first",
    );
    let remote = GitRemote::serve();
    let push = |rev: &str| remote.push(&repo, rev);
    push(&first);
    let cluster = Cluster::start(&["payments"]);
    let mut daemon = remote.run_daemon(&repo, &cluster, &["--cycle-isolation", isolation]);
    let port = daemon.port;

    // At start: the first revision is applied.
    let ready = wait_for(Duration::from_secs(30), || {
        http(port, "GET", "/readyz", &[], b"").0 == 200
    });
    assert!(
        ready.is_some(),
        "readyz: {:?}",
        http(port, "GET", "/readyz", &[], b"")
    );
    assert!(cluster.policy("payments", "allow-web").is_some());
    assert!(http(port, "GET", "/readyz", &[], b"").1.contains(&first));

    // A push plus a webhook: applied at once (the interval is an hour).
    let second = repo.revision(
        &[BundleSpec::new(
            "prod",
            &["payments"],
            &[
                ("payments", "allow-web", 80),
                ("payments", "allow-api", 443),
            ],
        )],
        "second",
    );
    push(&second);
    assert_eq!(hook(port), 202);
    let synced = wait_for(Duration::from_secs(20), || {
        cluster.policy("payments", "allow-api").is_some()
    });
    assert!(synced.is_some(), "webhook-triggered sync");
    assert!(wait_for(Duration::from_secs(10), || http(
        port,
        "GET",
        "/readyz",
        &[],
        b""
    )
    .1
    .contains(&second))
    .is_some());

    // Drift: a hand deletion is put back on the next cycle, and an event says so.
    delete_by_hand(&cluster, "payments", "allow-web");
    assert_eq!(hook(port), 202);
    assert!(
        wait_for(Duration::from_secs(20), || cluster
            .policy("payments", "allow-web")
            .is_some())
        .is_some(),
        "drift reverted"
    );
    let drift_event = wait_for(Duration::from_secs(10), || {
        cluster.events().iter().any(|e| {
            e["reason"] == "DriftReverted"
                && e["message"].as_str().unwrap_or("").contains("allow-web")
        })
    });
    assert!(drift_event.is_some(), "{:#?}", cluster.events());
    let metrics = http(port, "GET", "/metrics", &[], b"").1;
    assert!(
        metrics.contains("netpol_sync_drift_reverted_total{kind=\"deleted\"} 1"),
        "{metrics}"
    );
    // Each applying cycle's Event says what its writes opened and closed.
    assert!(
        cluster.events().iter().any(|e| e["reason"] == "Applied"
            && e["message"].as_str().unwrap_or("").contains("; paths +")),
        "{:#?}",
        cluster.events()
    );

    // The drift watch: a hand deletion with no webhook is put back at once, though the
    // interval is an hour.
    delete_by_hand(&cluster, "payments", "allow-api");
    assert!(
        wait_for(Duration::from_secs(20), || cluster
            .policy("payments", "allow-api")
            .is_some())
        .is_some(),
        "drift reverted by the watch, without a webhook"
    );
    // The cycle's report reaches the metrics just after its writes reach the cluster.
    let counted = wait_for(Duration::from_secs(10), || {
        http(port, "GET", "/metrics", &[], b"")
            .1
            .contains("netpol_sync_drift_reverted_total{kind=\"deleted\"} 2")
    });
    let metrics = http(port, "GET", "/metrics", &[], b"").1;
    assert!(counted.is_some(), "{metrics}");
    let wakeups = metric_value(&metrics, "netpol_sync_drift_watch_wakeups_total")
        .unwrap_or_else(|| panic!("no drift watch metric: {metrics}"));
    assert!(wakeups >= 1.0, "the watch woke the loop: {metrics}");
    // Putting the policy back was the cycle's own write, and the engine knows it: the
    // in-process one noted it, a child process reported it. Its echo starts no cycle.
    let own_changes = || {
        metric_value(
            &http(port, "GET", "/metrics", &[], b"").1,
            "netpol_sync_drift_watch_own_changes_total",
        )
    };
    assert!(
        wait_for(Duration::from_secs(10), || own_changes() >= Some(1.0)).is_some(),
        "the echo of the put-back was recognised ({isolation}): {}",
        http(port, "GET", "/metrics", &[], b"").1
    );

    // Force-push back to the first revision: refused, the cluster keeps the second.
    push(&first);
    let before = cluster.policy_hashes();
    assert_eq!(hook(port), 202);
    let refused = wait_for(Duration::from_secs(20), || {
        let (status, body) = http(port, "GET", "/readyz", &[], b"");
        status == 503 && body.contains("not-fast-forward")
    });
    assert!(
        refused.is_some(),
        "readyz: {:?}",
        http(port, "GET", "/readyz", &[], b"")
    );
    assert_eq!(
        cluster.policy_hashes(),
        before,
        "a refused revision changes nothing"
    );
    let metrics = http(port, "GET", "/metrics", &[], b"").1;
    assert!(
        metrics.contains("netpol_sync_cycle_failures_total{reason=\"not-fast-forward\"}"),
        "{metrics}"
    );
    assert!(cluster.events().iter().any(|e| e["reason"] == "Rejected"
        && e["message"]
            .as_str()
            .unwrap_or("")
            .contains("not-fast-forward")));

    // SIGTERM: clean exit 0.
    let pid = daemon.child.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    assert!(wait_for(Duration::from_secs(20), || daemon
        .child
        .0
        .try_wait()
        .unwrap()
        .is_some())
    .is_some());
    assert_eq!(daemon.child.0.wait().unwrap().code(), Some(0));
}
