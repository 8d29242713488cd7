//! A real Kubernetes control plane for one test: etcd, kube-apiserver and
//! kube-controller-manager built from the upstream modules pinned in tests/kube/ and started by
//! `scripts/kube-up.sh` (docs/real-apiserver.md), stopped by `scripts/kube-down.sh` when the
//! value drops.
//!
//! The invariant needs every version a NetworkPolicy went through. Here a watch over all
//! namespaces records them — in etcd's order, with the object after each change (managedFields
//! included) — rather than the audit log, which does not carry the object at the level the
//! suite keeps it, and whose lines are written after the response, so no client could tell
//! when a line it needs has arrived. The watch's order gives a barrier: [`RealServer::settle`]
//! writes a marker policy and waits until the watch delivers it; every change made before has
//! been delivered by then.

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

/// netpol-sync's state namespace: the only one whose ConfigMaps are recorded.
const STATE_NS: &str = super::STATE_NS;
/// Where the markers of [`RealServer::settle`] are written; no test governs it.
pub const BARRIER_NS: &str = "zz-test-barrier";
/// How long a marker may take to come back through the watch before the test fails.
const SETTLE_LIMIT: Duration = Duration::from_secs(60);

/// The kinds the recorder watches, each in every namespace.
const WATCHED: [&str; 2] = ["networkpolicies", "configmaps"];

/// One change to a NetworkPolicy or ConfigMap, in the order the server made them.
#[derive(Clone, Debug)]
pub struct PolicyChange {
    /// `networkpolicies` or `configmaps`.
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    pub verb: ChangeVerb,
    /// The object after the change; `None` for a deletion.
    pub after: Option<Value>,
}

pub use apiserver_emu::ChangeVerb;

#[derive(Default)]
struct Recorded {
    changes: Vec<PolicyChange>,
    /// (kind, name) of the markers the watches delivered.
    markers_seen: Vec<(&'static str, String)>,
    failed: Option<String>,
}

pub struct RealServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    recorded: Arc<(Mutex<Recorded>, Condvar)>,
    markers: Mutex<u64>,
}

/// The control plane's binaries, built once per test process (scripts/kube-build.sh caches
/// them across runs).
pub fn kube_bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/kube-build.sh");
        let out = Command::new("bash")
            .arg(&script)
            .output()
            .expect("run scripts/kube-build.sh");
        assert!(
            out.status.success(),
            "scripts/kube-build.sh failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    })
}

impl RealServer {
    pub fn start() -> RealServer {
        let bin = kube_bin_dir().to_path_buf();
        let dir = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/kube-up.sh");
        let out = Command::new("bash")
            .arg(&script)
            .arg(dir.path())
            .env("KUBE_BIN_DIR", &bin)
            .output()
            .expect("run scripts/kube-up.sh");
        if !out.status.success() {
            let _ = Command::new("bash")
                .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/kube-down.sh"))
                .arg(dir.path())
                .status();
            panic!(
                "scripts/kube-up.sh failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let server = RealServer {
            dir,
            bin,
            recorded: Arc::new((Mutex::new(Recorded::default()), Condvar::new())),
            markers: Mutex::new(0),
        };
        server.create_namespaces(&[BARRIER_NS]);
        server.start_recorder();
        server
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// cluster-admin.
    pub fn admin_kubeconfig(&self) -> PathBuf {
        self.dir.path().join("admin.kubeconfig")
    }

    /// `system:serviceaccount:netpol-sync:netpol-sync`, bound to deploy/rbac.yaml only.
    pub fn netpol_sync_kubeconfig(&self) -> PathBuf {
        self.dir.path().join("netpol-sync.kubeconfig")
    }

    pub fn developer_kubeconfig(&self) -> PathBuf {
        self.dir.path().join("developer.kubeconfig")
    }

    pub fn break_glass_kubeconfig(&self) -> PathBuf {
        self.dir.path().join("break-glass.kubeconfig")
    }

    /// The release's own kubectl.
    /// Lists of NetworkPolicies by netpol-sync's identity received at or after `since`,
    /// from the audit log (this harness's own recorder lists as the admin).
    pub fn audited_policy_lists_since(&self, since: std::time::SystemTime) -> usize {
        let log =
            std::fs::read_to_string(self.dir.path().join("logs/audit.log")).unwrap_or_default();
        log.lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|e| {
                e["verb"] == "list"
                    && e["user"]["username"] == "system:serviceaccount:netpol-sync:netpol-sync"
                    && e["objectRef"]["resource"] == "networkpolicies"
                    && e["requestReceivedTimestamp"]
                        .as_str()
                        .and_then(|t| humantime::parse_rfc3339(t).ok())
                        .is_some_and(|t| t >= since)
            })
            .count()
    }

    pub fn kubectl_bin(&self) -> PathBuf {
        self.bin.join("kubectl")
    }

    /// kubectl as `kubeconfig`'s identity.
    pub fn kubectl_as(&self, kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> Output {
        use std::io::Write;
        let mut child = Command::new(self.kubectl_bin())
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("kubectl runs");
        if let Some(s) = stdin {
            child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        }
        drop(child.stdin.take());
        child.wait_with_output().unwrap()
    }

    /// kubectl as cluster-admin; panics with its output when it fails.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl_as(&self.admin_kubeconfig(), args, None);
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn create_namespaces(&self, names: &[&str]) {
        if names.is_empty() {
            return;
        }
        let docs: String = names
            .iter()
            .map(|n| format!("---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: {n}\n"))
            .collect();
        let out = self.kubectl_as(
            &self.admin_kubeconfig(),
            &["create", "-f", "-"],
            Some(&docs),
        );
        assert!(
            out.status.success(),
            "create namespaces {names:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Stop one process of the control plane (`etcd`, `kube-apiserver`) as kube-down would.
    pub fn stop_process(&self, name: &str) {
        let pid_file = self.dir.path().join("pids").join(format!("{name}.pid"));
        let pid = std::fs::read_to_string(&pid_file).expect("pid file");
        let status = Command::new("kill")
            .args(["-TERM", pid.trim()])
            .status()
            .unwrap();
        assert!(status.success(), "kill {name}");
        while Path::new(&format!("/proc/{}", pid.trim())).exists()
            && !std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()))
                .unwrap_or_default()
                .contains(") Z")
        {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Start a process stopped by [`RealServer::stop_process`] again, with the same flags.
    pub fn restart_process(&self, name: &str) {
        let dir = self.dir.path();
        let log = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(dir.join("logs").join(format!("{name}.log")))
            .unwrap();
        let child = Command::new("setsid")
            .arg(dir.join("run").join(format!("{name}.sh")))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(std::process::Stdio::null())
            .spawn()
            .expect("restart");
        std::fs::write(
            dir.join("pids").join(format!("{name}.pid")),
            child.id().to_string(),
        )
        .unwrap();
        // Reaped by a thread of its own, so a stop leaves no zombie behind.
        std::thread::spawn(move || {
            let mut child = child;
            let _ = child.wait();
        });
    }

    /// Wait until the API server answers /readyz again (after a restart).
    pub fn wait_ready(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(90);
        loop {
            let out = self.kubectl_as(&self.admin_kubeconfig(), &["get", "--raw", "/readyz"], None);
            if out.status.success() {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the API server did not come back: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn start_recorder(&self) {
        let recorded = Arc::clone(&self.recorded);
        let kubeconfig = self.admin_kubeconfig();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let result = runtime.block_on(record(kubeconfig, &recorded, ready_tx));
            let (lock, cvar) = &*recorded;
            lock.lock().unwrap().failed = Some(match result {
                Ok(()) => "the watch ended".into(),
                Err(e) => e,
            });
            cvar.notify_all();
        });
        for _ in WATCHED {
            ready_rx
                .recv_timeout(Duration::from_secs(60))
                .expect("the change recorder started its watches");
        }
    }

    /// Every change the watches delivered so far, after a barrier: each change the server made
    /// before this call is included.
    pub fn settle(&self) -> Vec<PolicyChange> {
        let marker = {
            let mut n = self.markers.lock().unwrap();
            *n += 1;
            format!("marker-{n}")
        };
        let doc = format!(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {marker}\n  namespace: {BARRIER_NS}\nspec:\n  podSelector: {{}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {marker}\n  namespace: {BARRIER_NS}\n"
        );
        let out = self.kubectl_as(&self.admin_kubeconfig(), &["create", "-f", "-"], Some(&doc));
        assert!(
            out.status.success(),
            "barrier: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (lock, cvar) = &*self.recorded;
        let guard = lock.lock().unwrap();
        let (guard, timeout) = cvar
            .wait_timeout_while(guard, SETTLE_LIMIT, |r| {
                r.failed.is_none()
                    && !WATCHED.iter().all(|kind| {
                        r.markers_seen
                            .iter()
                            .any(|(k, name)| k == kind && *name == marker)
                    })
            })
            .unwrap();
        if let Some(failed) = &guard.failed {
            panic!("the change recorder failed: {failed}");
        }
        assert!(
            !timeout.timed_out(),
            "the watch did not deliver {marker} within {SETTLE_LIMIT:?}"
        );
        guard.changes.clone()
    }
}

async fn record(
    kubeconfig: PathBuf,
    recorded: &(Mutex<Recorded>, Condvar),
    ready: std::sync::mpsc::Sender<()>,
) -> Result<(), String> {
    let (client, _) = netpol_sync::kube_client::connect(&netpol_sync::kube_client::ClusterTarget {
        kubeconfig: Some(kubeconfig),
        context: None,
    })
    .await
    .map_err(|e| e.to_string())?;
    let (policies, configmaps) = tokio::join!(
        watch_kind(client.clone(), "networkpolicies", recorded, ready.clone()),
        watch_kind(client, "configmaps", recorded, ready),
    );
    policies.and(configmaps)
}

/// Record every change to `kind` in every namespace, from a list's resourceVersion on.
async fn watch_kind(
    client: kube::Client,
    kind: &'static str,
    recorded: &(Mutex<Recorded>, Condvar),
    ready: std::sync::mpsc::Sender<()>,
) -> Result<(), String> {
    use futures::{StreamExt, TryStreamExt};
    use kube::api::{Api, ApiResource, DynamicObject, ListParams, WatchEvent, WatchParams};
    use kube::core::GroupVersionKind;
    let gvk = match kind {
        "networkpolicies" => GroupVersionKind::gvk("networking.k8s.io", "v1", "NetworkPolicy"),
        _ => GroupVersionKind::gvk("", "v1", "ConfigMap"),
    };
    let api: Api<DynamicObject> = Api::all_with(client, &ApiResource::from_gvk(&gvk));
    let list = api
        .list(&ListParams::default())
        .await
        .map_err(|e| e.to_string())?;
    let mut live = names(&list.items);
    let mut version = list.metadata.resource_version.unwrap_or_default();
    let _ = ready.send(());
    // A broken connection (an apiserver or etcd restart in a fault test) is resumed from the
    // last version seen. A restarted apiserver's watch cache begins at etcd's current
    // revision, so it may answer 410 Gone for that version: then the objects are listed and
    // each one's state recorded as a change (and each one gone as a deletion). Versions
    // passed through inside that gap are not seen; docs/real-apiserver.md says so.
    loop {
        let stream = match api
            .watch(&WatchParams::default().timeout(290), &version)
            .await
        {
            Ok(stream) => stream,
            Err(kube::Error::Api(e)) if e.code == 410 => {
                version = resync(&api, kind, &mut live, recorded).await;
                continue;
            }
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let mut stream = stream.boxed();
        loop {
            let event = match stream.try_next().await {
                Ok(Some(event)) => event,
                Ok(None) | Err(_) => break,
            };
            let (verb, object) = match event {
                WatchEvent::Added(o) => (ChangeVerb::Created, o),
                WatchEvent::Modified(o) => (ChangeVerb::Updated, o),
                WatchEvent::Deleted(o) => (ChangeVerb::Deleted, o),
                WatchEvent::Bookmark(b) => {
                    version = b.metadata.resource_version;
                    continue;
                }
                WatchEvent::Error(e) if e.code == 410 => {
                    version = resync(&api, kind, &mut live, recorded).await;
                    break;
                }
                WatchEvent::Error(_) => break,
            };
            version = object.metadata.resource_version.clone().unwrap_or_default();
            note(kind, verb, object, &mut live, recorded);
        }
    }
}

/// (namespace, name) of each object.
fn names(items: &[kube::api::DynamicObject]) -> BTreeSet<(String, String)> {
    items
        .iter()
        .map(|o| {
            let m = &o.metadata;
            (
                m.namespace.clone().unwrap_or_default(),
                m.name.clone().unwrap_or_default(),
            )
        })
        .collect()
}

/// Record one change to `object`.
fn note(
    kind: &'static str,
    verb: ChangeVerb,
    object: kube::api::DynamicObject,
    live: &mut BTreeSet<(String, String)>,
    recorded: &(Mutex<Recorded>, Condvar),
) {
    let namespace = object.metadata.namespace.clone().unwrap_or_default();
    let name = object.metadata.name.clone().unwrap_or_default();
    if verb == ChangeVerb::Deleted {
        live.remove(&(namespace.clone(), name.clone()));
    } else {
        live.insert((namespace.clone(), name.clone()));
    }
    let (lock, cvar) = recorded;
    let mut r = lock.lock().unwrap();
    if namespace == BARRIER_NS {
        r.markers_seen.push((kind, name));
    } else if kind == "networkpolicies" || namespace == STATE_NS {
        let after = (verb != ChangeVerb::Deleted)
            .then(|| serde_json::to_value(&object).expect("an object serialises"));
        r.changes.push(PolicyChange {
            kind,
            namespace,
            name,
            verb,
            after,
        });
    }
    cvar.notify_all();
}

/// After a 410: the state of every object now, each recorded as a change, and the
/// version to watch from. Retries until the server answers.
async fn resync(
    api: &kube::Api<kube::api::DynamicObject>,
    kind: &'static str,
    live: &mut BTreeSet<(String, String)>,
    recorded: &(Mutex<Recorded>, Condvar),
) -> String {
    loop {
        match api.list(&kube::api::ListParams::default()).await {
            Ok(list) => {
                let now = names(&list.items);
                for (namespace, name) in live.clone().difference(&now) {
                    let mut gone = kube::api::DynamicObject::new(
                        name,
                        &kube::api::ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&()),
                    );
                    gone.metadata.namespace = Some(namespace.clone());
                    note(kind, ChangeVerb::Deleted, gone, live, recorded);
                }
                for object in list.items {
                    note(kind, ChangeVerb::Updated, object, live, recorded);
                }
                return list.metadata.resource_version.unwrap_or_default();
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

impl Drop for RealServer {
    fn drop(&mut self) {
        // The data goes with the temporary directory: no graceful shutdown to wait for.
        let _ = Command::new("bash")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/kube-down.sh"))
            .arg("--now")
            .arg(self.dir.path())
            .status();
    }
}
