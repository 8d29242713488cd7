//! The REST semantics kube-apiserver gives every client, checked over real HTTP.

use crate::support;

use apiserver_emu::{ChangeVerb, EmuConfig, Emulator};
use serde_json::{json, Value};
use support::*;

fn emulator(namespaces: &[&str]) -> Emulator {
    Emulator::start(EmuConfig {
        namespaces: namespaces.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    })
    .expect("start emulator")
}

/// The verbs of the recorded changes that `keep` selects, oldest first.
fn verbs_where(
    emu: &Emulator,
    keep: impl Fn(&apiserver_emu::ChangeRecord) -> bool,
) -> Vec<ChangeVerb> {
    emu.history()
        .iter()
        .filter(|c| keep(c))
        .map(|c| c.verb)
        .collect()
}

#[test]
fn create_sets_server_fields_and_answers_201() {
    let emu = emulator(&["a"]);
    let r = post_json(&emu.url(), &netpol_path("a"), &netpol("a", "p", json!({})));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let created = r.json();
    assert_eq!(created["metadata"]["generation"], 1);
    assert_eq!(created["metadata"]["uid"].as_str().unwrap().len(), 36);
    assert!(created["metadata"]["creationTimestamp"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    let rv: u64 = created["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // The namespace "a" took version 1.
    assert_eq!(rv, 2);
    let again = post_json(&emu.url(), &netpol_path("a"), &netpol("a", "p", json!({})));
    assert_eq!(again.status, 409);
    assert_eq!(again.json()["reason"], "AlreadyExists");
    assert_eq!(
        again.json()["message"],
        "networkpolicies.networking.k8s.io \"p\" already exists"
    );
}

#[test]
fn writes_into_a_missing_namespace_are_404_for_the_namespace() {
    let emu = emulator(&[]);
    let r = post_json(
        &emu.url(),
        &netpol_path("nope"),
        &netpol("nope", "p", json!({})),
    );
    assert_eq!(r.status, 404);
    let s = r.json();
    assert_eq!(s["message"], "namespaces \"nope\" not found");
    assert_eq!(s["details"], json!({"name": "nope", "kind": "namespaces"}));
}

#[test]
fn a_terminating_namespace_refuses_creates_with_403() {
    let emu = emulator(&["a"]);
    emu.set_namespace_terminating("a");
    let r = post_json(&emu.url(), &netpol_path("a"), &netpol("a", "p", json!({})));
    assert_eq!(r.status, 403);
    let s = r.json();
    assert_eq!(s["reason"], "Forbidden");
    assert_eq!(
        s["message"],
        "networkpolicies.networking.k8s.io \"p\" is forbidden: unable to create new content in namespace a because it is being terminated"
    );
    assert_eq!(s["details"]["causes"][0]["reason"], "NamespaceTerminating");
    assert_eq!(
        get(&emu.url(), "/api/v1/namespaces/a").json()["status"]["phase"],
        "Terminating"
    );
}

#[test]
fn url_and_body_must_agree_on_name_and_namespace() {
    let emu = emulator(&["a", "b"]);
    let r = post_json(&emu.url(), &netpol_path("a"), &netpol("b", "p", json!({})));
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["message"],
        "the namespace of the provided object does not match the namespace sent on the request"
    );
    assert_eq!(
        post_json(&emu.url(), &netpol_path("a"), &netpol("a", "p", json!({}))).status,
        201
    );
    let r = put_json(
        &emu.url(),
        &format!("{}/q", netpol_path("a")),
        &netpol("a", "p", json!({})),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["message"],
        "the name of the object (p) does not match the name on the URL (q)"
    );
}

#[test]
fn replace_follows_optimistic_concurrency_and_generation_rules() {
    let emu = emulator(&["a"]);
    let url = emu.url();
    let item = format!("{}/p", netpol_path("a"));
    let created = post_json(&url, &netpol_path("a"), &netpol("a", "p", json!({}))).json();
    let rv = created["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();

    // An identical write changes nothing, not even the resourceVersion.
    let same = put_json(&url, &item, &created);
    assert_eq!(same.status, 200);
    assert_eq!(same.json()["metadata"]["resourceVersion"], rv.as_str());

    // A label change is a new version but not a new generation.
    let mut relabelled = created.clone();
    relabelled["metadata"]["labels"] = json!({"x": "y"});
    let r = put_json(&url, &item, &relabelled).json();
    assert_ne!(r["metadata"]["resourceVersion"], rv.as_str());
    assert_eq!(r["metadata"]["generation"], 1);

    // The first object's version is now stale.
    let stale = put_json(&url, &item, &relabelled);
    assert_eq!(stale.status, 409);
    assert_eq!(
        stale.json()["message"],
        "Operation cannot be fulfilled on networkpolicies.networking.k8s.io \"p\": the object has been modified; please apply your changes to the latest version and try again"
    );

    // A spec change bumps the generation; no resourceVersion means "overwrite".
    let mut spec_change = r.clone();
    spec_change["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("resourceVersion");
    spec_change["spec"]["policyTypes"] = json!(["Egress"]);
    let r2 = put_json(&url, &item, &spec_change);
    assert_eq!(r2.status, 200);
    assert_eq!(r2.json()["metadata"]["generation"], 2);

    // A PUT to a missing NetworkPolicy is 404, not a create.
    let missing = put_json(
        &url,
        &format!("{}/nope", netpol_path("a")),
        &netpol("a", "nope", json!({})),
    );
    assert_eq!(missing.status, 404);

    assert_eq!(
        verbs_where(&emu, |c| c.kind == "networkpolicies"),
        [
            ChangeVerb::Created,
            ChangeVerb::Updated,
            ChangeVerb::Updated
        ]
    );
}

#[test]
fn leases_need_a_resource_version_to_update_but_create_on_put() {
    let emu = emulator(&["a"]);
    let url = emu.url();
    let path = "/apis/coordination.k8s.io/v1/namespaces/a/leases/l";
    let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l"}, "spec": {"holderIdentity": "x"}});
    assert_eq!(put_json(&url, path, &lease).status, 201);
    let r = put_json(&url, path, &lease);
    assert_eq!(r.status, 422);
    let s = r.json();
    assert_eq!(s["message"], "Lease.coordination.k8s.io \"l\" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update");
    assert_eq!(
        s["details"]["causes"][0]["field"],
        "metadata.resourceVersion"
    );
}

#[test]
fn delete_checks_preconditions_and_answers_a_status() {
    let emu = emulator(&["a"]);
    let url = emu.url();
    let item = format!("{}/p", netpol_path("a"));
    let created = post_json(&url, &netpol_path("a"), &netpol("a", "p", json!({}))).json();
    let uid = created["metadata"]["uid"].as_str().unwrap();
    let wrong_uid = json!({"preconditions": {"uid": "00000000-0000-0000-0000-000000000000"}});
    let r = request(
        &url,
        "DELETE",
        &item,
        Some("application/json"),
        wrong_uid.to_string().as_bytes(),
    );
    assert_eq!(r.status, 409);
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .contains("Precondition failed: UID in precondition"));
    let wrong_rv = json!({"preconditions": {"resourceVersion": "1"}});
    let r = request(
        &url,
        "DELETE",
        &item,
        Some("application/json"),
        wrong_rv.to_string().as_bytes(),
    );
    assert_eq!(r.status, 409);
    let dry = request(&url, "DELETE", &format!("{item}?dryRun=All"), None, b"");
    assert_eq!(dry.status, 200);
    assert!(
        emu.get_object("networkpolicies", Some("a"), "p").is_some(),
        "dry-run deleted the object"
    );
    let right = json!({"preconditions": {"uid": uid, "resourceVersion": created["metadata"]["resourceVersion"]}});
    let r = request(
        &url,
        "DELETE",
        &item,
        Some("application/json"),
        right.to_string().as_bytes(),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "Success");
    assert_eq!(r.json()["details"]["uid"], uid);
    assert_eq!(get(&url, &item).status, 404);
}

#[test]
fn dry_run_validates_everything_but_stores_nothing() {
    let emu = emulator(&["a"]);
    let url = emu.url();
    let r = post_json(
        &url,
        &format!("{}?dryRun=All", netpol_path("a")),
        &netpol("a", "p", json!({})),
    );
    assert_eq!(r.status, 201);
    assert!(emu.list_objects("networkpolicies").is_empty());
    assert!(emu.history().iter().all(|c| c.kind != "networkpolicies"));
    let bad = post_json(
        &url,
        &format!("{}?dryRun=Maybe", netpol_path("a")),
        &netpol("a", "p", json!({})),
    );
    assert_eq!(bad.status, 422);
    let missing_ns = post_json(
        &url,
        &format!("{}?dryRun=All", netpol_path("zz")),
        &netpol("zz", "p", json!({})),
    );
    assert_eq!(missing_ns.status, 404);
}

#[test]
fn label_and_field_selectors_filter_lists() {
    let emu = emulator(&["a", "b"]);
    let url = emu.url();
    for (ns, name, labels) in [
        ("a", "web", json!({"app": "web", "tier": "front"})),
        ("a", "db", json!({"app": "db"})),
        ("b", "web", json!({"app": "web"})),
        ("b", "none", json!({})),
    ] {
        assert_eq!(
            post_json(&url, &netpol_path(ns), &netpol(ns, name, labels)).status,
            201
        );
    }
    let names = |query: &str| -> Vec<String> {
        let r = get(
            &url,
            &format!("/apis/networking.k8s.io/v1/networkpolicies?{query}"),
        );
        assert_eq!(
            r.status,
            200,
            "{query}: {}",
            String::from_utf8_lossy(&r.body)
        );
        r.json()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                format!(
                    "{}/{}",
                    i["metadata"]["namespace"].as_str().unwrap(),
                    i["metadata"]["name"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(names("labelSelector=app%3Dweb"), ["a/web", "b/web"]);
    assert_eq!(names("labelSelector=app%3D%3Dweb,tier"), ["a/web"]);
    assert_eq!(names("labelSelector=app!%3Dweb"), ["a/db", "b/none"]);
    assert_eq!(
        names("labelSelector=app%20in%20(db,web),!tier"),
        ["a/db", "b/web"]
    );
    assert_eq!(
        names("labelSelector=app%20notin%20(web)"),
        ["a/db", "b/none"]
    );
    assert_eq!(names("labelSelector=!app"), ["b/none"]);
    assert_eq!(
        names("fieldSelector=metadata.name%3Dweb"),
        ["a/web", "b/web"]
    );
    assert_eq!(
        names("fieldSelector=metadata.namespace%3Db,metadata.name!%3Dweb"),
        ["b/none"]
    );
    let bad = get(
        &url,
        "/apis/networking.k8s.io/v1/networkpolicies?labelSelector=app%20in%20web",
    );
    assert_eq!(bad.status, 400);
    let bad_field = get(
        &url,
        "/apis/networking.k8s.io/v1/networkpolicies?fieldSelector=spec.podSelector%3Dx",
    );
    assert_eq!(bad_field.status, 400);
    assert_eq!(
        bad_field.json()["message"],
        "field label not supported: spec.podSelector"
    );
    let list = get(
        &url,
        "/apis/networking.k8s.io/v1/namespaces/a/networkpolicies",
    )
    .json();
    assert_eq!(list["kind"], "NetworkPolicyList");
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
}

#[test]
fn strict_field_validation_rejects_and_warn_warns() {
    let emu = emulator(&["a"]);
    let url = emu.url();
    let mut body = netpol("a", "p", json!({}));
    body["spec"]["ingres"] = json!([]);
    let strict = post_json(
        &url,
        &format!("{}?fieldValidation=Strict", netpol_path("a")),
        &body,
    );
    assert_eq!(strict.status, 400);
    assert_eq!(
        strict.json()["message"],
        "NetworkPolicy in version \"v1\" cannot be handled as a NetworkPolicy: strict decoding error: unknown field \"spec.ingres\""
    );
    let warn = post_json(&url, &netpol_path("a"), &body);
    assert_eq!(warn.status, 201);
    assert_eq!(
        warn.headers_named("warning"),
        ["299 - \"unknown field \\\"spec.ingres\\\"\""]
    );
    assert!(
        warn.json()["spec"].get("ingres").is_none(),
        "unknown fields are pruned"
    );
    body["metadata"]["name"] = json!("q");
    let ignore = post_json(
        &url,
        &format!("{}?fieldValidation=Ignore", netpol_path("a")),
        &body,
    );
    assert_eq!(ignore.status, 201);
    assert!(ignore.header("warning").is_none());
    let bogus = post_json(
        &url,
        &format!("{}?fieldValidation=Loose", netpol_path("a")),
        &body,
    );
    assert_eq!(bogus.status, 400);
}

#[test]
fn bad_input_gets_the_apiserver_status_codes() {
    let emu = emulator(&["a"]);
    let url = emu.url();
    let path = netpol_path("a");
    let truncated = request(
        &url,
        "POST",
        &path,
        Some("application/json"),
        br#"{"apiVersion":"networking.k8s.io/v1","#,
    );
    assert_eq!(truncated.status, 400);
    assert_eq!(truncated.json()["reason"], "BadRequest");
    let yaml = request(&url, "POST", &path, Some("application/yaml"), b"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: y\nspec:\n  podSelector: {}\n");
    assert_eq!(yaml.status, 201, "{}", String::from_utf8_lossy(&yaml.body));
    let bad_yaml = request(
        &url,
        "POST",
        &path,
        Some("application/yaml"),
        b"metadata: [unclosed\n",
    );
    assert_eq!(bad_yaml.status, 400);
    let protobuf = request(
        &url,
        "POST",
        &path,
        Some("application/vnd.kubernetes.protobuf"),
        b"k8s\x00",
    );
    assert_eq!(protobuf.status, 400);
    assert_eq!(protobuf.json()["reason"], "BadRequest");
    assert!(protobuf.json()["message"]
        .as_str()
        .unwrap()
        .contains("empty body"));
    let cbor = request(&url, "POST", &path, Some("application/cbor"), b"\xa0");
    assert_eq!(cbor.status, 415);
    assert_eq!(cbor.json()["reason"], "UnsupportedMediaType");
    let wrong_kind = post_json(
        &url,
        &path,
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
    );
    assert_eq!(wrong_kind.status, 400);
    assert_eq!(
        wrong_kind.json()["message"],
        "the API version in the data (v1) does not match the expected API version (networking.k8s.io/v1)"
    );
    let huge = vec![b' '; 4 * 1024 * 1024];
    let too_big = request(&url, "POST", &path, Some("application/json"), &huge);
    assert_eq!(too_big.status, 413);
    assert_eq!(too_big.json()["reason"], "RequestEntityTooLarge");
    let unknown_param = get(&url, &format!("{path}?frobnicate=yes"));
    assert_eq!(
        unknown_param.status, 200,
        "unknown query parameters are ignored, as by the apiserver"
    );
    let bad_watch = get(&url, &format!("{path}?watch=perhaps"));
    assert_eq!(bad_watch.status, 400);
    let no_name = post_json(
        &url,
        &path,
        &json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {}, "spec": {}}),
    );
    assert_eq!(no_name.status, 422);
    assert_eq!(
        no_name.json()["details"]["causes"][0]["field"],
        "metadata.name"
    );
    let with_rv = post_json(
        &url,
        &path,
        &json!({"metadata": {"name": "r", "resourceVersion": "5"}, "spec": {}}),
    );
    assert_eq!(with_rv.status, 500);
    assert!(with_rv.json()["message"]
        .as_str()
        .unwrap()
        .contains("resourceVersion should not be set on objects to be created"));
    assert_eq!(get(&url, "/api/v1/services").status, 404);
    assert_eq!(get(&url, "/openapi/v2").status, 404);
    let patch = request(
        &url,
        "PATCH",
        &format!("{path}/y"),
        Some("application/json-patch+json"),
        b"[]",
    );
    assert_eq!(patch.status, 415);
}

#[test]
fn merge_patch_edits_and_records_the_field_manager() {
    let emu = emulator(&["a"]);
    let url = emu.url();
    assert_eq!(
        post_json(&url, &netpol_path("a"), &netpol("a", "p", json!({}))).status,
        201
    );
    let r = request(
        &url,
        "PATCH",
        &format!("{}/p?fieldManager=hand-edit", netpol_path("a")),
        Some("application/merge-patch+json"),
        br#"{"metadata":{"labels":{"edited":"yes"}}}"#,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let obj = r.json();
    assert_eq!(obj["metadata"]["labels"]["edited"], "yes");
    let managers: Vec<&str> = obj["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["manager"].as_str().unwrap())
        .collect();
    assert_eq!(managers, ["emu-test", "hand-edit"]);
    let last = emu.requests().into_iter().last().unwrap();
    assert_eq!(
        (
            last.method.as_str(),
            last.status,
            last.field_manager.as_deref()
        ),
        ("PATCH", 200, Some("hand-edit"))
    );
    assert_eq!(last.user_agent.as_deref(), Some("emu-test/1.0"));
}

#[test]
fn bearer_token_is_required_when_configured() {
    let emu = Emulator::start(EmuConfig {
        token: Some("s3cret".into()),
        ..Default::default()
    })
    .unwrap();
    let url = emu.url();
    let denied = get(&url, "/api/v1/namespaces");
    assert_eq!(denied.status, 401);
    assert_eq!(denied.json()["reason"], "Unauthorized");
    let wrong = request_with_headers(
        &url,
        "GET",
        "/api/v1/namespaces",
        None,
        b"",
        &[("Authorization", "Bearer nope")],
    );
    assert_eq!(wrong.status, 401);
    let ok = request_with_headers(
        &url,
        "GET",
        "/api/v1/namespaces",
        None,
        b"",
        &[("Authorization", "Bearer s3cret")],
    );
    assert_eq!(ok.status, 200);
}

#[test]
fn deleting_a_namespace_deletes_its_policies_and_reset_restores_the_seed() {
    let emu = emulator(&["a"]);
    let url = emu.url();
    assert_eq!(
        post_json(&url, &netpol_path("a"), &netpol("a", "p", json!({}))).status,
        201
    );
    assert_eq!(
        request(&url, "DELETE", "/api/v1/namespaces/a", None, b"").status,
        200
    );
    assert!(emu.list_objects("networkpolicies").is_empty());
    assert_eq!(get(&url, "/api/v1/namespaces/a").status, 404);
    emu.reset();
    assert!(emu.get_object("namespaces", None, "a").is_some());
    assert!(emu.requests().is_empty());
}

#[test]
fn control_surface_over_http() {
    let emu = emulator(&["a"]);
    let url = emu.url();
    let rule = json!({"method": "GET", "path_pattern": "/api/v1/namespaces", "action": {"type": "status", "value": 503}, "times": 1});
    assert_eq!(post_json(&url, "/_emu/faults", &rule).status, 200);
    assert_eq!(get(&url, "/api/v1/namespaces").status, 503);
    assert_eq!(get(&url, "/api/v1/namespaces").status, 200);
    let log = get(&url, "/_emu/requests").json();
    let statuses: Vec<u64> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [503, 200]);
    assert_eq!(
        request(&url, "POST", "/_emu/namespaces/a/terminating", None, b"").status,
        200
    );
    let history = get(&url, "/_emu/history").json();
    let last: &Value = history.as_array().unwrap().last().unwrap();
    assert_eq!(last["verb"], "Updated");
    assert_eq!(last["after"]["status"]["phase"], "Terminating");
    assert_eq!(
        post_json(&url, "/_emu/faults", &json!({"path_pattern": 5})).status,
        400
    );
    assert_eq!(request(&url, "POST", "/_emu/reset", None, b"").status, 200);
    assert_eq!(
        get(&url, "/api/v1/namespaces/a").json()["status"]["phase"],
        "Active"
    );
}

/// Create NetworkPolicy `name` in `ns`; its resourceVersion.
fn create_policy_version(url: &str, ns: &str, name: &str) -> String {
    let created = post_json(url, &netpol_path(ns), &netpol(ns, name, json!({}))).json();
    created["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The events of a watch response body, one JSON object per line.
fn watch_events(body: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(body)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn watch_streams_changes_after_a_resource_version() {
    let emu = emulator(&["a"]);
    let url = emu.url();
    let rv = create_policy_version(&url, "a", "p");
    assert_eq!(
        request(
            &url,
            "DELETE",
            &format!("{}/p", netpol_path("a")),
            None,
            b""
        )
        .status,
        200
    );
    let r = get(
        &url,
        &format!(
            "{}?watch=1&resourceVersion={rv}&timeoutSeconds=1",
            netpol_path("a")
        ),
    );
    assert_eq!(r.status, 200);
    let events = watch_events(&r.body);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["type"], "DELETED");
    assert_eq!(events[0]["object"]["kind"], "NetworkPolicy");
}

#[test]
fn a_continue_token_from_before_a_compaction_is_410_expired_with_a_resuming_token() {
    let emu = emulator(&["a"]);
    for name in ["p1", "p2", "p3"] {
        let r = post_json(&emu.url(), &netpol_path("a"), &netpol("a", name, json!({})));
        assert_eq!(r.status, 201);
    }
    let all = "/apis/networking.k8s.io/v1/networkpolicies";
    let first = get(&emu.url(), &format!("{all}?limit=1")).json();
    let token = first["metadata"]["continue"].as_str().unwrap().to_string();
    // A write after the first page, then the compaction that makes its revision history.
    let r = post_json(&emu.url(), &netpol_path("a"), &netpol("a", "p4", json!({})));
    assert_eq!(r.status, 201);
    let compacted = post_json(&emu.url(), "/_emu/compact", &json!({})).json();
    assert!(compacted["compactedResourceVersion"].is_string());

    let expired = get(&emu.url(), &format!("{all}?limit=1&continue={token}"));
    assert_eq!(expired.status, 410);
    let status = expired.json();
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["reason"], "Expired");
    assert_eq!(status["code"], 410);
    assert!(status["message"]
        .as_str()
        .unwrap()
        .starts_with("The provided continue parameter is too old"));
    // The token in the Status resumes after the same key, at the latest revision.
    let resume = status["metadata"]["continue"].as_str().unwrap();
    let rest = get(&emu.url(), &format!("{all}?continue={resume}")).json();
    let names: Vec<&str> = rest["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["p2", "p3", "p4"]);
    // A list started after the compaction pages normally.
    let fresh = get(&emu.url(), &format!("{all}?limit=1")).json();
    let token = fresh["metadata"]["continue"].as_str().unwrap();
    assert_eq!(
        get(&emu.url(), &format!("{all}?limit=1&continue={token}")).status,
        200
    );
}

#[test]
fn a_watch_from_before_a_compaction_is_one_410_error_event_then_the_end() {
    let emu = emulator(&["a"]);
    let url = emu.url();
    let rv = create_policy_version(&url, "a", "p");
    let r = post_json(&url, &netpol_path("a"), &netpol("a", "q", json!({})));
    assert_eq!(r.status, 201);
    emu.compact();
    // No timeoutSeconds: the stream ends by itself, after the error.
    let r = get(
        &url,
        &format!("{}?watch=1&resourceVersion={rv}", netpol_path("a")),
    );
    assert_eq!(r.status, 200);
    let events = watch_events(&r.body);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["type"], "ERROR");
    let status = &events[0]["object"];
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["code"], 410);
    assert_eq!(status["reason"], "Expired");
    assert!(status["message"]
        .as_str()
        .unwrap()
        .starts_with(&format!("too old resource version: {rv} (")));
}

#[test]
fn lists_paginate_with_limit_and_continue_in_namespace_then_name_order() {
    let emu = emulator(&["a", "a-b"]);
    for (ns, name) in [("a-b", "x"), ("a", "y"), ("a", "x")] {
        let r = post_json(&emu.url(), &netpol_path(ns), &netpol(ns, name, json!({})));
        assert_eq!(r.status, 201);
    }
    let all = "/apis/networking.k8s.io/v1/networkpolicies";
    let first = get(&emu.url(), &format!("{all}?limit=2")).json();
    let names = |list: &Value| -> Vec<String> {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                format!(
                    "{}/{}",
                    i["metadata"]["namespace"].as_str().unwrap(),
                    i["metadata"]["name"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(names(&first), ["a/x", "a/y"]);
    assert_eq!(first["metadata"]["remainingItemCount"], 1);
    let token = first["metadata"]["continue"].as_str().unwrap().to_string();
    let second = get(&emu.url(), &format!("{all}?limit=2&continue={token}")).json();
    assert_eq!(names(&second), ["a-b/x"]);
    assert!(second["metadata"].get("continue").is_none());
    assert!(second["metadata"].get("remainingItemCount").is_none());

    // With a selector the apiserver cannot know how many remain: the count is left unset.
    let selected = get(
        &emu.url(),
        &format!("{all}?limit=1&labelSelector=%21absent"),
    )
    .json();
    assert_eq!(names(&selected), ["a/x"]);
    assert!(selected["metadata"]["continue"].is_string());
    assert!(selected["metadata"].get("remainingItemCount").is_none());

    let forged = get(
        &emu.url(),
        &format!("{all}?limit=2&continue=bm90LWEtdG9rZW4"),
    );
    assert_eq!(forged.status, 400);
    assert_eq!(forged.json()["reason"], "BadRequest");
    assert!(forged.json()["message"]
        .as_str()
        .unwrap()
        .starts_with("continue key is not valid"));
}

#[test]
fn a_delete_waits_for_finalizers_and_the_last_one_removed_completes_it() {
    let emu = emulator(&["a"]);
    let mut held = netpol("a", "held", json!({}));
    held["metadata"]["finalizers"] = json!(["example.com/one", "example.com/two"]);
    let created = post_json(&emu.url(), &netpol_path("a"), &held).json();
    let item = format!("{}/held", netpol_path("a"));

    // A dry-run delete marks nothing.
    let dry = request(
        &emu.url(),
        "DELETE",
        &format!("{item}?dryRun=All"),
        None,
        b"",
    );
    assert_eq!(dry.status, 200);
    assert!(dry.json()["metadata"]["deletionTimestamp"].is_string());
    assert!(emu
        .get_object("networkpolicies", Some("a"), "held")
        .unwrap()["metadata"]
        .get("deletionTimestamp")
        .is_none());

    // The delete answers the marked object, not a Status, and the object stays.
    let marked = request(&emu.url(), "DELETE", &item, None, b"");
    assert_eq!(marked.status, 200);
    let marked = marked.json();
    assert_eq!(marked["kind"], "NetworkPolicy");
    assert!(marked["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(marked["metadata"]["deletionGracePeriodSeconds"], 0);
    assert_ne!(
        marked["metadata"]["resourceVersion"],
        created["metadata"]["resourceVersion"]
    );
    let stored = emu
        .get_object("networkpolicies", Some("a"), "held")
        .unwrap();
    assert_eq!(
        stored["metadata"]["deletionTimestamp"],
        marked["metadata"]["deletionTimestamp"]
    );
    // Deleting again changes nothing.
    let again = request(&emu.url(), "DELETE", &item, None, b"").json();
    assert_eq!(
        again["metadata"]["resourceVersion"],
        marked["metadata"]["resourceVersion"]
    );

    // No finalizer may be added to an object being deleted.
    let mut more = stored.clone();
    more["metadata"]["finalizers"] =
        json!(["example.com/one", "example.com/two", "example.com/three"]);
    let refused = put_json(&emu.url(), &item, &more);
    assert_eq!(
        refused.status,
        422,
        "{}",
        String::from_utf8_lossy(&refused.body)
    );
    assert_eq!(
        refused.json()["details"]["causes"][0]["field"],
        "metadata.finalizers"
    );

    // Removing one of two keeps it; a deletionTimestamp sent by a client is not taken.
    let mut one_left = stored.clone();
    one_left["metadata"]["finalizers"] = json!(["example.com/two"]);
    one_left["metadata"]["deletionTimestamp"] = json!("2000-01-01T00:00:00Z");
    let kept = put_json(&emu.url(), &item, &one_left);
    assert_eq!(kept.status, 200, "{}", String::from_utf8_lossy(&kept.body));
    assert_eq!(
        kept.json()["metadata"]["deletionTimestamp"],
        stored["metadata"]["deletionTimestamp"]
    );
    assert!(emu
        .get_object("networkpolicies", Some("a"), "held")
        .is_some());

    // Removing the last one completes the deletion.
    let mut none_left = kept.json();
    none_left["metadata"]["finalizers"] = json!([]);
    let done = put_json(&emu.url(), &item, &none_left);
    assert_eq!(done.status, 200, "{}", String::from_utf8_lossy(&done.body));
    assert!(emu
        .get_object("networkpolicies", Some("a"), "held")
        .is_none());
    assert_eq!(
        verbs_where(&emu, |c| c.name == "held"),
        [
            ChangeVerb::Created,
            ChangeVerb::Updated,
            ChangeVerb::Updated,
            ChangeVerb::Deleted
        ]
    );
}

#[test]
fn a_new_object_cannot_be_created_already_being_deleted() {
    let emu = emulator(&["a"]);
    let mut p = netpol("a", "p", json!({}));
    p["metadata"]["deletionTimestamp"] = json!("2000-01-01T00:00:00Z");
    p["metadata"]["deletionGracePeriodSeconds"] = json!(30);
    let created = post_json(&emu.url(), &netpol_path("a"), &p);
    assert_eq!(created.status, 201);
    let meta = &created.json()["metadata"];
    assert!(meta.get("deletionTimestamp").is_none(), "{meta}");
    assert!(meta.get("deletionGracePeriodSeconds").is_none(), "{meta}");
}
