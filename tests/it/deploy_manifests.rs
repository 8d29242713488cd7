//! deploy/ is checked against the Kubernetes API types (k8s-openapi, v1.33): every document
//! is deserialised into the type of its kind and serialised back, and the two must be
//! equal, so an unknown or misspelt field fails here instead of being dropped silently by
//! the API server. The RBAC rules must grant exactly the calls in `daemon::rbac::API_CALLS`.

use k8s_openapi::api::admissionregistration::v1::{
    ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Secret, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};
use netpol_sync::daemon::rbac::{Scope, API_CALLS};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

pub(crate) fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

pub(crate) fn documents(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|doc| Value::deserialize(doc).expect("valid YAML"))
        .filter(|v| !v.is_null())
        .collect()
}

/// Deserialise into `T`, serialise back: equal only if every field is known to `T`.
fn round_trip<T: DeserializeOwned + Serialize>(doc: &Value, origin: &str) -> T {
    let typed: T = serde_json::from_value(doc.clone()).unwrap_or_else(|e| panic!("{origin}: {e}"));
    let back = serde_json::to_value(&typed).unwrap();
    assert_eq!(
        &back, doc,
        "{origin}: fields lost in a round trip through the API type (unknown or misspelt?)"
    );
    typed
}

pub(crate) fn check_document(doc: &Value, origin: &str) {
    let kind = doc["kind"]
        .as_str()
        .unwrap_or_else(|| panic!("{origin}: no kind"));
    match kind {
        "Namespace" => drop(round_trip::<Namespace>(doc, origin)),
        "ServiceAccount" => drop(round_trip::<ServiceAccount>(doc, origin)),
        "ClusterRole" => drop(round_trip::<ClusterRole>(doc, origin)),
        "ClusterRoleBinding" => drop(round_trip::<ClusterRoleBinding>(doc, origin)),
        "Role" => drop(round_trip::<Role>(doc, origin)),
        "RoleBinding" => drop(round_trip::<RoleBinding>(doc, origin)),
        "Secret" => drop(round_trip::<Secret>(doc, origin)),
        "Service" => drop(round_trip::<Service>(doc, origin)),
        "Deployment" => drop(round_trip::<Deployment>(doc, origin)),
        "NetworkPolicy" => drop(round_trip::<NetworkPolicy>(doc, origin)),
        "ValidatingAdmissionPolicy" => drop(round_trip::<ValidatingAdmissionPolicy>(doc, origin)),
        "ValidatingAdmissionPolicyBinding" => {
            drop(round_trip::<ValidatingAdmissionPolicyBinding>(doc, origin))
        }
        other => panic!("{origin}: kind {other} has no check; add it here"),
    }
}

fn manifest_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(deploy_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "yaml")
                && p.file_name().unwrap() != "kustomization.yaml"
        })
        .collect();
    files.sort();
    files
}

fn all_documents() -> Vec<(String, Value)> {
    manifest_files()
        .iter()
        .flat_map(|f| {
            let name = f.file_name().unwrap().to_string_lossy().to_string();
            documents(&std::fs::read_to_string(f).unwrap())
                .into_iter()
                .map(move |d| (name.clone(), d))
        })
        .collect()
}

fn find<'a>(docs: &'a [(String, Value)], kind: &str) -> Vec<&'a Value> {
    docs.iter()
        .filter(|(_, d)| d["kind"] == kind)
        .map(|(_, d)| d)
        .collect()
}

#[test]
fn every_deploy_document_round_trips_through_its_api_type() {
    let docs = all_documents();
    assert!(
        docs.len() >= 12,
        "expected the whole base, found {} documents",
        docs.len()
    );
    for (file, doc) in &docs {
        check_document(doc, &format!("{file} {}", doc["metadata"]["name"]));
    }
}

#[test]
fn kustomization_lists_every_manifest_and_renders_with_kubectl() {
    let kustomization: Value = serde_yaml::from_str(
        &std::fs::read_to_string(deploy_dir().join("kustomization.yaml")).unwrap(),
    )
    .unwrap();
    let listed: BTreeSet<String> = kustomization["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect();
    let present: BTreeSet<String> = manifest_files()
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().to_string())
        .collect();
    assert_eq!(listed, present);

    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(deploy_dir())
        .output()
        .expect("kubectl is installed");
    assert!(
        out.status.success(),
        "kubectl kustomize: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rendered = documents(&String::from_utf8(out.stdout).unwrap());
    let kinds: BTreeSet<&str> = rendered
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "Secret",
        "Service",
        "Deployment",
        "NetworkPolicy",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    ] {
        assert!(kinds.contains(kind), "rendered base lacks a {kind}");
    }
    let cluster_scoped = [
        "Namespace",
        "ClusterRole",
        "ClusterRoleBinding",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    ];
    for doc in &rendered {
        let kind = doc["kind"].as_str().unwrap();
        let origin = format!("rendered {kind} {}", doc["metadata"]["name"]);
        check_document(doc, &origin);
        if cluster_scoped.contains(&kind) {
            assert!(
                doc["metadata"].get("namespace").is_none(),
                "{origin}: cluster-scoped object with a namespace"
            );
        } else {
            assert_eq!(doc["metadata"]["namespace"], "netpol-sync", "{origin}");
        }
    }
}

fn granted(
    rules: &[PolicyRule],
    scope: Scope,
    into: &mut BTreeSet<(String, String, String, Scope)>,
) {
    for rule in rules {
        let groups = rule.api_groups.clone().unwrap_or_default();
        let resources = rule.resources.clone().unwrap_or_default();
        assert!(
            rule.non_resource_urls.is_none(),
            "non-resource URLs are never needed"
        );
        for g in &groups {
            for r in &resources {
                for v in &rule.verbs {
                    assert!(
                        g != "*" && r != "*" && v != "*",
                        "wildcard in RBAC: {g}/{r} {v}"
                    );
                    into.insert((g.clone(), r.clone(), v.clone(), scope));
                }
            }
        }
    }
}

#[test]
fn rbac_grants_exactly_the_calls_the_code_makes() {
    let docs = all_documents();
    let mut rules = BTreeSet::new();
    for doc in find(&docs, "ClusterRole") {
        let role: ClusterRole = serde_json::from_value(doc.clone()).unwrap();
        granted(
            role.rules.as_deref().unwrap_or_default(),
            Scope::Cluster,
            &mut rules,
        );
    }
    for doc in find(&docs, "Role") {
        let role: Role = serde_json::from_value(doc.clone()).unwrap();
        assert_eq!(
            role.metadata.namespace.as_deref(),
            Some("netpol-sync"),
            "the Role is for its own namespace only"
        );
        granted(
            role.rules.as_deref().unwrap_or_default(),
            Scope::OwnNamespace,
            &mut rules,
        );
    }
    let used: BTreeSet<(String, String, String, Scope)> = API_CALLS
        .iter()
        .map(|(g, r, v, s)| (g.to_string(), r.to_string(), v.to_string(), *s))
        .collect();
    let missing: Vec<_> = used.difference(&rules).collect();
    let extra: Vec<_> = rules.difference(&used).collect();
    assert!(
        missing.is_empty(),
        "calls the code makes that RBAC does not grant: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "RBAC grants calls the code does not make: {extra:?}"
    );
    assert!(
        !rules.iter().any(|(_, r, _, _)| r == "secrets"),
        "no Secrets through the API"
    );

    // Both bindings bind the ServiceAccount the Deployment runs as.
    for kind in ["ClusterRoleBinding", "RoleBinding"] {
        for doc in find(&docs, kind) {
            let subjects = doc["subjects"].as_array().unwrap();
            assert_eq!(subjects.len(), 1, "{kind}");
            assert_eq!(subjects[0]["kind"], "ServiceAccount");
            assert_eq!(subjects[0]["name"], "netpol-sync");
            assert_eq!(subjects[0]["namespace"], "netpol-sync");
        }
    }
}

#[test]
fn deployment_is_hardened_and_probed() {
    let docs = all_documents();
    let deployment: Deployment =
        serde_json::from_value(find(&docs, "Deployment")[0].clone()).unwrap();
    let spec = deployment.spec.unwrap();
    assert_eq!(spec.replicas, Some(2));
    let pod = spec.template.spec.unwrap();
    assert_eq!(pod.service_account_name.as_deref(), Some("netpol-sync"));
    let pod_sc = pod.security_context.unwrap();
    assert_eq!(pod_sc.run_as_non_root, Some(true));
    assert!(pod_sc.run_as_user.is_some_and(|u| u != 0));
    assert_eq!(pod_sc.seccomp_profile.unwrap().type_, "RuntimeDefault");
    let c = &pod.containers[0];
    let sc = c.security_context.clone().unwrap();
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(sc.capabilities.unwrap().drop, Some(vec!["ALL".to_string()]));
    assert!(sc.privileged.is_none_or(|p| !p));
    let resources = c.resources.clone().unwrap();
    assert!(resources.requests.unwrap().contains_key("memory"));
    assert!(resources.limits.unwrap().contains_key("memory"));
    let path = |p: &Option<k8s_openapi::api::core::v1::Probe>| {
        p.as_ref()
            .and_then(|p| p.http_get.as_ref())
            .and_then(|h| h.path.clone())
    };
    assert_eq!(path(&c.liveness_probe).as_deref(), Some("/healthz"));
    assert_eq!(path(&c.readiness_probe).as_deref(), Some("/readyz"));
    let volumes = pod.volumes.unwrap();
    let cache_env = c
        .env
        .as_ref()
        .unwrap()
        .iter()
        .find(|e| e.name == "NETPOL_SYNC_CACHE_DIR")
        .unwrap()
        .value
        .clone()
        .unwrap();
    let cache_mount = c
        .volume_mounts
        .as_ref()
        .unwrap()
        .iter()
        .find(|m| m.mount_path == cache_env)
        .expect("cache dir is mounted");
    let cache_volume = volumes.iter().find(|v| v.name == cache_mount.name).unwrap();
    assert!(
        cache_volume.empty_dir.is_some(),
        "the git cache is an emptyDir"
    );
    // Every volume the pod mounts from a Secret is one of deploy/'s own Secrets.
    let secrets: BTreeSet<String> = find(&docs, "Secret")
        .iter()
        .map(|d| d["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    for v in &volumes {
        if let Some(s) = &v.secret {
            assert!(
                secrets.contains(s.secret_name.as_deref().unwrap()),
                "{:?}",
                s.secret_name
            );
        }
    }
}

#[test]
fn deployment_env_names_only_flags_that_run_reads() {
    let help = Command::new(env!("CARGO_BIN_EXE_netpol-sync"))
        .args(["run", "--help"])
        .output()
        .unwrap();
    assert!(
        help.status.success(),
        "{}",
        String::from_utf8_lossy(&help.stderr)
    );
    let help = String::from_utf8(help.stdout).unwrap();
    let docs = all_documents();
    let deployment: Deployment =
        serde_json::from_value(find(&docs, "Deployment")[0].clone()).unwrap();
    let pod = deployment.spec.unwrap().template.spec.unwrap();
    for env in pod.containers[0].env.as_ref().unwrap() {
        if env.name.starts_with("NETPOL_SYNC_") {
            assert!(
                help.contains(&format!("[env: {}=", env.name)),
                "{} is not read by `run`",
                env.name
            );
        }
    }
}

#[test]
fn admission_policy_exempts_controllers_and_never_reads_object() {
    let docs = all_documents();
    let policy: ValidatingAdmissionPolicy =
        serde_json::from_value(find(&docs, "ValidatingAdmissionPolicy")[0].clone()).unwrap();
    let spec = policy.spec.clone().unwrap();
    let mut expressions: Vec<String> = spec
        .match_conditions
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|m| m.expression)
        .collect();
    for v in spec.validations.clone().unwrap_or_default() {
        expressions.push(v.expression);
        expressions.extend(v.message_expression);
    }
    let reads_object = regex_word(&expressions.join("\n"), "object");
    assert!(
        !reads_object,
        "`object` is null on DELETE: use request.name / oldObject"
    );
    let all = expressions.join("\n");
    for exempt in [
        "system:serviceaccount:netpol-sync:netpol-sync",
        "system:serviceaccount:kube-system:namespace-controller",
        "system:serviceaccount:kube-system:generic-garbage-collector",
        "netpol-sync:break-glass",
    ] {
        assert!(
            all.contains(&format!("'{exempt}'")),
            "{exempt} not exempted"
        );
    }
    let rules = spec.match_constraints.unwrap().resource_rules.unwrap();
    let ops: BTreeSet<String> = rules
        .iter()
        .flat_map(|r| r.operations.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        ops,
        ["CREATE", "DELETE", "UPDATE"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
    assert_eq!(spec.failure_policy.as_deref(), Some("Fail"));

    let binding: ValidatingAdmissionPolicyBinding =
        serde_json::from_value(find(&docs, "ValidatingAdmissionPolicyBinding")[0].clone()).unwrap();
    let bspec = binding.spec.unwrap();
    assert_eq!(
        bspec.policy_name.as_deref(),
        policy.metadata.name.as_deref()
    );
    assert_eq!(bspec.validation_actions, Some(vec!["Deny".to_string()]));
}

#[test]
fn ownership_policy_guards_our_label_everywhere_and_reads_object_only_where_it_exists() {
    let docs = all_documents();
    let policies: Vec<ValidatingAdmissionPolicy> = find(&docs, "ValidatingAdmissionPolicy")
        .into_iter()
        .map(|d| serde_json::from_value(d.clone()).unwrap())
        .collect();
    let ownership = policies
        .iter()
        .find(|p| p.metadata.name.as_deref() == Some("netpol-sync-ownership"))
        .expect("the ownership policy");
    let spec = ownership.spec.clone().unwrap();
    let conditions = spec.match_conditions.clone().unwrap_or_default();
    let writers = &conditions
        .iter()
        .find(|c| c.name == "not-an-allowed-writer")
        .unwrap()
        .expression;
    for exempt in [
        "system:serviceaccount:netpol-sync:netpol-sync",
        "system:serviceaccount:kube-system:namespace-controller",
        "system:serviceaccount:kube-system:generic-garbage-collector",
        "netpol-sync:break-glass",
    ] {
        assert!(
            writers.contains(&format!("'{exempt}'")),
            "{exempt} not exempted"
        );
    }
    // `object` is null on DELETE and `oldObject` on CREATE: each is read only behind the
    // operation test that rules that out.
    let label = &conditions
        .iter()
        .find(|c| c.name == "carries-or-gains-our-label")
        .unwrap()
        .expression;
    for (word, guard) in [
        ("object", "request.operation != 'DELETE' &&"),
        ("oldObject", "request.operation != 'CREATE' &&"),
    ] {
        let branch = label
            .split("||")
            .find(|b| regex_word(b, word))
            .unwrap_or_else(|| panic!("{word} is not read"));
        assert!(
            branch
                .trim_start()
                .trim_start_matches('(')
                .starts_with(guard),
            "{branch}"
        );
        assert_eq!(
            label.split("||").filter(|b| regex_word(b, word)).count(),
            1,
            "{word} read in more than one branch"
        );
    }
    assert!(label.contains("'app.kubernetes.io/managed-by'") && label.contains("'netpol-sync'"));
    for v in spec.validations.clone().unwrap_or_default() {
        assert!(!regex_word(&v.expression, "object"));
    }
    // Bound cluster-wide: no namespace selector narrows it.
    let binding: ValidatingAdmissionPolicyBinding = find(&docs, "ValidatingAdmissionPolicyBinding")
        .into_iter()
        .map(|d| serde_json::from_value::<ValidatingAdmissionPolicyBinding>(d.clone()).unwrap())
        .find(|b| b.metadata.name.as_deref() == Some("netpol-sync-ownership"))
        .expect("its binding");
    let bspec = binding.spec.unwrap();
    assert_eq!(bspec.policy_name.as_deref(), Some("netpol-sync-ownership"));
    assert_eq!(bspec.validation_actions, Some(vec!["Deny".to_string()]));
    assert!(bspec
        .match_resources
        .is_none_or(|m| m.namespace_selector.is_none()));
}

/// Whether `word` occurs as a whole identifier (so `oldObject` does not count as `object`).
fn regex_word(text: &str, word: &str) -> bool {
    let bytes = text.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    text.match_indices(word).any(|(i, _)| {
        let before = i.checked_sub(1).map(|j| bytes[j]);
        let after = bytes.get(i + word.len()).copied();
        !before.is_some_and(ident) && !after.is_some_and(ident)
    })
}

#[test]
fn own_network_policy_allows_dns_api_git_and_metrics_only() {
    let docs = all_documents();
    let np: NetworkPolicy =
        serde_json::from_value(find(&docs, "NetworkPolicy")[0].clone()).unwrap();
    let spec = np.spec.unwrap();
    assert_eq!(
        spec.policy_types,
        Some(vec!["Ingress".to_string(), "Egress".to_string()])
    );
    let ingress_ports: BTreeSet<String> = spec
        .ingress
        .unwrap()
        .iter()
        .flat_map(|r| r.ports.clone().unwrap_or_default())
        .map(|p| format!("{:?}", p.port.unwrap()))
        .collect();
    assert_eq!(
        ingress_ports.len(),
        1,
        "only the HTTP port is open: {ingress_ports:?}"
    );
    let egress_ports: BTreeSet<String> = spec
        .egress
        .unwrap()
        .iter()
        .flat_map(|r| r.ports.clone().unwrap_or_default())
        .map(|p| format!("{}/{:?}", p.protocol.unwrap_or_default(), p.port.unwrap()))
        .collect();
    for want in [
        "UDP/Int(53)",
        "TCP/Int(53)",
        "TCP/Int(443)",
        "TCP/Int(6443)",
        "TCP/Int(22)",
    ] {
        assert!(
            egress_ports.contains(want),
            "egress lacks {want}: {egress_ports:?}"
        );
    }
    assert_eq!(egress_ports.len(), 5, "{egress_ports:?}");
}
