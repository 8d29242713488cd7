//! Request bodies: media type, size, JSON/YAML/protobuf decoding, the kind/apiVersion check, and
//! unknown-field detection for `fieldValidation`. Bodies are untrusted: every failure is a
//! [`BodyError`] mapped to the apiserver's status code, never a panic.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::resources::ResourceKind;
use crate::status::ApiError;

/// kube-apiserver's default `--max-request-bytes`-style limit for a write body (3 MiB).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BodyError {
    #[error("unsupported media type {0:?}")]
    UnsupportedMediaType(String),
    #[error("body larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    #[error("{0}")]
    Malformed(String),
    #[error("the API version in the data ({found}) does not match the expected API version ({expected})")]
    WrongApiVersion { found: String, expected: String },
    #[error("{0}")]
    WrongKind(String),
    #[error("strict decoding error: {}", .0.iter().map(|f| format!("unknown field {f:?}")).collect::<Vec<_>>().join(", "))]
    UnknownFields(Vec<String>),
}

impl BodyError {
    pub fn to_api_error(&self) -> ApiError {
        match self {
            BodyError::UnsupportedMediaType(ct) => ApiError::unsupported_media_type(ct),
            BodyError::TooLarge => ApiError::too_large(MAX_BODY_BYTES),
            other => ApiError::bad_request(other.to_string()),
        }
    }
}

/// How the client asked unknown fields to be treated (`fieldValidation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    Strict,
    Warn,
    Ignore,
}

impl FieldValidation {
    /// The apiserver's default when the parameter is absent is `Warn`.
    pub fn parse(value: Option<&str>) -> Result<FieldValidation, ApiError> {
        match value {
            None | Some("") | Some("Warn") => Ok(FieldValidation::Warn),
            Some("Strict") => Ok(FieldValidation::Strict),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some(other) => Err(ApiError::bad_request(format!(
                "fieldValidation parameter unsupported: {other}, valid values are: Ignore, Warn, Strict"
            ))),
        }
    }
}

/// Parse a body as JSON or YAML according to its Content-Type.
pub fn parse(
    content_type: Option<&str>,
    bytes: &[u8],
    what: &ResourceKind,
) -> Result<Value, BodyError> {
    if bytes.len() > MAX_BODY_BYTES {
        return Err(BodyError::TooLarge);
    }
    let media = content_type
        .map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let value: Value = match media.as_str() {
        "" | "application/json" | "*/*" => {
            serde_json::from_slice(bytes).map_err(|e| cannot_handle(what, &e.to_string()))?
        }
        "application/yaml" | "application/x-yaml" | "text/yaml" => {
            serde_yaml::from_slice(bytes).map_err(|e| cannot_handle(what, &e.to_string()))?
        }
        crate::protobuf::MEDIA_TYPE => crate::protobuf::decode(bytes, what.kind)?,
        other => return Err(BodyError::UnsupportedMediaType(other.to_string())),
    };
    if !value.is_object() {
        return Err(BodyError::Malformed(format!(
            "Object 'Kind' is missing in '{}'",
            truncate(&String::from_utf8_lossy(bytes), 100)
        )));
    }
    Ok(value)
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((at, _)) => &s[..at],
        None => s,
    }
}

fn cannot_handle(what: &ResourceKind, why: &str) -> BodyError {
    BodyError::Malformed(format!(
        "{} in version {:?} cannot be handled as a {}: {}",
        what.kind, what.version, what.kind, why
    ))
}

/// The body must be of the URL's kind; a missing apiVersion/kind defaults to it, as the
/// apiserver's decoder does.
pub fn check_type(body: &mut Value, expected: &ResourceKind) -> Result<(), BodyError> {
    let expected_version = expected.api_version();
    let Some(map) = body.as_object_mut() else {
        return Err(BodyError::Malformed("body is not an object".into()));
    };
    let api_version = match map.get("apiVersion") {
        None | Some(Value::Null) => expected_version.clone(),
        Some(Value::String(s)) if s.is_empty() => expected_version.clone(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(cannot_handle(
                expected,
                &format!("apiVersion must be a string, got {other}"),
            ))
        }
    };
    let kind = match map.get("kind") {
        None | Some(Value::Null) => expected.kind.to_string(),
        Some(Value::String(s)) if s.is_empty() => expected.kind.to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(cannot_handle(
                expected,
                &format!("kind must be a string, got {other}"),
            ))
        }
    };
    if api_version != expected_version {
        return Err(BodyError::WrongApiVersion {
            found: api_version,
            expected: expected_version,
        });
    }
    if kind != expected.kind {
        return Err(BodyError::WrongKind(format!(
            "{} in version {:?} cannot be handled as a {}: no kind {:?} is registered for the endpoint of {}",
            kind,
            expected.version,
            expected.kind,
            kind,
            expected.qualified_resource()
        )));
    }
    map.insert("apiVersion".into(), Value::String(expected_version));
    map.insert("kind".into(), Value::String(expected.kind.to_string()));
    Ok(())
}

/// Decode into the typed form and back: the result is the object with unknown fields
/// pruned (what the apiserver would store), plus the unknown fields' paths.
pub fn prune<T: DeserializeOwned + Serialize>(
    body: &Value,
    what: &ResourceKind,
) -> Result<(Value, Vec<String>), BodyError> {
    // Decoding from the borrowed tree: cloning it first was a tenth of a create's cost.
    let typed = T::deserialize(body).map_err(|e| cannot_handle(what, &e.to_string()))?;
    let pruned = serde_json::to_value(&typed).map_err(|e| cannot_handle(what, &e.to_string()))?;
    let mut unknown = Vec::new();
    collect_unknown(body, &pruned, &mut Vec::new(), &mut unknown);
    Ok((pruned, unknown))
}

/// One step of a field path: `.key` or `[n]`.
#[derive(Clone, Copy)]
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// The path as the apiserver writes it: `spec.ingress[0].from`.
fn render(path: &[Step<'_>]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(k) if out.is_empty() => out.push_str(k),
            Step::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Step::Index(n) => {
                out.push('[');
                out.push_str(&n.to_string());
                out.push(']');
            }
        }
    }
    out
}

/// Paths present (and non-null) in `input` but absent from `known`. The path is kept as
/// steps and written out only for an unknown field: formatting it for every field was
/// most of this walk's cost.
fn collect_unknown<'a>(
    input: &'a Value,
    known: &Value,
    path: &mut Vec<Step<'a>>,
    out: &mut Vec<String>,
) {
    match (input, known) {
        (Value::Object(i), Value::Object(k)) => {
            for (key, value) in i {
                if value.is_null() {
                    continue;
                }
                path.push(Step::Key(key));
                match k.get(key) {
                    Some(known_child) => collect_unknown(value, known_child, path, out),
                    None => out.push(render(path)),
                }
                path.pop();
            }
        }
        (Value::Array(i), Value::Array(k)) => {
            for (n, (a, b)) in i.iter().zip(k.iter()).enumerate() {
                path.push(Step::Index(n));
                collect_unknown(a, b, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{CONFIGMAPS, NETWORK_POLICIES};
    use k8s_openapi::api::networking::v1::NetworkPolicy;
    use serde_json::json;

    #[test]
    fn yaml_and_json_both_decode() {
        let y = parse(
            Some("application/yaml"),
            b"metadata:\n  name: a\n",
            &CONFIGMAPS,
        )
        .unwrap();
        let j = parse(
            Some("application/json; charset=utf-8"),
            br#"{"metadata":{"name":"a"}}"#,
            &CONFIGMAPS,
        )
        .unwrap();
        assert_eq!(y, j);
    }

    #[test]
    fn truncated_json_is_a_bad_request_not_a_panic() {
        let err = parse(
            Some("application/json"),
            br#"{"metadata":{"na"#,
            &CONFIGMAPS,
        )
        .unwrap_err();
        assert_eq!(err.to_api_error().code, 400);
        assert!(err
            .to_string()
            .starts_with("ConfigMap in version \"v1\" cannot be handled as a ConfigMap"));
    }

    #[test]
    fn a_malformed_protobuf_body_is_a_bad_request_and_cbor_is_unsupported() {
        let err = parse(
            Some("application/vnd.kubernetes.protobuf"),
            b"k8s\0\xff\xff",
            &CONFIGMAPS,
        )
        .unwrap_err();
        assert_eq!(err.to_api_error().code, 400);
        let err = parse(Some("application/cbor"), b"\xa0", &CONFIGMAPS).unwrap_err();
        assert_eq!(err.to_api_error().code, 415);
    }

    #[test]
    fn a_scalar_body_is_rejected() {
        assert!(parse(None, b"42", &CONFIGMAPS).is_err());
        assert!(parse(None, b"[]", &CONFIGMAPS).is_err());
    }

    #[test]
    fn configmap_sent_to_the_networkpolicy_endpoint_is_refused() {
        let mut body = json!({"apiVersion": "v1", "kind": "ConfigMap"});
        assert!(matches!(
            check_type(&mut body, &NETWORK_POLICIES),
            Err(BodyError::WrongApiVersion { .. })
        ));
        let mut body = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress"});
        assert!(matches!(
            check_type(&mut body, &NETWORK_POLICIES),
            Err(BodyError::WrongKind(_))
        ));
        let mut body = json!({"metadata": {}});
        check_type(&mut body, &NETWORK_POLICIES).unwrap();
        assert_eq!(body["kind"], "NetworkPolicy");
    }

    #[test]
    fn misspelt_fields_are_found_with_their_paths() {
        let body = json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "a", "creationTimestamp": null},
            "spec": {"podSelector": {}, "ingres": [], "egress": [{"to": [], "prots": []}]}
        });
        let (pruned, unknown) = prune::<NetworkPolicy>(&body, &NETWORK_POLICIES).unwrap();
        assert_eq!(unknown, ["spec.egress[0].prots", "spec.ingres"]);
        assert!(pruned["spec"].get("ingres").is_none());
        assert_eq!(
            BodyError::UnknownFields(unknown).to_string(),
            "strict decoding error: unknown field \"spec.egress[0].prots\", unknown field \"spec.ingres\""
        );
    }

    #[test]
    fn wrong_types_are_bad_requests() {
        let body = json!({"metadata": {"name": 5}});
        assert!(prune::<NetworkPolicy>(&body, &NETWORK_POLICIES).is_err());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_are_an_error_or_an_object_never_a_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            for ct in ["application/json", "application/yaml"] {
                if let Ok(mut v) = parse(Some(ct), &bytes, &NETWORK_POLICIES) {
                    proptest::prop_assert!(v.is_object());
                    if check_type(&mut v, &NETWORK_POLICIES).is_ok() {
                        let _ = prune::<NetworkPolicy>(&v, &NETWORK_POLICIES);
                    }
                }
            }
        }
    }
}
