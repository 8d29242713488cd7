//! ObjectMeta rules shared by every kind (names, namespaces, labels, annotations,
//! finalizers, owner references), as k8s.io/apimachinery/pkg/api/validation and
//! pkg/apis/core/validation apply them. The emulator uses these for ConfigMaps, Leases,
//! Namespaces and Events too.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use crate::names;
use crate::path::Path;
use crate::render::{go_json_string, go_json_string_list, go_quote, push_go_json_string};
use crate::{ErrorKind, FieldError};

/// apimachinery's TotalAnnotationSizeLimitB: keys plus values, 256 KiB.
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

/// The message `field is immutable`.
pub const FIELD_IMMUTABLE: &str = "field is immutable";

/// How a kind's object names are checked (ValidateNameFunc): `prefix` is true for
/// generateName, whose trailing dash is masked first.
pub type NameFn = fn(name: &str, prefix: bool) -> Vec<String>;

pub(crate) fn invalid_str(path: &Path<'_>, value: &str, detail: impl Into<String>) -> FieldError {
    FieldError::new(
        ErrorKind::Invalid,
        path.to_string(),
        Some(go_quote(value)),
        detail,
    )
}

/// upstream maskTrailingDash: `abc-` is checked as `aba` so generateName may end in '-'.
fn mask_trailing_dash(name: &str) -> std::borrow::Cow<'_, str> {
    if name.len() > 1 && name.ends_with('-') {
        let cut = name.len() - 2;
        match name.get(..cut) {
            Some(head) => std::borrow::Cow::Owned(format!("{head}a")),
            None => std::borrow::Cow::Borrowed(name),
        }
    } else {
        std::borrow::Cow::Borrowed(name)
    }
}

/// NameIsDNSSubdomain (names of NetworkPolicies, ConfigMaps, Leases, Events...).
pub fn name_is_dns_subdomain(name: &str, prefix: bool) -> Vec<String> {
    if prefix {
        names::is_dns1123_subdomain(&mask_trailing_dash(name))
    } else {
        names::is_dns1123_subdomain(name)
    }
}

/// NameIsDNSLabel (names of Namespaces; also every `metadata.namespace`).
pub fn name_is_dns_label(name: &str, prefix: bool) -> Vec<String> {
    if prefix {
        names::is_dns1123_label(&mask_trailing_dash(name))
    } else {
        names::is_dns1123_label(name)
    }
}

/// path.ValidatePathSegmentName, the check every kind's name gets from the generic registry.
pub fn name_is_path_segment(name: &str, prefix: bool) -> Vec<String> {
    if prefix {
        names::is_valid_path_segment_prefix(name)
    } else {
        names::is_valid_path_segment_name(name)
    }
}

/// An object name that must be a DNS-1123 subdomain, reported at `field` (e.g.
/// `metadata.name`).
pub fn validate_dns_subdomain_name(name: &str, field: &str) -> Vec<FieldError> {
    name_is_dns_subdomain(name, false)
        .into_iter()
        .map(|msg| FieldError::new(ErrorKind::Invalid, field, Some(go_quote(name)), msg))
        .collect()
}

/// An object name that must be a DNS-1123 label, reported at `field`.
pub fn validate_dns_label_name(name: &str, field: &str) -> Vec<FieldError> {
    name_is_dns_label(name, false)
        .into_iter()
        .map(|msg| FieldError::new(ErrorKind::Invalid, field, Some(go_quote(name)), msg))
        .collect()
}

/// A qualified name (`[prefix/]name`), reported at `field`.
pub fn validate_qualified_name(value: &str, field: &str) -> Vec<FieldError> {
    names::is_qualified_name(value)
        .into_iter()
        .map(|msg| FieldError::new(ErrorKind::Invalid, field, Some(go_quote(value)), msg))
        .collect()
}

/// metav1validation.ValidateLabels over a map, every error at `field` (e.g.
/// `metadata.labels`), keys in sorted order.
pub fn validate_labels(labels: &BTreeMap<String, String>, field: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    push_labels(&mut errs, Some(labels), &Path::new(field));
    errs
}

pub(crate) fn push_labels(
    errs: &mut Vec<FieldError>,
    labels: Option<&BTreeMap<String, String>>,
    path: &Path<'_>,
) {
    for (k, v) in labels.into_iter().flatten() {
        push_label_name(errs, k, path);
        for msg in names::is_valid_label_value(v) {
            errs.push(invalid_str(path, v, msg));
        }
    }
}

/// metav1validation.ValidateLabelName.
pub(crate) fn push_label_name(errs: &mut Vec<FieldError>, key: &str, path: &Path<'_>) {
    for msg in names::is_qualified_name(key) {
        errs.push(invalid_str(path, key, msg));
    }
}

/// ValidateAnnotations over a map, at `field` (e.g. `metadata.annotations`): keys are
/// qualified names compared case-insensitively, and keys plus values total at most 256 KiB.
pub fn validate_annotations(
    annotations: &BTreeMap<String, String>,
    field: &str,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    push_annotations(&mut errs, Some(annotations), &Path::new(field));
    errs
}

pub(crate) fn push_annotations(
    errs: &mut Vec<FieldError>,
    annotations: Option<&BTreeMap<String, String>>,
    path: &Path<'_>,
) {
    let Some(annotations) = annotations else {
        return;
    };
    let mut total: usize = 0;
    for (k, v) in annotations {
        let needs_lowering = k.bytes().any(|b| b.is_ascii_uppercase() || !b.is_ascii());
        let msgs = if needs_lowering {
            names::is_qualified_name(&go_to_lower(k))
        } else {
            names::is_qualified_name(k)
        };
        for msg in msgs {
            errs.push(invalid_str(path, k, msg));
        }
        total = total.saturating_add(k.len()).saturating_add(v.len());
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(FieldError::new(
            ErrorKind::TooLong,
            path.to_string(),
            None,
            format!("may not be more than {TOTAL_ANNOTATION_SIZE_LIMIT} bytes"),
        ));
    }
}

/// Go's strings.ToLower: the simple (one rune to one rune) Unicode case mapping, which
/// differs from Rust's full mapping only for U+0130, lowered to a plain 'i'.
fn go_to_lower(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c == '\u{130}' {
                return 'i';
            }
            let mut lower = c.to_lowercase();
            match (lower.next(), lower.next()) {
                (Some(l), None) => l,
                _ => c,
            }
        })
        .collect()
}

/// One finalizer name: a qualified name (apimachinery) that, unless it is one of the
/// standard ones, must also carry a domain prefix (core's validateKubeFinalizerName).
fn push_finalizers(errs: &mut Vec<FieldError>, finalizers: &[String], path: &Path<'_>) {
    let mut orphan = false;
    let mut foreground = false;
    for f in finalizers {
        for msg in names::is_qualified_name(f) {
            errs.push(invalid_str(path, f, msg));
        }
        orphan |= f == "orphan";
        foreground |= f == "foregroundDeletion";
    }
    if orphan && foreground {
        errs.push(FieldError::new(
            ErrorKind::Invalid,
            path.to_string(),
            Some(go_json_string_list(finalizers)),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
}

fn push_kube_finalizer_names(errs: &mut Vec<FieldError>, finalizers: &[String], path: &Path<'_>) {
    for (i, f) in finalizers.iter().enumerate() {
        let at = path.index(i);
        let qualified = names::is_qualified_name(f);
        if !qualified.is_empty() {
            for msg in qualified {
                errs.push(invalid_str(&at, f, msg));
            }
            continue;
        }
        let standard = matches!(f.as_str(), "kubernetes" | "orphan" | "foregroundDeletion");
        if !f.contains('/') && !standard {
            errs.push(invalid_str(
                &at,
                f,
                "name is neither a standard finalizer name nor is it fully qualified",
            ));
        }
    }
}

/// json.Marshal of a metav1.OwnerReference.
fn owner_reference_json(r: &OwnerReference, out: &mut String) {
    out.push_str("{\"apiVersion\":");
    push_go_json_string(out, &r.api_version);
    out.push_str(",\"kind\":");
    push_go_json_string(out, &r.kind);
    out.push_str(",\"name\":");
    push_go_json_string(out, &r.name);
    out.push_str(",\"uid\":");
    push_go_json_string(out, &r.uid);
    if let Some(c) = r.controller {
        out.push_str(if c {
            ",\"controller\":true"
        } else {
            ",\"controller\":false"
        });
    }
    if let Some(b) = r.block_owner_deletion {
        out.push_str(if b {
            ",\"blockOwnerDeletion\":true"
        } else {
            ",\"blockOwnerDeletion\":false"
        });
    }
    out.push('}');
}

/// schema.FromAPIVersionAndKind's (group, version).
fn split_api_version(api_version: &str) -> (&str, &str) {
    if api_version.is_empty() || api_version == "/" {
        return ("", "");
    }
    match api_version.matches('/').count() {
        0 => ("", api_version),
        1 => api_version.split_once('/').unwrap_or(("", "")),
        _ => ("", ""),
    }
}

fn push_owner_references(errs: &mut Vec<FieldError>, refs: &[OwnerReference], path: &Path<'_>) {
    let mut first_controller: Option<String> = None;
    for r in refs {
        let (group, version) = split_api_version(&r.api_version);
        if version.is_empty() {
            errs.push(invalid_str(
                &path.child("apiVersion"),
                &r.api_version,
                "version must not be empty",
            ));
        }
        if r.kind.is_empty() {
            errs.push(invalid_str(
                &path.child("kind"),
                &r.kind,
                "kind must not be empty",
            ));
        }
        if r.name.is_empty() {
            errs.push(invalid_str(
                &path.child("name"),
                &r.name,
                "name must not be empty",
            ));
        }
        if r.uid.is_empty() {
            errs.push(FieldError::new(
                ErrorKind::Invalid,
                path.child("uid").to_string(),
                Some(go_json_string(&r.uid)),
                "uid must not be empty",
            ));
        }
        if group.is_empty() && version == "v1" && r.kind == "Event" {
            let mut rendered = String::new();
            owner_reference_json(r, &mut rendered);
            errs.push(FieldError::new(
                ErrorKind::Invalid,
                path.to_string(),
                Some(rendered),
                "/v1, Kind=Event is disallowed from being an owner",
            ));
        }
        if r.controller == Some(true) {
            let current = format!("{}/{}", r.kind, r.name);
            match &first_controller {
                Some(first) => {
                    let mut rendered = String::from("[");
                    for (i, each) in refs.iter().enumerate() {
                        if i > 0 {
                            rendered.push(',');
                        }
                        owner_reference_json(each, &mut rendered);
                    }
                    rendered.push(']');
                    errs.push(FieldError::new(
                        ErrorKind::Invalid,
                        path.to_string(),
                        Some(rendered),
                        format!("Only one reference can have Controller set to true. Found \"true\" in references for {first} and {current}"),
                    ));
                }
                None => first_controller = Some(current),
            }
        }
    }
}

/// ValidateObjectMetaAccessor (apimachinery) for a create, at `metadata`. It expects name
/// generation to have happened already: an empty name is "name or generateName is
/// required". managedFields are not checked here: the server's field manager owns them.
pub fn validate_object_meta(
    meta: &ObjectMeta,
    requires_namespace: bool,
    name_fn: NameFn,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    push_object_meta(
        &mut errs,
        meta,
        requires_namespace,
        name_fn,
        &Path::new("metadata"),
    );
    errs
}

pub(crate) fn push_object_meta(
    errs: &mut Vec<FieldError>,
    meta: &ObjectMeta,
    requires_namespace: bool,
    name_fn: NameFn,
    path: &Path<'_>,
) {
    if let Some(generate_name) = meta.generate_name.as_deref().filter(|g| !g.is_empty()) {
        for msg in name_fn(generate_name, true) {
            errs.push(invalid_str(&path.child("generateName"), generate_name, msg));
        }
    }
    match meta.name.as_deref().filter(|n| !n.is_empty()) {
        None => errs.push(FieldError::new(
            ErrorKind::Required,
            path.child("name").to_string(),
            None,
            "name or generateName is required",
        )),
        Some(name) => {
            for msg in name_fn(name, false) {
                errs.push(invalid_str(&path.child("name"), name, msg));
            }
        }
    }
    let namespace = meta.namespace.as_deref().unwrap_or("");
    if requires_namespace {
        if namespace.is_empty() {
            errs.push(FieldError::new(
                ErrorKind::Required,
                path.child("namespace").to_string(),
                None,
                "",
            ));
        } else {
            for msg in names::is_dns1123_label(namespace) {
                errs.push(invalid_str(&path.child("namespace"), namespace, msg));
            }
        }
    } else if !namespace.is_empty() {
        errs.push(FieldError::new(
            ErrorKind::Forbidden,
            path.child("namespace").to_string(),
            None,
            "not allowed on this type",
        ));
    }
    if let Some(g) = meta.generation.filter(|g| *g < 0) {
        errs.push(FieldError::new(
            ErrorKind::Invalid,
            path.child("generation").to_string(),
            Some(g.to_string()),
            "must be greater than or equal to 0",
        ));
    }
    push_labels(errs, meta.labels.as_ref(), &path.child("labels"));
    push_annotations(errs, meta.annotations.as_ref(), &path.child("annotations"));
    push_owner_references(
        errs,
        meta.owner_references.as_deref().unwrap_or(&[]),
        &path.child("ownerReferences"),
    );
    push_finalizers(
        errs,
        meta.finalizers.as_deref().unwrap_or(&[]),
        &path.child("finalizers"),
    );
}

/// core's ValidateObjectMeta: the apimachinery checks plus the finalizer-name rule that
/// built-in kinds add.
pub fn validate_object_meta_core(
    meta: &ObjectMeta,
    requires_namespace: bool,
    name_fn: NameFn,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    push_object_meta_core(
        &mut errs,
        meta,
        requires_namespace,
        name_fn,
        &Path::new("metadata"),
    );
    errs
}

pub(crate) fn push_object_meta_core(
    errs: &mut Vec<FieldError>,
    meta: &ObjectMeta,
    requires_namespace: bool,
    name_fn: NameFn,
    path: &Path<'_>,
) {
    push_object_meta(errs, meta, requires_namespace, name_fn, path);
    push_kube_finalizer_names(
        errs,
        meta.finalizers.as_deref().unwrap_or(&[]),
        &path.child("finalizers"),
    );
}

fn time_json(t: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>) -> String {
    match t.and_then(|t| serde_json::to_string(t).ok()) {
        Some(s) => s,
        None => "null".to_string(),
    }
}

/// ValidateObjectMetaAccessorUpdate (apimachinery) at `metadata`. The caller has done what
/// the registry's BeforeUpdate does first: for an unconditional update, copy the stored
/// resourceVersion in; copy uid (when empty), creationTimestamp and generation from the
/// stored object.
pub fn validate_object_meta_update(new: &ObjectMeta, old: &ObjectMeta) -> Vec<FieldError> {
    let mut errs = Vec::new();
    push_object_meta_update(&mut errs, new, old, &Path::new("metadata"));
    errs
}

pub(crate) fn push_object_meta_update(
    errs: &mut Vec<FieldError>,
    new: &ObjectMeta,
    old: &ObjectMeta,
    path: &Path<'_>,
) {
    if old.deletion_timestamp.is_some() {
        let old_set: Vec<&String> = old.finalizers.iter().flatten().collect();
        let mut extra: Vec<&str> = new
            .finalizers
            .iter()
            .flatten()
            .filter(|f| !old_set.contains(f))
            .map(String::as_str)
            .collect();
        extra.sort_unstable();
        extra.dedup();
        if !extra.is_empty() {
            let list: Vec<String> = extra.iter().map(|f| go_quote(f)).collect();
            errs.push(FieldError::new(
                ErrorKind::Forbidden,
                path.child("finalizers").to_string(),
                None,
                format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                    list.join(", ")
                ),
            ));
        }
    }
    let rv = new.resource_version.as_deref().unwrap_or("");
    if rv.is_empty() {
        errs.push(invalid_str(
            &path.child("resourceVersion"),
            rv,
            "must be specified for an update",
        ));
    }
    let (new_gen, old_gen) = (new.generation.unwrap_or(0), old.generation.unwrap_or(0));
    if new_gen < old_gen {
        errs.push(FieldError::new(
            ErrorKind::Invalid,
            path.child("generation").to_string(),
            Some(new_gen.to_string()),
            "must not be decremented",
        ));
    }
    let immutable_str = |errs: &mut Vec<FieldError>,
                         field: &'static str,
                         n: &Option<String>,
                         o: &Option<String>,
                         json: bool| {
        let nv = n.as_deref().unwrap_or("");
        if nv != o.as_deref().unwrap_or("") {
            let rendered = if json {
                go_json_string(nv)
            } else {
                go_quote(nv)
            };
            errs.push(FieldError::new(
                ErrorKind::Invalid,
                path.child(field).to_string(),
                Some(rendered),
                FIELD_IMMUTABLE,
            ));
        }
    };
    immutable_str(errs, "name", &new.name, &old.name, false);
    immutable_str(errs, "namespace", &new.namespace, &old.namespace, false);
    immutable_str(errs, "uid", &new.uid, &old.uid, true);
    if new.creation_timestamp != old.creation_timestamp {
        errs.push(FieldError::new(
            ErrorKind::Invalid,
            path.child("creationTimestamp").to_string(),
            Some(time_json(new.creation_timestamp.as_ref())),
            FIELD_IMMUTABLE,
        ));
    }
    if new.deletion_timestamp != old.deletion_timestamp {
        errs.push(FieldError::new(
            ErrorKind::Invalid,
            path.child("deletionTimestamp").to_string(),
            Some(time_json(new.deletion_timestamp.as_ref())),
            FIELD_IMMUTABLE,
        ));
    }
    if new.deletion_grace_period_seconds != old.deletion_grace_period_seconds {
        errs.push(FieldError::new(
            ErrorKind::Invalid,
            path.child("deletionGracePeriodSeconds").to_string(),
            Some(
                new.deletion_grace_period_seconds
                    .map_or_else(|| "null".to_string(), |s| s.to_string()),
            ),
            FIELD_IMMUTABLE,
        ));
    }
    push_labels(errs, new.labels.as_ref(), &path.child("labels"));
    push_annotations(errs, new.annotations.as_ref(), &path.child("annotations"));
    push_owner_references(
        errs,
        new.owner_references.as_deref().unwrap_or(&[]),
        &path.child("ownerReferences"),
    );
}

/// core's ValidateObjectMetaUpdate: the apimachinery update checks plus the finalizer-name rule.
pub fn validate_object_meta_update_core(new: &ObjectMeta, old: &ObjectMeta) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let path = Path::new("metadata");
    push_object_meta_update(&mut errs, new, old, &path);
    push_kube_finalizer_names(
        &mut errs,
        new.finalizers.as_deref().unwrap_or(&[]),
        &path.child("finalizers"),
    );
    errs
}

/// What the generic registry checks on every update before the kind's own rules
/// (rest.BeforeUpdate's validateCommonFields): the create-time meta rules with
/// path-segment names, then the update rules. Its errors come first in a 422's causes and
/// may repeat the kind's own; the message dedupes them, the causes do not.
pub fn validate_common_update(
    new: &ObjectMeta,
    old: &ObjectMeta,
    namespaced: bool,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let path = Path::new("metadata");
    push_object_meta(&mut errs, new, namespaced, name_is_path_segment, &path);
    push_object_meta_update(&mut errs, new, old, &path);
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(name: &str, namespace: Option<&str>) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.to_string()),
            namespace: namespace.map(str::to_string),
            ..ObjectMeta::default()
        }
    }

    fn messages(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(FieldError::message).collect()
    }

    #[test]
    fn cluster_scoped_object_may_not_carry_a_namespace() {
        let ns = meta("payments", Some("default"));
        assert_eq!(
            messages(&validate_object_meta_core(&ns, false, name_is_dns_label)),
            vec!["metadata.namespace: Forbidden: not allowed on this type"]
        );
        assert!(
            validate_object_meta_core(&meta("payments", None), false, name_is_dns_label).is_empty()
        );
    }

    #[test]
    fn namespace_names_are_dns_labels() {
        let errs = validate_object_meta_core(&meta("pay.ments", None), false, name_is_dns_label);
        assert_eq!(
            messages(&errs),
            vec!["metadata.name: Invalid value: \"pay.ments\": must not contain dots"]
        );
    }

    #[test]
    fn generate_name_may_end_in_a_dash() {
        let mut m = meta("web-x7k2p", Some("shop"));
        m.generate_name = Some("web-".into());
        assert!(validate_object_meta_core(&m, true, name_is_dns_subdomain).is_empty());
        m.generate_name = Some("-".into());
        assert_eq!(
            validate_object_meta_core(&m, true, name_is_dns_subdomain).len(),
            1
        );
    }

    #[test]
    fn map_validators_report_at_the_given_field() {
        let labels = BTreeMap::from([
            ("ok".to_string(), "fine".to_string()),
            ("bad key".to_string(), "v".to_string()),
        ]);
        let errs = validate_labels(&labels, "metadata.labels");
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].field, "metadata.labels");
        assert_eq!(errs[0].bad_value.as_deref(), Some("\"bad key\""));
        let annotations = BTreeMap::from([(
            "kubectl.kubernetes.io/last-applied-configuration".to_string(),
            "{}".to_string(),
        )]);
        assert!(validate_annotations(&annotations, "metadata.annotations").is_empty());
        let dotted_i = BTreeMap::from([("\u{130}".to_string(), String::new())]);
        assert!(
            validate_annotations(&dotted_i, "metadata.annotations").is_empty(),
            "Go lowers U+0130 to 'i', which is a valid key"
        );
    }

    #[test]
    fn name_validators_for_other_kinds() {
        assert!(validate_dns_subdomain_name("netpol-sync.state", "metadata.name").is_empty());
        assert_eq!(validate_dns_label_name("a.b", "metadata.name").len(), 1);
        assert_eq!(validate_qualified_name("a/b/c", "spec.key").len(), 1);
        assert_eq!(
            name_is_path_segment("..", false),
            vec!["may not be '..'".to_string()]
        );
    }

    #[test]
    fn owner_references_rules() {
        let mut m = meta("x", Some("n"));
        let owner = |kind: &str, controller: bool| OwnerReference {
            api_version: "v1".into(),
            kind: kind.into(),
            name: "o".into(),
            uid: "u".into(),
            controller: Some(controller),
            block_owner_deletion: None,
        };
        m.owner_references = Some(vec![
            owner("ConfigMap", true),
            owner("Secret", true),
            owner("Event", false),
        ]);
        assert_eq!(
            messages(&validate_object_meta(&m, true, name_is_dns_subdomain)),
            vec![
                "metadata.ownerReferences: Invalid value: [{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"name\":\"o\",\"uid\":\"u\",\"controller\":true},{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"name\":\"o\",\"uid\":\"u\",\"controller\":true},{\"apiVersion\":\"v1\",\"kind\":\"Event\",\"name\":\"o\",\"uid\":\"u\",\"controller\":false}]: Only one reference can have Controller set to true. Found \"true\" in references for ConfigMap/o and Secret/o",
                "metadata.ownerReferences: Invalid value: {\"apiVersion\":\"v1\",\"kind\":\"Event\",\"name\":\"o\",\"uid\":\"u\",\"controller\":false}: /v1, Kind=Event is disallowed from being an owner",
            ]
        );
    }

    #[test]
    fn finalizers_orphan_and_foreground_conflict() {
        let mut m = meta("x", Some("n"));
        m.finalizers = Some(vec!["orphan".into(), "foregroundDeletion".into()]);
        assert_eq!(
            messages(&validate_object_meta_core(&m, true, name_is_dns_subdomain)),
            vec!["metadata.finalizers: Invalid value: [\"orphan\",\"foregroundDeletion\"]: finalizer orphan and foregroundDeletion cannot be both set"]
        );
    }

    #[test]
    fn no_new_finalizers_while_deleting() {
        let mut old = meta("x", Some("n"));
        old.resource_version = Some("1".into());
        old.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            Default::default(),
        ));
        let mut new = old.clone();
        new.finalizers = Some(vec!["example.com/b".into(), "example.com/a".into()]);
        assert_eq!(
            messages(&validate_object_meta_update(&new, &old)),
            vec!["metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"example.com/a\", \"example.com/b\"}"]
        );
    }
}
