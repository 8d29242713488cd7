//! Defaulting and validation per kind, run on every create and update (dry-run too).
//! NetworkPolicy rules come from the shared `netpol-policy` crate; the emulator adds only
//! the few rules of the other kinds that clients can trip over.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use netpol_policy::{go_quote, meta, FieldError};
use serde_json::{json, Value};

use crate::resources::{
    ResourceKind, CONFIGMAPS, CORE_EVENTS, LEASES, NAMESPACES, NETWORK_POLICIES, PODS,
};
use crate::status::Cause;

/// ConfigMap payload limit (`data` + `binaryData`), as in the apiserver.
const MAX_CONFIGMAP_BYTES: usize = 1024 * 1024;

pub fn cause_from(error: &FieldError) -> Cause {
    Cause {
        reason: error.cause_reason().to_string(),
        message: error.body(),
        field: error.field.clone(),
    }
}

fn invalid(field: &str, value: &str, detail: &str) -> Cause {
    Cause {
        reason: "FieldValueInvalid".into(),
        message: format!("Invalid value: {value}: {detail}"),
        field: field.into(),
    }
}

fn forbidden(field: &str, detail: &str) -> Cause {
    Cause {
        reason: "FieldValueForbidden".into(),
        message: format!("Forbidden: {detail}"),
        field: field.into(),
    }
}

fn object_meta(object: &Value) -> ObjectMeta {
    object
        .get("metadata")
        .and_then(|m| serde_json::from_value(m.clone()).ok())
        .unwrap_or_default()
}

/// ValidateObjectMeta with the kind's name rule (DNS label for namespaces, DNS subdomain
/// for the others).
fn metadata_errors(kind: &ResourceKind, object: &Value) -> Vec<Cause> {
    let name_fn: meta::NameFn = if *kind == NAMESPACES {
        meta::name_is_dns_label
    } else {
        meta::name_is_dns_subdomain
    };
    meta::validate_object_meta(&object_meta(object), kind.namespaced, name_fn)
        .iter()
        .map(cause_from)
        .collect()
}

fn metadata_update_errors(object: &Value, old: &Value) -> Vec<Cause> {
    meta::validate_object_meta_update(&object_meta(object), &object_meta(old))
        .iter()
        .map(cause_from)
        .collect()
}

fn configmap_errors(object: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let mut total = 0usize;
    for section in ["data", "binaryData"] {
        let Some(map) = object.get(section).and_then(Value::as_object) else {
            continue;
        };
        for (key, value) in map {
            let key_ok = !key.is_empty()
                && key.len() <= 253
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
                && key != "."
                && key != ".."
                && !key.starts_with("..");
            if !key_ok {
                causes.push(invalid(
                    &format!("{section}[{key}]"),
                    &go_quote(key),
                    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
                ));
            }
            if section == "data"
                && object
                    .pointer(&format!(
                        "/binaryData/{}",
                        key.replace('~', "~0").replace('/', "~1")
                    ))
                    .is_some()
            {
                causes.push(invalid(
                    &format!("data[{key}]"),
                    &go_quote(key),
                    "duplicate of key present in binaryData",
                ));
            }
            total += key.len() + value.as_str().map(str::len).unwrap_or(0);
        }
    }
    if total > MAX_CONFIGMAP_BYTES {
        causes.push(Cause {
            reason: "FieldValueTooLong".into(),
            message: format!("Too long: must have at most {MAX_CONFIGMAP_BYTES} bytes"),
            field: "".into(),
        });
    }
    causes
}

fn lease_errors(object: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    if let Some(d) = object
        .pointer("/spec/leaseDurationSeconds")
        .and_then(Value::as_i64)
    {
        if d <= 0 {
            causes.push(invalid(
                "spec.leaseDurationSeconds",
                &d.to_string(),
                "must be greater than 0",
            ));
        }
    }
    if let Some(t) = object
        .pointer("/spec/leaseTransitions")
        .and_then(Value::as_i64)
    {
        if t < 0 {
            causes.push(invalid(
                "spec.leaseTransitions",
                &t.to_string(),
                "must be greater than or equal to 0",
            ));
        }
    }
    causes
}

fn core_event_errors(object: &Value) -> Vec<Cause> {
    let ns = object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("");
    match object
        .pointer("/involvedObject/namespace")
        .and_then(Value::as_str)
    {
        Some(involved) if !involved.is_empty() && involved != ns => {
            vec![invalid(
                "involvedObject.namespace",
                &go_quote(involved),
                "does not match event.namespace",
            )]
        }
        _ => Vec::new(),
    }
}

fn required(field: &str) -> Cause {
    Cause {
        reason: "FieldValueRequired".into(),
        message: "Required value".into(),
        field: field.into(),
    }
}

/// IsValidPortName: an IANA service name, 1-15 of `a-z0-9-`, at least one letter, no
/// hyphen at either end nor two in a row.
fn port_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && name.bytes().any(|b| b.is_ascii_lowercase())
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
}

/// The part of ValidatePodSpec about the fields `netpol-sync reach` reads: containers
/// (each named, with an image), and their ports (number, protocol, a name unique in
/// the pod). The rest of a pod spec is stored as given.
fn pod_errors(object: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let containers = object
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .filter(|c| !c.is_empty());
    if containers.is_none() {
        causes.push(required("spec.containers"));
    }
    let mut port_names = std::collections::BTreeSet::new();
    for list in ["containers", "initContainers"] {
        let Some(items) = object
            .pointer(&format!("/spec/{list}"))
            .and_then(Value::as_array)
        else {
            continue;
        };
        for (i, c) in items.iter().enumerate() {
            let at = format!("spec.{list}[{i}]");
            match c.get("name").and_then(Value::as_str) {
                None | Some("") => causes.push(required(&format!("{at}.name"))),
                Some(n) if !meta::name_is_dns_label(n, false).is_empty() => causes.push(invalid(
                    &format!("{at}.name"),
                    &go_quote(n),
                    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
                )),
                Some(_) => {}
            }
            if c.get("image")
                .and_then(Value::as_str)
                .unwrap_or("")
                .trim()
                .is_empty()
            {
                causes.push(required(&format!("{at}.image")));
            }
            for (j, p) in c
                .get("ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let at = format!("{at}.ports[{j}]");
                let n = p.get("containerPort").and_then(Value::as_i64).unwrap_or(0);
                if !(1..=65535).contains(&n) {
                    causes.push(invalid(
                        &format!("{at}.containerPort"),
                        &n.to_string(),
                        "must be between 1 and 65535, inclusive",
                    ));
                }
                if let Some(proto) = p.get("protocol").and_then(Value::as_str) {
                    if !matches!(proto, "TCP" | "UDP" | "SCTP") {
                        causes.push(Cause {
                            reason: "FieldValueNotSupported".into(),
                            message: format!(
                                "Unsupported value: {}: supported values: \"SCTP\", \"TCP\", \"UDP\"",
                                go_quote(proto)
                            ),
                            field: format!("{at}.protocol"),
                        });
                    }
                }
                if let Some(name) = p.get("name").and_then(Value::as_str) {
                    if !port_name_ok(name) {
                        causes.push(invalid(
                            &format!("{at}.name"),
                            &go_quote(name),
                            "must be no more than 15 characters, contain only lowercase alphanumeric characters or '-', contain at least one letter, and not begin or end with '-' nor contain '--'",
                        ));
                    } else if !port_names.insert(name.to_string()) {
                        causes.push(Cause {
                            reason: "FieldValueDuplicate".into(),
                            message: format!("Duplicate value: {}", go_quote(name)),
                            field: format!("{at}.name"),
                        });
                    }
                }
            }
        }
    }
    causes
}

/// What the pod strategy sets on create: a container port's protocol defaults to TCP,
/// and the status is the server's (`Pending`: no scheduler or kubelet runs here), not
/// the client's.
fn default_pod(object: &mut Value) {
    for list in ["containers", "initContainers"] {
        let Some(items) = object
            .pointer_mut(&format!("/spec/{list}"))
            .and_then(Value::as_array_mut)
        else {
            continue;
        };
        for c in items {
            for p in c
                .get_mut("ports")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                if let Some(p) = p.as_object_mut() {
                    p.entry("protocol").or_insert_with(|| json!("TCP"));
                }
            }
        }
    }
    if let Some(map) = object.as_object_mut() {
        map.insert("status".into(), json!({"phase": "Pending"}));
    }
}

fn netpol_decode(object: &Value) -> Result<netpol_policy::NetworkPolicy, Vec<Cause>> {
    netpol_decode_owned(object.clone())
}

fn netpol_decode_owned(object: Value) -> Result<netpol_policy::NetworkPolicy, Vec<Cause>> {
    netpol_policy::decode_strict(object).map_err(|errs| errs.iter().map(cause_from).collect())
}

fn netpol_encode(np: &netpol_policy::NetworkPolicy, object: &mut Value) -> Result<(), Vec<Cause>> {
    *object = serde_json::to_value(np).map_err(|e| vec![invalid("", "", &e.to_string())])?;
    Ok(())
}

/// Default and validate an object about to be created; namespace objects also get the
/// server-set label and status the apiserver gives them.
pub fn prepare_create(kind: &ResourceKind, object: &mut Value) -> Result<(), Vec<Cause>> {
    if *kind == NETWORK_POLICIES {
        // The object is replaced by its decoded, defaulted form below, or the request
        // fails: either way its old tree is not needed, so it is moved, not cloned.
        let mut np = netpol_decode_owned(std::mem::take(object))?;
        netpol_policy::apply_defaults(&mut np);
        let errors = netpol_policy::validate_create(&np);
        if !errors.is_empty() {
            return Err(errors.iter().map(cause_from).collect());
        }
        return netpol_encode(&np, object);
    }
    let mut causes = metadata_errors(kind, object);
    causes.extend(kind_errors(kind, object));
    if !causes.is_empty() {
        return Err(causes);
    }
    if *kind == NAMESPACES {
        default_namespace(object);
    }
    if *kind == PODS {
        default_pod(object);
    }
    Ok(())
}

fn kind_errors(kind: &ResourceKind, object: &Value) -> Vec<Cause> {
    match *kind {
        k if k == CONFIGMAPS => configmap_errors(object),
        k if k == LEASES => lease_errors(object),
        k if k == CORE_EVENTS => core_event_errors(object),
        k if k == PODS => pod_errors(object),
        _ => Vec::new(),
    }
}

fn default_namespace(object: &mut Value) {
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if let Some(map) = object.as_object_mut() {
        let meta = map.entry("metadata").or_insert_with(|| json!({}));
        if let Some(meta) = meta.as_object_mut() {
            let labels = meta.entry("labels").or_insert_with(|| json!({}));
            if let Some(labels) = labels.as_object_mut() {
                labels.insert("kubernetes.io/metadata.name".into(), Value::String(name));
            }
        }
        let spec = map.entry("spec").or_insert_with(|| json!({}));
        if let Some(spec) = spec.as_object_mut() {
            spec.entry("finalizers")
                .or_insert_with(|| json!(["kubernetes"]));
        }
        map.insert("status".into(), json!({"phase": "Active"}));
    }
}

/// Default and validate a replacement of `old`.
pub fn prepare_update(
    kind: &ResourceKind,
    object: &mut Value,
    old: &Value,
) -> Result<(), Vec<Cause>> {
    if *kind == NETWORK_POLICIES {
        // Moved, not cloned, as in `prepare_create`.
        let mut np = netpol_decode_owned(std::mem::take(object))?;
        netpol_policy::apply_defaults(&mut np);
        let old_np = netpol_decode(old)?;
        let errors = netpol_policy::validate_update(&np, &old_np);
        if !errors.is_empty() {
            return Err(errors.iter().map(cause_from).collect());
        }
        return netpol_encode(&np, object);
    }
    let mut causes = metadata_update_errors(object, old);
    causes.extend(kind_errors(kind, object));
    if *kind == CONFIGMAPS && old.get("immutable") == Some(&Value::Bool(true)) {
        for field in ["data", "binaryData"] {
            if object.get(field) != old.get(field) {
                causes.push(forbidden(
                    field,
                    "field is immutable when `immutable` is set",
                ));
            }
        }
        if object.get("immutable") != old.get("immutable") {
            causes.push(forbidden(
                "immutable",
                "field is immutable when `immutable` is set",
            ));
        }
    }
    if !causes.is_empty() {
        return Err(causes);
    }
    if *kind == PODS {
        // The status belongs to the kubelet (the status subresource): a PUT keeps it.
        default_pod(object);
        if let (Some(map), Some(status)) = (object.as_object_mut(), old.get("status")) {
            map.insert("status".into(), status.clone());
        }
    }
    if *kind == NAMESPACES {
        // The status is owned by the namespace controller: a PUT does not change it.
        default_namespace(object);
        if let (Some(map), Some(status)) = (object.as_object_mut(), old.get("status")) {
            map.insert("status".into(), status.clone());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_names_are_dns_labels() {
        let mut ok = json!({"metadata": {"name": "payments"}});
        prepare_create(&NAMESPACES, &mut ok).unwrap();
        assert_eq!(
            ok["metadata"]["labels"]["kubernetes.io/metadata.name"],
            "payments"
        );
        assert_eq!(ok["status"]["phase"], "Active");
        let mut bad = json!({"metadata": {"name": "Pay.ments"}});
        let causes = prepare_create(&NAMESPACES, &mut bad).unwrap_err();
        assert_eq!(causes[0].field, "metadata.name");
    }

    #[test]
    fn lease_durations_must_be_positive() {
        let mut lease = json!({"metadata": {"name": "l", "namespace": "n"}, "spec": {"leaseDurationSeconds": 0, "leaseTransitions": -1}});
        let causes = prepare_create(&LEASES, &mut lease).unwrap_err();
        let fields: Vec<&str> = causes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(
            fields,
            ["spec.leaseDurationSeconds", "spec.leaseTransitions"]
        );
        assert_eq!(
            causes[0].message,
            "Invalid value: 0: must be greater than 0"
        );
    }

    #[test]
    fn pods_need_containers_and_valid_ports_and_get_the_server_status() {
        let mut ok = json!({"metadata": {"name": "p", "namespace": "n"},
            "spec": {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80, "name": "http"}]}]},
            "status": {"phase": "Succeeded"}});
        prepare_create(&PODS, &mut ok).unwrap();
        assert_eq!(ok["spec"]["containers"][0]["ports"][0]["protocol"], "TCP");
        assert_eq!(ok["status"]["phase"], "Pending");
        let mut none =
            json!({"metadata": {"name": "p", "namespace": "n"}, "spec": {"containers": []}});
        assert_eq!(
            prepare_create(&PODS, &mut none).unwrap_err()[0].field,
            "spec.containers"
        );
        let mut bad = json!({"metadata": {"name": "p", "namespace": "n"},
            "spec": {"containers": [
                {"name": "a", "image": "i", "ports": [{"containerPort": 0}, {"containerPort": 1, "protocol": "ICMP"}, {"containerPort": 2, "name": "web"}]},
                {"name": "b", "ports": [{"containerPort": 3, "name": "web"}, {"containerPort": 4, "name": "-x"}]}]}});
        let fields: Vec<String> = prepare_create(&PODS, &mut bad)
            .unwrap_err()
            .into_iter()
            .map(|c| c.field)
            .collect();
        assert_eq!(
            fields,
            [
                "spec.containers[0].ports[0].containerPort",
                "spec.containers[0].ports[1].protocol",
                "spec.containers[1].image",
                "spec.containers[1].ports[0].name",
                "spec.containers[1].ports[1].name",
            ]
        );
    }

    #[test]
    fn configmap_keys_and_immutability() {
        let mut bad = json!({"metadata": {"name": "c", "namespace": "n"}, "data": {"a b": "x"}});
        assert_eq!(
            prepare_create(&CONFIGMAPS, &mut bad).unwrap_err()[0].field,
            "data[a b]"
        );
        let old = json!({"metadata": {"name": "c", "namespace": "n", "resourceVersion": "1"}, "data": {"a": "x"}, "immutable": true});
        let mut new = json!({"metadata": {"name": "c", "namespace": "n", "resourceVersion": "1"}, "data": {"a": "y"}, "immutable": true});
        assert_eq!(
            prepare_update(&CONFIGMAPS, &mut new, &old).unwrap_err()[0].field,
            "data"
        );
    }
}
