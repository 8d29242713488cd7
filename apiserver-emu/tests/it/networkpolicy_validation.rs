//! Table-driven: valid and invalid NetworkPolicies, after upstream's
//! pkg/apis/networking/validation test cases, sent to the emulator over HTTP. Invalid ones
//! must come back as 422 with the causes' field paths and reasons the apiserver gives.

use crate::support;

use apiserver_emu::{EmuConfig, Emulator};
use serde_json::{json, Value};
use support::*;

fn with_spec(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name}, "spec": spec})
}

fn ingress_port(port: Value) -> Value {
    json!({"podSelector": {}, "ingress": [{"ports": [port]}]})
}

fn ingress_peer(peer: Value) -> Value {
    json!({"podSelector": {}, "ingress": [{"from": [peer]}]})
}

fn valid_cases() -> Vec<(&'static str, Value)> {
    vec![
        ("empty-spec-selects-all-pods", json!({"podSelector": {}})),
        (
            "allow-all-ingress",
            json!({"podSelector": {}, "ingress": [{}]}),
        ),
        (
            "numeric-port-tcp",
            ingress_port(json!({"protocol": "TCP", "port": 8080})),
        ),
        ("named-port", ingress_port(json!({"port": "http"}))),
        (
            "sctp-port",
            ingress_port(json!({"protocol": "SCTP", "port": 7777})),
        ),
        (
            "port-range",
            ingress_port(json!({"port": 1000, "endPort": 2000})),
        ),
        (
            "pod-and-namespace-selector",
            ingress_peer(
                json!({"podSelector": {"matchLabels": {"app": "web"}}, "namespaceSelector": {"matchExpressions": [{"key": "team", "operator": "In", "values": ["a"]}]}}),
            ),
        ),
        (
            "ipblock-with-except-inside",
            ingress_peer(json!({"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}})),
        ),
        (
            "ipv6-ipblock",
            ingress_peer(json!({"ipBlock": {"cidr": "2001:db8::/32"}})),
        ),
        (
            "egress-only",
            json!({"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Egress"], "egress": [{"to": [{"namespaceSelector": {}}], "ports": [{"protocol": "UDP", "port": 53}]}]}),
        ),
        (
            "both-policy-types",
            json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        ),
    ]
}

/// (case, the object, expected (field, cause reason) in order)
type InvalidCase = (&'static str, Value, Vec<(&'static str, &'static str)>);

fn invalid_cases() -> Vec<InvalidCase> {
    vec![
        (
            "port-above-65535",
            with_spec("p", ingress_port(json!({"port": 70000}))),
            vec![("spec.ingress[0].ports[0].port", "FieldValueInvalid")],
        ),
        (
            "port-zero",
            with_spec("p", ingress_port(json!({"port": 0}))),
            vec![("spec.ingress[0].ports[0].port", "FieldValueInvalid")],
        ),
        (
            "named-port-with-underscore",
            with_spec("p", ingress_port(json!({"port": "no_underscores"}))),
            vec![("spec.ingress[0].ports[0].port", "FieldValueInvalid")],
        ),
        (
            "protocol-icmp",
            with_spec("p", ingress_port(json!({"protocol": "ICMP", "port": 80}))),
            vec![(
                "spec.ingress[0].ports[0].protocol",
                "FieldValueNotSupported",
            )],
        ),
        (
            "end-port-below-port",
            with_spec("p", ingress_port(json!({"port": 2000, "endPort": 1000}))),
            vec![("spec.ingress[0].ports[0].endPort", "FieldValueInvalid")],
        ),
        (
            "end-port-without-port",
            with_spec("p", ingress_port(json!({"endPort": 1000}))),
            vec![("spec.ingress[0].ports[0].endPort", "FieldValueInvalid")],
        ),
        (
            "end-port-with-named-port",
            with_spec("p", ingress_port(json!({"port": "http", "endPort": 1000}))),
            vec![("spec.ingress[0].ports[0].endPort", "FieldValueInvalid")],
        ),
        (
            "empty-peer",
            with_spec("p", ingress_peer(json!({}))),
            vec![("spec.ingress[0].from[0]", "FieldValueRequired")],
        ),
        (
            "ipblock-and-pod-selector",
            with_spec(
                "p",
                ingress_peer(json!({"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}})),
            ),
            vec![("spec.ingress[0].from[0]", "FieldValueForbidden")],
        ),
        (
            "ipblock-bad-cidr",
            with_spec(
                "p",
                ingress_peer(json!({"ipBlock": {"cidr": "10.0.0.0/33"}})),
            ),
            vec![("spec.ingress[0].from[0].ipBlock.cidr", "FieldValueInvalid")],
        ),
        (
            "ipblock-except-outside",
            with_spec(
                "p",
                ingress_peer(
                    json!({"ipBlock": {"cidr": "10.0.0.0/16", "except": ["192.168.0.0/24"]}}),
                ),
            ),
            vec![(
                "spec.ingress[0].from[0].ipBlock.except[0]",
                "FieldValueInvalid",
            )],
        ),
        (
            "policy-type-unknown",
            with_spec("p", json!({"podSelector": {}, "policyTypes": ["Sideways"]})),
            vec![("spec.policyTypes[0]", "FieldValueNotSupported")],
        ),
        (
            "policy-types-three",
            with_spec(
                "p",
                json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress", "Ingress"]}),
            ),
            vec![("spec.policyTypes", "FieldValueInvalid")],
        ),
        (
            "selector-bad-label-key",
            with_spec(
                "p",
                json!({"podSelector": {"matchLabels": {"bad key": "x"}}}),
            ),
            vec![("spec.podSelector.matchLabels", "FieldValueInvalid")],
        ),
        (
            "selector-in-without-values",
            with_spec(
                "p",
                json!({"podSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]}}),
            ),
            vec![(
                "spec.podSelector.matchExpressions[0].values",
                "FieldValueRequired",
            )],
        ),
        (
            "egress-namespace-selector-bad-value",
            with_spec(
                "p",
                json!({"podSelector": {}, "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"team": "-bad-"}}}]}]}),
            ),
            vec![(
                "spec.egress[0].to[0].namespaceSelector.matchLabels",
                "FieldValueInvalid",
            )],
        ),
        (
            "name-not-dns-subdomain",
            with_spec("Bad_Name", json!({"podSelector": {}})),
            vec![("metadata.name", "FieldValueInvalid")],
        ),
    ]
}

#[test]
fn valid_policies_are_created() {
    let emu = Emulator::start(EmuConfig {
        namespaces: vec!["t".into()],
        ..Default::default()
    })
    .unwrap();
    for (name, spec) in valid_cases() {
        let r = post_json(&emu.url(), &netpol_path("t"), &with_spec(name, spec));
        assert_eq!(
            r.status,
            201,
            "{name}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
}

#[test]
fn invalid_policies_are_422_with_the_apiserver_causes() {
    let emu = Emulator::start(EmuConfig {
        namespaces: vec!["t".into()],
        ..Default::default()
    })
    .unwrap();
    let mut failures = Vec::new();
    for (case, object, expected) in invalid_cases() {
        let r = post_json(&emu.url(), &netpol_path("t"), &object);
        if r.status != 422 {
            failures.push(format!(
                "{case}: status {} body {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            ));
            continue;
        }
        let status = r.json();
        let name = object["metadata"]["name"].as_str().unwrap();
        let message = status["message"].as_str().unwrap_or("");
        let prefix = format!("NetworkPolicy.networking.k8s.io \"{name}\" is invalid: ");
        let causes: Vec<(String, String)> = status["details"]["causes"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|c| {
                (
                    c["field"].as_str().unwrap_or("").to_string(),
                    c["reason"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        let want: Vec<(String, String)> = expected
            .iter()
            .map(|(f, r)| (f.to_string(), r.to_string()))
            .collect();
        if causes != want
            || !message.starts_with(&prefix)
            || status["details"]["kind"] != "NetworkPolicy"
            || status["reason"] != "Invalid"
        {
            failures.push(format!(
                "{case}: got causes {causes:?}, message {message:?}; want {want:?}"
            ));
            continue;
        }
        for (field, _) in &want {
            if !message.contains(field.as_str()) {
                failures.push(format!("{case}: message {message:?} does not name {field}"));
            }
        }
    }
    assert!(
        emu.list_objects("networkpolicies").is_empty(),
        "an invalid policy was stored"
    );
    assert!(
        failures.is_empty(),
        "{} case(s) differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn defaults_are_applied_like_the_apiserver() {
    let emu = Emulator::start(EmuConfig {
        namespaces: vec!["t".into()],
        ..Default::default()
    })
    .unwrap();
    let spec = json!({"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}], "egress": [{}]});
    let created = post_json(&emu.url(), &netpol_path("t"), &with_spec("d", spec)).json();
    assert_eq!(created["spec"]["ingress"][0]["ports"][0]["protocol"], "TCP");
    assert_eq!(created["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
}
