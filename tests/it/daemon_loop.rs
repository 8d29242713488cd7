//! The daemon's loop and HTTP endpoints, run for real on loopback: a git repository on
//! disk as the remote, the axum server on a free port, raw HTTP/1.1 requests, and an
//! engine that records what it was asked to do (the sync engine has its own tests).

use hmac::{KeyInit, Mac};
use netpol_sync::daemon::engine::{
    CycleFuture, CycleInput, CycleReport, SyncEngine, WatchedChange,
};
use netpol_sync::daemon::http::{self, HttpState};
use netpol_sync::daemon::leader::LeaderHandle;
use netpol_sync::daemon::metrics::Metrics;
use netpol_sync::daemon::run_loop::{LoopConfig, RunLoop};
use netpol_sync::daemon::trigger::{DriftChanges, Trigger};
use netpol_sync::daemon::webhook::{WebhookSecret, MAX_WEBHOOK_BODY_BYTES};
use netpol_sync::engine::{CycleResult, Verdict};
use netpol_sync::plan::Counts;
use netpol_sync::reason::ReasonCode;
use netpol_sync::remote::{GitRemote, RemoteConfig};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

const SECRET: &[u8] = b"webhook-s3cret";

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "T")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "T")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn commit(dir: &Path, file: &str) -> String {
    std::fs::write(dir.join(file), file).unwrap();
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", file]);
    git(dir, &["rev-parse", "HEAD"])
}

/// What the engine saw, and what it answers.
#[derive(Default)]
struct Seen {
    cycles: Vec<CycleInput>,
    answer: Option<CycleResult>,
    delay: Duration,
    /// uids whose changes the engine says it accounted for.
    accounted: Vec<String>,
}

#[derive(Clone, Default)]
struct RecordingEngine(Arc<Mutex<Seen>>);

impl SyncEngine for RecordingEngine {
    fn cycle(&mut self, input: CycleInput) -> CycleFuture<'_> {
        let seen = self.0.clone();
        Box::pin(async move {
            let (delay, answer) = {
                let mut s = seen.lock().unwrap();
                s.cycles.push(input.clone());
                (s.delay, s.answer.clone())
            };
            tokio::time::sleep(delay).await;
            let mut outcome =
                answer.unwrap_or_else(|| CycleResult::new(Verdict::Unchanged, "nothing to do"));
            outcome.revision = Some(input.revision.clone());
            if outcome.counts.is_none() {
                outcome.counts = Some(Counts {
                    unchanged: 3,
                    ..Counts::default()
                });
            }
            CycleReport::from(outcome)
        })
    }

    fn accounts_for(&self, change: &WatchedChange) -> bool {
        let seen = self.0.lock().unwrap();
        change
            .uid
            .as_ref()
            .is_some_and(|u| seen.accounted.contains(u))
    }
}

struct Daemon {
    port: u16,
    engine: RecordingEngine,
    metrics: Arc<Metrics>,
    drift: DriftChanges,
    shutdown: watch::Sender<bool>,
    loop_task: tokio::task::JoinHandle<()>,
    work: std::path::PathBuf,
    _tmp: tempfile::TempDir,
}

impl Daemon {
    fn cycles(&self) -> Vec<CycleInput> {
        self.engine.0.lock().unwrap().cycles.clone()
    }
}

async fn start(
    interval: Duration,
    secret: Option<&[u8]>,
    leader: LeaderHandle,
    grace: Duration,
) -> Daemon {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    commit(&work, "a");
    let remote = GitRemote::new(
        RemoteConfig::new(work.display().to_string(), "main"),
        &tmp.path().join("cache"),
    )
    .unwrap();
    let metrics = Arc::new(Metrics::new());
    let trigger = Trigger::default();
    let state = HttpState::new(
        metrics.clone(),
        trigger.clone(),
        secret.map(|s| WebhookSecret::new(s).unwrap()),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (shutdown, rx) = watch::channel(false);
    let mut http_stop = rx.clone();
    tokio::spawn(http::serve(listener, state.clone(), async move {
        let _ = http_stop.wait_for(|s| *s).await;
    }));
    let engine = RecordingEngine::default();
    let drift = DriftChanges::default();
    let run_loop = RunLoop {
        config: LoopConfig {
            interval,
            jitter: 0.0,
            shutdown_grace: grace,
            max_backoff: interval * 4,
        },
        remote: Arc::new(remote),
        engine: engine.clone(),
        leader,
        trigger,
        http: state,
        metrics: metrics.clone(),
        events: None,
        drift_scope: None,
        drift_changes: Some(drift.clone()),
    };
    let loop_task = tokio::spawn(async move {
        run_loop.run(rx).await;
    });
    Daemon {
        port,
        engine,
        metrics,
        drift,
        shutdown,
        loop_task,
        work,
        _tmp: tmp,
    }
}

/// The usual daemon: the leader, no webhook secret, a 5 s shutdown grace.
async fn start_leading(interval: Duration) -> Daemon {
    start(
        interval,
        None,
        LeaderHandle::always(),
        Duration::from_secs(5),
    )
    .await
}

/// One HTTP/1.1 request over a fresh connection; returns (status, body).
fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    // A server may answer (413) before reading an oversized body; a reset then is fine.
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

async fn http(
    port: u16,
    method: &'static str,
    path: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
) -> (u16, String) {
    tokio::task::spawn_blocking(move || request(port, method, path, &headers, &body))
        .await
        .unwrap()
}

fn github_signature(body: &[u8]) -> String {
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(SECRET).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cond()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_triggers_a_cycle_at_once_and_metrics_show_it() {
    let d = start(
        Duration::from_secs(3600),
        Some(SECRET),
        LeaderHandle::always(),
        Duration::from_secs(5),
    )
    .await;
    assert!(
        eventually(Duration::from_secs(10), || d.cycles().len() == 1).await,
        "first cycle at start"
    );
    let (status, body) = http(d.port, "GET", "/readyz", vec![], vec![]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("enforced"));

    let new_head = commit(&d.work, "b");
    let payload = br#"{"ref":"refs/heads/main"}"#.to_vec();
    let (status, _) = http(
        d.port,
        "POST",
        "/hooks/git",
        vec![("X-Hub-Signature-256", github_signature(&payload))],
        payload,
    )
    .await;
    assert_eq!(status, 202);
    assert!(
        eventually(Duration::from_secs(10), || d.cycles().len() == 2).await,
        "webhook woke the loop (interval is 1h)"
    );
    let second = d.cycles()[1].clone();
    assert_eq!(
        second.revision, new_head,
        "the cycle enforces the pushed head"
    );
    assert!(second.moved);

    let (status, text) = http(d.port, "GET", "/metrics", vec![], vec![]).await;
    assert_eq!(status, 200);
    assert!(text.contains("netpol_sync_leader 1"), "{text}");
    assert!(
        text.contains("netpol_sync_cycles_total{result=\"unchanged\"} 2"),
        "{text}"
    );
    assert!(text.contains(&format!("revision=\"{new_head}\"")), "{text}");
    assert!(text.contains("netpol_sync_objects_managed 3"), "{text}");
    let _ = d.shutdown.send(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_missing_and_oversized_webhooks_are_refused_without_a_cycle() {
    let d = start(
        Duration::from_secs(3600),
        Some(SECRET),
        LeaderHandle::always(),
        Duration::from_secs(5),
    )
    .await;
    assert!(eventually(Duration::from_secs(10), || d.cycles().len() == 1).await);
    let body = b"{}".to_vec();
    let bad = "sha256=".to_string() + &"0".repeat(64);
    assert_eq!(
        http(
            d.port,
            "POST",
            "/hooks/git",
            vec![("X-Hub-Signature-256", bad)],
            body.clone()
        )
        .await
        .0,
        401
    );
    assert_eq!(
        http(d.port, "POST", "/hooks/git", vec![], body.clone())
            .await
            .0,
        401
    );
    assert_eq!(
        http(
            d.port,
            "POST",
            "/hooks/git",
            vec![("X-Gitlab-Token", "wrong".into())],
            body.clone()
        )
        .await
        .0,
        401
    );
    assert_eq!(
        http(
            d.port,
            "POST",
            "/hooks/git",
            vec![("X-Hub-Signature-256", "garbage".into())],
            body.clone()
        )
        .await
        .0,
        401
    );
    let huge = vec![b'x'; MAX_WEBHOOK_BODY_BYTES + 1];
    let sig = github_signature(&huge);
    assert_eq!(
        http(
            d.port,
            "POST",
            "/hooks/git",
            vec![("X-Hub-Signature-256", sig)],
            huge
        )
        .await
        .0,
        413
    );
    assert_eq!(
        http(d.port, "GET", "/hooks/git", vec![], vec![]).await.0,
        405
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(d.cycles().len(), 1, "no refused delivery triggered a cycle");
    // GitLab's token header is accepted.
    let token = String::from_utf8(SECRET.to_vec()).unwrap();
    assert_eq!(
        http(
            d.port,
            "POST",
            "/hooks/git",
            vec![("X-Gitlab-Token", token)],
            body
        )
        .await
        .0,
        202
    );
    assert!(eventually(Duration::from_secs(10), || d.cycles().len() == 2).await);
    let _ = d.shutdown.send(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_without_a_configured_secret_is_disabled() {
    let d = start_leading(Duration::from_secs(3600)).await;
    let payload = b"{}".to_vec();
    let (status, _) = http(
        d.port,
        "POST",
        "/hooks/git",
        vec![("X-Hub-Signature-256", github_signature(&payload))],
        payload,
    )
    .await;
    assert_eq!(status, 404);
    let _ = d.shutdown.send(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_flood_coalesces_into_few_cycles() {
    let d = start(
        Duration::from_secs(3600),
        Some(SECRET),
        LeaderHandle::always(),
        Duration::from_secs(5),
    )
    .await;
    assert!(eventually(Duration::from_secs(10), || d.cycles().len() == 1).await);
    d.engine.0.lock().unwrap().delay = Duration::from_millis(300);
    let payload = b"{}".to_vec();
    let sig = github_signature(&payload);
    let mut accepted = 0;
    for _ in 0..200 {
        if http(
            d.port,
            "POST",
            "/hooks/git",
            vec![("X-Hub-Signature-256", sig.clone())],
            payload.clone(),
        )
        .await
        .0 == 202
        {
            accepted += 1;
        }
    }
    assert_eq!(accepted, 200);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let cycles = d.cycles().len() - 1;
    // Each cycle takes 300 ms; deliveries during a cycle coalesce into one more.
    assert!(cycles >= 1, "the flood triggered at least one cycle");
    assert!(cycles <= 8, "200 deliveries coalesced, got {cycles} cycles");
    let _ = d.shutdown.send(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_checks_run_every_interval_even_when_the_branch_did_not_move() {
    let d = start_leading(Duration::from_millis(200)).await;
    assert!(eventually(Duration::from_secs(10), || d.cycles().len() >= 4).await);
    let cycles = d.cycles();
    assert!(cycles[0].moved, "the first cycle sees a new head");
    assert!(
        cycles[1..]
            .iter()
            .all(|c| !c.moved && c.revision == cycles[0].revision),
        "{cycles:?}"
    );
    let _ = d.shutdown.send(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejections_and_errors_never_end_the_loop_and_readyz_says_why() {
    let d = start_leading(Duration::from_millis(100)).await;
    assert!(eventually(Duration::from_secs(10), || !d.cycles().is_empty()).await);
    {
        let mut rejected = CycleResult::rejected(
            ReasonCode::BadSignature,
            "commit c0ffee: signature does not verify",
            Default::default(),
        );
        rejected.revision = None;
        d.engine.0.lock().unwrap().answer = Some(rejected);
    }
    let metrics = d.metrics.clone();
    assert!(
        eventually(Duration::from_secs(10), || metrics.render().contains(
            "netpol_sync_cycle_failures_total{reason=\"bad-signature\"}"
        ))
        .await
    );
    let (status, body) = http(d.port, "GET", "/readyz", vec![], vec![]).await;
    assert_eq!(status, 503);
    assert!(body.contains("bad-signature"), "{body}");
    assert!(
        body.contains("stays enforced"),
        "the earlier revision stays in place: {body}"
    );
    d.engine.0.lock().unwrap().answer = Some(CycleResult::error("API server unreachable"));
    let n = d.cycles().len();
    // Errors back off (100ms, 200ms, 400ms…) but the loop keeps going.
    assert!(eventually(Duration::from_secs(10), || d.cycles().len() >= n + 3).await);
    d.engine.0.lock().unwrap().answer = None;
    assert!(
        eventually(Duration::from_secs(10), || metrics
            .render()
            .contains("netpol_sync_cycles_total{result=\"error\"}"))
        .await
    );
    let ready_again = eventually(Duration::from_secs(10), || {
        request(d.port, "GET", "/readyz", &[], b"").0 == 200
    })
    .await;
    assert!(ready_again, "recovers once cycles succeed");
    let _ = d.shutdown.send(true);
}

fn changed(uid: &str, version: &str, deleted: bool) -> WatchedChange {
    WatchedChange {
        uid: Some(uid.into()),
        resource_version: Some(version.into()),
        deleted,
    }
}

/// The drift watch's echo of the last cycle's own writes starts no cycle; anything the
/// engine cannot account for does, alone or among accounted changes, and so does every
/// change after a failed cycle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_changes_the_engine_accounted_for_start_no_cycle_and_others_do() {
    let d = start_leading(Duration::from_secs(3600)).await;
    assert!(eventually(Duration::from_secs(10), || d.cycles().len() == 1).await);
    d.engine.0.lock().unwrap().accounted = vec!["ours-1".into(), "ours-2".into()];
    let own = || d.metrics.drift_watch_own_changes.get();

    d.drift.extend([
        changed("ours-1", "10", false),
        changed("ours-2", "11", true),
    ]);
    assert!(
        eventually(Duration::from_secs(10), || own() == 2).await,
        "the loop weighed both changes: {:?}",
        own()
    );
    assert_eq!(d.cycles().len(), 1, "its own writes' echo started no cycle");

    // Seen together, so the loop weighs them as one batch (pushed one at a time, a busy
    // loop could take the first alone and count it as its own).
    d.drift.extend([
        changed("ours-1", "12", false),
        changed("by-hand", "13", false),
    ]);
    assert!(
        eventually(Duration::from_secs(10), || d.cycles().len() == 2).await,
        "a change nobody accounted for starts a cycle, even among accounted ones"
    );
    assert!(!d.cycles()[1].moved, "a drift check of the same head");
    assert_eq!(own(), 2);

    d.engine.0.lock().unwrap().answer = Some(CycleResult::error("API server unreachable"));
    d.drift.push(changed("by-hand", "14", false));
    assert!(eventually(Duration::from_secs(10), || d.cycles().len() == 3).await);
    d.drift.push(changed("ours-1", "15", false));
    assert!(
        eventually(Duration::from_secs(10), || d.cycles().len() == 4).await,
        "after a failed cycle nothing counts as accounted for"
    );
    assert_eq!(own(), 2);
    let _ = d.shutdown.send(true);
}

/// Every object file in `dir` (recursively) truncated to nothing.
fn truncate_objects(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            truncate_objects(&path);
        } else {
            std::fs::write(&path, b"").unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_damaged_under_a_running_daemon_is_recloned_after_a_failed_cycle() {
    let d = start_leading(Duration::from_millis(100)).await;
    assert!(eventually(Duration::from_secs(10), || !d.cycles().is_empty()).await);
    let head = d.cycles()[0].revision.clone();
    let cache = d.work.parent().unwrap().join("cache").join("repo.git");
    let readable = || {
        git2::Repository::open_bare(&cache)
            .and_then(|r| r.find_commit(git2::Oid::from_str(&head)?).map(|_| ()))
            .is_ok()
    };
    // The objects go while the branch stays put: the cycle that reads them fails.
    d.engine.0.lock().unwrap().answer =
        Some(CycleResult::error("reading `a.yaml`: object not found"));
    truncate_objects(&cache.join("objects"));
    assert!(!readable());
    let n = d.cycles().len();
    assert!(eventually(Duration::from_secs(10), || d.cycles().len() >= n + 2).await);
    d.engine.0.lock().unwrap().answer = None;
    // After the failure the cache is checked in full, found damaged, and fetched afresh.
    assert!(eventually(Duration::from_secs(10), readable).await);
    let _ = d.shutdown.send(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packs_from_many_fetches_are_folded_into_one_between_cycles() {
    use netpol_sync::remote::repack::{pack_count, MAX_PACKS};
    let d = start_leading(Duration::from_millis(50)).await;
    let cache = d.work.parent().unwrap().join("cache").join("repo.git");
    let packs = || {
        git2::Repository::open_bare(&cache)
            .map(|r| pack_count(&r).unwrap())
            .unwrap_or(0)
    };
    let mut most = 0;
    for i in 0..MAX_PACKS + 4 {
        let head = commit(&d.work, &format!("f{i}"));
        assert!(
            eventually(Duration::from_secs(10), || d
                .cycles()
                .iter()
                .any(|c| c.revision == head))
            .await
        );
        most = most.max(packs());
    }
    assert!(
        most >= MAX_PACKS,
        "each fetch adds a pack: at most {most} seen"
    );
    assert!(
        eventually(Duration::from_secs(10), || packs() <= MAX_PACKS).await,
        "{} packs",
        packs()
    );
    let _ = d.shutdown.send(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_replica_runs_no_cycle_and_reports_leader_zero() {
    let d = start(
        Duration::from_millis(100),
        None,
        LeaderHandle::default(),
        Duration::from_secs(5),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(d.cycles().is_empty());
    let (status, body) = http(d.port, "GET", "/readyz", vec![], vec![]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("standby"));
    assert!(d.metrics.render().contains("netpol_sync_leader 0"));
    let _ = d.shutdown.send(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_a_running_cycle_finish_within_the_grace_period() {
    let d = start_leading(Duration::from_secs(3600)).await;
    d.engine.0.lock().unwrap().delay = Duration::from_millis(800);
    assert!(eventually(Duration::from_secs(10), || d.cycles().len() == 1).await);
    let started = Instant::now();
    d.shutdown.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), d.loop_task)
        .await
        .unwrap()
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "waited for the running cycle"
    );
    assert!(
        d.metrics
            .render()
            .contains("netpol_sync_cycles_total{result=\"unchanged\"} 1"),
        "the cycle finished and was counted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_abandons_a_cycle_that_overruns_the_grace_period() {
    let d = start(
        Duration::from_secs(3600),
        None,
        LeaderHandle::always(),
        Duration::from_millis(200),
    )
    .await;
    d.engine.0.lock().unwrap().delay = Duration::from_secs(30);
    assert!(eventually(Duration::from_secs(10), || d.cycles().len() == 1).await);
    let started = Instant::now();
    d.shutdown.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), d.loop_task)
        .await
        .unwrap()
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "did not wait for the 30 s cycle"
    );
    assert!(d
        .metrics
        .render()
        .contains("netpol_sync_cycles_total{result=\"error\"} 1"));
}
