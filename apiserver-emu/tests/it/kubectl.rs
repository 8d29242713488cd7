//! Fidelity against the real kubectl: it must work against the emulator exactly as
//! against kube-apiserver. kubectl must be installed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use apiserver_emu::{EmuConfig, Emulator};
use serde_json::Value;

struct Kubectl {
    _dir: tempfile::TempDir,
    kubeconfig: PathBuf,
    cache: PathBuf,
    work: PathBuf,
}

/// A fresh emulator and kubectl pointed at it. kubectl is required, not optional: without
/// it these tests would pass having checked nothing (scripts/setup.sh checks for it).
fn kubectl_and_emulator() -> (Emulator, Kubectl) {
    let installed = Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        installed,
        "kubectl is not installed: the emulator's fidelity is checked against it (run scripts/setup.sh)"
    );
    let emu = start();
    let k = Kubectl::new(&emu);
    (emu, k)
}

impl Kubectl {
    fn new(emu: &Emulator) -> Kubectl {
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        emu.write_kubeconfig(&kubeconfig).unwrap();
        let cache = dir.path().join("cache");
        let work = dir.path().to_path_buf();
        Kubectl {
            _dir: dir,
            kubeconfig,
            cache,
            work,
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(&self.cache)
            .args(args)
            .env("HOME", &self.work)
            .output()
            .expect("run kubectl")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "kubectl {args:?} should fail: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).to_string()
    }

    /// `kubectl get networkpolicy NAME -n payments -o json`, decoded.
    fn payments_policy(&self, name: &str) -> Value {
        let json = self.ok(&["get", "networkpolicy", name, "-n", "payments", "-o", "json"]);
        serde_json::from_str(&json).unwrap()
    }

    fn file(&self, name: &str, text: &str) -> String {
        let path = self.work.join(name);
        std::fs::write(&path, text).unwrap();
        path_str(&path)
    }
}

fn path_str(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

fn start() -> Emulator {
    Emulator::start(EmuConfig {
        tls: true,
        token: Some("kubectl-token".into()),
        namespaces: vec!["default".into(), "payments".into(), "frontend".into()],
    })
    .unwrap()
}

const POLICY: &str = "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny
  namespace: payments
  labels:
    app.kubernetes.io/managed-by: netpol-sync
spec:
  podSelector: {}
  ingress:
  - ports:
    - port: 8443
";

#[test]
fn create_get_replace_delete_a_networkpolicy() {
    let (emu, k) = kubectl_and_emulator();
    let file = k.file("policy.yaml", POLICY);
    assert_eq!(
        k.ok(&["create", "-f", &file]).trim(),
        "networkpolicy.networking.k8s.io/default-deny created"
    );

    let yaml = k.ok(&[
        "get",
        "networkpolicy",
        "default-deny",
        "-n",
        "payments",
        "-o",
        "yaml",
    ]);
    let got: Value = serde_yaml::from_str(&yaml).unwrap();
    assert_eq!(got["kind"], "NetworkPolicy");
    assert_eq!(
        got["spec"]["ingress"][0]["ports"][0]["protocol"], "TCP",
        "defaulted by the server"
    );
    assert_eq!(got["metadata"]["generation"], 1);
    let rv = got["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();

    // Replace with the object as read (carrying its resourceVersion).
    let edited = yaml.replace("port: 8443", "port: 9443");
    let edited_file = k.file("edited.yaml", &edited);
    assert_eq!(
        k.ok(&["replace", "-f", &edited_file]).trim(),
        "networkpolicy.networking.k8s.io/default-deny replaced"
    );
    let after = k.payments_policy("default-deny");
    assert_eq!(after["spec"]["ingress"][0]["ports"][0]["port"], 9443);
    assert_eq!(after["metadata"]["generation"], 2);
    assert_ne!(after["metadata"]["resourceVersion"].as_str().unwrap(), rv);

    // The same file again carries a stale resourceVersion now.
    let stderr = k.fails(&["replace", "-f", &edited_file]);
    assert!(
        stderr.contains("Operation cannot be fulfilled on networkpolicies.networking.k8s.io \"default-deny\": the object has been modified; please apply your changes to the latest version and try again"),
        "{stderr}"
    );

    assert_eq!(
        k.ok(&["delete", "-f", &file]).trim(),
        "networkpolicy.networking.k8s.io \"default-deny\" deleted"
    );
    assert!(emu
        .get_object("networkpolicies", Some("payments"), "default-deny")
        .is_none());
    let stderr = k.fails(&["get", "networkpolicy", "default-deny", "-n", "payments"]);
    assert!(
        stderr.contains("networkpolicies.networking.k8s.io \"default-deny\" not found"),
        "{stderr}"
    );
    let manager = emu
        .requests()
        .iter()
        .find(|r| r.method == "POST")
        .and_then(|r| r.field_manager.clone());
    assert_eq!(manager.as_deref(), Some("kubectl-create"));
}

#[test]
fn an_expired_continue_token_reads_as_the_apiservers_410_expired() {
    let (emu, k) = kubectl_and_emulator();
    let file = k.file("policy.yaml", POLICY);
    k.ok(&["create", "-f", &file]);
    let second = k.file("second.yaml", &POLICY.replace("payments", "frontend"));
    k.ok(&["create", "-f", &second]);
    let all = "/apis/networking.k8s.io/v1/networkpolicies";
    let first: Value =
        serde_json::from_str(&k.ok(&["get", "--raw", &format!("{all}?limit=1")])).unwrap();
    let token = first["metadata"]["continue"].as_str().unwrap().to_string();
    k.ok(&[
        "label",
        "networkpolicy",
        "default-deny",
        "-n",
        "payments",
        "touched=yes",
    ]);
    emu.compact();
    let err = k.fails(&["get", "--raw", &format!("{all}?limit=1&continue={token}")]);
    assert!(
        err.contains("Error from server (Expired): The provided continue parameter is too old"),
        "{err}"
    );
}

#[test]
fn list_across_namespaces_by_label_and_namespaces() {
    let (_emu, k) = kubectl_and_emulator();
    let docs = ["payments", "frontend"]
        .iter()
        .flat_map(|ns| {
            [("web", "web"), ("db", "db")].map(|(name, app)| {
                format!("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels:\n    app: {app}\nspec:\n  podSelector:\n    matchLabels:\n      app: {app}\n")
            })
        })
        .collect::<Vec<_>>()
        .join("---\n");
    let file = k.file("many.yaml", &docs);
    k.ok(&["create", "-f", &file]);

    let names = k.ok(&[
        "get",
        "networkpolicies",
        "-A",
        "-l",
        "app=web",
        "-o",
        "name",
    ]);
    assert_eq!(
        names.lines().collect::<Vec<_>>(),
        [
            "networkpolicy.networking.k8s.io/web",
            "networkpolicy.networking.k8s.io/web"
        ]
    );
    // kubectl walks `continue` tokens page by page, for names and for tables alike.
    let paged = k.ok(&[
        "get",
        "networkpolicies",
        "-A",
        "--chunk-size=1",
        "-o",
        "name",
    ]);
    assert_eq!(paged.lines().count(), 4, "{paged}");
    let paged_table = k.ok(&["get", "networkpolicies", "-A", "--chunk-size=3"]);
    assert_eq!(paged_table.lines().count(), 5, "{paged_table}");
    let table = k.ok(&["get", "networkpolicies", "-A", "-l", "app=web"]);
    let rows: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0], ["NAMESPACE", "NAME", "POD-SELECTOR", "AGE"]);
    assert_eq!(rows[1][..3], ["frontend", "web", "app=web"]);
    assert_eq!(rows[2][..3], ["payments", "web", "app=web"]);
    assert_eq!(rows.len(), 3);

    let ns = k.ok(&["get", "ns"]);
    let ns_rows: Vec<Vec<&str>> = ns.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(ns_rows[0], ["NAME", "STATUS", "AGE"]);
    let listed: Vec<(&str, &str)> = ns_rows[1..].iter().map(|r| (r[0], r[1])).collect();
    assert_eq!(
        listed,
        [
            ("default", "Active"),
            ("frontend", "Active"),
            ("payments", "Active")
        ]
    );
}

#[test]
fn invalid_policy_is_rejected_with_the_apiservers_422() {
    let (emu, k) = kubectl_and_emulator();
    let bad = "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: bad
  namespace: payments
spec:
  podSelector: {}
  ingress:
  - ports:
    - port: 2000
      endPort: 1000
";
    let file = k.file("bad.yaml", bad);
    let stderr = k.fails(&["create", "-f", &file]);
    // kubectl renders a 422 Status as `The <details.kind> "<name>" is invalid: <causes>`.
    assert!(
        stderr.contains("The NetworkPolicy \"bad\" is invalid: spec.ingress[0].ports[0].endPort: Invalid value: 1000: must be greater than or equal to `port`"),
        "{stderr}"
    );
    let unknown = k.file("unknown.yaml", &POLICY.replace("  ingress:", "  ingres:"));
    let stderr = k.fails(&["create", "-f", &unknown]);
    assert!(
        stderr.contains("strict decoding error: unknown field \"spec.ingres\""),
        "{stderr}"
    );
    assert!(emu.list_objects("networkpolicies").is_empty());
}

#[test]
fn a_policy_held_by_a_finalizer_is_deleted_when_kubectl_removes_it() {
    let (_emu, k) = kubectl_and_emulator();
    let held = POLICY.replace(
        "  labels:\n",
        "  finalizers: [example.com/audit]\n  labels:\n",
    );
    let file = k.file("held.yaml", &held);
    k.ok(&["create", "-f", &file]);
    let said = k.ok(&[
        "delete",
        "networkpolicy",
        "default-deny",
        "-n",
        "payments",
        "--wait=false",
    ]);
    assert!(said.contains("deleted"), "{said}");
    let got = k.payments_policy("default-deny");
    assert!(
        got["metadata"]["deletionTimestamp"].is_string(),
        "kept, marked for deletion: {got}"
    );
    k.ok(&[
        "patch",
        "networkpolicy",
        "default-deny",
        "-n",
        "payments",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    let gone = k.fails(&["get", "networkpolicy", "default-deny", "-n", "payments"]);
    assert!(
        gone.contains("NotFound") || gone.contains("not found"),
        "{gone}"
    );
}
