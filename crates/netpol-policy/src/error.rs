//! field.Error of k8s.io/apimachinery/pkg/util/validation/field, with its exact texts, and
//! the aggregate/422 messages the apiserver builds from a list of them.

use serde::Serialize;

/// field.ErrorType, plus the two ways strict decoding fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ErrorKind {
    Required,
    Invalid,
    NotSupported,
    Duplicate,
    Forbidden,
    TooLong,
    TooMany,
    /// A field the schema does not have (strict field validation). The apiserver answers
    /// these with 400 BadRequest, not 422: see [`strict_decoding_message`].
    UnknownField,
    /// A value of the wrong JSON type (a string where an int32 belongs, ...). Also a 400.
    TypeInvalid,
}

impl ErrorKind {
    /// ErrorType.String().
    fn label(self) -> &'static str {
        match self {
            ErrorKind::Required => "Required value",
            ErrorKind::Invalid | ErrorKind::TypeInvalid => "Invalid value",
            ErrorKind::NotSupported => "Unsupported value",
            ErrorKind::Duplicate => "Duplicate value",
            ErrorKind::Forbidden => "Forbidden",
            ErrorKind::TooLong => "Too long",
            ErrorKind::TooMany => "Too many",
            ErrorKind::UnknownField => "Unknown field",
        }
    }

    /// Whether ErrorBody prints the bad value for this type.
    fn shows_value(self) -> bool {
        matches!(
            self,
            ErrorKind::Invalid
                | ErrorKind::NotSupported
                | ErrorKind::Duplicate
                | ErrorKind::TooMany
                | ErrorKind::TypeInvalid
        )
    }
}

/// One validation failure, as the apiserver reports it in a 422's `details.causes[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{}", self.message())]
pub struct FieldError {
    pub kind: ErrorKind,
    /// Field path as the apiserver writes it: `spec.ingress[0].ports[0].endPort`.
    pub field: String,
    /// The offending value, already rendered as the apiserver renders it (`"abc"`, `80`,
    /// `["Ingress","Egress","Egress"]`); `None` where the apiserver prints no value.
    pub bad_value: Option<String>,
    pub detail: String,
}

impl FieldError {
    pub fn new(
        kind: ErrorKind,
        field: impl Into<String>,
        bad_value: Option<String>,
        detail: impl Into<String>,
    ) -> Self {
        FieldError {
            kind,
            field: field.into(),
            bad_value,
            detail: detail.into(),
        }
    }

    /// `causes[].reason`: `FieldValueInvalid`, `FieldValueRequired`, ...
    pub fn cause_reason(&self) -> &'static str {
        match self.kind {
            ErrorKind::Required => "FieldValueRequired",
            ErrorKind::Invalid => "FieldValueInvalid",
            ErrorKind::NotSupported => "FieldValueNotSupported",
            ErrorKind::Duplicate => "FieldValueDuplicate",
            ErrorKind::Forbidden => "FieldValueForbidden",
            ErrorKind::TooLong => "FieldValueTooLong",
            ErrorKind::TooMany => "FieldValueTooMany",
            ErrorKind::UnknownField => "FieldValueUnknown",
            ErrorKind::TypeInvalid => "FieldValueTypeInvalid",
        }
    }

    /// field.Error.ErrorBody(): the message without the field path; this is what a 422's
    /// `causes[].message` carries.
    pub fn body(&self) -> String {
        if self.kind == ErrorKind::UnknownField {
            return format!("unknown field {}", crate::render::go_quote(&self.field));
        }
        let mut s = String::from(self.kind.label());
        if self.kind.shows_value() {
            if let Some(value) = &self.bad_value {
                s.push_str(": ");
                s.push_str(value);
            }
        }
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }

    /// The message as field.Error.Error() prints it: `<field>: <body>`. For an unknown
    /// field it is the strict decoder's `unknown field "<path>"`; a decode error about the
    /// whole document (no field) is its body alone.
    pub fn message(&self) -> String {
        if self.kind == ErrorKind::UnknownField || self.field.is_empty() {
            return self.body();
        }
        format!("{}: {}", self.field, self.body())
    }
}

/// utilerrors.NewAggregate(...).Error() over field errors as ErrorList.ToAggregate builds it:
/// duplicates (same message) dropped, one error printed bare, several as `[a, b]`.
pub fn aggregate(errors: &[FieldError]) -> String {
    let mut seen: Vec<String> = Vec::with_capacity(errors.len());
    for e in errors {
        let m = e.message();
        if !seen.contains(&m) {
            seen.push(m);
        }
    }
    match seen.len() {
        0 => String::new(),
        1 => seen.swap_remove(0),
        _ => format!("[{}]", seen.join(", ")),
    }
}

/// The 422 Status message of errors.NewInvalid: `NetworkPolicy.networking.k8s.io "x" is
/// invalid: <aggregate>`. `kind_group` is schema.GroupKind.String(): `Kind.group`, or just
/// `Kind` for the core group (`ConfigMap`).
pub fn invalid_message(kind_group: &str, name: &str, errors: &[FieldError]) -> String {
    let quoted = crate::render::go_quote(name);
    if errors.is_empty() {
        format!("{kind_group} {quoted} is invalid")
    } else {
        format!("{kind_group} {quoted} is invalid: {}", aggregate(errors))
    }
}

/// The 400 message the apiserver gives when strict decoding fails:
/// `NetworkPolicy in version "v1" cannot be handled as a NetworkPolicy: strict decoding
/// error: unknown field "spec.x", unknown field "y"`.
pub fn strict_decoding_message(errors: &[FieldError]) -> String {
    let joined: Vec<String> = errors.iter().map(FieldError::message).collect();
    let prefix = "NetworkPolicy in version \"v1\" cannot be handled as a NetworkPolicy";
    if errors.iter().all(|e| e.kind == ErrorKind::UnknownField) {
        format!("{prefix}: strict decoding error: {}", joined.join(", "))
    } else {
        format!("{prefix}: {}", joined.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid(field: &str, value: &str, detail: &str) -> FieldError {
        FieldError::new(ErrorKind::Invalid, field, Some(value.into()), detail)
    }

    #[test]
    fn message_matches_field_error_error() {
        let e = invalid(
            "spec.ingress[0].ports[0].endPort",
            "80",
            "must be greater than or equal to `port`",
        );
        assert_eq!(
            e.message(),
            "spec.ingress[0].ports[0].endPort: Invalid value: 80: must be greater than or equal to `port`"
        );
        let r = FieldError::new(
            ErrorKind::Required,
            "metadata.name",
            None,
            "name or generateName is required",
        );
        assert_eq!(
            r.message(),
            "metadata.name: Required value: name or generateName is required"
        );
        let bare = FieldError::new(ErrorKind::Required, "metadata.namespace", None, "");
        assert_eq!(bare.message(), "metadata.namespace: Required value");
        assert_eq!(bare.body(), "Required value");
    }

    #[test]
    fn required_and_forbidden_never_print_a_value() {
        let f = FieldError::new(
            ErrorKind::Forbidden,
            "spec.ingress[0].from[0]",
            Some("\"x\"".into()),
            "may not specify both ipBlock and another peer",
        );
        assert_eq!(
            f.body(),
            "Forbidden: may not specify both ipBlock and another peer"
        );
    }

    #[test]
    fn aggregate_dedupes_and_brackets() {
        let a = invalid("metadata.labels", "\"a b\"", "x");
        let b = FieldError::new(ErrorKind::Required, "metadata.namespace", None, "");
        assert_eq!(aggregate(&[]), "");
        assert_eq!(aggregate(std::slice::from_ref(&a)), a.message());
        assert_eq!(aggregate(&[a.clone(), a.clone()]), a.message());
        assert_eq!(
            aggregate(&[a.clone(), b.clone(), a.clone()]),
            format!("[{}, {}]", a.message(), b.message())
        );
    }

    #[test]
    fn invalid_message_names_group_kind_and_object() {
        let b = FieldError::new(ErrorKind::Required, "metadata.namespace", None, "");
        assert_eq!(
            invalid_message("NetworkPolicy.networking.k8s.io", "x", &[b]),
            "NetworkPolicy.networking.k8s.io \"x\" is invalid: metadata.namespace: Required value"
        );
        assert_eq!(
            invalid_message("ConfigMap", "y", &[]),
            "ConfigMap \"y\" is invalid"
        );
    }

    #[test]
    fn unknown_field_message_is_the_strict_decoders() {
        let u = FieldError::new(ErrorKind::UnknownField, "spec.ingress[0].prots", None, "");
        assert_eq!(u.message(), "unknown field \"spec.ingress[0].prots\"");
        assert_eq!(
            strict_decoding_message(&[u]),
            "NetworkPolicy in version \"v1\" cannot be handled as a NetworkPolicy: strict decoding error: unknown field \"spec.ingress[0].prots\""
        );
    }
}
