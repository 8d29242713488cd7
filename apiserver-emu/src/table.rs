//! `meta.k8s.io/v1` Table responses, which `kubectl get` asks for to print its columns.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::resources::{ResourceKind, CONFIGMAPS, LEASES, NAMESPACES, NETWORK_POLICIES};
use crate::server_fields::age_seconds;

/// Does the Accept header ask for a Table?
pub fn wanted(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| {
        a.split(',')
            .next()
            .is_some_and(|first| first.contains("as=Table"))
    })
}

/// kubectl's short human duration (`45s`, `3m12s`, `5h`, `2d`).
pub fn human_age(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..120 => format!("{s}s"),
        120..600 => format!("{}m{}s", s / 60, s % 60),
        600..10_800 => format!("{}m", s / 60),
        10_800..172_800 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

fn str_at<'a>(object: &'a Value, pointer: &str) -> &'a str {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn column(name: &str, format: &str, description: &str) -> Value {
    json!({"name": name, "type": "string", "format": format, "description": description, "priority": 0})
}

fn columns(kind: &ResourceKind) -> Vec<Value> {
    let name = column("Name", "name", "Name must be unique within a namespace.");
    let age = column("Age", "", "CreationTimestamp is a timestamp representing the server time when this object was created.");
    let mut cols = vec![name];
    match *kind {
        k if k == NAMESPACES => cols.push(column("Status", "", "The status of the namespace")),
        k if k == NETWORK_POLICIES => cols.push(column("Pod-Selector", "", "Pod selector")),
        k if k == CONFIGMAPS => cols.push(column("Data", "", "Number of keys")),
        k if k == LEASES => cols.push(column("Holder", "", "Holder identity")),
        _ => {}
    }
    cols.push(age);
    cols
}

fn pod_selector(object: &Value) -> String {
    let mut parts: Vec<String> = object
        .pointer("/spec/podSelector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    if let Some(exprs) = object
        .pointer("/spec/podSelector/matchExpressions")
        .and_then(Value::as_array)
    {
        for e in exprs {
            let values: Vec<&str> = e
                .get("values")
                .and_then(Value::as_array)
                .map(|v| v.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            parts.push(format!(
                "{} {} ({})",
                str_at(e, "/key"),
                str_at(e, "/operator").to_lowercase(),
                values.join(",")
            ));
        }
    }
    if parts.is_empty() {
        "<none>".into()
    } else {
        parts.join(",")
    }
}

fn cells(kind: &ResourceKind, object: &Value) -> Vec<Value> {
    let mut cells = vec![json!(str_at(object, "/metadata/name"))];
    match *kind {
        k if k == NAMESPACES => cells.push(json!(str_at(object, "/status/phase"))),
        k if k == NETWORK_POLICIES => cells.push(json!(pod_selector(object))),
        k if k == CONFIGMAPS => {
            let count = ["data", "binaryData"]
                .iter()
                .filter_map(|f| object.get(*f).and_then(Value::as_object).map(|m| m.len()))
                .sum::<usize>();
            cells.push(json!(count));
        }
        k if k == LEASES => cells.push(json!(str_at(object, "/spec/holderIdentity"))),
        _ => {}
    }
    let age = age_seconds(str_at(object, "/metadata/creationTimestamp"))
        .map(human_age)
        .unwrap_or_else(|| "<unknown>".into());
    cells.push(json!(age));
    cells
}

fn partial_metadata(object: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

pub fn render(kind: &ResourceKind, objects: &[Arc<Value>], resource_version: u64) -> Value {
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| json!({"cells": cells(kind, o), "object": partial_metadata(o)}))
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version.to_string()},
        "columnDefinitions": columns(kind),
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_accept_header_asks_for_a_table() {
        assert!(wanted(Some("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json")));
        assert!(!wanted(Some("application/json")));
        assert!(!wanted(None));
    }

    #[test]
    fn ages_read_like_kubectl() {
        assert_eq!(human_age(5), "5s");
        assert_eq!(human_age(190), "3m10s");
        assert_eq!(human_age(7200), "120m");
        assert_eq!(human_age(4 * 86_400), "4d");
    }

    #[test]
    fn networkpolicy_rows_show_the_pod_selector() {
        let np = Arc::new(
            json!({"metadata": {"name": "a"}, "spec": {"podSelector": {"matchLabels": {"app": "web"}}}}),
        );
        let t = render(&NETWORK_POLICIES, &[np], 7);
        assert_eq!(t["rows"][0]["cells"][1], "app=web");
        assert_eq!(t["metadata"]["resourceVersion"], "7");
    }
}
