//! Protobuf request bodies (`application/vnd.kubernetes.protobuf`), as kubectl and client-go
//! send them for built-in types (`kubectl create namespace`, `create configmap`, typed
//! deletes). The wire format is prost's, through the types k8s-pb generates from upstream's
//! `.proto` files; this module only unwraps the envelope (the 4-byte magic and a
//! `runtime.Unknown`) and maps each decoded message to the JSON form the rest of the emulator
//! validates and stores. Bodies are untrusted: every failure is a [`BodyError`], never a
//! panic.
//!
//! Kinds: Namespace, ConfigMap, NetworkPolicy, Lease and DeleteOptions. A protobuf body of
//! any other kind is 415, as apiserver-emu/README.md lists.

use base64::Engine;
use k8s_openapi::jiff::Timestamp;
use k8s_pb::api::coordination::v1 as coordination;
use k8s_pb::api::core::v1 as core;
use k8s_pb::api::networking::v1 as networking;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::Unknown;
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use prost::Message;
use serde_json::{json, Map, Value};

use crate::body::BodyError;

/// The media type kube clients use for protobuf.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";
/// Every protobuf body starts with these bytes, then a `runtime.Unknown`.
const MAGIC: &[u8; 4] = b"k8s\0";

/// Decode a protobuf body of `kind` (`Namespace`, …, `DeleteOptions`) to its JSON form, with
/// `apiVersion` and `kind` from the envelope.
pub fn decode(bytes: &[u8], kind: &str) -> Result<Value, BodyError> {
    let Some(rest) = bytes.strip_prefix(MAGIC) else {
        return Err(BodyError::Malformed(
            "protobuf body does not start with the Kubernetes magic number".into(),
        ));
    };
    // kube-apiserver's wording for a body it cannot decode as the URL's kind.
    let unrecognized = |why: &str| {
        BodyError::Malformed(format!(
            "the object provided is unrecognized (must be of type {kind}): {why}"
        ))
    };
    if rest.is_empty() {
        return Err(unrecognized("empty body"));
    }
    let unknown = Unknown::decode(rest).map_err(|e| unrecognized(&e.to_string()))?;
    if unknown
        .content_encoding
        .as_deref()
        .is_some_and(|e| !e.is_empty())
    {
        return Err(BodyError::Malformed(format!(
            "protobuf content encoding {:?} is not supported",
            unknown.content_encoding.unwrap_or_default()
        )));
    }
    let type_meta = unknown.type_meta.unwrap_or_default();
    let raw = unknown.raw.unwrap_or_default();
    let body_kind = type_meta.kind.clone().unwrap_or_default();
    let decoded_kind = if body_kind.is_empty() {
        kind
    } else {
        body_kind.as_str()
    };
    let mut value = match decoded_kind {
        "Namespace" => namespace(core::Namespace::decode(raw.as_slice()).map_err(malformed)?),
        "ConfigMap" => configmap(core::ConfigMap::decode(raw.as_slice()).map_err(malformed)?),
        "NetworkPolicy" => {
            network_policy(networking::NetworkPolicy::decode(raw.as_slice()).map_err(malformed)?)
        }
        "Lease" => lease(coordination::Lease::decode(raw.as_slice()).map_err(malformed)?),
        "DeleteOptions" => {
            delete_options(meta::DeleteOptions::decode(raw.as_slice()).map_err(malformed)?)
        }
        other => {
            return Err(BodyError::UnsupportedMediaType(format!(
                "{MEDIA_TYPE} (for kind {other:?}; apiserver-emu decodes protobuf for Namespace, ConfigMap, NetworkPolicy, Lease and DeleteOptions)"
            )))
        }
    };
    let map = value
        .as_object_mut()
        .expect("every mapping yields an object");
    if let Some(v) = type_meta.api_version.filter(|v| !v.is_empty()) {
        map.insert("apiVersion".into(), Value::String(v));
    }
    if !body_kind.is_empty() {
        map.insert("kind".into(), Value::String(body_kind));
    }
    Ok(value)
}

fn malformed(e: prost::DecodeError) -> BodyError {
    BodyError::Malformed(format!("cannot decode the protobuf body: {e}"))
}

/// A JSON object of the fields that are set: `None`, empty strings of absent optionals are
/// kept as given (protobuf's optional says whether a field was set).
struct Obj(Map<String, Value>);

impl Obj {
    fn new() -> Obj {
        Obj(Map::new())
    }
    fn opt(mut self, key: &str, value: Option<Value>) -> Obj {
        if let Some(v) = value {
            self.0.insert(key.into(), v);
        }
        self
    }
    /// Repeated fields: protobuf cannot tell an empty list from an absent one, and
    /// kube-apiserver decodes both to nil, so an empty one is left out.
    fn list(self, key: &str, values: Vec<Value>) -> Obj {
        let v = (!values.is_empty()).then_some(Value::Array(values));
        self.opt(key, v)
    }
    fn done(self) -> Value {
        Value::Object(self.0)
    }
}

fn s(v: Option<String>) -> Option<Value> {
    v.map(Value::String)
}

fn strings(v: Vec<String>) -> Vec<Value> {
    v.into_iter().map(Value::String).collect()
}

fn string_map(m: std::collections::BTreeMap<String, String>) -> Option<Value> {
    (!m.is_empty())
        .then(|| Value::Object(m.into_iter().map(|(k, v)| (k, Value::String(v))).collect()))
}

fn time(t: Option<meta::Time>) -> Option<Value> {
    let t = t?;
    let ts = Timestamp::from_second(t.seconds.unwrap_or(0)).ok()?;
    Some(Value::String(ts.to_string()))
}

fn micro_time(t: Option<meta::MicroTime>) -> Option<Value> {
    let t = t?;
    let nanos = i128::from(t.seconds.unwrap_or(0)) * 1_000_000_000
        + i128::from(t.nanos.unwrap_or(0)) / 1000 * 1000;
    let ts = Timestamp::from_nanosecond(nanos).ok()?;
    Some(Value::String(format!("{ts:.6}")))
}

fn metadata(m: Option<meta::ObjectMeta>) -> Option<Value> {
    let m = m?;
    let owners = m
        .owner_references
        .into_iter()
        .map(|o| {
            Obj::new()
                .opt("apiVersion", s(o.api_version))
                .opt("kind", s(o.kind))
                .opt("name", s(o.name))
                .opt("uid", s(o.uid))
                .opt("controller", o.controller.map(Value::Bool))
                .opt(
                    "blockOwnerDeletion",
                    o.block_owner_deletion.map(Value::Bool),
                )
                .done()
        })
        .collect();
    Some(
        Obj::new()
            .opt("name", s(m.name))
            .opt("generateName", s(m.generate_name))
            .opt("namespace", s(m.namespace))
            .opt("uid", s(m.uid))
            .opt("resourceVersion", s(m.resource_version))
            .opt("generation", m.generation.map(Value::from))
            .opt("creationTimestamp", time(m.creation_timestamp))
            .opt("deletionTimestamp", time(m.deletion_timestamp))
            .opt(
                "deletionGracePeriodSeconds",
                m.deletion_grace_period_seconds.map(Value::from),
            )
            .opt("labels", string_map(m.labels))
            .opt("annotations", string_map(m.annotations))
            .list("ownerReferences", owners)
            .list("finalizers", strings(m.finalizers))
            .done(),
    )
}

fn selector(sel: Option<meta::LabelSelector>) -> Option<Value> {
    let sel = sel?;
    let exprs = sel
        .match_expressions
        .into_iter()
        .map(|e| {
            Obj::new()
                .opt("key", s(e.key))
                .opt("operator", s(e.operator))
                .list("values", strings(e.values))
                .done()
        })
        .collect();
    Some(
        Obj::new()
            .opt("matchLabels", string_map(sel.match_labels))
            .list("matchExpressions", exprs)
            .done(),
    )
}

fn int_or_string(v: Option<IntOrString>) -> Option<Value> {
    let v = v?;
    Some(match v.r#type.unwrap_or(0) {
        1 => Value::String(v.str_val.unwrap_or_default()),
        _ => Value::from(v.int_val.unwrap_or(0)),
    })
}

fn namespace(ns: core::Namespace) -> Value {
    let spec = ns.spec.map(|spec| {
        Obj::new()
            .list("finalizers", strings(spec.finalizers))
            .done()
    });
    Obj::new()
        .opt("metadata", metadata(ns.metadata))
        .opt("spec", spec)
        .done()
}

fn configmap(cm: core::ConfigMap) -> Value {
    let binary = (!cm.binary_data.is_empty()).then(|| {
        Value::Object(
            cm.binary_data
                .into_iter()
                .map(|(k, v)| {
                    let text = base64::engine::general_purpose::STANDARD.encode(v);
                    (k, Value::String(text))
                })
                .collect(),
        )
    });
    Obj::new()
        .opt("metadata", metadata(cm.metadata))
        .opt("immutable", cm.immutable.map(Value::Bool))
        .opt("data", string_map(cm.data))
        .opt("binaryData", binary)
        .done()
}

fn peers(peers: Vec<networking::NetworkPolicyPeer>) -> Vec<Value> {
    peers
        .into_iter()
        .map(|p| {
            let block = p.ip_block.map(|b| {
                Obj::new()
                    .opt("cidr", s(b.cidr))
                    .list("except", strings(b.except))
                    .done()
            });
            Obj::new()
                .opt("podSelector", selector(p.pod_selector))
                .opt("namespaceSelector", selector(p.namespace_selector))
                .opt("ipBlock", block)
                .done()
        })
        .collect()
}

fn ports(ports: Vec<networking::NetworkPolicyPort>) -> Vec<Value> {
    ports
        .into_iter()
        .map(|p| {
            Obj::new()
                .opt("protocol", s(p.protocol))
                .opt("port", int_or_string(p.port))
                .opt("endPort", p.end_port.map(Value::from))
                .done()
        })
        .collect()
}

fn network_policy(np: networking::NetworkPolicy) -> Value {
    let spec = np.spec.map(|spec| {
        let ingress = spec
            .ingress
            .into_iter()
            .map(|r| {
                Obj::new()
                    .list("ports", ports(r.ports))
                    .list("from", peers(r.from))
                    .done()
            })
            .collect();
        let egress = spec
            .egress
            .into_iter()
            .map(|r| {
                Obj::new()
                    .list("ports", ports(r.ports))
                    .list("to", peers(r.to))
                    .done()
            })
            .collect();
        Obj::new()
            .opt("podSelector", selector(spec.pod_selector))
            .list("ingress", ingress)
            .list("egress", egress)
            .list("policyTypes", strings(spec.policy_types))
            .done()
    });
    Obj::new()
        .opt("metadata", metadata(np.metadata))
        .opt("spec", spec)
        .done()
}

fn lease(lease: coordination::Lease) -> Value {
    let spec = lease.spec.map(|spec| {
        Obj::new()
            .opt("holderIdentity", s(spec.holder_identity))
            .opt(
                "leaseDurationSeconds",
                spec.lease_duration_seconds.map(Value::from),
            )
            .opt("acquireTime", micro_time(spec.acquire_time))
            .opt("renewTime", micro_time(spec.renew_time))
            .opt("leaseTransitions", spec.lease_transitions.map(Value::from))
            .opt("strategy", s(spec.strategy))
            .opt("preferredHolder", s(spec.preferred_holder))
            .done()
    });
    Obj::new()
        .opt("metadata", metadata(lease.metadata))
        .opt("spec", spec)
        .done()
}

fn delete_options(o: meta::DeleteOptions) -> Value {
    let preconditions = o.preconditions.map(|p| {
        Obj::new()
            .opt("uid", s(p.uid))
            .opt("resourceVersion", s(p.resource_version))
            .done()
    });
    let mut v = Obj::new()
        .opt(
            "gracePeriodSeconds",
            o.grace_period_seconds.map(Value::from),
        )
        .opt("preconditions", preconditions)
        .opt("orphanDependents", o.orphan_dependents.map(Value::Bool))
        .opt("propagationPolicy", s(o.propagation_policy))
        .list("dryRun", strings(o.dry_run))
        .done();
    // DeleteOptions carries its own type; the URL's resource is not its kind.
    v["apiVersion"] = json!("v1");
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
        let unknown = Unknown {
            type_meta: Some(k8s_pb::apimachinery::pkg::runtime::TypeMeta {
                api_version: Some(api_version.into()),
                kind: Some(kind.into()),
            }),
            raw: Some(raw),
            content_encoding: Some(String::new()),
            content_type: Some(String::new()),
        };
        let mut out = MAGIC.to_vec();
        out.extend(unknown.encode_to_vec());
        out
    }

    #[test]
    fn a_namespace_as_kubectl_create_namespace_sends_it() {
        let ns = core::Namespace {
            metadata: Some(meta::ObjectMeta {
                name: Some("team-a".into()),
                labels: [("team".to_string(), "a".to_string())].into(),
                ..Default::default()
            }),
            spec: Some(core::NamespaceSpec::default()),
            status: Some(core::NamespaceStatus::default()),
        };
        let body = envelope("v1", "Namespace", ns.encode_to_vec());
        let v = decode(&body, "Namespace").unwrap();
        assert_eq!(
            v,
            json!({"apiVersion": "v1", "kind": "Namespace",
                   "metadata": {"name": "team-a", "labels": {"team": "a"}}, "spec": {}})
        );
    }

    #[test]
    fn a_network_policy_keeps_empty_selectors_named_ports_and_ranges() {
        let np = networking::NetworkPolicy {
            metadata: Some(meta::ObjectMeta {
                name: Some("web".into()),
                ..Default::default()
            }),
            spec: Some(networking::NetworkPolicySpec {
                pod_selector: Some(meta::LabelSelector::default()),
                ingress: vec![networking::NetworkPolicyIngressRule {
                    ports: vec![
                        networking::NetworkPolicyPort {
                            protocol: Some("TCP".into()),
                            port: Some(IntOrString {
                                r#type: Some(0),
                                int_val: Some(8000),
                                str_val: None,
                            }),
                            end_port: Some(9000),
                        },
                        networking::NetworkPolicyPort {
                            protocol: None,
                            port: Some(IntOrString {
                                r#type: Some(1),
                                int_val: None,
                                str_val: Some("http".into()),
                            }),
                            end_port: None,
                        },
                    ],
                    from: vec![networking::NetworkPolicyPeer {
                        pod_selector: None,
                        namespace_selector: Some(meta::LabelSelector::default()),
                        ip_block: None,
                    }],
                }],
                egress: vec![networking::NetworkPolicyEgressRule::default()],
                policy_types: vec!["Ingress".into(), "Egress".into()],
            }),
        };
        let body = envelope("networking.k8s.io/v1", "NetworkPolicy", np.encode_to_vec());
        let v = decode(&body, "NetworkPolicy").unwrap();
        assert_eq!(
            v["spec"],
            json!({"podSelector": {},
                   "ingress": [{"ports": [{"protocol": "TCP", "port": 8000, "endPort": 9000},
                                          {"port": "http"}],
                                "from": [{"namespaceSelector": {}}]}],
                   "egress": [{}],
                   "policyTypes": ["Ingress", "Egress"]})
        );
    }

    #[test]
    fn hostile_bodies_are_errors_not_panics() {
        for body in [
            b"".to_vec(),
            b"k8s".to_vec(),
            b"{\"kind\":\"Namespace\"}".to_vec(),
            [MAGIC.as_slice(), &[0xff; 64]].concat(),
            envelope("v1", "Namespace", vec![0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]),
            envelope("v1", "Pod", vec![]),
        ] {
            assert!(decode(&body, "Namespace").is_err(), "{body:?}");
        }
        let gzip = Unknown {
            content_encoding: Some("gzip".into()),
            ..Default::default()
        };
        let mut body = MAGIC.to_vec();
        body.extend(gzip.encode_to_vec());
        assert!(decode(&body, "Namespace").is_err());
    }

    proptest::proptest! {
        /// Whatever follows the magic number, for every kind: an answer, never a panic.
        #[test]
        fn arbitrary_bodies_never_panic(
            raw in proptest::collection::vec(proptest::num::u8::ANY, 0..512),
            kind in proptest::sample::select(vec!["Namespace", "ConfigMap", "NetworkPolicy", "Lease", "DeleteOptions", "Pod"]),
        ) {
            let _ = decode(&envelope("v1", kind, raw.clone()), kind);
            let _ = decode(&[MAGIC.as_slice(), &raw].concat(), kind);
        }
    }
}
