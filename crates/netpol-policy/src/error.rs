use serde::Serialize;

/// field.ErrorType of k8s.io/apimachinery/pkg/util/validation/field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ErrorKind {
    Required,
    Invalid,
    NotSupported,
    Duplicate,
    Forbidden,
    TooLong,
    TooMany,
}

/// One validation failure, as the apiserver reports it in a 422's `details.causes[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub kind: ErrorKind,
    /// Field path as the apiserver writes it: `spec.ingress[0].ports[0].endPort`.
    pub field: String,
    /// The offending value, rendered as the apiserver renders it, if any.
    pub bad_value: Option<String>,
    pub detail: String,
}

impl FieldError {
    pub fn new(kind: ErrorKind, field: impl Into<String>, bad_value: Option<String>, detail: impl Into<String>) -> Self {
        FieldError { kind, field: field.into(), bad_value, detail: detail.into() }
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
        }
    }

    /// The message as field.Error.Error() prints it.
    pub fn message(&self) -> String {
        self.detail.clone()
    }
}
