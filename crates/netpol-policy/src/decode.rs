//! Strict decoding of a NetworkPolicy: the apiserver's strict field validation (unknown or
//! misspelt fields rejected with their path) on top of k8s-openapi's lenient deserialiser.
//!
//! k8s-openapi ignores unknown fields, so the decoded object is serialised again and every
//! non-null member of the input that did not survive the round trip is an unknown field.

use serde_json::{Map, Value};

use crate::render::go_quote;
use crate::{ErrorKind, FieldError, NetworkPolicy};

pub const API_VERSION: &str = "networking.k8s.io/v1";
pub const KIND: &str = "NetworkPolicy";

/// Deepest nesting accepted. A real NetworkPolicy is about ten levels deep (a selector
/// value sits at spec.ingress[i].from[j].podSelector.matchExpressions[k].values[l]);
/// managedFields' opaque fieldsV1 adds a little more.
pub const MAX_DEPTH: usize = 64;

/// Most unknown fields reported for one object; the rest are summarised by their count.
const MAX_UNKNOWN_REPORTED: usize = 32;

fn depth_exceeds(value: &Value, limit: usize) -> bool {
    let mut stack: Vec<(&Value, usize)> = vec![(value, 1)];
    while let Some((v, depth)) = stack.pop() {
        if depth > limit {
            return true;
        }
        match v {
            Value::Array(items) => stack.extend(items.iter().map(|i| (i, depth + 1))),
            Value::Object(map) => stack.extend(map.values().map(|i| (i, depth + 1))),
            _ => {}
        }
    }
    false
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

/// Collects the paths of input members absent from the round-tripped output.
fn collect_unknown(input: &Value, output: &Value, path: &mut String, found: &mut Vec<String>) {
    match (input, output) {
        (Value::Object(inp), Value::Object(out)) => {
            for (key, value) in inp {
                if value.is_null() {
                    continue;
                }
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                match out.get(key) {
                    None => found.push(path.clone()),
                    Some(o) => collect_unknown(value, o, path, found),
                }
                path.truncate(len);
            }
        }
        (Value::Array(inp), Value::Array(out)) => {
            for (i, (value, o)) in inp.iter().zip(out).enumerate() {
                let len = path.len();
                path.push('[');
                path.push_str(&i.to_string());
                path.push(']');
                collect_unknown(value, o, path, found);
                path.truncate(len);
            }
        }
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
    let np: NetworkPolicy = serde_path_to_error::deserialize(&value).map_err(|e| {
        let field = e.path().to_string();
        let field = if field == "." { String::new() } else { field };
        vec![FieldError::new(
            ErrorKind::TypeInvalid,
            field,
            None,
            e.inner().to_string(),
        )]
    })?;
    let round_trip = serde_json::to_value(&np).map_err(|e| {
        vec![FieldError::new(
            ErrorKind::TypeInvalid,
            "",
            None,
            e.to_string(),
        )]
    })?;
    let mut unknown = Vec::new();
    collect_unknown(&value, &round_trip, &mut String::new(), &mut unknown);
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
