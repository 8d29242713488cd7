//! The NetworkPolicy validation corpus, after upstream's pkg/apis/networking/validation test
//! cases: valid policies, and invalid ones with the causes kube-apiserver reports. Pure data,
//! shared by the emulator's own tests and by netpol-sync's differential test against a real
//! kube-apiserver (tests/it/real_differential.rs).
#![allow(dead_code)]

use serde_json::{json, Value};

pub fn with_spec(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name}, "spec": spec})
}

pub fn ingress_port(port: Value) -> Value {
    json!({"podSelector": {}, "ingress": [{"ports": [port]}]})
}

pub fn ingress_peer(peer: Value) -> Value {
    json!({"podSelector": {}, "ingress": [{"from": [peer]}]})
}

pub fn valid_cases() -> Vec<(&'static str, Value)> {
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
pub type InvalidCase = (&'static str, Value, Vec<(&'static str, &'static str)>);

pub fn invalid_cases() -> Vec<InvalidCase> {
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
