//! Leader election against the API server emulator: first two `LeaderElector`s with their
//! own kube clients in this process, then two real `netpol-sync run` processes, one killed
//! with SIGKILL. The emulator's change history is the witness: a new holder's first write
//! comes at least a lease duration after the previous holder's last write, unless that
//! holder released the lease.

use apiserver_emu::{ChangeRecord, EmuConfig, Emulator, FaultAction, FaultRule};
use netpol_sync::daemon::leader::{LeaderConfig, LeaderElector};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::watch;

use crate::support::wait_for;

const NS: &str = "netpol-sync";

fn emulator() -> Emulator {
    Emulator::start(EmuConfig {
        namespaces: vec![NS.to_string(), "default".to_string()],
        ..EmuConfig::default()
    })
    .unwrap()
}

async fn client(emu: &Emulator) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&emu.kubeconfig_yaml()).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

fn fast(identity: &str) -> LeaderConfig {
    LeaderConfig {
        lease_duration: Duration::from_secs(3),
        renew_deadline: Duration::from_secs(2),
        retry_period: Duration::from_millis(300),
        ..LeaderConfig::new(NS, identity)
    }
}

/// (time, holder) of every write to the leader Lease, in order.
fn lease_writes(emu: &Emulator) -> Vec<(SystemTime, String)> {
    emu.history()
        .into_iter()
        .filter(|c: &ChangeRecord| c.kind == "leases" && c.name == "netpol-sync-leader")
        .map(|c| {
            let holder = c
                .after
                .as_ref()
                .and_then(|a| a["spec"]["holderIdentity"].as_str())
                .unwrap_or("")
                .to_string();
            (c.time, holder)
        })
        .collect()
}

/// No two holders in overlapping terms: whenever the holder changes to someone new, the
/// previous holder either released (an empty-holder write) or last wrote at least a lease
/// duration earlier; and a replaced holder never writes again while the new term lasts.
fn assert_no_overlapping_terms(writes: &[(SystemTime, String)], lease: Duration) {
    let tolerance = Duration::from_millis(100);
    let mut last_by_holder: Option<(SystemTime, String)> = None;
    for (time, holder) in writes {
        if holder.is_empty() {
            last_by_holder = None; // released
            continue;
        }
        if let Some((prev_time, prev)) = &last_by_holder {
            if prev != holder {
                let gap = time.duration_since(*prev_time).unwrap_or_default();
                assert!(
                    gap + tolerance >= lease,
                    "{holder} took the lease {gap:?} after {prev}'s last renewal (lease {lease:?}): {writes:#?}"
                );
            }
        }
        last_by_holder = Some((*time, holder.clone()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_electors_never_lead_at_once_and_a_dead_leader_is_replaced() {
    let emu = emulator();
    let a = LeaderElector::new(client(&emu).await, fast("replica-a")).unwrap();
    let b = LeaderElector::new(client(&emu).await, fast("replica-b")).unwrap();
    let (ha, hb) = (a.handle(), b.handle());
    let (_stop_tx, stop_rx) = watch::channel(false);
    let ta = tokio::spawn(a.run(stop_rx.clone()));
    let tb = tokio::spawn(b.run(stop_rx.clone()));

    let end = Instant::now() + Duration::from_secs(4);
    let mut someone_led = false;
    while Instant::now() < end {
        let (la, lb) = (ha.is_leader(), hb.is_leader());
        assert!(!(la && lb), "both replicas believe they lead");
        someone_led |= la || lb;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(someone_led);

    // The leader dies without releasing (its task is aborted, as by SIGKILL).
    let (leader_task, survivor, survivor_task) = if ha.is_leader() {
        (ta, hb.clone(), tb)
    } else {
        (tb, ha.clone(), ta)
    };
    leader_task.abort();
    let killed = Instant::now();
    let mut took_over = None;
    while killed.elapsed() < Duration::from_secs(10) {
        if survivor.is_leader() {
            took_over = Some(killed.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took_over = took_over.expect("the survivor took over");
    assert!(
        took_over <= Duration::from_secs(3) + Duration::from_millis(800),
        "took {took_over:?}"
    );
    survivor_task.abort();
    assert_no_overlapping_terms(&lease_writes(&emu), Duration::from_secs(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_that_cannot_renew_steps_down_before_the_lease_expires() {
    let emu = emulator();
    let a = LeaderElector::new(client(&emu).await, fast("replica-a")).unwrap();
    let ha = a.handle();
    let (_stop_tx, stop_rx) = watch::channel(false);
    let task = tokio::spawn(a.run(stop_rx));
    let start = Instant::now();
    while !ha.is_leader() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "never became leader"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The API server starts failing every lease write.
    emu.inject(FaultRule::new("/leases/", FaultAction::Status(503)).method("PUT"));
    let cut = SystemTime::now();
    let mut stepped_down = None;
    let waited = Instant::now();
    while waited.elapsed() < Duration::from_secs(6) {
        if !ha.is_leader() {
            stepped_down = Some(SystemTime::now());
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stepped_down = stepped_down.expect("stepped down");
    let last_renewal = lease_writes(&emu)
        .iter()
        .map(|(t, _)| *t)
        .filter(|t| *t <= cut)
        .max()
        .unwrap();
    let authority = stepped_down.duration_since(last_renewal).unwrap();
    assert!(
        authority < Duration::from_secs(3),
        "acted as leader {authority:?} after its last renewal: others could have taken over"
    );
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_on_shutdown_hands_over_without_waiting_for_expiry() {
    let emu = emulator();
    let mut slow = fast("replica-a");
    slow.lease_duration = Duration::from_secs(30);
    slow.renew_deadline = Duration::from_secs(20);
    let a = LeaderElector::new(client(&emu).await, slow.clone()).unwrap();
    let ha = a.handle();
    let (stop_a, stop_rx_a) = watch::channel(false);
    let ta = tokio::spawn(a.run(stop_rx_a));
    let start = Instant::now();
    while !ha.is_leader() {
        assert!(start.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    slow.identity = "replica-b".into();
    let b = LeaderElector::new(client(&emu).await, slow).unwrap();
    let hb = b.handle();
    let (_stop_b, stop_rx_b) = watch::channel(false);
    let tb = tokio::spawn(b.run(stop_rx_b));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!hb.is_leader());

    stop_a.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), ta)
        .await
        .unwrap()
        .unwrap();
    assert!(!ha.is_leader());
    let released = Instant::now();
    while !hb.is_leader() {
        assert!(
            released.elapsed() < Duration::from_secs(5),
            "successor waited for expiry (30 s) instead of taking the released lease"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let writes = lease_writes(&emu);
    assert!(
        writes.iter().any(|(_, h)| h.is_empty()),
        "a release (empty holder) was written: {writes:?}"
    );
    assert_no_overlapping_terms(&writes, Duration::from_secs(30));
    tb.abort();
}

// --- two real `netpol-sync run` processes -------------------------------------------

struct RunProcess {
    child: Child,
    port: u16,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn_run(
    dir: &std::path::Path,
    identity: &str,
    repo: &std::path::Path,
    kubeconfig: &std::path::Path,
) -> RunProcess {
    let port = free_port();
    let anchor = dir.join("allowed_signers");
    std::fs::write(&anchor, "nobody@example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq4C4C9wK9cS6lKqB3ZzFjJ1fGmG1h7mzG1QwUuG4X0\n").unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_netpol-sync"))
        .arg("run")
        .env_clear()
        .env("NETPOL_SYNC_STATE_KEY", crate::support::state_key())
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NETPOL_SYNC_REPO", repo)
        .env("NETPOL_SYNC_TRUST_ANCHOR", &anchor)
        .env(
            "NETPOL_SYNC_CACHE_DIR",
            dir.join(format!("cache-{identity}")),
        )
        .env("NETPOL_SYNC_LISTEN", format!("127.0.0.1:{port}"))
        .env("NETPOL_SYNC_LEADER_ELECT", "true")
        .env("NETPOL_SYNC_IDENTITY", identity)
        .env("NETPOL_SYNC_INTERVAL", "1s")
        .env("NETPOL_SYNC_LEASE_DURATION", "3s")
        .env("NETPOL_SYNC_RENEW_DEADLINE", "2s")
        .env("NETPOL_SYNC_RETRY_PERIOD", "300ms")
        .env("NETPOL_SYNC_STATE_NAMESPACE", NS)
        .env("NETPOL_SYNC_LOG_FORMAT", "json")
        .env("KUBECONFIG", kubeconfig)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    RunProcess { child, port }
}

fn metric(port: u16, name: &str) -> Option<f64> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    text.lines()
        .find(|l| l.starts_with(&format!("{name} ")))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

fn local_repo(dir: &std::path::Path) -> std::path::PathBuf {
    let repo = dir.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let git = |args: &[&str]| {
        let ok = Command::new("git")
            .current_dir(&repo)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "T")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "T")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .args(args)
            .status()
            .unwrap()
            .success();
        assert!(ok);
    };
    git(&["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("README"), "x").unwrap();
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "x"]);
    repo
}

#[test]
fn two_run_processes_one_leader_sigkill_hands_over_sigterm_releases() {
    let emu = emulator();
    let tmp = tempfile::tempdir().unwrap();
    let kubeconfig = tmp.path().join("kubeconfig");
    emu.write_kubeconfig(&kubeconfig).unwrap();
    let repo = local_repo(tmp.path());
    let mut a = spawn_run(tmp.path(), "run-a", &repo, &kubeconfig);
    let mut b = spawn_run(tmp.path(), "run-b", &repo, &kubeconfig);
    let leader_of = |a: &RunProcess, b: &RunProcess| {
        (
            metric(a.port, "netpol_sync_leader"),
            metric(b.port, "netpol_sync_leader"),
        )
    };
    let settled = wait_for(
        Duration::from_secs(20),
        || matches!(leader_of(&a, &b), (Some(x), Some(y)) if x + y == 1.0),
    );
    assert!(
        settled.is_some(),
        "exactly one leader: {:?}",
        leader_of(&a, &b)
    );
    let a_leads = metric(a.port, "netpol_sync_leader") == Some(1.0);
    let (leader, follower) = if a_leads {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };

    // SIGKILL: no release; the follower waits out the lease (3 s) by its own clock.
    leader.child.kill().unwrap();
    leader.child.wait().unwrap();
    let took = wait_for(Duration::from_secs(15), || {
        metric(follower.port, "netpol_sync_leader") == Some(1.0)
    });
    let took = took.expect("the follower took over");
    assert!(
        took <= Duration::from_secs(3) + Duration::from_secs(2),
        "took {took:?} (lease 3 s, retry 0.3 s, loop 1 s)"
    );
    assert_no_overlapping_terms(&lease_writes(&emu), Duration::from_secs(3));

    // SIGTERM: the new leader exits 0 and releases the lease.
    let pid = follower.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let exited = wait_for(Duration::from_secs(15), || {
        follower.child.try_wait().unwrap().is_some()
    });
    assert!(exited.is_some(), "exits after SIGTERM");
    assert_eq!(follower.child.wait().unwrap().code(), Some(0));
    let writes = lease_writes(&emu);
    assert_eq!(
        writes.last().map(|(_, h)| h.as_str()),
        Some(""),
        "the lease was released on SIGTERM: {writes:?}"
    );
}
