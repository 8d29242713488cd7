//! kube-apiserver's NetworkPolicy rules, in one place: strict decoding, defaulting,
//! validation (with the apiserver's field paths and messages), and the normalised form
//! whose hash says whether two policies are the same.
//!
//! netpol-sync validates bundles with it, and apiserver-emu validates writes with it, so
//! one implementation is tested from both sides. The rules follow kube-apiserver 1.30+
//! (pkg/apis/networking/validation, pkg/apis/networking/v1 defaults, apimachinery's
//! validation of names, labels, annotations and label selectors) with the feature gates at
//! their defaults (StrictIPCIDRValidation off: `ipBlock` CIDRs are parsed the legacy,
//! lenient way).
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
//! - `aggregate(&[FieldError]) -> String`, `invalid_message(kind_group, name, &[FieldError])`.
//!
//! The order of work on a write, as the apiserver does it: [`decode_strict`] (400 on
//! failure, message [`strict_decoding_message`]), fill the name from generateName, then
//! [`apply_defaults`]; then [`prepare_for_create`] or [`prepare_for_update`]; then [`validate_create`] or
//! [`validate_update`] (422 on failure, message [`invalid_message`], causes from each
//! error's `field`, `cause_reason()` and `body()`).

pub use k8s_openapi::api::networking::v1::NetworkPolicy;

pub mod meta;

mod cidr;
mod decode;
mod defaults;
mod error;
mod names;
mod normalize;
mod path;
mod render;
mod schema;
mod selector;
mod validate;

pub use decode::{decode_strict, API_VERSION, KIND, MAX_DEPTH};
pub use defaults::apply_defaults;
pub use error::{aggregate, invalid_message, strict_decoding_message, ErrorKind, FieldError};
pub use normalize::{canonical_json, content_hash, normalize, MANAGED_BY_LABEL};
pub use render::{go_json_string, go_quote};
pub use selector::validate_label_selector;
pub use validate::{validate_create, validate_update};

/// `schema.GroupKind.String()` of NetworkPolicy, for [`invalid_message`].
pub const GROUP_KIND: &str = "NetworkPolicy.networking.k8s.io";

/// What the generic registry and the NetworkPolicy strategy do to a new object before
/// validating it (besides generating the name and filling uid/creationTimestamp, which are
/// the server's to choose): generation starts at 1, and a client cannot create an object
/// that is already being deleted.
pub fn prepare_for_create(np: &mut NetworkPolicy) {
    np.metadata.generation = Some(1);
    np.metadata.deletion_timestamp = None;
    np.metadata.deletion_grace_period_seconds = None;
}

/// What the generic registry and the NetworkPolicy strategy do to an update before
/// validating it: an update without resourceVersion becomes unconditional (takes the
/// stored one: NetworkPolicy allows unconditional updates), uid (when empty) and
/// creationTimestamp come from the stored object, and generation is the stored one, plus
/// one when the spec changed. Both objects should already be defaulted.
pub fn prepare_for_update(new: &mut NetworkPolicy, old: &NetworkPolicy) {
    let m = &mut new.metadata;
    if m.resource_version.as_deref().is_none_or(str::is_empty) {
        m.resource_version = old.metadata.resource_version.clone();
    }
    if m.uid.as_deref().is_none_or(str::is_empty) {
        m.uid = old.metadata.uid.clone();
    }
    if old.metadata.creation_timestamp.is_some() {
        m.creation_timestamp = old.metadata.creation_timestamp.clone();
    }
    // An update can never remove or change a deletion timestamp or grace period.
    if old.metadata.deletion_timestamp.is_some() {
        m.deletion_timestamp = old.metadata.deletion_timestamp.clone();
    }
    if old.metadata.deletion_grace_period_seconds.is_some()
        && m.deletion_grace_period_seconds.is_none()
    {
        m.deletion_grace_period_seconds = old.metadata.deletion_grace_period_seconds;
    }
    let old_generation = old.metadata.generation.unwrap_or(0);
    m.generation = Some(if new.spec != old.spec {
        old_generation + 1
    } else {
        old_generation
    });
}
