//! Fields the server owns: uid, timestamps, managedFields.

use std::time::{SystemTime, UNIX_EPOCH};

use k8s_openapi::jiff::Timestamp;
use rand::Rng;
use serde_json::{json, Map, Value};

/// A random version-4 UUID, as the apiserver assigns to `metadata.uid`.
pub fn new_uid() -> String {
    let mut bytes: [u8; 16] = rand::rng().random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A metav1.Time: RFC 3339, UTC, whole seconds.
pub fn now_rfc3339() -> String {
    Timestamp::from_second(unix_now())
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .to_string()
}

fn unix_now() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX)
}

/// Seconds since an RFC 3339 timestamp, for the AGE column.
pub fn age_seconds(rfc3339: &str) -> Option<i64> {
    let then: Timestamp = rfc3339.parse().ok()?;
    Some(unix_now().saturating_sub(then.as_second()))
}

/// The manager name the apiserver records when a client sends no `fieldManager`: the
/// user agent up to its first `/`.
pub fn manager_name(field_manager: Option<&str>, user_agent: Option<&str>) -> String {
    match (field_manager, user_agent) {
        (Some(m), _) if !m.is_empty() => m.to_string(),
        (_, Some(ua)) if !ua.is_empty() => ua.split('/').next().unwrap_or(ua).to_string(),
        _ => "unknown".to_string(),
    }
}

/// The set of fields an object sets, in FieldsV1 form (`{"f:spec":{"f:podSelector":{}}}`).
/// Lists are recorded as one field rather than per element: a simplification of the
/// apiserver's structured merge, enough to say who wrote an object.
fn field_set(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                out.insert(format!("f:{k}"), field_set(v));
            }
            Value::Object(out)
        }
        _ => json!({}),
    }
}

/// Metadata the server sets: a client's values are replaced on create and kept from the
/// stored object on update, and no manager owns them.
pub const SERVER_OWNED_META: [&str; 7] = [
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
];

/// Fields no manager owns besides [`SERVER_OWNED_META`]: the object's identity, the type
/// and the status.
const UNOWNED_TOP: [&str; 3] = ["apiVersion", "kind", "status"];
const UNOWNED_META: [&str; 3] = ["name", "namespace", "selfLink"];

/// The field set a writer of `object` owns: every field but the server's. Walked in
/// place, skipping the server's fields, rather than on a pruned copy of the object.
fn owned_field_set(object: &Value) -> Value {
    let Value::Object(map) = object else {
        return field_set(object);
    };
    let mut out = Map::new();
    for (k, v) in map {
        if UNOWNED_TOP.contains(&k.as_str()) {
            continue;
        }
        let set = match (k.as_str(), v) {
            ("metadata", Value::Object(meta)) => Value::Object(
                meta.iter()
                    .filter(|(mk, _)| {
                        !SERVER_OWNED_META.contains(&mk.as_str())
                            && !UNOWNED_META.contains(&mk.as_str())
                    })
                    .map(|(mk, mv)| (format!("f:{mk}"), field_set(mv)))
                    .collect(),
            ),
            _ => field_set(v),
        };
        out.insert(format!("f:{k}"), set);
    }
    Value::Object(out)
}

/// Record `manager` as the latest writer of `object`, replacing its previous entry.
pub fn record_manager(object: &mut Value, manager: &str, api_version: &str) {
    let entry = json!({
        "manager": manager,
        "operation": "Update",
        "apiVersion": api_version,
        "time": now_rfc3339(),
        "fieldsType": "FieldsV1",
        "fieldsV1": owned_field_set(object),
    });
    let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    // Taken in place, not removed: the key keeps its position among the metadata's.
    let previous = meta.get_mut("managedFields").map(Value::take);
    let mut entries: Vec<Value> = match previous {
        Some(Value::Array(entries)) => entries
            .into_iter()
            .filter(|e| e.get("manager").and_then(Value::as_str) != Some(manager))
            .collect(),
        _ => Vec::new(),
    };
    entries.push(entry);
    meta.insert("managedFields".into(), Value::Array(entries));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_has_the_uuid_v4_shape() {
        let uid = new_uid();
        assert_eq!(uid.len(), 36);
        assert_eq!(uid.as_bytes()[14], b'4');
        assert_ne!(uid, new_uid());
    }

    #[test]
    fn timestamps_are_whole_seconds_utc() {
        let t = now_rfc3339();
        assert!(t.ends_with('Z') && !t.contains('.'), "{t}");
        assert!(age_seconds(&t).is_some_and(|a| (0..5).contains(&a)));
        assert_eq!(age_seconds("not a time"), None);
    }

    #[test]
    fn manager_defaults_to_the_user_agent_product() {
        assert_eq!(
            manager_name(None, Some("kubectl/v1.32.4 (linux/amd64)")),
            "kubectl"
        );
        assert_eq!(
            manager_name(Some("netpol-sync"), Some("kube-rs")),
            "netpol-sync"
        );
    }

    #[test]
    fn a_writer_owns_no_field_the_server_sets() {
        let mut obj = json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "a", "namespace": "n", "uid": "u", "resourceVersion": "7",
                         "generation": 2, "creationTimestamp": "t", "labels": {"x": "y"},
                         "deletionTimestamp": "t", "deletionGracePeriodSeconds": 0},
            "spec": {"podSelector": {}}, "status": {"conditions": []}
        });
        record_manager(&mut obj, "a", "v1");
        record_manager(&mut obj, "a", "v1");
        let fields = &obj["metadata"]["managedFields"][0]["fieldsV1"];
        assert_eq!(
            fields,
            &json!({"f:metadata": {"f:labels": {"f:x": {}}}, "f:spec": {"f:podSelector": {}}})
        );
        assert_eq!(
            obj["metadata"]["managedFields"].as_array().unwrap().len(),
            1
        );
    }

    #[test]
    fn a_manager_keeps_one_entry() {
        let mut obj =
            json!({"metadata": {"name": "a", "labels": {"x": "y"}}, "spec": {"podSelector": {}}});
        record_manager(&mut obj, "a", "v1");
        record_manager(&mut obj, "b", "v1");
        record_manager(&mut obj, "a", "v1");
        let managers: Vec<&str> = obj["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["manager"].as_str().unwrap())
            .collect();
        assert_eq!(managers, ["b", "a"]);
        assert!(
            obj["metadata"]["managedFields"][1]["fieldsV1"]["f:metadata"]["f:labels"]["f:x"]
                .is_object()
        );
    }
}
