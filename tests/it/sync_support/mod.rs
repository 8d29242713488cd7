//! Shared by the sync end-to-end tests: a signed policy repository built with the real
//! `git` and `ssh-keygen`, an apiserver-emu instance, the real `netpol-sync` binary, and
//! the invariant checker over the emulator's change log.
#![allow(dead_code)]

pub(crate) use crate::support;

mod real;

pub use real::{ChangeVerb, PolicyChange, RealServer};

use apiserver_emu::{EmuConfig, Emulator};
use netpol_sync::marks::ANNOTATION_PREFIX;
use netpol_sync::plan::live::content_hash_without_finalizers;
use netpol_sync::plan::ObjectKey;
use netpol_testkit::invariant::{self, ObservedChange};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const STATE_NS: &str = "netpol-sync";

pub use netpol_testkit::{policy_yaml, BundleSpec, PolicyRepo};

/// The API server a test runs against.
pub enum Server {
    /// apiserver-emu, in this process.
    Emulator(Emulator),
    /// A real control plane (`scripts/kube-up.sh`), netpol-sync with its own identity.
    Real(RealServer),
}

/// Whether [`Cluster::start`] runs the real control plane: `NETPOL_SYNC_TEST_APISERVER=real`
/// (docs/real-apiserver.md). Otherwise, and with `emulator`, it runs apiserver-emu.
pub fn real_selected() -> bool {
    match std::env::var("NETPOL_SYNC_TEST_APISERVER").as_deref() {
        Ok("real") => true,
        Ok("emulator") | Ok("") | Err(_) => false,
        Ok(other) => panic!("NETPOL_SYNC_TEST_APISERVER={other}: expected real or emulator"),
    }
}

/// An API server with the state namespace and `namespaces`, and netpol-sync's kubeconfig on
/// disk.
pub struct Cluster {
    server: Server,
    /// What netpol-sync runs with: on the real server the service account bound to
    /// deploy/rbac.yaml, so a missing verb fails the test.
    pub kubeconfig: PathBuf,
    /// The key that authenticates netpol-sync's state record (`--state-key`), as the
    /// deployment's Secret would hold it.
    pub state_key: PathBuf,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// The server [`real_selected`] names: every test that only talks HTTP starts here, so
    /// the suite runs unchanged against both.
    pub fn start(namespaces: &[&str]) -> Cluster {
        if real_selected() {
            Cluster::start_real(namespaces)
        } else {
            Cluster::start_emulator(namespaces)
        }
    }

    /// apiserver-emu, whatever is selected: for tests that inject faults or read the
    /// emulator's request log.
    pub fn start_emulator(namespaces: &[&str]) -> Cluster {
        Cluster::start_with(EmuConfig {
            tls: false,
            token: None,
            namespaces: std::iter::once(STATE_NS)
                .chain(namespaces.iter().copied())
                .map(String::from)
                .collect(),
        })
    }

    pub fn start_with(cfg: EmuConfig) -> Cluster {
        let emu = Emulator::start(cfg).expect("start apiserver-emu");
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        emu.write_kubeconfig(&kubeconfig).unwrap();
        let state_key = support::state_key().to_path_buf();
        Cluster {
            server: Server::Emulator(emu),
            kubeconfig,
            state_key,
            _dir: dir,
        }
    }

    /// The real control plane, whatever is selected.
    pub fn start_real(namespaces: &[&str]) -> Cluster {
        let real = RealServer::start();
        real.create_namespaces(namespaces);
        Cluster {
            kubeconfig: real.netpol_sync_kubeconfig(),
            state_key: support::state_key().to_path_buf(),
            server: Server::Real(real),
            _dir: tempfile::tempdir().unwrap(),
        }
    }

    /// The emulator this test started with [`Cluster::start_emulator`].
    pub fn emu(&self) -> &Emulator {
        match &self.server {
            Server::Emulator(emu) => emu,
            Server::Real(_) => panic!(
                "this test drives apiserver-emu's own controls; start it with Cluster::start_emulator"
            ),
        }
    }

    /// Stop the server (the control plane's processes, or the emulator's listener).
    pub fn shutdown(self) {
        match self.server {
            Server::Emulator(emu) => emu.shutdown(),
            Server::Real(real) => drop(real),
        }
    }

    pub fn real(&self) -> Option<&RealServer> {
        match &self.server {
            Server::Emulator(_) => None,
            Server::Real(real) => Some(real),
        }
    }

    /// An identity that may do anything: the emulator's only one, or cluster-admin.
    pub fn admin_kubeconfig(&self) -> PathBuf {
        match &self.server {
            Server::Emulator(_) => self.kubeconfig.clone(),
            Server::Real(real) => real.admin_kubeconfig(),
        }
    }

    /// Let netpol-sync keep its state record in `namespace` (`--state-namespace`): on the
    /// real server, deploy/rbac.yaml's Role and RoleBinding copied there, as an operator who
    /// moves the state namespace must do. The emulator authorises everything.
    pub fn allow_state_namespace(&self, namespace: &str) {
        let Server::Real(real) = &self.server else {
            return;
        };
        let rbac =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/rbac.yaml"))
                .unwrap();
        let mut docs = String::new();
        for doc in serde_yaml::Deserializer::from_str(&rbac) {
            let mut v: serde_yaml::Value = serde::Deserialize::deserialize(doc).unwrap();
            if matches!(v["kind"].as_str(), Some("Role") | Some("RoleBinding")) {
                v["metadata"]["namespace"] = namespace.into();
                docs.push_str("---\n");
                docs.push_str(&serde_yaml::to_string(&v).unwrap());
            }
        }
        let out = real.kubectl_as(&real.admin_kubeconfig(), &["apply", "-f", "-"], Some(&docs));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Every core/v1 Event in every namespace.
    pub fn events(&self) -> Vec<Value> {
        match &self.server {
            Server::Emulator(emu) => emu.list_objects("events"),
            Server::Real(real) => {
                let out = real.kubectl_ok(&["get", "events", "-A", "-o", "json"]);
                let list: Value = serde_json::from_str(&out).unwrap();
                list["items"].as_array().cloned().unwrap_or_default()
            }
        }
    }

    pub fn create_namespace(&self, name: &str) {
        match &self.server {
            Server::Emulator(emu) => emu.create_namespace(name),
            Server::Real(real) => real.create_namespaces(&[name]),
        }
    }

    /// Live NetworkPolicies as (namespace/name → content hash).
    pub fn policy_hashes(&self) -> BTreeMap<ObjectKey, String> {
        let values = match &self.server {
            Server::Emulator(emu) => emu.list_objects("networkpolicies"),
            Server::Real(real) => {
                let out = real.kubectl_ok(&["get", "networkpolicies", "-A", "-o", "json"]);
                let list: Value = serde_json::from_str(&out).unwrap();
                list["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|v| v["metadata"]["namespace"] != real::BARRIER_NS)
                    .cloned()
                    .collect()
            }
        };
        let objects: Vec<netpol_policy::NetworkPolicy> = values
            .into_iter()
            .map(|v| serde_json::from_value(v).expect("a live policy decodes"))
            .collect();
        invariant::hashes(&objects)
    }

    /// Every real `method` request to `path` fails with 500 and its one dry run passes:
    /// a sync sends exactly one dry run per write, before any real write, so the first
    /// matching request is let through and every later one (retries included) fails.
    /// Keyed on order, not on `dryRun`, because a delete carries its dry run in the
    /// DeleteOptions body, where the emulator's faults do not look.
    pub fn fail_real_writes(&self, method: &str, path: &str) {
        use apiserver_emu::{FaultAction, FaultRule};
        self.emu().inject(
            FaultRule::new(path, FaultAction::Latency(std::time::Duration::ZERO))
                .method(method)
                .times(1),
        );
        self.emu()
            .inject(FaultRule::new(path, FaultAction::Status(500)).method(method));
    }

    /// Set (or with `None`, remove) the finalizers of live policies over HTTP, as another
    /// controller would. Removing them from a policy already gone is not an error.
    pub fn set_finalizers(&self, keys: &BTreeSet<ObjectKey>, finalizers: Option<&[&str]>) {
        use k8s_openapi::api::networking::v1::NetworkPolicy;
        use kube::api::{Api, Patch, PatchParams};
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let (client, _) =
                netpol_sync::kube_client::connect(&netpol_sync::kube_client::ClusterTarget {
                    kubeconfig: Some(self.admin_kubeconfig()),
                    context: None,
                })
                .await
                .unwrap();
            let patch = serde_json::json!({"metadata": {"finalizers": finalizers}});
            for key in keys {
                let api: Api<NetworkPolicy> = Api::namespaced(client.clone(), &key.namespace);
                match api
                    .patch(&key.name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                {
                    Ok(_) => {}
                    Err(kube::Error::Api(e)) if e.code == 404 && finalizers.is_none() => {}
                    Err(e) => panic!("finalizers of {key}: {e}"),
                }
            }
        });
    }

    pub fn policy(&self, ns: &str, name: &str) -> Option<Value> {
        match &self.server {
            Server::Emulator(emu) => emu.get_object("networkpolicies", Some(ns), name),
            Server::Real(real) => {
                let out = real.kubectl_as(
                    &real.admin_kubeconfig(),
                    &["get", "networkpolicy", "-n", ns, name, "-o", "json"],
                    None,
                );
                out.status
                    .success()
                    .then(|| serde_json::from_slice(&out.stdout).unwrap())
            }
        }
    }

    /// A position in the NetworkPolicy change log, for [`Cluster::changes_since`]. On the
    /// real server it is taken after a barrier, so it counts every change made before.
    pub fn history_len(&self) -> usize {
        self.changes().len()
    }

    /// Every NetworkPolicy change the server made, in order.
    pub fn changes(&self) -> Vec<PolicyChange> {
        match &self.server {
            Server::Emulator(emu) => emu
                .history()
                .into_iter()
                .filter(|c| c.kind == "networkpolicies")
                .map(|c| PolicyChange {
                    kind: "networkpolicies",
                    namespace: c.namespace.unwrap_or_default(),
                    name: c.name,
                    verb: c.verb,
                    after: c.after,
                })
                .collect(),
            Server::Real(real) => real
                .settle()
                .into_iter()
                .filter(|c| c.kind == "networkpolicies")
                .collect(),
        }
    }

    /// A position in the log of writes, for [`Cluster::writes_since`].
    pub fn write_mark(&self) -> usize {
        match &self.server {
            Server::Emulator(emu) => emu.requests().len(),
            Server::Real(real) => real.settle().len(),
        }
    }

    /// The writes since `mark` that changed something, as request paths
    /// (`/…/namespaces/NS/KIND/NAME`): on the emulator every write request but dry runs
    /// named in the query; on the real server every change to a NetworkPolicy or to a
    /// ConfigMap of the state namespace.
    pub fn writes_since(&self, mark: usize) -> Vec<String> {
        match &self.server {
            Server::Emulator(emu) => emu
                .requests()
                .into_iter()
                .skip(mark)
                .filter(|r| r.method != "GET" && !r.query.contains("dryRun"))
                .map(|r| r.path)
                .collect(),
            Server::Real(real) => real
                .settle()
                .into_iter()
                .skip(mark)
                .map(|c| format!("/namespaces/{}/{}/{}", c.namespace, c.kind, c.name))
                .collect(),
        }
    }

    /// NetworkPolicy changes after position `from` ([`Cluster::history_len`]).
    pub fn changes_since(&self, from: usize) -> Vec<PolicyChange> {
        self.changes().into_iter().skip(from).collect()
    }

    /// The NetworkPolicy writes since `mark` ([`Cluster::write_mark`]), as
    /// [`Cluster::writes_since`] tells them.
    pub fn policy_writes_since(&self, mark: usize) -> Vec<String> {
        self.writes_since(mark)
            .into_iter()
            .filter(|path| path.contains("/networkpolicies"))
            .collect()
    }

    /// Lists of NetworkPolicies (any scope; watches are not lists) that the server
    /// received at or after `since`: from the emulator's request log, or the real
    /// apiserver's audit log (kube-up.sh audits those lists).
    pub fn policy_lists_since(&self, since: std::time::SystemTime) -> usize {
        match &self.server {
            Server::Emulator(emu) => emu
                .requests()
                .iter()
                .filter(|r| {
                    r.time >= since
                        && r.method == "GET"
                        && r.path.ends_with("/networkpolicies")
                        && !r.query.split('&').any(|p| p.starts_with("watch="))
                })
                .count(),
            Server::Real(real) => real.audited_policy_lists_since(since),
        }
    }

    /// How many requests the emulator has answered (its request log's length).
    pub fn request_count(&self) -> usize {
        self.emu().requests().len()
    }

    /// A hand edit with the real kubectl, as a person would make it (on the real server, as
    /// cluster-admin with the release's own kubectl).
    pub fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> Output {
        use std::io::Write;
        let (program, kubeconfig) = match &self.server {
            Server::Emulator(_) => (PathBuf::from("kubectl"), self.kubeconfig.clone()),
            Server::Real(real) => (real.kubectl_bin(), real.admin_kubeconfig()),
        };
        let mut cmd = Command::new(program);
        cmd.arg("--kubeconfig").arg(&kubeconfig).args(args);
        if matches!(args.first(), Some(&"create") | Some(&"replace")) {
            // Hand edits skip client-side schema validation: the API server validates.
            cmd.arg("--validate=false");
        }
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("kubectl runs");
        if let Some(s) = stdin {
            child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        }
        drop(child.stdin.take());
        child.wait_with_output().unwrap()
    }

    /// A person's `kubectl create -f -` of `yaml` (field manager `kubectl-create`).
    pub fn hand_create(&self, yaml: &str) {
        let out = self.kubectl(&["create", "-f", "-"], Some(yaml));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A person's `kubectl delete networkpolicy`.
    pub fn hand_delete(&self, namespace: &str, name: &str) {
        let out = self.kubectl(&["delete", "networkpolicy", "-n", namespace, name], None);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A person's merge patch of a policy (field manager `kubectl-patch`): its ingress
    /// opened to everything.
    pub fn hand_open_ingress(&self, namespace: &str, name: &str) {
        let out = self.kubectl(
            &[
                "patch",
                "networkpolicy",
                "-n",
                namespace,
                name,
                "--type=merge",
                "-p",
                r#"{"spec":{"ingress":[{}]}}"#,
            ],
            None,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A hand-made policy in `namespace` letting everything in: what an on-call person makes
/// to debug.
pub fn debug_open(namespace: &str) -> String {
    format!("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: debug-open\n  namespace: {namespace}\nspec:\n  podSelector: {{}}\n  ingress: [{{}}]\n")
}

/// The result of one `netpol-sync` run.
pub struct Run {
    pub code: i32,
    /// stdout as JSON (`Null` when it is not JSON).
    pub json: Value,
    pub stdout: String,
    pub stderr: String,
}

pub fn netpol_sync<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Run {
    let out = Command::new(support::netpol_sync_bin())
        .env("NETPOL_SYNC_STATE_KEY", support::state_key())
        .args(args)
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let json = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
    Run {
        code: out.status.code().unwrap_or(-1),
        json,
        stdout,
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
    }
}

/// `sync --once --output json` against `cluster` from `repo`, extra args appended. Every
/// sync of a commit whose bundles are known (made by [`PolicyRepo::commit`], the whole
/// revision selected) is checked against the invariant over exactly its own changes,
/// whatever the test asserts besides.
pub fn sync(repo: &PolicyRepo, cluster: &Cluster, extra: &[&str]) -> Run {
    let selects = extra
        .iter()
        .any(|a| a.starts_with("--rev") || a.starts_with("--bundle"));
    let known = (!selects).then(|| repo.head_bundles()).flatten();
    let start = cluster.policy_hashes();
    let from = cluster.history_len();
    let run = cluster_command("sync", repo, cluster, extra);
    if let Some(bundles) = known {
        let new = if extra.contains(&"--immutable-objects") {
            expected_immutable(&bundles)
        } else {
            expected_hashes(&bundles)
        };
        assert_invariant(cluster, from, &start, &new);
    }
    run
}

/// `verify --output json` of `repo`'s HEAD against its anchor.
pub fn verify(repo: &PolicyRepo) -> Run {
    let path = repo.path().display().to_string();
    let anchor = repo.anchor.display().to_string();
    netpol_sync(&[
        "verify",
        "--repo",
        &path,
        "--trust-anchor",
        &anchor,
        "--output",
        "json",
    ])
}

pub fn plan(repo: &PolicyRepo, cluster: &Cluster, extra: &[&str]) -> Run {
    cluster_command("plan", repo, cluster, extra)
}

fn cluster_command(command: &str, repo: &PolicyRepo, cluster: &Cluster, extra: &[&str]) -> Run {
    let mut args = vec!["--output", "json"];
    args.extend(extra);
    netpol_sync(&cluster_args(command, repo, cluster, &args))
}

/// `plan` as a person reads it: the text output, with `extra` appended.
pub fn plan_text(repo: &PolicyRepo, cluster: &Cluster, extra: &[&str]) -> Run {
    netpol_sync(&cluster_args("plan", repo, cluster, extra))
}

fn cluster_args(
    command: &str,
    repo: &PolicyRepo,
    cluster: &Cluster,
    extra: &[&str],
) -> Vec<String> {
    let mut args: Vec<String> = vec![command.into()];
    if command == "sync" {
        args.push("--once".into());
    }
    for (flag, value) in [
        ("--repo", repo.path()),
        ("--trust-anchor", repo.anchor.as_path()),
        ("--kubeconfig", cluster.kubeconfig.as_path()),
        ("--state-key", cluster.state_key.as_path()),
    ] {
        args.push(flag.into());
        args.push(value.display().to_string());
    }
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

/// The desired (namespace/name → content hash) of bundle specs, computed independently of
/// netpol-sync: each document defaulted by the shared policy crate, the way the API server
/// stores it.
pub fn expected_hashes(bundles: &[BundleSpec]) -> BTreeMap<ObjectKey, String> {
    let mut out = BTreeMap::new();
    for b in bundles {
        for (ns, name, port) in &b.policies {
            out.insert(
                ObjectKey {
                    namespace: ns.clone(),
                    name: name.clone(),
                },
                netpol_policy::content_hash(&stored_policy(ns, name, *port), ANNOTATION_PREFIX),
            );
        }
    }
    out
}

/// A spec's policy as the API server stores it: decoded and defaulted by the shared policy
/// crate.
fn stored_policy(ns: &str, name: &str, port: u16) -> netpol_policy::NetworkPolicy {
    let value: Value = serde_yaml::from_str(&policy_yaml(ns, name, port)).unwrap();
    let mut np = netpol_policy::decode_strict(value).unwrap();
    netpol_policy::apply_defaults(&mut np);
    np
}

/// [`expected_hashes`] for `--immutable-objects`, computed as independently: each policy
/// as the object `<name>-<first 10 hex of its content hash>` labelled
/// `netpol-sync.io/policy: <name>` (docs/sync.md, "Immutable objects").
pub fn expected_immutable(bundles: &[BundleSpec]) -> BTreeMap<ObjectKey, String> {
    let mut out = BTreeMap::new();
    for b in bundles {
        for (ns, name, port) in &b.policies {
            let mut np = stored_policy(ns, name, *port);
            let own = netpol_policy::content_hash(&np, ANNOTATION_PREFIX);
            let hex = own.strip_prefix("sha256:").unwrap();
            let object_name = format!("{name}-{}", &hex[..10]);
            np.metadata.name = Some(object_name.clone());
            np.metadata
                .labels
                .get_or_insert_with(Default::default)
                .insert("netpol-sync.io/policy".into(), name.clone());
            out.insert(
                ObjectKey {
                    namespace: ns.clone(),
                    name: object_name,
                },
                netpol_policy::content_hash(&np, ANNOTATION_PREFIX),
            );
        }
    }
    out
}

/// Changes to NetworkPolicies as the invariant reads them. A change is netpol-sync's when
/// the object's newest managedFields entry is ours; a deletion counts as ours.
pub fn observed_changes(changes: &[PolicyChange]) -> Vec<ObservedChange> {
    changes
        .iter()
        .map(|c| {
            let key = ObjectKey {
                namespace: c.namespace.clone(),
                name: c.name.clone(),
            };
            let after: Option<netpol_policy::NetworkPolicy> = c
                .after
                .clone()
                .map(|v| serde_json::from_value(v).expect("a live policy decodes"));
            let by_netpol_sync = match (&c.verb, &c.after) {
                (ChangeVerb::Deleted, _) => true,
                (_, Some(v)) => last_manager(v).as_deref() == Some("netpol-sync"),
                (_, None) => true,
            };
            ObservedChange {
                key,
                after: after.map(|np| content_hash_without_finalizers(&np)),
                by_netpol_sync,
            }
        })
        .collect()
}

fn last_manager(v: &Value) -> Option<String> {
    v["metadata"]["managedFields"].as_array()?.last()?["manager"]
        .as_str()
        .map(String::from)
}

/// Assert the invariant over every change since `from`: each live policy in scope was
/// always at its start version or its version in `new`.
pub fn assert_invariant(
    cluster: &Cluster,
    from: usize,
    start: &BTreeMap<ObjectKey, String>,
    new: &BTreeMap<ObjectKey, String>,
) {
    let changes = observed_changes(&cluster.changes_since(from));
    if let Err(violations) = invariant::check(start, new, &changes) {
        let text: Vec<String> = violations.iter().map(|v| v.to_string()).collect();
        panic!("sync invariant violated:\n{}", text.join("\n"));
    }
}

/// The NetworkPolicy write actions (create/update/delete) since history position `from`.
pub fn write_actions(cluster: &Cluster, from: usize) -> Vec<netpol_sync::plan::Action> {
    use netpol_sync::plan::Action;
    cluster
        .changes_since(from)
        .iter()
        .map(|c| match c.verb {
            ChangeVerb::Created => Action::Create,
            ChangeVerb::Updated => Action::Update,
            ChangeVerb::Deleted => Action::Delete,
        })
        .collect()
}

/// Only the keys in `namespaces` (the governed scope), for comparing with a revision.
pub fn in_namespaces(
    map: &BTreeMap<ObjectKey, String>,
    namespaces: &[&str],
) -> BTreeMap<ObjectKey, String> {
    map.iter()
        .filter(|(k, _)| namespaces.contains(&k.namespace.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}
