//! metav1validation.ValidateLabelSelector: matchLabels like labels, matchExpressions with
//! the operator's rules for `values`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::meta::{invalid_str, push_label_name, push_labels};
use crate::names;
use crate::path::Path;
use crate::render::go_json_string;
use crate::{ErrorKind, FieldError};

/// LabelSelectorValidationOptions.
#[derive(Debug, Clone, Copy, Default)]
pub struct SelectorOptions {
    /// Set on update when the stored object already had an invalid value (upstream keeps
    /// such objects updatable).
    pub allow_invalid_label_value: bool,
}

pub(crate) fn push_label_selector(
    errs: &mut Vec<FieldError>,
    selector: &LabelSelector,
    opts: SelectorOptions,
    path: &Path<'_>,
) {
    push_labels(
        errs,
        selector.match_labels.as_ref(),
        &path.child("matchLabels"),
    );
    let expressions_path = path.child("matchExpressions");
    for (i, expr) in selector.match_expressions.iter().flatten().enumerate() {
        let at = expressions_path.index(i);
        let values = expr.values.as_deref().unwrap_or(&[]);
        match expr.operator.as_str() {
            "In" | "NotIn" => {
                if values.is_empty() {
                    errs.push(FieldError::new(
                        ErrorKind::Required,
                        at.child("values").to_string(),
                        None,
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    ));
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    errs.push(FieldError::new(
                        ErrorKind::Forbidden,
                        at.child("values").to_string(),
                        None,
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
            }
            other => errs.push(FieldError::new(
                ErrorKind::Invalid,
                at.child("operator").to_string(),
                // LabelSelectorOperator is a named string type: rendered through JSON.
                Some(go_json_string(other)),
                "not a valid selector operator",
            )),
        }
        push_label_name(errs, &expr.key, &at.child("key"));
        if !opts.allow_invalid_label_value {
            let values_path = at.child("values");
            for (j, v) in values.iter().enumerate() {
                for msg in names::is_valid_label_value(v) {
                    errs.push(invalid_str(&values_path.index(j), v, msg));
                }
            }
        }
    }
}

/// ValidateLabelSelector for any selector, reported under `field` (e.g. `spec.selector`).
pub fn validate_label_selector(selector: &LabelSelector, field: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    push_label_selector(
        &mut errs,
        selector,
        SelectorOptions::default(),
        &Path::new(field),
    );
    errs
}
