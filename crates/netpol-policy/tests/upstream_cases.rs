//! Table-driven cases mirroring upstream's TestValidateNetworkPolicy,
//! TestValidateNetworkPolicyUpdate and the metav1 label-selector tests: each case is a
//! change to a valid base policy, and the exact field paths and messages kube-apiserver
//! reports for it (written from upstream's rules and test expectations).

use netpol_policy::{
    aggregate, apply_defaults, decode_strict, invalid_message, validate_create, validate_update,
    ErrorKind, NetworkPolicy, GROUP_KIND,
};
use serde_json::{json, Value};

const SUBDOMAIN_REGEX_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_REGEX_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const NAME_PART_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const CIDR_MSG: &str = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)";

fn base() -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "bar", "namespace": "foo"},
        "spec": {"podSelector": {"matchLabels": {"a": "b"}}}
    })
}

fn policy(spec: Value) -> NetworkPolicy {
    let mut v = base();
    v["spec"] = spec;
    decode_strict(v).unwrap_or_else(|e| panic!("fixture must decode: {e:?}"))
}

fn with_meta(meta: Value) -> NetworkPolicy {
    let mut v = base();
    v["metadata"] = meta;
    decode_strict(v).unwrap_or_else(|e| panic!("fixture must decode: {e:?}"))
}

fn messages(np: &NetworkPolicy) -> Vec<String> {
    validate_create(np).iter().map(|e| e.message()).collect()
}

#[test]
fn upstream_success_cases_are_valid() {
    let cases = vec![
        (
            "pod selector only",
            json!({"podSelector": {"matchLabels": {"a": "b"}}}),
        ),
        (
            "empty ingress rule",
            json!({"podSelector": {}, "ingress": [{}]}),
        ),
        (
            "ports of every protocol and a named port",
            json!({"podSelector": {}, "ingress": [{"ports": [
            {"protocol": "TCP", "port": 80}, {"protocol": "UDP", "port": 53}, {"protocol": "SCTP", "port": 7777},
            {"protocol": "TCP", "port": "http"}, {"port": "dns-tcp"}, {"protocol": "UDP"}]}]}),
        ),
        (
            "from pod selector",
            json!({"podSelector": {}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"c": "d"}}}]}]}),
        ),
        (
            "from namespace selector",
            json!({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"c": "d"}}}]}]}),
        ),
        (
            "from namespace and pod selector in one peer",
            json!({"podSelector": {}, "ingress": [{"from": [
            {"namespaceSelector": {"matchLabels": {"c": "d"}}, "podSelector": {"matchLabels": {"e": "f"}}}]}]}),
        ),
        (
            "from all namespaces",
            json!({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {}}]}]}),
        ),
        (
            "ipBlock with except",
            json!({"podSelector": {}, "ingress": [{"from": [
            {"ipBlock": {"cidr": "192.168.0.0/16", "except": ["192.168.3.0/24", "192.168.4.0/24"]}}]}]}),
        ),
        (
            "ipv6 ipBlock with except",
            json!({"podSelector": {}, "ingress": [{"from": [
            {"ipBlock": {"cidr": "fd00:192:168::/48", "except": ["fd00:192:168:3::/64", "fd00:192:168:4::/64"]}}]}]}),
        ),
        (
            "legacy interface-address cidr is accepted",
            json!({"podSelector": {}, "ingress": [{"from": [
            {"ipBlock": {"cidr": "192.168.1.5/16"}}]}]}),
        ),
        (
            "legacy leading zeros are accepted",
            json!({"podSelector": {}, "egress": [{"to": [
            {"ipBlock": {"cidr": "010.000.0.0/08"}}]}], "policyTypes": ["Egress"]}),
        ),
        (
            "egress to namespace selector on port 53",
            json!({"podSelector": {}, "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"c": "d"}}}],
            "ports": [{"protocol": "UDP", "port": 53}]}], "policyTypes": ["Egress"]}),
        ),
        (
            "ingress and egress types",
            json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        ),
        (
            "endPort range",
            json!({"podSelector": {}, "egress": [{"ports": [{"protocol": "TCP", "port": 32000, "endPort": 32768}]}]}),
        ),
        (
            "endPort equal to port",
            json!({"podSelector": {}, "ingress": [{"ports": [{"port": 443, "endPort": 443}]}]}),
        ),
        (
            "match expressions of every operator",
            json!({"podSelector": {"matchExpressions": [
            {"key": "a", "operator": "In", "values": ["x", "y"]},
            {"key": "example.com/b", "operator": "NotIn", "values": [""]},
            {"key": "c", "operator": "Exists"},
            {"key": "d", "operator": "DoesNotExist", "values": []}]}}),
        ),
    ];
    for (name, spec) in cases {
        let mut np = policy(spec);
        assert_eq!(messages(&np), Vec::<String>::new(), "{name}");
        apply_defaults(&mut np);
        assert_eq!(messages(&np), Vec::<String>::new(), "{name} (defaulted)");
    }
}

#[test]
fn upstream_failure_cases_report_paths_and_messages() {
    let cases: Vec<(&str, Value, Vec<String>)> = vec![
        (
            "invalid ingress protocol",
            json!({"podSelector": {}, "ingress": [{"ports": [{"protocol": "FAKE", "port": 80}]}]}),
            vec!["spec.ingress[0].ports[0].protocol: Unsupported value: \"FAKE\": supported values: \"TCP\", \"UDP\", \"SCTP\"".into()],
        ),
        (
            "invalid ingress port number",
            json!({"podSelector": {}, "ingress": [{"ports": [{"protocol": "TCP", "port": 66666}]}]}),
            vec!["spec.ingress[0].ports[0].port: Invalid value: 66666: must be between 1 and 65535, inclusive".into()],
        ),
        (
            "invalid ingress port name",
            json!({"podSelector": {}, "ingress": [{"ports": [{"protocol": "TCP", "port": "!@#$"}]}]}),
            vec![
                "spec.ingress[0].ports[0].port: Invalid value: \"!@#$\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".into(),
                "spec.ingress[0].ports[0].port: Invalid value: \"!@#$\": must contain at least one letter (a-z)".into(),
            ],
        ),
        (
            "invalid egress port number zero",
            json!({"podSelector": {}, "egress": [{"ports": [{"port": 0}]}]}),
            vec!["spec.egress[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive".into()],
        ),
        (
            "invalid ingress from pod selector label key",
            json!({"podSelector": {}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"c": "d", "e!": "f"}}}]}]}),
            vec![format!("spec.ingress[0].from[0].podSelector.matchLabels: Invalid value: \"e!\": {NAME_PART_MSG}")],
        ),
        (
            "invalid ingress from namespace selector label value",
            json!({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"c": "-d"}}}]}]}),
            vec![format!("spec.ingress[0].from[0].namespaceSelector.matchLabels: Invalid value: \"-d\": {LABEL_VALUE_MSG}")],
        ),
        (
            "invalid spec pod selector",
            json!({"podSelector": {"matchLabels": {"a": "b", "c": "d!"}}}),
            vec![format!("spec.podSelector.matchLabels: Invalid value: \"d!\": {LABEL_VALUE_MSG}")],
        ),
        (
            "peer without any selector",
            json!({"podSelector": {}, "ingress": [{"from": [{}]}], "egress": [{"to": [{}]}]}),
            vec![
                "spec.ingress[0].from[0]: Required value: must specify a peer".into(),
                "spec.egress[0].to[0]: Required value: must specify a peer".into(),
            ],
        ),
        (
            "ipBlock together with pod selector",
            json!({"podSelector": {}, "ingress": [{"from": [{"podSelector": {}, "ipBlock": {"cidr": "10.0.0.0/8"}}]}]}),
            vec!["spec.ingress[0].from[0]: Forbidden: may not specify both ipBlock and another peer".into()],
        ),
        (
            "ipBlock together with namespace selector in egress",
            json!({"podSelector": {}, "egress": [{"to": [{"namespaceSelector": {}, "ipBlock": {"cidr": "10.0.0.0/8"}}]}]}),
            vec!["spec.egress[0].to[0]: Forbidden: may not specify both ipBlock and another peer".into()],
        ),
        (
            "ipBlock without cidr",
            json!({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": ""}}]}]}),
            vec!["spec.ingress[0].from[0].ipBlock.cidr: Required value".into()],
        ),
        (
            "ipBlock with invalid cidr",
            json!({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "192.168.0.0/33", "except": ["192.168.1.0/24"]}}]}]}),
            vec![format!("spec.ingress[0].from[0].ipBlock.cidr: Invalid value: \"192.168.0.0/33\": {CIDR_MSG}")],
        ),
        (
            "ipBlock with invalid except",
            json!({"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": "192.168.0.0/16", "except": ["192.168.3.0/24", "192.168.4.0"]}}]}]}),
            vec![format!("spec.egress[0].to[0].ipBlock.except[1]: Invalid value: \"192.168.4.0\": {CIDR_MSG}")],
        ),
        (
            "except outside cidr",
            json!({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "192.168.8.0/24", "except": ["192.168.9.1/24"]}}]}]}),
            vec!["spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: \"192.168.9.1/24\": must be a strict subset of `cidr`".into()],
        ),
        (
            "except equal to cidr",
            json!({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "192.168.0.0/24", "except": ["192.168.0.0/24"]}}]}]}),
            vec!["spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: \"192.168.0.0/24\": must be a strict subset of `cidr`".into()],
        ),
        (
            "except wider than cidr",
            json!({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "192.168.0.0/24", "except": ["192.168.0.0/16"]}}]}]}),
            vec!["spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: \"192.168.0.0/16\": must be a strict subset of `cidr`".into()],
        ),
        (
            "ipv6 except in ipv4 cidr",
            json!({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["fd00::/64"]}}]}]}),
            vec!["spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: \"fd00::/64\": must be a strict subset of `cidr`".into()],
        ),
        (
            "invalid policy type",
            json!({"podSelector": {}, "policyTypes": ["foo", "Ingress"]}),
            vec!["spec.policyTypes[0]: Unsupported value: \"foo\": supported values: \"Ingress\", \"Egress\"".into()],
        ),
        (
            "too many policy types",
            json!({"podSelector": {}, "policyTypes": ["Egress", "Ingress", "foo"]}),
            vec!["spec.policyTypes: Invalid value: [\"Egress\",\"Ingress\",\"foo\"]: may not specify more than two policyTypes".into()],
        ),
        (
            "endPort lower than port",
            json!({"podSelector": {}, "egress": [{"ports": [{"protocol": "TCP", "port": 35000, "endPort": 32000}]}]}),
            vec!["spec.egress[0].ports[0].endPort: Invalid value: 32000: must be greater than or equal to `port`".into()],
        ),
        (
            "endPort with named port",
            json!({"podSelector": {}, "egress": [{"ports": [{"protocol": "TCP", "port": "https", "endPort": 32000}]}]}),
            vec!["spec.egress[0].ports[0].endPort: Invalid value: 32000: may not be specified when `port` is non-numeric".into()],
        ),
        (
            "endPort without port",
            json!({"podSelector": {}, "ingress": [{"ports": [{"protocol": "TCP", "endPort": 32000}]}]}),
            vec!["spec.ingress[0].ports[0].endPort: Invalid value: 32000: may not be specified when `port` is not specified".into()],
        ),
        (
            "endPort out of range",
            json!({"podSelector": {}, "ingress": [{"ports": [{"protocol": "TCP", "port": 30000, "endPort": 65537}]}]}),
            vec!["spec.ingress[0].ports[0].endPort: Invalid value: 65537: must be between 1 and 65535, inclusive".into()],
        ),
        (
            "endPort below port and out of range",
            json!({"podSelector": {}, "ingress": [{"ports": [{"port": 80, "endPort": -1}]}]}),
            vec![
                "spec.ingress[0].ports[0].endPort: Invalid value: -1: must be greater than or equal to `port`".into(),
                "spec.ingress[0].ports[0].endPort: Invalid value: -1: must be between 1 and 65535, inclusive".into(),
            ],
        ),
        (
            "invalid selector operator",
            json!({"podSelector": {"matchExpressions": [{"key": "a", "operator": "Equals", "values": ["b"]}]}}),
            vec!["spec.podSelector.matchExpressions[0].operator: Invalid value: \"Equals\": not a valid selector operator".into()],
        ),
        (
            "In without values",
            json!({"podSelector": {}, "ingress": [{"from": [{"podSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]}}]}]}),
            vec!["spec.ingress[0].from[0].podSelector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'".into()],
        ),
        (
            "Exists with values",
            json!({"podSelector": {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["b"]}]}}),
            vec!["spec.podSelector.matchExpressions[0].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'".into()],
        ),
        (
            "invalid requirement key and value",
            json!({"podSelector": {"matchExpressions": [{"key": "a b", "operator": "NotIn", "values": ["ok", "not ok"]}]}}),
            vec![
                format!("spec.podSelector.matchExpressions[0].key: Invalid value: \"a b\": {NAME_PART_MSG}"),
                format!("spec.podSelector.matchExpressions[0].values[1]: Invalid value: \"not ok\": {LABEL_VALUE_MSG}"),
            ],
        ),
        (
            "errors come in upstream's order: podSelector, ingress ports then peers, egress, policyTypes",
            json!({"podSelector": {"matchLabels": {"k": "-"}},
                   "ingress": [{"from": [{}], "ports": [{"port": 0}]}],
                   "egress": [{"to": [{}], "ports": [{"protocol": "ICMP"}]}],
                   "policyTypes": ["Both"]}),
            vec![
                format!("spec.podSelector.matchLabels: Invalid value: \"-\": {LABEL_VALUE_MSG}"),
                "spec.ingress[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive".into(),
                "spec.ingress[0].from[0]: Required value: must specify a peer".into(),
                "spec.egress[0].ports[0].protocol: Unsupported value: \"ICMP\": supported values: \"TCP\", \"UDP\", \"SCTP\"".into(),
                "spec.egress[0].to[0]: Required value: must specify a peer".into(),
                "spec.policyTypes[0]: Unsupported value: \"Both\": supported values: \"Ingress\", \"Egress\"".into(),
            ],
        ),
    ];
    for (name, spec, want) in cases {
        let np = policy(spec);
        assert_eq!(messages(&np), want, "{name}");
    }
}

#[test]
fn object_meta_failure_cases() {
    let cases: Vec<(&str, Value, Vec<String>)> = vec![
        ("missing name", json!({"namespace": "foo"}), vec!["metadata.name: Required value: name or generateName is required".into()]),
        ("missing namespace", json!({"name": "bar"}), vec!["metadata.namespace: Required value".into()]),
        (
            "name not a DNS subdomain",
            json!({"name": "Bar_1", "namespace": "foo"}),
            vec![format!("metadata.name: Invalid value: \"Bar_1\": {SUBDOMAIN_REGEX_MSG}")],
        ),
        (
            "name too long",
            json!({"name": "a".repeat(254), "namespace": "foo"}),
            vec![format!("metadata.name: Invalid value: \"{}\": must be no more than 253 characters", "a".repeat(254))],
        ),
        (
            "namespace with dots",
            json!({"name": "bar", "namespace": "foo.bar"}),
            vec!["metadata.namespace: Invalid value: \"foo.bar\": must not contain dots".into()],
        ),
        (
            "namespace uppercase",
            json!({"name": "bar", "namespace": "Foo"}),
            vec![format!("metadata.namespace: Invalid value: \"Foo\": {LABEL_REGEX_MSG}")],
        ),
        (
            "bad generateName is reported even with a name",
            json!({"name": "bar", "generateName": "Bad-", "namespace": "foo"}),
            vec![format!("metadata.generateName: Invalid value: \"Bad-\": {SUBDOMAIN_REGEX_MSG}")],
        ),
        (
            "label key and value",
            json!({"name": "bar", "namespace": "foo", "labels": {"-k": "v", "ok": "v v"}}),
            vec![
                format!("metadata.labels: Invalid value: \"-k\": {NAME_PART_MSG}"),
                format!("metadata.labels: Invalid value: \"v v\": {LABEL_VALUE_MSG}"),
            ],
        ),
        (
            "annotation key with a bad prefix; case does not matter",
            json!({"name": "bar", "namespace": "foo", "annotations": {"Example.COM/Key": "x", "bad_prefix.com/k": "y"}}),
            vec![format!("metadata.annotations: Invalid value: \"bad_prefix.com/k\": prefix part {SUBDOMAIN_REGEX_MSG}")],
        ),
        (
            "annotations over 256 KiB in total",
            json!({"name": "bar", "namespace": "foo", "annotations": {"a": "x".repeat(128 * 1024), "b": "y".repeat(128 * 1024)}}),
            vec!["metadata.annotations: Too long: may not be more than 262144 bytes".into()],
        ),
        (
            "finalizer that is not fully qualified",
            json!({"name": "bar", "namespace": "foo", "finalizers": ["kubernetes", "example.com/x", "custom"]}),
            vec!["metadata.finalizers[2]: Invalid value: \"custom\": name is neither a standard finalizer name nor is it fully qualified".into()],
        ),
        (
            "negative generation",
            json!({"name": "bar", "namespace": "foo", "generation": -1}),
            vec!["metadata.generation: Invalid value: -1: must be greater than or equal to 0".into()],
        ),
        (
            "owner reference without uid",
            json!({"name": "bar", "namespace": "foo", "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "uid": ""}]}),
            vec!["metadata.ownerReferences.uid: Invalid value: \"\": uid must not be empty".into()],
        ),
    ];
    for (name, meta, want) in cases {
        let np = with_meta(meta);
        assert_eq!(messages(&np), want, "{name}");
    }
    let exact_limit = with_meta(
        json!({"name": "bar", "namespace": "foo", "annotations": {"a": "x".repeat(256 * 1024 - 1)}}),
    );
    assert_eq!(
        messages(&exact_limit),
        Vec::<String>::new(),
        "exactly 256 KiB of annotations is allowed"
    );
}

#[test]
fn causes_carry_reason_field_and_body() {
    let np =
        policy(json!({"podSelector": {}, "ingress": [{"ports": [{"port": 80, "endPort": 70}]}]}));
    let errs = validate_create(&np);
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].kind, ErrorKind::Invalid);
    assert_eq!(errs[0].cause_reason(), "FieldValueInvalid");
    assert_eq!(errs[0].field, "spec.ingress[0].ports[0].endPort");
    assert_eq!(
        errs[0].body(),
        "Invalid value: 70: must be greater than or equal to `port`"
    );
    assert_eq!(
        invalid_message(GROUP_KIND, "bar", &errs),
        "NetworkPolicy.networking.k8s.io \"bar\" is invalid: spec.ingress[0].ports[0].endPort: Invalid value: 70: must be greater than or equal to `port`"
    );
}

fn stored(np: &NetworkPolicy) -> NetworkPolicy {
    let mut s = np.clone();
    apply_defaults(&mut s);
    s.metadata.uid = Some("6f0d6c8e-1f5e-4c36-9f57-1f0f5c1b8a11".into());
    s.metadata.resource_version = Some("7".into());
    s.metadata.generation = Some(1);
    s
}

#[test]
fn update_accepts_a_changed_spec_and_rejects_identity_changes() {
    let old = stored(&policy(json!({"podSelector": {}})));
    let mut new = policy(json!({"podSelector": {}, "ingress": [{"ports": [{"port": 443}]}]}));
    apply_defaults(&mut new);
    netpol_policy::prepare_for_update(&mut new, &old);
    assert_eq!(validate_update(&new, &old), vec![]);
    assert_eq!(
        new.metadata.generation,
        Some(2),
        "a spec change bumps generation"
    );
    assert_eq!(
        new.metadata.resource_version.as_deref(),
        Some("7"),
        "unconditional update takes the stored version"
    );

    let mut renamed = new.clone();
    renamed.metadata.name = Some("other".into());
    renamed.metadata.uid = Some("another-uid".into());
    let errs = validate_update(&renamed, &old);
    let text = aggregate(&errs);
    assert_eq!(
        text,
        "[metadata.name: Invalid value: \"other\": field is immutable, metadata.uid: Invalid value: \"another-uid\": field is immutable]"
    );
    // The generic registry and the strategy both report them: causes repeat, the message does not.
    assert_eq!(errs.len(), 4);
}

#[test]
fn update_reports_spec_errors_twice_in_causes_once_in_message() {
    let old = stored(&policy(json!({"podSelector": {}})));
    let mut new = policy(json!({"podSelector": {}, "policyTypes": ["Sideways"]}));
    netpol_policy::prepare_for_update(&mut new, &old);
    let errs = validate_update(&new, &old);
    let want = "spec.policyTypes[0]: Unsupported value: \"Sideways\": supported values: \"Ingress\", \"Egress\"";
    assert_eq!(errs.iter().filter(|e| e.message() == want).count(), 2);
    assert_eq!(aggregate(&errs), want);
}

#[test]
fn update_keeps_invalid_selector_values_that_were_already_stored() {
    let mut old = stored(&policy(json!({"podSelector": {}})));
    let bad_selector =
        json!({"matchExpressions": [{"key": "a", "operator": "In", "values": ["not ok"]}]});
    if let Some(spec) = old.spec.as_mut() {
        spec.pod_selector = serde_json::from_value(bad_selector.clone()).ok();
    }
    let mut new = policy(json!({"podSelector": bad_selector, "ingress": [{}]}));
    netpol_policy::prepare_for_update(&mut new, &old);
    assert_eq!(validate_update(&new, &old), vec![]);
    let fresh = stored(&policy(json!({"podSelector": {}})));
    let mut again = policy(
        json!({"podSelector": {"matchExpressions": [{"key": "a", "operator": "In", "values": ["not ok"]}]}}),
    );
    netpol_policy::prepare_for_update(&mut again, &fresh);
    assert!(
        !validate_update(&again, &fresh).is_empty(),
        "a new invalid value is still rejected"
    );
}

#[test]
fn create_preparation_makes_client_sent_server_fields_harmless() {
    let mut np = with_meta(json!({"name": "bar", "namespace": "foo", "generation": -4,
        "deletionTimestamp": "2026-01-01T00:00:00Z", "deletionGracePeriodSeconds": 30}));
    assert_eq!(
        messages(&np),
        vec![
            "metadata.generation: Invalid value: -4: must be greater than or equal to 0"
                .to_string()
        ]
    );
    netpol_policy::prepare_for_create(&mut np);
    assert_eq!(messages(&np), Vec::<String>::new());
    assert_eq!(np.metadata.generation, Some(1));
    assert!(np.metadata.deletion_timestamp.is_none());
}

#[test]
fn update_preparation_keeps_identity_and_generation_from_the_stored_object() {
    let old = stored(&policy(json!({"podSelector": {}})));
    let mut same_spec = policy(json!({"podSelector": {}}));
    apply_defaults(&mut same_spec);
    same_spec.metadata.generation = Some(99);
    netpol_policy::prepare_for_update(&mut same_spec, &old);
    assert_eq!(
        same_spec.metadata.generation,
        Some(1),
        "an unchanged spec keeps the stored generation"
    );
    assert_eq!(same_spec.metadata.uid, old.metadata.uid);
    assert_eq!(validate_update(&same_spec, &old), vec![]);
}

#[test]
fn update_without_resource_version_is_invalid_when_not_prepared() {
    let old = stored(&policy(json!({"podSelector": {}})));
    let mut new = old.clone();
    new.metadata.resource_version = None;
    let errs = validate_update(&new, &old);
    assert_eq!(
        aggregate(&errs),
        "metadata.resourceVersion: Invalid value: \"\": must be specified for an update"
    );
}
