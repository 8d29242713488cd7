//! Drift noticed as it happens. A watch on NetworkPolicies wakes the loop when a policy in
//! a governed namespace, or one carrying our managed-by label anywhere, is created,
//! changed or deleted: a hand-made "temporary debug hole" is reverted a cycle's time after
//! it appears, not up to an interval later.
//!
//! The watch decides nothing about what to write. It brings the next cycle forward, and
//! it vouches, through its [`WatchWitness`], for whether any NetworkPolicy changed since a
//! point: a quiet cycle plans against an earlier read only while the watch is open and
//! saw no change since before that read. So a watch the API server ends, or one that
//! cannot be opened, makes every cycle list, and changes only how soon drift is reverted,
//! never whether.
//!
//! The cycle's own writes are changes too. Each change goes to the loop with its uid and
//! resourceVersion ([`DriftChanges`]); the loop skips those the engine already accounted
//! for (versions the last cycles read or wrote, objects they deleted), so a cycle that
//! writes is not followed by one more that finds nothing to do. A burst of changes
//! coalesces into one look.

use super::engine::WatchedChange;
use super::metrics::Metrics;
use super::trigger::{DriftChanges, Trigger};
use super::watch_witness::{OpenWatch, WatchWitness};
use crate::kube_client::read::{
    fetch_page, next_line, LineError, PageError, NETWORK_POLICIES_PATH,
};
use crate::marks::{MANAGED_BY_LABEL, MANAGED_BY_VALUE};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;
use kube::api::{ListParams, WatchParams};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How long one watch request stays open; the API server's own cap is about 30 minutes,
/// and reopening from the last version seen loses nothing.
const WATCH_TIMEOUT_SECS: u32 = 290;

/// Largest single watch event read. A NetworkPolicy with its managedFields is a few KiB;
/// a server sending a longer line is refused rather than buffered without bound.
const MAX_EVENT_BYTES: usize = 8 * 1024 * 1024;

const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(60);

/// The namespaces in scope: those the last planned revision governs. `None` until a cycle
/// has planned (and again on a replica that is not the leader): nothing is watched.
pub type DriftScope = Option<Arc<BTreeSet<String>>>;

#[derive(Debug, thiserror::Error)]
pub enum DriftWatchError {
    #[error(transparent)]
    Request(#[from] kube::Error),
    #[error("reading the collection's current version")]
    Page(#[source] PageError),
    #[error("reading the watch stream")]
    Read(#[source] std::io::Error),
    #[error("a watch event longer than {limit} bytes; refusing to buffer it")]
    TooLarge { limit: usize },
    #[error("an unreadable watch event")]
    Malformed(#[source] serde_json::Error),
    #[error("the API server ended the watch: {0}")]
    Status(String),
    /// 410: the version watched from is compacted away; events may have been missed.
    #[error("the watched resourceVersion is too old (410)")]
    Expired,
}

pub struct DriftWatch {
    client: kube::Client,
    /// Wakes the loop for a cycle whatever it weighs: changes may have been missed (410).
    trigger: Trigger,
    /// Changes in scope, for the loop to weigh.
    changes: DriftChanges,
    scope: watch::Receiver<DriftScope>,
    metrics: Arc<Metrics>,
    /// Seconds the API server keeps one watch request open.
    timeout_secs: u32,
    /// Whether every change since some point was seen (for quiet cycles).
    witness: Arc<WatchWitness>,
}

/// One line of a watch stream, reduced to what decides relevance.
#[derive(Deserialize)]
struct WatchLine {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    object: EventObject,
}

#[derive(Deserialize, Default)]
struct EventObject {
    #[serde(default)]
    metadata: EventMeta,
    /// Set on an ERROR event's Status.
    code: Option<u16>,
    message: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct EventMeta {
    namespace: Option<String>,
    uid: Option<String>,
    resource_version: Option<String>,
    labels: Option<BTreeMap<String, String>>,
}

/// Whether a change to this object may be drift: it sits in a governed namespace, or it
/// carries our label (a managed policy in a namespace that left the scope is ours to prune).
fn in_scope(meta: &EventMeta, governed: &BTreeSet<String>) -> bool {
    let governed_namespace = meta
        .namespace
        .as_ref()
        .is_some_and(|ns| governed.contains(ns));
    let ours = meta
        .labels
        .as_ref()
        .and_then(|l| l.get(MANAGED_BY_LABEL))
        .is_some_and(|v| v == MANAGED_BY_VALUE);
    governed_namespace || ours
}

impl DriftWatch {
    pub fn new(
        client: kube::Client,
        trigger: Trigger,
        changes: DriftChanges,
        scope: watch::Receiver<DriftScope>,
        metrics: Arc<Metrics>,
    ) -> DriftWatch {
        DriftWatch {
            client,
            trigger,
            changes,
            scope,
            metrics,
            timeout_secs: WATCH_TIMEOUT_SECS,
            witness: Arc::new(WatchWitness::default()),
        }
    }

    /// What this watch vouches for, for the engine's quiet cycles.
    pub fn witness(&self) -> Arc<WatchWitness> {
        self.witness.clone()
    }

    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let mut from: Option<String> = None;
        let mut retry = RETRY_FIRST;
        loop {
            if *shutdown.borrow() {
                return;
            }
            if self.scope.borrow().is_none() {
                from = None;
                // A closed channel means the loop is gone: nothing more to wake.
                let open = tokio::select! {
                    r = self.scope.changed() => r.is_ok(),
                    r = shutdown.changed() => r.is_ok(),
                };
                if !open {
                    return;
                }
                continue;
            }
            let opened = Instant::now();
            let result = tokio::select! {
                r = self.watch_from(&mut from) => r,
                r = shutdown.changed() => match r {
                    Ok(()) => continue,
                    Err(_) => return,
                },
            };
            let pause = match result {
                // The server closed a quiet watch at its timeout: reopen from where it
                // stopped (at once, unless it closes watches as soon as they open).
                Ok(()) if opened.elapsed() >= RETRY_FIRST => {
                    retry = RETRY_FIRST;
                    continue;
                }
                Ok(()) => RETRY_FIRST,
                Err(DriftWatchError::Expired) => {
                    // Changes may have been missed: a cycle looks, and the watch starts
                    // again from now.
                    tracing::info!("drift watch expired (410); running a cycle to be sure");
                    from = None;
                    self.trigger.fire();
                    retry = RETRY_FIRST;
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?retry, "drift watch failed; drift is still checked every interval");
                    let pause = retry;
                    retry = (retry * 2).min(RETRY_MAX);
                    pause
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                r = shutdown.changed() => if r.is_err() { return },
            }
        }
    }

    /// Watch from `from` (from now when `None`) until the server ends the stream; `from`
    /// follows every event so a reopened watch misses nothing.
    async fn watch_from(&self, from: &mut Option<String>) -> Result<(), DriftWatchError> {
        let version = match from.clone() {
            Some(v) => v,
            None => {
                self.witness.new_epoch();
                let v = current_version(&self.client).await?;
                *from = Some(v.clone());
                v
            }
        };
        let request = kube::core::Request::new(NETWORK_POLICIES_PATH)
            .watch(&WatchParams::default().timeout(self.timeout_secs), &version)
            .map_err(kube::Error::BuildRequest)?;
        let mut stream = self.client.request_stream(request).await?;
        let _open = OpenWatch::new(&self.witness);
        let mut line = Vec::new();
        while next_line(&mut stream, &mut line, MAX_EVENT_BYTES).await? {
            let governed = self.scope.borrow().clone();
            match judge(&line, governed.as_deref())? {
                Seen::Nothing => {}
                Seen::Change { change, in_scope } => {
                    self.witness.changed();
                    if let Some(v) = &change.resource_version {
                        *from = Some(v.clone());
                    }
                    if in_scope {
                        self.metrics.drift_watch_wakeups.inc();
                        self.changes.push(change);
                    }
                }
            }
        }
        Ok(())
    }
}

/// What one line of a watch stream says.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Seen {
    /// A blank line (a keep-alive) or a bookmark.
    Nothing,
    /// An object was added, modified or deleted; its resourceVersion is where a
    /// reopened watch goes on from.
    Change {
        change: WatchedChange,
        in_scope: bool,
    },
}

/// A uid or resourceVersion from a watch event, if no longer than any real one. A change
/// is held until the loop looks at it, up to
/// [`MAX_PENDING_CHANGES`](super::trigger::MAX_PENDING_CHANGES) of them, so a longer
/// value from a hostile server is dropped ([`crate::apply::MAX_ID_BYTES`]).
fn bounded_id(id: Option<String>) -> Option<String> {
    id.filter(|v| v.len() <= crate::apply::MAX_ID_BYTES)
}

/// Read one watch line from the API server (untrusted: malformed input is an error that
/// ends this watch, never a panic); `governed` is the scope, `None` when there is none.
pub(crate) fn judge(
    line: &[u8],
    governed: Option<&BTreeSet<String>>,
) -> Result<Seen, DriftWatchError> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(Seen::Nothing);
    }
    let event: WatchLine = serde_json::from_slice(line).map_err(DriftWatchError::Malformed)?;
    match event.kind.as_str() {
        "ADDED" | "MODIFIED" | "DELETED" => Ok(Seen::Change {
            in_scope: governed.is_some_and(|g| in_scope(&event.object.metadata, g)),
            change: WatchedChange {
                deleted: event.kind == "DELETED",
                uid: bounded_id(event.object.metadata.uid),
                resource_version: bounded_id(event.object.metadata.resource_version),
            },
        }),
        "BOOKMARK" => Ok(Seen::Nothing),
        "ERROR" if event.object.code == Some(410) => Err(DriftWatchError::Expired),
        _ => Err(DriftWatchError::Status(
            event.object.message.unwrap_or(event.kind),
        )),
    }
}

/// The collection's resourceVersion now: a watch from it sees only later changes. Read
/// as a one-item page under the same byte cap as a watch event.
async fn current_version(client: &kube::Client) -> Result<String, DriftWatchError> {
    #[derive(Deserialize)]
    struct VersionOnly {
        #[serde(default)]
        metadata: ListMeta,
    }
    let list: VersionOnly = fetch_page(
        client,
        NETWORK_POLICIES_PATH,
        &ListParams::default().limit(1),
        MAX_EVENT_BYTES,
    )
    .await
    .map_err(DriftWatchError::Page)?;
    list.metadata
        .resource_version
        .ok_or_else(|| DriftWatchError::Status("a list without a resourceVersion".into()))
}

impl From<LineError> for DriftWatchError {
    fn from(e: LineError) -> Self {
        match e {
            LineError::Read(e) => DriftWatchError::Read(e),
            LineError::TooLarge { limit } => DriftWatchError::TooLarge { limit },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(namespace: &str, labels: &[(&str, &str)]) -> EventMeta {
        EventMeta {
            namespace: Some(namespace.into()),
            uid: None,
            resource_version: None,
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
        }
    }

    #[test]
    fn changes_in_governed_namespaces_and_to_our_objects_anywhere_are_in_scope() {
        let governed: BTreeSet<String> = ["payments".to_string()].into();
        assert!(in_scope(&meta("payments", &[]), &governed));
        assert!(in_scope(
            &meta("elsewhere", &[(MANAGED_BY_LABEL, MANAGED_BY_VALUE)]),
            &governed
        ));
        assert!(!in_scope(&meta("elsewhere", &[]), &governed));
        assert!(!in_scope(
            &meta("elsewhere", &[(MANAGED_BY_LABEL, "someone-else")]),
            &governed
        ));
    }

    fn observed(uid: Option<&str>, version: Option<&str>, deleted: bool) -> WatchedChange {
        WatchedChange {
            uid: uid.map(str::to_string),
            resource_version: version.map(str::to_string),
            deleted,
        }
    }

    #[test]
    fn watch_lines_are_judged_and_hostile_ones_are_errors_not_panics() {
        let governed: BTreeSet<String> = ["payments".to_string()].into();
        let judge_line = |line: &str| judge(line.as_bytes(), Some(&governed));
        assert_eq!(
            judge_line(r#"{"type":"MODIFIED","object":{"metadata":{"namespace":"payments","uid":"u1","resourceVersion":"42"}}}"#).unwrap(),
            Seen::Change { change: observed(Some("u1"), Some("42"), false), in_scope: true }
        );
        assert_eq!(
            judge_line(r#"{"type":"DELETED","object":{"metadata":{"namespace":"payments","uid":"u2","resourceVersion":"43"}}}"#).unwrap(),
            Seen::Change { change: observed(Some("u2"), Some("43"), true), in_scope: true }
        );
        assert_eq!(
            judge_line(r#"{"type":"DELETED","object":{"metadata":{"namespace":"other","resourceVersion":"43"}}}"#).unwrap(),
            Seen::Change { change: observed(None, Some("43"), true), in_scope: false }
        );
        assert_eq!(
            judge(
                br#"{"type":"ADDED","object":{"metadata":{"namespace":"payments"}}}"#,
                None
            )
            .unwrap(),
            Seen::Change {
                change: observed(None, None, false),
                in_scope: false
            },
            "no scope, no wake-up"
        );
        let huge = "u".repeat(1 << 20);
        assert_eq!(
            judge_line(&format!(r#"{{"type":"ADDED","object":{{"metadata":{{"namespace":"payments","uid":"{huge}","resourceVersion":"{huge}"}}}}}}"#)).unwrap(),
            Seen::Change { change: observed(None, None, false), in_scope: true },
            "a megabyte uid or version is not kept while the change waits for the loop"
        );
        assert_eq!(judge_line("  \r").unwrap(), Seen::Nothing);
        assert_eq!(
            judge_line(r#"{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"9"}}}"#)
                .unwrap(),
            Seen::Nothing
        );
        assert!(matches!(
            judge_line(
                r#"{"type":"ERROR","object":{"kind":"Status","code":410,"message":"too old resource version: 1 (5)"}}"#
            ),
            Err(DriftWatchError::Expired)
        ));
        let forbidden = judge_line(
            r#"{"type":"ERROR","object":{"kind":"Status","code":403,"message":"forbidden"}}"#,
        );
        assert!(matches!(forbidden, Err(DriftWatchError::Status(ref m)) if m == "forbidden"));
        for hostile in [
            "not json",
            "{\"type\":",
            "[1,2,3]",
            r#"{"object":{}}"#,
            r#"{"type":7}"#,
            r#"{"type":"ADDED","object":{"metadata":{"namespace":["a"]}}}"#,
            "\u{0}\u{ff}",
        ] {
            assert!(
                matches!(judge_line(hostile), Err(DriftWatchError::Malformed(_))),
                "{hostile:?}"
            );
        }
        assert!(matches!(
            judge_line(r#"{"type":"SURPRISE","object":{}}"#),
            Err(DriftWatchError::Status(ref m)) if m == "SURPRISE"
        ));
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(matches!(
            judge_line(&deep),
            Err(DriftWatchError::Malformed(_))
        ));
    }

    /// A drift watch on `cluster` with `governed` in scope, whose watches the server
    /// closes after a second; with the trigger, changes and metrics it reports to. (A
    /// scope whose sender is gone stays as it was.)
    async fn watch_on(
        cluster: &netpol_testkit::cluster::TestCluster,
        governed: &[&str],
    ) -> (DriftWatch, Trigger, DriftChanges, Arc<Metrics>) {
        let governed: BTreeSet<String> = governed.iter().map(|n| n.to_string()).collect();
        let (_, scope_rx) = watch::channel(Some(Arc::new(governed)));
        let trigger = Trigger::default();
        let changes = DriftChanges::default();
        let metrics = Arc::new(Metrics::new());
        let mut drift = DriftWatch::new(
            cluster.client.clone(),
            trigger.clone(),
            changes.clone(),
            scope_rx,
            metrics.clone(),
        );
        drift.timeout_secs = 1;
        (drift, trigger, changes, metrics)
    }

    /// Against the emulator. Changes made before the watch opens are replayed from the
    /// version it starts at, and a one-second server timeout ends the stream: every event
    /// has then been judged, so the count is exact.
    #[tokio::test]
    async fn changes_in_scope_wake_the_loop_and_others_do_not() {
        use k8s_openapi::api::networking::v1::NetworkPolicy;
        use netpol_testkit::cluster::{create_policies, start};
        let cluster = start(&["payments", "elsewhere"]).await;
        let client = cluster.client.clone();
        let (drift, _, changes, metrics) = watch_on(&cluster, &["payments"]).await;
        let mut from = Some(current_version(&client).await.unwrap());

        create_policies(&client, "elsewhere", &["teams-own"]).await;
        drift.watch_from(&mut from).await.unwrap();
        assert_eq!(metrics.drift_watch_wakeups.get(), 0, "out of scope");
        assert!(
            tokio::time::timeout(Duration::from_millis(100), changes.fired())
                .await
                .is_err(),
            "nothing woke the loop"
        );

        create_policies(&client, "payments", &["debug-hole"]).await;
        let api: kube::Api<NetworkPolicy> = kube::Api::namespaced(client.clone(), "payments");
        let hole = api.get("debug-hole").await.unwrap().metadata;
        api.delete("debug-hole", &Default::default()).await.unwrap();
        // One of ours outside the governed namespaces (a namespace that left the scope).
        let ours: NetworkPolicy = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "left-behind", "namespace": "elsewhere",
                         "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE}},
            "spec": {}
        }))
        .unwrap();
        kube::Api::<NetworkPolicy>::namespaced(client.clone(), "elsewhere")
            .create(&Default::default(), &ours)
            .await
            .unwrap();
        drift.watch_from(&mut from).await.unwrap();
        assert_eq!(
            metrics.drift_watch_wakeups.get(),
            3,
            "created and deleted in a governed namespace, and one of ours elsewhere"
        );
        tokio::time::timeout(Duration::from_secs(1), changes.fired())
            .await
            .expect("the loop was woken");
        let seen = changes.take().expect("three changes are kept");
        assert_eq!(seen.len(), 3, "{seen:?}");
        assert_eq!(
            (&seen[0].uid, &seen[0].resource_version, seen[0].deleted),
            (&hole.uid, &hole.resource_version, false),
            "each change carries the object's uid and version, for the loop to weigh"
        );
        assert!(seen[1].deleted && seen[1].uid == hole.uid, "{seen:?}");
        assert!(!seen[2].deleted, "{seen:?}");
        let last = cluster.emu.history().last().unwrap().resource_version;
        assert_eq!(
            from,
            Some(last.to_string()),
            "a reopened watch goes on from here"
        );
        cluster.emu.shutdown();
    }

    /// The task as the daemon runs it: idle without a scope, awake with one, stopped by
    /// shutdown.
    #[tokio::test]
    async fn the_running_watch_in_scope_once_it_has_a_scope_and_stops_on_shutdown() {
        use netpol_testkit::cluster::{create_policies, start};
        let cluster = start(&["payments"]).await;
        let client = cluster.client.clone();
        let (scope_tx, scope_rx) = watch::channel(None);
        let (stop_tx, stop_rx) = watch::channel(false);
        let changes = DriftChanges::default();
        let metrics = Arc::new(Metrics::new());
        let task = tokio::spawn(
            DriftWatch::new(
                client.clone(),
                Trigger::default(),
                changes.clone(),
                scope_rx,
                metrics.clone(),
            )
            .run(stop_rx),
        );
        let governed: BTreeSet<String> = ["payments".to_string()].into();
        scope_tx.send_replace(Some(Arc::new(governed)));
        // Changes count from the moment the watch is open.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !cluster
            .emu
            .requests()
            .iter()
            .any(|r| r.query.contains("watch=true"))
        {
            assert!(Instant::now() < deadline, "the watch never opened");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        create_policies(&client, "payments", &["debug-hole"]).await;
        tokio::time::timeout(Duration::from_secs(10), changes.fired())
            .await
            .expect("a new policy in a governed namespace wakes the loop");
        stop_tx.send_replace(true);
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("the watch stops on shutdown")
            .unwrap();
        cluster.emu.shutdown();
    }

    /// A watch reopened from a version the API server has compacted away gets 410: the
    /// loop is woken (changes may have been missed) and the watch starts again from now.
    #[tokio::test]
    async fn a_watch_from_a_compacted_version_in_scope_and_starts_afresh() {
        use netpol_testkit::cluster::start;
        let cluster = start(&["payments"]).await;
        let client = cluster.client.clone();
        let (drift, trigger, _, metrics) = watch_on(&cluster, &["payments"]).await;
        let old = current_version(&client).await.unwrap();
        // History moves on without a NetworkPolicy event, and is compacted.
        cluster.emu.create_namespace("later");
        cluster.emu.compact();
        let mut from = Some(old);
        assert!(matches!(
            drift.watch_from(&mut from).await,
            Err(DriftWatchError::Expired)
        ));

        // The running task: its quiet watch times out, reopens from a compacted version,
        // and wakes the loop though no policy changed.
        let watches = || {
            cluster
                .emu
                .requests()
                .iter()
                .filter(|r| r.query.contains("watch=true"))
                .count()
        };
        let before = watches();
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(drift.run(stop_rx));
        let deadline = Instant::now() + Duration::from_secs(30);
        while watches() == before {
            assert!(Instant::now() < deadline, "the watch never opened");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        cluster.emu.create_namespace("even-later");
        cluster.emu.compact();
        tokio::time::timeout(Duration::from_secs(10), trigger.fired())
            .await
            .expect("an expired watch wakes the loop");
        assert_eq!(metrics.drift_watch_wakeups.get(), 0, "no policy changed");
        stop_tx.send_replace(true);
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .unwrap()
            .unwrap();
        cluster.emu.shutdown();
    }
}
