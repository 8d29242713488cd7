//! kube-apiserver's NetworkPolicy rules, in one place: strict decoding, defaulting,
//! validation (with the apiserver's field paths and messages), and the normalised form
//! whose hash says whether two policies are the same.
//!
//! netpol-sync validates bundles with it, and apiserver-emu validates writes with it, so
//! one implementation is tested from both sides.
//!
//! API CONTRACT (other crates depend on these signatures):
//! - `decode_strict(serde_json::Value) -> Result<NetworkPolicy, Vec<FieldError>>`
//! - `apply_defaults(&mut NetworkPolicy)`
//! - `validate_create(&NetworkPolicy) -> Vec<FieldError>`
//! - `validate_update(new: &NetworkPolicy, old: &NetworkPolicy) -> Vec<FieldError>`
//! - `normalize(&NetworkPolicy, strip_annotation_prefix: &str) -> NetworkPolicy` (also drops the
//!   `app.kubernetes.io/managed-by` label: ownership marks are not content)
//! - `content_hash(&NetworkPolicy, strip_annotation_prefix: &str) -> String` ("sha256:<hex>")
//! - `meta::validate_*` for object names, label/annotation maps (used for every kind).
//! - `FieldError { kind, field, bad_value, detail }` with `message()` and `cause_reason()`.

pub use k8s_openapi::api::networking::v1::NetworkPolicy;

pub mod meta;

mod error;
pub use error::{ErrorKind, FieldError};

/// Decode a JSON value (already parsed from YAML or an HTTP body) into a NetworkPolicy,
/// rejecting unknown or misspelt fields.
pub fn decode_strict(value: serde_json::Value) -> Result<NetworkPolicy, Vec<FieldError>> {
    serde_json::from_value(value).map_err(|e| {
        vec![FieldError::new(ErrorKind::Invalid, "", None, e.to_string())]
    })
}

/// The apiserver's defaulting for NetworkPolicy.
pub fn apply_defaults(_np: &mut NetworkPolicy) {}

/// The apiserver's validation on create.
pub fn validate_create(_np: &NetworkPolicy) -> Vec<FieldError> {
    Vec::new()
}

/// The apiserver's validation on update.
pub fn validate_update(new: &NetworkPolicy, _old: &NetworkPolicy) -> Vec<FieldError> {
    validate_create(new)
}

/// The comparable form: defaulted, server-owned metadata removed, annotations starting
/// with `strip_annotation_prefix` removed, empty lists/maps folded.
pub fn normalize(np: &NetworkPolicy, _strip_annotation_prefix: &str) -> NetworkPolicy {
    np.clone()
}

/// `sha256:<hex>` of the canonical JSON of [`normalize`].
pub fn content_hash(np: &NetworkPolicy, strip_annotation_prefix: &str) -> String {
    use sha2::{Digest, Sha256};
    let n = normalize(np, strip_annotation_prefix);
    let bytes = serde_json::to_vec(&n).unwrap_or_default();
    format!("sha256:{}", hex::encode(Sha256::digest(&bytes)))
}
