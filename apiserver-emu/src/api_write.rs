//! create, replace, patch and delete, with the apiserver's checks in its order:
//! decode (400/415/413) → URL consistency (400) → namespace lifecycle (404/403) →
//! optimistic concurrency (409) → defaulting and validation (422) → store.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::body::{self, BodyError, FieldValidation};
use crate::query::dry_run_values;
use crate::request::{ApiRequest, ApiResult, Reply};
use crate::resources::{
    ResourceKind, CONFIGMAPS, CORE_EVENTS, EVENTS_V1, LEASES, NAMESPACES, NETWORK_POLICIES, PODS,
};
use crate::server_fields::{self, SERVER_OWNED_META};
use crate::state::{lock, Shared};
use crate::status::{self, ApiError, Cause};
use crate::store::Store;
use crate::validation;

/// `metadata.finalizers`, empty when absent.
fn finalizers(object: &Value) -> Vec<&str> {
    object
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|f| f.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn being_deleted(object: &Value) -> bool {
    object.pointer("/metadata/deletionTimestamp").is_some()
}

fn prune(kind: &ResourceKind, v: &Value) -> Result<(Value, Vec<String>), BodyError> {
    use k8s_openapi::api::{coordination, core, events, networking};
    match *kind {
        k if k == NETWORK_POLICIES => body::prune::<networking::v1::NetworkPolicy>(v, kind),
        k if k == NAMESPACES => body::prune::<core::v1::Namespace>(v, kind),
        k if k == CONFIGMAPS => body::prune::<core::v1::ConfigMap>(v, kind),
        k if k == LEASES => body::prune::<coordination::v1::Lease>(v, kind),
        k if k == CORE_EVENTS => body::prune::<core::v1::Event>(v, kind),
        k if k == EVENTS_V1 => body::prune::<events::v1::Event>(v, kind),
        k if k == PODS => body::prune::<core::v1::Pod>(v, kind),
        _ => Ok((v.clone(), Vec::new())),
    }
}

/// Decode a full object and apply the client's `fieldValidation` to unknown fields.
/// Returns the pruned object and the warnings to send.
fn typed_object(
    kind: &ResourceKind,
    mut object: Value,
    validation: FieldValidation,
) -> Result<(Value, Vec<String>), ApiError> {
    body::check_type(&mut object, kind).map_err(|e| e.to_api_error())?;
    let (pruned, unknown) = prune(kind, &object).map_err(|e| e.to_api_error())?;
    let mut warnings = Vec::new();
    if !unknown.is_empty() {
        match validation {
            FieldValidation::Strict => {
                return Err(ApiError::bad_request(format!(
                    "{} in version {:?} cannot be handled as a {}: {}",
                    kind.kind,
                    kind.version,
                    kind.kind,
                    BodyError::UnknownFields(unknown)
                )));
            }
            FieldValidation::Warn => {
                warnings.extend(unknown.iter().map(|f| format!("unknown field {f:?}")))
            }
            FieldValidation::Ignore => {}
        }
    }
    Ok((pruned, warnings))
}

fn decode(
    kind: &ResourceKind,
    req: &ApiRequest,
    validation: FieldValidation,
) -> Result<(Value, Vec<String>), ApiError> {
    let object =
        body::parse(req.content_type.as_deref(), &req.body, kind).map_err(|e| e.to_api_error())?;
    typed_object(kind, object, validation)
}

fn meta_str<'a>(object: &'a Value, field: &str) -> &'a str {
    object
        .get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn meta_mut(object: &mut Value) -> Option<&mut Map<String, Value>> {
    let map = object.as_object_mut()?;
    let meta = map.entry("metadata").or_insert_with(|| json!({}));
    if !meta.is_object() {
        *meta = json!({});
    }
    meta.as_object_mut()
}

/// Set a metadata field (objects reaching this are always JSON objects).
fn set_meta(object: &mut Value, field: &str, value: Value) {
    if let Some(meta) = meta_mut(object) {
        meta.insert(field.to_string(), value);
    }
}

fn remove_meta(object: &mut Value, field: &str) {
    if let Some(meta) = meta_mut(object) {
        meta.remove(field);
    }
}

/// The body's namespace must be empty (and is then set) or equal the URL's.
fn reconcile_namespace(
    object: &mut Value,
    kind: &ResourceKind,
    namespace: Option<&str>,
) -> Result<(), ApiError> {
    let body_ns = meta_str(object, "namespace").to_string();
    match namespace {
        Some(url_ns) if kind.namespaced => {
            if body_ns.is_empty() {
                set_meta(object, "namespace", json!(url_ns));
            } else if body_ns != url_ns {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
        }
        _ => {
            if !body_ns.is_empty() && !kind.namespaced {
                remove_meta(object, "namespace");
            }
        }
    }
    Ok(())
}

/// Namespaced writes need an existing namespace; creates need one that is not terminating.
fn check_namespace(
    store: &Store,
    kind: &ResourceKind,
    namespace: Option<&str>,
    name: &str,
) -> Result<(), ApiError> {
    let Some(ns) = namespace.filter(|_| kind.namespaced) else {
        return Ok(());
    };
    let Some(ns_object) = store.get(&NAMESPACES, None, ns) else {
        return Err(ApiError::not_found(&NAMESPACES, ns));
    };
    if ns_object.pointer("/status/phase").and_then(Value::as_str) == Some("Terminating") {
        return Err(ApiError::namespace_terminating(kind, name, ns));
    }
    Ok(())
}

fn random_suffix() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

pub struct WriteOptions {
    dry_run: bool,
    validation: FieldValidation,
    manager: String,
}

impl WriteOptions {
    fn from_request(req: &ApiRequest, options_kind: &str) -> Result<WriteOptions, ApiError> {
        let field_manager = req.query.get("fieldManager");
        if field_manager.is_some_and(|m| m.len() > 128) {
            return Err(ApiError::invalid(
                &format!("{options_kind}.meta.k8s.io"),
                "meta.k8s.io",
                options_kind,
                "",
                vec![Cause {
                    reason: "FieldValueTooLong".into(),
                    message: "Too long: may not be more than 128 bytes".into(),
                    field: "fieldManager".into(),
                }],
            ));
        }
        Ok(WriteOptions {
            dry_run: req.query.dry_run(options_kind)?,
            validation: FieldValidation::parse(req.query.get("fieldValidation"))?,
            manager: server_fields::manager_name(field_manager, req.user_agent.as_deref()),
        })
    }
}

fn with_warnings(status: u16, body: Value, warnings: Vec<String>) -> Reply {
    Reply::Json {
        status,
        body,
        warnings,
    }
}

pub fn create(
    shared: &Shared,
    req: &ApiRequest,
    kind: &ResourceKind,
    namespace: Option<&str>,
) -> ApiResult {
    if kind.namespaced && namespace.is_none() {
        return Err(ApiError::method_not_allowed());
    }
    let opts = WriteOptions::from_request(req, "CreateOptions")?;
    let (mut object, warnings) = decode(kind, req, opts.validation)?;
    reconcile_namespace(&mut object, kind, namespace)?;
    let mut store = lock(&shared.store);
    let stored = create_locked(&mut store, kind, namespace, object, &opts)?;
    Ok(with_warnings(201, stored, warnings))
}

fn create_locked(
    store: &mut Store,
    kind: &ResourceKind,
    namespace: Option<&str>,
    mut object: Value,
    opts: &WriteOptions,
) -> Result<Value, ApiError> {
    let mut name = meta_str(&object, "name").to_string();
    if name.is_empty() {
        let prefix = meta_str(&object, "generateName").to_string();
        if prefix.is_empty() {
            return Err(ApiError::invalid_for(
                kind,
                "",
                vec![Cause {
                    reason: "FieldValueRequired".into(),
                    message: "Required value: name or generateName is required".into(),
                    field: "metadata.name".into(),
                }],
            ));
        }
        name = format!("{prefix}{}", random_suffix());
        set_meta(&mut object, "name", json!(name));
    }
    if !meta_str(&object, "resourceVersion").is_empty() {
        return Err(ApiError {
            code: 500,
            reason: "InternalError",
            message: "Internal error occurred: resourceVersion should not be set on objects to be created".into(),
            details: Some(json!({"causes": [{"message": "resourceVersion should not be set on objects to be created"}]})),
            retry_after: None,
            list_continue: None,
        });
    }
    check_namespace(store, kind, namespace, &name)?;
    for field in SERVER_OWNED_META {
        remove_meta(&mut object, field);
    }
    validation::prepare_create(kind, &mut object)
        .map_err(|causes| ApiError::invalid_for(kind, &name, causes))?;
    if store.get(kind, namespace, &name).is_some() {
        return Err(ApiError::already_exists(kind, &name));
    }
    set_meta(&mut object, "uid", json!(server_fields::new_uid()));
    set_meta(
        &mut object,
        "creationTimestamp",
        json!(server_fields::now_rfc3339()),
    );
    if kind.tracks_generation {
        set_meta(&mut object, "generation", json!(1));
    }
    server_fields::record_manager(&mut object, &opts.manager, &kind.api_version());
    if opts.dry_run {
        return Ok(object);
    }
    let stored = store
        .commit(kind, namespace, &name, Some(object))
        .map(|o| (*o).clone())
        .unwrap_or(Value::Null);
    Ok(stored)
}

pub fn replace(
    shared: &Shared,
    req: &ApiRequest,
    kind: &ResourceKind,
    namespace: Option<&str>,
    name: &str,
) -> ApiResult {
    let opts = WriteOptions::from_request(req, "UpdateOptions")?;
    let (mut object, warnings) = decode(kind, req, opts.validation)?;
    let body_name = meta_str(&object, "name");
    if body_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    reconcile_namespace(&mut object, kind, namespace)?;
    let mut store = lock(&shared.store);
    let (status, stored) = update_locked(&mut store, kind, namespace, name, object, &opts, true)?;
    Ok(with_warnings(status, stored, warnings))
}

fn parse_rv(rv: &str) -> Result<u64, ApiError> {
    rv.parse::<u64>()
        .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv:?}")))
}

/// Objects equal for the purpose of "did this write change anything".
fn same_content(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("managedFields");
            meta.remove("resourceVersion");
        }
        v
    };
    strip(a) == strip(b)
}

#[allow(clippy::too_many_arguments)]
fn update_locked(
    store: &mut Store,
    kind: &ResourceKind,
    namespace: Option<&str>,
    name: &str,
    mut object: Value,
    opts: &WriteOptions,
    from_put: bool,
) -> Result<(u16, Value), ApiError> {
    let Some(existing) = store.get(kind, namespace, name) else {
        if kind.allow_create_on_update && from_put {
            remove_meta(&mut object, "resourceVersion");
            let created = create_locked(store, kind, namespace, object, opts)?;
            return Ok((201, created));
        }
        return Err(ApiError::not_found(kind, name));
    };
    let existing_rv = meta_str(&existing, "resourceVersion").to_string();
    let body_rv = meta_str(&object, "resourceVersion").to_string();
    if body_rv.is_empty() {
        if !kind.allow_unconditional_update && from_put {
            return Err(ApiError::invalid_for(
                kind,
                name,
                vec![Cause {
                    reason: "FieldValueInvalid".into(),
                    message: "Invalid value: 0x0: must be specified for an update".into(),
                    field: "metadata.resourceVersion".into(),
                }],
            ));
        }
    } else if parse_rv(&body_rv)? != parse_rv(&existing_rv).unwrap_or(0) {
        return Err(ApiError::optimistic_lock(kind, name));
    }
    let body_uid = meta_str(&object, "uid").to_string();
    let existing_uid = meta_str(&existing, "uid").to_string();
    if !body_uid.is_empty() && body_uid != existing_uid {
        return Err(ApiError::conflict(
            kind,
            name,
            &format!("Precondition failed: UID in precondition: {body_uid}, UID in object meta: {existing_uid}"),
        ));
    }
    for field in SERVER_OWNED_META {
        match existing.get("metadata").and_then(|m| m.get(field)) {
            Some(v) => set_meta(&mut object, field, v.clone()),
            None => remove_meta(&mut object, field),
        }
    }
    validation::prepare_update(kind, &mut object, &existing)
        .map_err(|causes| ApiError::invalid_for(kind, name, causes))?;
    if being_deleted(&existing) {
        let (before, after) = (finalizers(&existing), finalizers(&object));
        if let Some(added) = after.iter().find(|f| !before.contains(f)) {
            return Err(ApiError::invalid_for(
                kind,
                name,
                vec![Cause {
                    reason: "FieldValueForbidden".into(),
                    message: format!(
                        "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{{{added:?}}}"
                    ),
                    field: "metadata.finalizers".into(),
                }],
            ));
        }
        // The last finalizer removed: the deletion that waited for it happens now.
        if after.is_empty() && *kind != NAMESPACES {
            if !opts.dry_run {
                store.commit(kind, namespace, name, None);
            }
            return Ok((200, object));
        }
    }
    if kind.tracks_generation && object.get("spec") != existing.get("spec") {
        let generation = existing
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            + 1;
        set_meta(&mut object, "generation", json!(generation));
    }
    if same_content(&object, &existing) {
        return Ok((200, (*existing).clone()));
    }
    server_fields::record_manager(&mut object, &opts.manager, &kind.api_version());
    if opts.dry_run {
        return Ok((200, object));
    }
    let stored = store
        .commit(kind, namespace, name, Some(object))
        .map(|o| (*o).clone())
        .unwrap_or(Value::Null);
    Ok((200, stored))
}

/// RFC 7386 JSON merge patch.
fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch_map) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    if let Value::Object(target_map) = target {
        for (k, v) in patch_map {
            if v.is_null() {
                target_map.remove(k);
            } else {
                merge_patch(target_map.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

/// PATCH with a JSON merge patch; a strategic merge patch is applied the same way, which
/// is exact for the served kinds' fields (none of their lists has a merge key that
/// differs from replacement, except `$patch` directives, which are not supported).
pub fn patch(
    shared: &Shared,
    req: &ApiRequest,
    kind: &ResourceKind,
    namespace: Option<&str>,
    name: &str,
) -> ApiResult {
    let media = req
        .content_type
        .as_deref()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if media != "application/merge-patch+json" && media != "application/strategic-merge-patch+json"
    {
        return Err(ApiError::unsupported_media_type(&media));
    }
    let opts = WriteOptions::from_request(req, "PatchOptions")?;
    if req.body.len() > body::MAX_BODY_BYTES {
        return Err(ApiError::too_large(body::MAX_BODY_BYTES));
    }
    let patch: Value = serde_json::from_slice(&req.body)
        .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
    if !patch.is_object() {
        return Err(ApiError::bad_request(
            "error decoding patch: a merge patch must be a JSON object",
        ));
    }
    let mut store = lock(&shared.store);
    let existing = store
        .get(kind, namespace, name)
        .ok_or_else(|| ApiError::not_found(kind, name))?;
    let mut merged = (*existing).clone();
    merge_patch(&mut merged, &patch);
    if meta_str(&patch, "resourceVersion").is_empty() {
        let existing_rv = meta_str(&existing, "resourceVersion").to_string();
        set_meta(&mut merged, "resourceVersion", json!(existing_rv));
    }
    let (object, warnings) = typed_object(kind, merged, opts.validation)?;
    if meta_str(&object, "name") != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({}) does not match the name on the URL ({name})",
            meta_str(&object, "name")
        )));
    }
    let (status, stored) = update_locked(&mut store, kind, namespace, name, object, &opts, false)?;
    Ok(with_warnings(status, stored, warnings))
}

pub fn delete(
    shared: &Shared,
    req: &ApiRequest,
    kind: &ResourceKind,
    namespace: Option<&str>,
    name: &str,
) -> ApiResult {
    let options: Value = if req.body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        if req.body.len() > body::MAX_BODY_BYTES {
            return Err(ApiError::too_large(body::MAX_BODY_BYTES));
        }
        let protobuf = req.content_type.as_deref().is_some_and(|ct| {
            ct.split(';').next().unwrap_or("").trim() == crate::protobuf::MEDIA_TYPE
        });
        if protobuf {
            crate::protobuf::decode(&req.body, "DeleteOptions").map_err(|e| e.to_api_error())?
        } else {
            serde_json::from_slice(&req.body)
                .map_err(|e| ApiError::bad_request(format!("error decoding DeleteOptions: {e}")))?
        }
    };
    if !options.is_object() {
        return Err(ApiError::bad_request("DeleteOptions must be a JSON object"));
    }
    let mut dry_run_given: Vec<&str> = req.query.all("dryRun");
    if let Some(values) = options.get("dryRun").and_then(Value::as_array) {
        dry_run_given.extend(values.iter().filter_map(Value::as_str));
    }
    let dry_run = dry_run_values(&dry_run_given, "DeleteOptions")?;
    let precondition = |field: &str| {
        options
            .pointer(&format!("/preconditions/{field}"))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let (want_uid, want_rv) = (precondition("uid"), precondition("resourceVersion"));

    let mut store = lock(&shared.store);
    let existing: Arc<Value> = store
        .get(kind, namespace, name)
        .ok_or_else(|| ApiError::not_found(kind, name))?;
    let uid = meta_str(&existing, "uid").to_string();
    let rv = meta_str(&existing, "resourceVersion").to_string();
    if let Some(want) = want_uid.filter(|w| *w != uid) {
        return Err(ApiError::conflict(
            kind,
            name,
            &format!("Precondition failed: UID in precondition: {want}, UID in object meta: {uid}"),
        ));
    }
    if let Some(want) = want_rv.filter(|w| *w != rv) {
        return Err(ApiError::conflict(
            kind,
            name,
            &format!("Precondition failed: ResourceVersion in precondition: {want}, ResourceVersion in object meta: {rv}"),
        ));
    }
    // An object with finalizers is only marked: it stays, with a deletionTimestamp, until
    // whoever owns each finalizer removes it. The answer is the marked object, not a
    // Status. (Namespaces have their own `spec.finalizers` and phase, handled apart.)
    if *kind != NAMESPACES && !finalizers(&existing).is_empty() {
        if being_deleted(&existing) {
            return Ok(Reply::ok((*existing).clone()));
        }
        let mut marked = (*existing).clone();
        set_meta(
            &mut marked,
            "deletionTimestamp",
            json!(server_fields::now_rfc3339()),
        );
        set_meta(&mut marked, "deletionGracePeriodSeconds", json!(0));
        if dry_run {
            return Ok(Reply::ok(marked));
        }
        let stored = store
            .commit(kind, namespace, name, Some(marked))
            .map(|o| (*o).clone())
            .unwrap_or(Value::Null);
        return Ok(Reply::ok(stored));
    }
    if !dry_run {
        if *kind == NAMESPACES {
            store.delete_namespace(name);
        } else {
            store.commit(kind, namespace, name, None);
        }
    }
    Ok(Reply::ok(status::delete_success(kind, name, Some(&uid))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_follows_rfc7386() {
        let mut target = json!({"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]});
        merge_patch(&mut target, &json!({"a": "z", "c": {"f": null}, "l": [3]}));
        assert_eq!(target, json!({"a": "z", "c": {"d": "e"}, "l": [3]}));
    }

    #[test]
    fn unchanged_content_ignores_managed_fields_and_version() {
        let a = json!({"metadata": {"name": "a", "resourceVersion": "1", "managedFields": [1]}, "spec": {}});
        let b = json!({"metadata": {"name": "a", "resourceVersion": "2"}, "spec": {}});
        assert!(same_content(&a, &b));
        assert!(!same_content(
            &a,
            &json!({"metadata": {"name": "a"}, "spec": {"x": 1}})
        ));
    }
}
