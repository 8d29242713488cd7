//! The emulator held to the real thing: the same requests sent to apiserver-emu and to a real
//! kube-apiserver v1.37.2, and their answers compared — status code, reason, and the field
//! path and type of every validation cause. Every difference is a failure, unless
//! apiserver-emu/README.md lists it with its reason (`KNOWN` below mirrors that list).

use crate::sync_support;

#[path = "../../apiserver-emu/tests/it/networkpolicy_cases.rs"]
mod networkpolicy_cases;

use serde_json::{json, Value};
use std::path::Path;
use sync_support::Cluster;

const NS: &str = "diff";

/// What one server answered: (code, reason, sorted [(field, cause type)]).
type Answer = (u16, String, Vec<(String, String)>);

/// Send `method` `path` with `body` as cluster-admin and describe the answer.
fn ask(kubeconfig: &Path, method: &str, path: &str, body: Option<&Value>) -> Answer {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (client, _) =
            netpol_sync::kube_client::connect(&netpol_sync::kube_client::ClusterTarget {
                kubeconfig: Some(kubeconfig.to_path_buf()),
                context: None,
            })
            .await
            .unwrap();
        let request = http::Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .body(body.map(|b| b.to_string().into_bytes()).unwrap_or_default())
            .unwrap();
        match client.request::<Value>(request).await {
            Ok(v) => {
                let code = if method == "POST" { 201 } else { 200 };
                let _ = v;
                (code, String::new(), Vec::new())
            }
            Err(kube::Error::Api(status)) => {
                let mut causes: Vec<(String, String)> = status
                    .details
                    .map(|d| d.causes.into_iter().map(|c| (c.field, c.reason)).collect())
                    .unwrap_or_default();
                causes.sort();
                (status.code, status.reason, causes)
            }
            Err(e) => panic!("{method} {path}: {e}"),
        }
    })
}

fn assert_no_differences(differences: &[String]) {
    assert!(
        differences.is_empty(),
        "{} differences:\n{}",
        differences.len(),
        differences.join("\n")
    );
}

fn policies(dry_run: bool) -> String {
    format!(
        "/apis/networking.k8s.io/v1/namespaces/{NS}/networkpolicies{}",
        if dry_run { "?dryRun=All" } else { "" }
    )
}

/// Each case as a server-side dry-run create on both servers.
#[test]
fn networkpolicy_validation_answers_match_the_real_server() {
    let emu = Cluster::start_emulator(&[NS]);
    let real = Cluster::start_real(&[NS]);
    let mut differences = Vec::new();
    let mut compare = |case: &str, method: &str, path: &str, body: Option<&Value>, code: u16| {
        let theirs = ask(&real.admin_kubeconfig(), method, path, body);
        assert_eq!(
            theirs.0, code,
            "{case}: the real server answered {theirs:?}"
        );
        let ours = ask(&emu.admin_kubeconfig(), method, path, body);
        if ours != theirs {
            differences.push(format!(
                "{case}: {method} {path}\n  real:     {theirs:?}\n  emulator: {ours:?}"
            ));
        }
    };
    for (name, spec) in networkpolicy_cases::valid_cases() {
        let object = networkpolicy_cases::with_spec(name, spec);
        compare(name, "POST", &policies(true), Some(&object), 201);
    }
    for (name, object, _) in networkpolicy_cases::invalid_cases() {
        compare(name, "POST", &policies(true), Some(&object), 422);
    }
    assert_no_differences(&differences);
}

/// API semantics beyond validation: conflicts, preconditions, a missing object or
/// namespace, paging, an unknown field.
#[test]
fn api_semantics_answers_match_the_real_server() {
    let emu = Cluster::start_emulator(&[NS]);
    let real = Cluster::start_real(&[NS]);
    let policy = |name: &str| {
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
               "metadata": {"name": name}, "spec": {"podSelector": {}}})
    };
    let mut differences = Vec::new();
    for cluster in [&emu, &real] {
        for name in ["a", "b", "c"] {
            let answer = ask(
                &cluster.admin_kubeconfig(),
                "POST",
                &policies(false),
                Some(&policy(name)),
            );
            assert_eq!(answer.0, 201, "{answer:?}");
        }
    }
    let one = format!("{}/a", policies(false));
    let stale = json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "a", "resourceVersion": "1"}, "spec": {"podSelector": {}}});
    let wrong_name = policy("other");
    let unknown_field = json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "u"}, "spec": {"podSelector": {}, "bogus": 1}});
    let cases: Vec<(&str, &str, String, Option<Value>)> = vec![
        (
            "create an existing name",
            "POST",
            policies(false),
            Some(policy("a")),
        ),
        (
            "replace with a stale resourceVersion",
            "PUT",
            one.clone(),
            Some(stale),
        ),
        (
            "replace under another name",
            "PUT",
            one.clone(),
            Some(wrong_name),
        ),
        (
            "get a missing object",
            "GET",
            format!("{}/missing", policies(false)),
            None,
        ),
        (
            "delete a missing object",
            "DELETE",
            format!("{}/missing", policies(false)),
            None,
        ),
        (
            "list in a missing namespace",
            "GET",
            "/apis/networking.k8s.io/v1/namespaces/nowhere/networkpolicies".into(),
            None,
        ),
        (
            "create in a missing namespace",
            "POST",
            "/apis/networking.k8s.io/v1/namespaces/nowhere/networkpolicies".into(),
            Some(policy("x")),
        ),
        (
            "an unknown field, strict",
            "POST",
            format!("{}?fieldValidation=Strict", policies(false)),
            Some(unknown_field),
        ),
        (
            "a page of two",
            "GET",
            format!("{}?limit=2", policies(false)),
            None,
        ),
        ("get", "GET", one.clone(), None),
        (
            "delete with a uid precondition that does not match",
            "DELETE",
            format!("{}/b", policies(false)),
            Some(json!({"preconditions": {"uid": "00000000-0000-0000-0000-000000000000"}})),
        ),
        (
            "a dry-run delete",
            "DELETE",
            format!("{}/b", policies(false)),
            Some(json!({"dryRun": ["All"]})),
        ),
        (
            "the dry-run delete left it",
            "GET",
            format!("{}/b", policies(false)),
            None,
        ),
    ];
    for (case, method, path, body) in &cases {
        let theirs = ask(&real.admin_kubeconfig(), method, path, body.as_ref());
        let ours = ask(&emu.admin_kubeconfig(), method, path, body.as_ref());
        if ours != theirs {
            differences.push(format!(
                "{case}: {method} {path}\n  real:     {theirs:?}\n  emulator: {ours:?}"
            ));
        }
    }
    assert_no_differences(&differences);
}

/// A watch from a list's resourceVersion replays what happened since, in order, on both.
#[test]
fn a_watch_replays_the_same_events_on_both_servers() {
    let emu = Cluster::start_emulator(&[NS]);
    let real = Cluster::start_real(&[NS]);
    let mut answers = Vec::new();
    for cluster in [&real, &emu] {
        let kubeconfig = cluster.admin_kubeconfig();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let events = runtime.block_on(async {
            let (client, _) =
                netpol_sync::kube_client::connect(&netpol_sync::kube_client::ClusterTarget {
                    kubeconfig: Some(kubeconfig),
                    context: None,
                })
                .await
                .unwrap();
            let get = |uri: String| http::Request::get(uri).body(Vec::new()).unwrap();
            let list: Value = client.request(get(policies(false))).await.unwrap();
            let version = list["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .to_string();
            let send = |method: &str, uri: String, body: Value| {
                http::Request::builder()
                    .method(method)
                    .uri(uri)
                    .header("content-type", "application/json")
                    .body(body.to_string().into_bytes())
                    .unwrap()
            };
            let object = json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": "w"}, "spec": {"podSelector": {}}});
            let created: Value = client
                .request(send("POST", policies(false), object))
                .await
                .unwrap();
            let mut changed = created.clone();
            changed["metadata"]["labels"] = json!({"edited": "yes"});
            let _: Value = client
                .request(send("PUT", format!("{}/w", policies(false)), changed))
                .await
                .unwrap();
            let _: Value = client
                .request(send("DELETE", format!("{}/w", policies(false)), json!({})))
                .await
                .unwrap();
            // Everything is in the history before the watch starts: it replays and the
            // server ends it after a second.
            let text = client
                .request_text(get(format!(
                    "{}?watch=true&resourceVersion={version}&timeoutSeconds=1",
                    policies(false)
                )))
                .await
                .unwrap();
            text.lines()
                .map(|line| {
                    let event: Value = serde_json::from_str(line).unwrap();
                    (
                        event["type"].as_str().unwrap_or_default().to_string(),
                        event["object"]["metadata"]["name"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                        event["object"]["metadata"]["labels"]["edited"].clone(),
                    )
                })
                .collect::<Vec<_>>()
        });
        answers.push(events);
    }
    assert_eq!(answers[0].len(), 3, "{:?}", answers[0]);
    assert_eq!(answers[0], answers[1], "real, then emulator");
}

/// Every kubectl this machine has: the release's own, the one on PATH, and the versioned
/// ones installed beside that one (the Google Cloud SDK puts kubectl.1.27 … kubectl.1.33
/// next to its dispatcher).
fn kubectls(release: std::path::PathBuf) -> Vec<(String, std::path::PathBuf)> {
    let mut found = vec![
        ("release kubectl".to_string(), release),
        (
            "machine kubectl".to_string(),
            std::path::PathBuf::from("kubectl"),
        ),
    ];
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|dir| dir.join("kubectl"))
        .find(|k| k.is_file());
    let beside = on_path
        .and_then(|k| std::fs::canonicalize(k).ok())
        .and_then(|k| Some(std::fs::read_dir(k.parent()?).ok()?.flatten()));
    let mut versioned: Vec<(String, std::path::PathBuf)> = beside
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.starts_with("kubectl.1.").then(|| (name, e.path()))
        })
        .collect();
    versioned.sort();
    found.extend(versioned);
    found
}

/// kubectl sessions, by the release's own kubectl and by every kubectl on the machine
/// (`kubectls`): the built-in kinds go as protobuf bodies, which the emulator must read as
/// the real server does. Each command's exit status and the objects it leaves must match.
#[test]
fn kubectl_sessions_succeed_and_fail_alike_on_both_servers() {
    let emu = Cluster::start_emulator(&[NS]);
    let real = Cluster::start_real(&[NS]);
    let release_kubectl = real.real().unwrap().kubectl_bin();
    let session: Vec<Vec<&str>> = vec![
        vec!["create", "namespace", "team-a"],
        vec!["create", "namespace", "team-a"],
        vec!["label", "namespace", "team-a", "tier=web"],
        vec![
            "create",
            "configmap",
            "settings",
            "-n",
            "team-a",
            "--from-literal=a=b",
        ],
        vec!["create", "configmap", "Bad_Name", "-n", "team-a"],
        vec![
            "get",
            "configmap",
            "settings",
            "-n",
            "team-a",
            "-o",
            "jsonpath={.data.a}",
        ],
        vec!["delete", "configmap", "settings", "-n", "team-a"],
        vec!["delete", "configmap", "settings", "-n", "team-a"],
        vec![
            "get",
            "namespace",
            "team-a",
            "-o",
            "jsonpath={.metadata.labels.tier}",
        ],
        vec!["delete", "networkpolicy", "missing", "-n", NS],
    ];
    let mut differences = Vec::new();
    let kubectls = kubectls(release_kubectl);
    eprintln!(
        "kubectl sessions by: {:?}",
        kubectls.iter().map(|(who, _)| who).collect::<Vec<_>>()
    );
    for (k, (who, program)) in kubectls.iter().enumerate() {
        for (i, args) in session.iter().enumerate() {
            let mut answers = Vec::new();
            for cluster in [&real, &emu] {
                // Each kubectl gets its own namespace, so the sessions do not see each
                // other's objects.
                let args: Vec<String> = args
                    .iter()
                    .map(|a| a.replace("team-a", &format!("team-a-{k}")))
                    .collect();
                let out = std::process::Command::new(program)
                    .arg("--kubeconfig")
                    .arg(cluster.admin_kubeconfig())
                    .args(&args)
                    .output()
                    .unwrap();
                answers.push((
                    out.status.success(),
                    String::from_utf8_lossy(&out.stdout).trim().to_string(),
                    String::from_utf8_lossy(&out.stderr).trim().to_string(),
                ));
            }
            let (theirs, ours) = (&answers[0], &answers[1]);
            if theirs.0 != ours.0 || (theirs.0 && args[0] == "get" && theirs.1 != ours.1) {
                differences.push(format!(
                    "{who}, step {i} {args:?}\n  real:     {theirs:?}\n  emulator: {ours:?}"
                ));
            }
        }
    }
    assert_no_differences(&differences);
}
