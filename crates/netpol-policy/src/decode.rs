//! Strict decoding of a NetworkPolicy: the apiserver's strict field validation (unknown or
//! misspelt fields rejected with their path) on top of k8s-openapi's lenient deserialiser.
//!
//! k8s-openapi ignores unknown fields, so the input is first walked against the schema of
//! the fields k8s-openapi knows (`crate::schema`, checked against k8s-openapi by a test);
//! every non-null member outside it is an unknown field.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::render::go_quote;
use crate::schema::{Shape, NETWORK_POLICY};
use crate::{ErrorKind, FieldError, NetworkPolicy};

pub const API_VERSION: &str = "networking.k8s.io/v1";
pub const KIND: &str = "NetworkPolicy";

/// Deepest nesting accepted. A real NetworkPolicy is about ten levels deep (a selector
/// value sits at spec.ingress[i].from[j].podSelector.matchExpressions[k].values[l]);
/// managedFields' opaque fieldsV1 adds a little more.
pub const MAX_DEPTH: usize = 64;

/// Most unknown fields reported for one object; the rest are summarised by their count.
const MAX_UNKNOWN_REPORTED: usize = 32;

/// Recursion is bounded: it stops one level past `limit` (at most [`MAX_DEPTH`] + 1
/// frames), and allocates nothing, which matters once per policy of a 10,000-policy load.
fn depth_exceeds(value: &Value, limit: usize) -> bool {
    match value {
        _ if limit == 0 => true,
        Value::Array(items) => items.iter().any(|i| depth_exceeds(i, limit - 1)),
        Value::Object(map) => map.values().any(|i| depth_exceeds(i, limit - 1)),
        _ => false,
    }
}

fn check_type_meta(obj: &Map<String, Value>, errs: &mut Vec<FieldError>) {
    for (field, want) in [("apiVersion", API_VERSION), ("kind", KIND)] {
        match obj.get(field) {
            None | Some(Value::Null) => errs.push(FieldError::new(
                ErrorKind::Required,
                field,
                None,
                format!("must be {}", go_quote(want)),
            )),
            Some(Value::String(s)) if s == want => {}
            Some(Value::String(s)) => errs.push(FieldError::new(
                ErrorKind::Invalid,
                field,
                Some(go_quote(s)),
                format!("must be {}", go_quote(want)),
            )),
            Some(other) => errs.push(FieldError::new(
                ErrorKind::TypeInvalid,
                field,
                None,
                format!(
                    "must be the string {}, not {}",
                    go_quote(want),
                    json_type(other)
                ),
            )),
        }
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Collects the paths of the input's non-null members that `shape` does not have.
fn collect_unknown(input: &Value, shape: &Shape, path: &mut String, found: &mut Vec<String>) {
    match (shape, input) {
        (Shape::Struct(fields), Value::Object(members)) => {
            for (key, value) in members {
                if value.is_null() {
                    continue;
                }
                let known = fields.iter().find(|(name, _)| name == key);
                match known {
                    Some((_, Shape::Leaf)) => {}
                    Some((_, inner)) => {
                        let len = path.len();
                        if !path.is_empty() {
                            path.push('.');
                        }
                        path.push_str(key);
                        collect_unknown(value, inner, path, found);
                        path.truncate(len);
                    }
                    None => {
                        let mut unknown = String::with_capacity(path.len() + key.len() + 1);
                        unknown.push_str(path);
                        if !unknown.is_empty() {
                            unknown.push('.');
                        }
                        unknown.push_str(key);
                        found.push(unknown);
                    }
                }
            }
        }
        (Shape::List(inner), Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push('[');
                path.push_str(&i.to_string());
                path.push(']');
                collect_unknown(item, inner, path, found);
                path.truncate(len);
            }
        }
        // Leaves, free-form maps and opaque values have no unknown members; a value of the
        // wrong JSON type is the deserialiser's to report.
        _ => {}
    }
}

/// Decode a JSON value (already parsed from YAML or an HTTP body) into a NetworkPolicy,
/// rejecting: a non-object, a missing or different apiVersion/kind, nesting deeper than
/// [`MAX_DEPTH`], a value of the wrong type (reported with its path), and every unknown
/// field (`ErrorKind::UnknownField`, whose message is `unknown field "spec.ingress[0].prots"`).
/// Missing required strings (ipBlock.cidr, a requirement's key/operator) decode as empty,
/// as Go's zero values do, and are left for validation to report.
pub fn decode_strict(value: serde_json::Value) -> Result<NetworkPolicy, Vec<FieldError>> {
    let Value::Object(obj) = &value else {
        return Err(vec![FieldError::new(
            ErrorKind::TypeInvalid,
            "",
            None,
            format!(
                "a NetworkPolicy must be a JSON object, not {}",
                json_type(&value)
            ),
        )]);
    };
    let mut errs = Vec::new();
    check_type_meta(obj, &mut errs);
    if !errs.is_empty() {
        return Err(errs);
    }
    if depth_exceeds(&value, MAX_DEPTH) {
        return Err(vec![FieldError::new(
            ErrorKind::TypeInvalid,
            "",
            None,
            format!("nesting deeper than {MAX_DEPTH} levels"),
        )]);
    }
    let np = match NetworkPolicy::deserialize(&value) {
        Ok(np) => np,
        Err(_) => {
            // Decode again, slower, only to learn where the error is.
            let with_path = serde_path_to_error::deserialize::<_, NetworkPolicy>(&value);
            let (field, detail) = match with_path {
                Err(e) => {
                    let field = e.path().to_string();
                    let field = if field == "." { String::new() } else { field };
                    (field, e.inner().to_string())
                }
                Ok(_) => (String::new(), "malformed NetworkPolicy".to_string()),
            };
            return Err(vec![FieldError::new(
                ErrorKind::TypeInvalid,
                field,
                None,
                detail,
            )]);
        }
    };
    let mut unknown = Vec::new();
    collect_unknown(&value, &NETWORK_POLICY, &mut String::new(), &mut unknown);
    if unknown.is_empty() {
        return Ok(np);
    }
    let total = unknown.len();
    let mut errs: Vec<FieldError> = unknown
        .into_iter()
        .take(MAX_UNKNOWN_REPORTED)
        .map(|path| FieldError::new(ErrorKind::UnknownField, path, None, ""))
        .collect();
    if total > MAX_UNKNOWN_REPORTED {
        errs.push(FieldError::new(
            ErrorKind::TypeInvalid,
            "",
            None,
            format!("{} more unknown fields", total - MAX_UNKNOWN_REPORTED),
        ));
    }
    Err(errs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Every field k8s-openapi 0.29 (v1_33) has, set, so that the round trip shows which
    /// fields the deserialiser knows.
    fn fully_populated() -> Value {
        let selector = json!({"matchLabels": {"a": "b"}, "matchExpressions": [{"key": "k", "operator": "In", "values": ["v"]}]});
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"annotations": {"a": "b"}, "creationTimestamp": "2026-01-01T00:00:00Z",
                "deletionGracePeriodSeconds": 30, "deletionTimestamp": "2026-01-01T00:00:00Z",
                "finalizers": ["example.com/f"], "generateName": "g-", "generation": 1, "labels": {"a": "b"},
                "managedFields": [{"apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}},
                                   "manager": "m", "operation": "Update", "subresource": "s", "time": "2026-01-01T00:00:00Z"}],
                "name": "n", "namespace": "ns",
                "ownerReferences": [{"apiVersion": "v1", "blockOwnerDeletion": true, "controller": true, "kind": "K", "name": "o", "uid": "u"}],
                "resourceVersion": "1", "selfLink": "/s", "uid": "u"},
            "spec": {"podSelector": selector, "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"from": [{"podSelector": selector, "namespaceSelector": selector, "ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}],
                             "ports": [{"port": 1, "endPort": 2, "protocol": "TCP"}]}],
                "egress": [{"to": [{"podSelector": selector, "namespaceSelector": selector, "ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}],
                            "ports": [{"port": 1, "endPort": 2, "protocol": "TCP"}]}]}})
    }

    /// Every object key path in a value (array indices dropped).
    fn key_paths(v: &Value, prefix: &str, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, inner) in m {
                    let p = format!("{prefix}.{k}");
                    out.push(p.clone());
                    if k != "fieldsV1" && k != "matchLabels" && k != "labels" && k != "annotations"
                    {
                        key_paths(inner, &p, out);
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| key_paths(i, prefix, out)),
            _ => {}
        }
    }

    #[test]
    fn schema_matches_the_fields_k8s_openapi_knows() {
        let input = fully_populated();
        let np: NetworkPolicy = serde_json::from_value(input.clone()).expect("decodes");
        let output = serde_json::to_value(&np).expect("encodes");
        let (mut want, mut got) = (Vec::new(), Vec::new());
        key_paths(&input, "", &mut want);
        key_paths(&output, "", &mut got);
        want.sort();
        got.sort();
        assert_eq!(
            want, got,
            "the fixture must set exactly the fields k8s-openapi round-trips"
        );
        let mut unknown = Vec::new();
        collect_unknown(&input, &NETWORK_POLICY, &mut String::new(), &mut unknown);
        assert_eq!(
            unknown,
            Vec::<String>::new(),
            "the schema must know every k8s-openapi field"
        );
        for removed in ["clusterName", "status", "initializers"] {
            let mut v = input.clone();
            if removed == "clusterName" || removed == "initializers" {
                v["metadata"][removed] = json!("x");
            } else {
                v[removed] = json!({});
            }
            assert!(
                decode_strict(v).is_err(),
                "{removed} is not a field of networking/v1 in 1.33"
            );
        }
    }

    fn base() -> Value {
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
               "metadata": {"name": "web", "namespace": "shop"},
               "spec": {"podSelector": {"matchLabels": {"app": "web"}},
                        "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}],
                                     "ports": [{"port": 80, "protocol": "TCP"}]}]}})
    }

    fn messages(r: Result<NetworkPolicy, Vec<FieldError>>) -> Vec<String> {
        match r {
            Ok(_) => panic!("expected decode errors"),
            Err(errs) => errs.iter().map(FieldError::message).collect(),
        }
    }

    #[test]
    fn valid_policy_decodes() {
        let np = decode_strict(base()).expect("valid");
        assert_eq!(np.metadata.name.as_deref(), Some("web"));
    }

    #[test]
    fn misspelt_port_field_is_reported_with_its_path() {
        let mut v = base();
        v["spec"]["ingress"][0]["prots"] = json!([{"port": 80}]);
        assert_eq!(
            messages(decode_strict(v)),
            vec!["unknown field \"spec.ingress[0].prots\""]
        );
    }

    /// `levels` nested arrays around a number: the number sits at depth `levels + 1`.
    fn nested(levels: usize) -> Value {
        (0..levels).fold(json!(1), |inner, _| json!([inner]))
    }

    #[test]
    fn depth_is_counted_from_one_at_the_root_and_stops_at_the_limit() {
        assert!(!depth_exceeds(&json!(1), 1));
        assert!(depth_exceeds(&json!([1]), 1));
        assert!(!depth_exceeds(&nested(MAX_DEPTH - 1), MAX_DEPTH));
        assert!(depth_exceeds(&nested(MAX_DEPTH), MAX_DEPTH));
        let wide_then_deep = json!({"a": 1, "b": [2, 3], "c": {"d": nested(MAX_DEPTH)}});
        assert!(depth_exceeds(&wide_then_deep, MAX_DEPTH));
    }

    /// At the edge: a member under `spec` whose innermost value sits at depth
    /// [`MAX_DEPTH`] is only an unknown field; one level more is refused as too deep.
    #[test]
    fn a_policy_exactly_at_the_depth_limit_is_decoded_and_one_past_it_is_not() {
        let mut v = base();
        v["spec"]["smuggled"] = nested(MAX_DEPTH - 3);
        assert_eq!(
            messages(decode_strict(v.clone())),
            vec![r#"unknown field "spec.smuggled""#]
        );
        v["spec"]["smuggled"] = nested(MAX_DEPTH - 2);
        assert_eq!(
            messages(decode_strict(v)),
            vec!["Invalid value: nesting deeper than 64 levels"]
        );
    }

    #[test]
    fn unknown_fields_at_every_depth_are_all_reported() {
        let mut v = base();
        v["status"] = json!({});
        v["metadata"]["labelz"] = json!({"a": "b"});
        v["spec"]["ingress"][0]["from"][0]["ipBlock"]["cidrs"] = json!("1.2.3.4/32");
        v["spec"]["podSelector"]["matchLabel"] = json!({"x": "y"});
        let got = messages(decode_strict(v));
        for want in [
            "unknown field \"status\"",
            "unknown field \"metadata.labelz\"",
            "unknown field \"spec.ingress[0].from[0].ipBlock.cidrs\"",
            "unknown field \"spec.podSelector.matchLabel\"",
        ] {
            assert!(
                got.contains(&want.to_string()),
                "{want} missing from {got:?}"
            );
        }
        assert_eq!(got.len(), 4);
    }

    #[test]
    fn null_members_are_not_unknown() {
        let mut v = base();
        v["spec"]["egress"] = Value::Null;
        v["metadata"]["labels"] = Value::Null;
        assert!(decode_strict(v).is_ok());
    }

    #[test]
    fn wrong_kind_and_api_version_are_named() {
        let mut v = base();
        v["kind"] = json!("Deployment");
        v["apiVersion"] = json!("apps/v1");
        assert_eq!(
            messages(decode_strict(v)),
            vec![
                "apiVersion: Invalid value: \"apps/v1\": must be \"networking.k8s.io/v1\"",
                "kind: Invalid value: \"Deployment\": must be \"NetworkPolicy\""
            ]
        );
        let mut missing = base();
        if let Some(o) = missing.as_object_mut() {
            o.remove("kind");
        }
        assert_eq!(
            messages(decode_strict(missing)),
            vec!["kind: Required value: must be \"NetworkPolicy\""]
        );
    }

    #[test]
    fn wrong_type_is_reported_with_its_path() {
        let mut v = base();
        v["spec"]["ingress"][0]["ports"][0]["endPort"] = json!("90");
        let got = messages(decode_strict(v));
        assert_eq!(got.len(), 1);
        assert!(
            got[0].starts_with(
                "spec.ingress[0].ports[0].endPort: Invalid value: invalid type: string \"90\""
            ),
            "{got:?}"
        );
    }

    #[test]
    fn non_objects_and_deep_nesting_are_rejected() {
        assert_eq!(
            decode_strict(json!([1, 2])).map_err(|e| e.len()).err(),
            Some(1)
        );
        let mut deep = json!("leaf");
        for _ in 0..100 {
            deep = json!({"a": deep});
        }
        let mut v = base();
        v["metadata"]["managedFields"] = json!([{"fieldsV1": deep}]);
        let got = messages(decode_strict(v));
        assert_eq!(got, vec!["Invalid value: nesting deeper than 64 levels"]);
    }

    #[test]
    fn flood_of_unknown_fields_is_reported_bounded() {
        let mut v = base();
        for i in 0..10_000 {
            v["metadata"][format!("junk{i}")] = json!(i);
        }
        let got = messages(decode_strict(v));
        assert_eq!(got.len(), MAX_UNKNOWN_REPORTED + 1);
        assert_eq!(
            got[MAX_UNKNOWN_REPORTED],
            format!(
                "Invalid value: {} more unknown fields",
                10_000 - MAX_UNKNOWN_REPORTED
            )
        );
    }

    #[test]
    fn missing_cidr_decodes_as_empty_for_validation_to_report() {
        let mut v = base();
        v["spec"]["ingress"][0]["from"][0]["ipBlock"] = json!({});
        let np = decode_strict(v).expect("decodes like Go's zero value");
        let errs = crate::validate_create(&np);
        assert_eq!(errs.len(), 1);
        assert_eq!(
            errs[0].message(),
            "spec.ingress[0].from[0].ipBlock.cidr: Required value"
        );
    }
}
