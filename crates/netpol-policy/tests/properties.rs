//! Properties: decoding and validation never panic on arbitrary input; normalisation is
//! idempotent; the hash is stable across a JSON round trip of the defaulted form and
//! changes with any spec field.

use std::collections::BTreeMap;

use netpol_policy::{
    apply_defaults, content_hash, decode_strict, normalize, validate_create, validate_update,
    NetworkPolicy,
};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

const PREFIX: &str = "netpol-sync.io/";

/// Arbitrary JSON, biased towards the shapes and names a NetworkPolicy has.
fn arb_json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("apiVersion".to_string()),
        Just("kind".to_string()),
        Just("metadata".to_string()),
        Just("spec".to_string()),
        Just("name".to_string()),
        Just("podSelector".to_string()),
        Just("ingress".to_string()),
        Just("from".to_string()),
        Just("ports".to_string()),
        Just("port".to_string()),
        Just("endPort".to_string()),
        Just("ipBlock".to_string()),
        Just("cidr".to_string()),
        Just("matchLabels".to_string()),
        "[a-zA-Z]{1,8}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(6, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn typed_doc(spec: Value, meta: Value) -> Value {
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta, "spec": spec})
}

fn label_map() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map("[a-z]{1,4}", "[a-zA-Z0-9_.-]{0,5}", 0..3)
}

fn selector() -> impl Strategy<Value = Value> {
    (
        label_map(),
        prop::collection::vec(
            (
                "[a-z]{1,3}",
                prop_oneof![Just("In"), Just("NotIn"), Just("Exists"), Just("Bad")],
                prop::collection::vec("[a-z]{0,3}", 0..3),
            ),
            0..2,
        ),
    )
        .prop_map(|(labels, exprs)| {
            let exprs: Vec<Value> = exprs
                .into_iter()
                .map(|(k, op, vals)| json!({"key": k, "operator": op, "values": vals}))
                .collect();
            json!({"matchLabels": labels, "matchExpressions": exprs})
        })
}

fn port() -> impl Strategy<Value = Value> {
    (
        prop::option::of(prop_oneof![
            (-5i32..70000).prop_map(Value::from),
            "[a-z-]{0,6}".prop_map(Value::from)
        ]),
        prop::option::of(-5i32..70000),
        prop::option::of(prop_oneof![
            Just("TCP"),
            Just("UDP"),
            Just("SCTP"),
            Just("ICMP")
        ]),
    )
        .prop_map(|(p, e, proto)| {
            let mut m = Map::new();
            if let Some(p) = p {
                m.insert("port".into(), p);
            }
            if let Some(e) = e {
                m.insert("endPort".into(), e.into());
            }
            if let Some(proto) = proto {
                m.insert("protocol".into(), proto.into());
            }
            Value::Object(m)
        })
}

fn peer() -> impl Strategy<Value = Value> {
    (
        prop::option::of(selector()),
        prop::option::of(selector()),
        prop::option::of((
            "[0-9]{1,3}\\.[0-9]{1,3}\\.0\\.0/[0-9]{1,2}",
            prop::collection::vec("[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.0/[0-9]{1,2}", 0..2),
        )),
    )
        .prop_map(|(pods, nss, block)| {
            let mut m = Map::new();
            if let Some(s) = pods {
                m.insert("podSelector".into(), s);
            }
            if let Some(s) = nss {
                m.insert("namespaceSelector".into(), s);
            }
            if let Some((cidr, except)) = block {
                m.insert("ipBlock".into(), json!({"cidr": cidr, "except": except}));
            }
            Value::Object(m)
        })
}

/// Well-typed NetworkPolicy documents, valid or not.
fn arb_policy_doc() -> impl Strategy<Value = Value> {
    let rule = || {
        (
            prop::collection::vec(peer(), 0..3),
            prop::collection::vec(port(), 0..3),
        )
    };
    (
        "[a-z][a-z0-9-]{0,8}",
        label_map(),
        prop::option::of(selector()),
        prop::collection::vec(rule(), 0..3),
        prop::collection::vec(rule(), 0..3),
        prop::option::of(prop::collection::vec(
            prop_oneof![Just("Ingress"), Just("Egress"), Just("Other")],
            0..3,
        )),
    )
        .prop_map(|(name, labels, pod_selector, ingress, egress, types)| {
            let ingress: Vec<Value> = ingress
                .into_iter()
                .map(|(peers, ports)| json!({"from": peers, "ports": ports}))
                .collect();
            let egress: Vec<Value> = egress
                .into_iter()
                .map(|(peers, ports)| json!({"to": peers, "ports": ports}))
                .collect();
            let mut spec = Map::new();
            if let Some(s) = pod_selector {
                spec.insert("podSelector".into(), s);
            }
            spec.insert("ingress".into(), Value::Array(ingress));
            spec.insert("egress".into(), Value::Array(egress));
            if let Some(t) = types {
                spec.insert("policyTypes".into(), json!(t));
            }
            typed_doc(
                Value::Object(spec),
                json!({"name": name, "namespace": "ns", "labels": labels}),
            )
        })
}

fn decode(doc: Value) -> NetworkPolicy {
    decode_strict(doc).unwrap_or_else(|e| panic!("generated document must decode: {e:?}"))
}

/// Every way of changing exactly one spec field of a defaulted policy.
fn mutate_spec(np: &NetworkPolicy, which: usize) -> Option<NetworkPolicy> {
    let mut v = serde_json::to_value(np).ok()?;
    let spec = v.get_mut("spec")?;
    match which % 6 {
        0 => spec["podSelector"]["matchLabels"]["mutated"] = json!("yes"),
        1 => spec["policyTypes"] = json!(["Egress"]),
        2 => {
            let ingress = spec["ingress"].as_array_mut()?;
            ingress.push(json!({"ports": [{"port": 1234, "protocol": "TCP"}]}));
        }
        3 => {
            let egress = spec["egress"].as_array_mut()?;
            let first = egress.first_mut()?;
            first["ports"] = json!([{"port": 9, "protocol": "UDP", "endPort": 10}]);
        }
        4 => {
            let ingress = spec["ingress"].as_array_mut()?;
            let first = ingress.first_mut()?;
            first["from"] = json!([{"ipBlock": {"cidr": "203.0.113.0/24"}}]);
        }
        _ => spec["podSelector"]["matchExpressions"] = json!([{"key": "zz", "operator": "Exists"}]),
    }
    serde_json::from_value(v).ok()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn decode_and_validate_never_panic_on_arbitrary_json(v in arb_json()) {
        if let Ok(np) = decode_strict(v.clone()) {
            let _ = validate_create(&np);
            let _ = validate_update(&np, &np);
            let _ = content_hash(&np, PREFIX);
        }
        let mut wrapped = v;
        if let Some(obj) = wrapped.as_object_mut() {
            obj.insert("apiVersion".into(), json!("networking.k8s.io/v1"));
            obj.insert("kind".into(), json!("NetworkPolicy"));
        }
        if let Ok(np) = decode_strict(wrapped) {
            let _ = validate_create(&np);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(v) = serde_json::from_slice::<Value>(&bytes) {
            if let Ok(np) = decode_strict(v) {
                let _ = validate_create(&np);
            }
        }
        if let Ok(v) = serde_yaml::from_slice::<Value>(&bytes) {
            let _ = decode_strict(v);
        }
    }

    #[test]
    fn validation_never_panics_on_arbitrary_strings(name in ".{0,300}", value in ".{0,80}", cidr in ".{0,60}", port_name in ".{0,20}") {
        let doc = typed_doc(
            json!({"podSelector": {"matchLabels": {value.clone(): value.clone()}, "matchExpressions": [{"key": value.clone(), "operator": value.clone(), "values": [value.clone()]}]},
                   "ingress": [{"from": [{"ipBlock": {"cidr": cidr.clone(), "except": [cidr.clone(), value.clone()]}}], "ports": [{"port": port_name, "protocol": value.clone()}]}],
                   "policyTypes": [value.clone()]}),
            json!({"name": name.clone(), "namespace": name.clone(), "generateName": name, "labels": {value.clone(): value.clone()}, "annotations": {value.clone(): value}, "finalizers": [cidr]}),
        );
        let np = decode(doc);
        let errs = validate_create(&np);
        for e in &errs {
            prop_assert!(!e.message().is_empty());
        }
    }

    #[test]
    fn normalize_is_idempotent(doc in arb_policy_doc()) {
        let np = decode(doc);
        let once = normalize(&np, PREFIX);
        let twice = normalize(&once, PREFIX);
        prop_assert_eq!(&once, &twice);
        prop_assert_eq!(content_hash(&np, PREFIX), content_hash(&once, PREFIX));
    }

    #[test]
    fn hash_survives_json_round_trip_of_defaulted_form(doc in arb_policy_doc()) {
        let np = decode(doc);
        let mut defaulted = np.clone();
        apply_defaults(&mut defaulted);
        let text = serde_json::to_string(&defaulted).expect("serialisable");
        let back = decode(serde_json::from_str(&text).expect("json"));
        prop_assert_eq!(content_hash(&np, PREFIX), content_hash(&back, PREFIX));
    }

    #[test]
    fn hash_changes_when_a_spec_field_changes(doc in arb_policy_doc(), which in 0usize..6) {
        let mut np = decode(doc);
        apply_defaults(&mut np);
        if let Some(changed) = mutate_spec(&np, which) {
            if normalize(&changed, PREFIX).spec != normalize(&np, PREFIX).spec {
                prop_assert_ne!(content_hash(&np, PREFIX), content_hash(&changed, PREFIX));
            }
        }
    }
}
