//! list, get and watch.

use std::io::Write;
use std::sync::Arc;

use serde_json::Value;

use crate::request::{ApiRequest, ApiResult, Reply};
use crate::resources::{ResourceKind, CORE_EVENTS, NAMESPACES};
use crate::selector::{FieldSelector, LabelSelector};
use crate::state::{lock, Shared};
use crate::status::ApiError;
use crate::{table, watch};

/// Fields besides metadata.name/namespace a kind can be selected on.
fn selectable_fields(kind: &ResourceKind) -> &'static [&'static str] {
    if *kind == NAMESPACES {
        &["status.phase"]
    } else if *kind == CORE_EVENTS {
        &[
            "involvedObject.kind",
            "involvedObject.name",
            "involvedObject.namespace",
            "involvedObject.uid",
            "reason",
            "type",
            "source",
            "reportingComponent",
        ]
    } else {
        &[]
    }
}

/// The selectors of a list or watch.
pub struct Filter {
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Filter {
    pub fn from_request(kind: &ResourceKind, req: &ApiRequest) -> Result<Filter, ApiError> {
        let labels = LabelSelector::parse(req.query.get("labelSelector").unwrap_or(""))
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let fields = FieldSelector::parse(
            req.query.get("fieldSelector").unwrap_or(""),
            selectable_fields(kind),
        )
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
        Ok(Filter { labels, fields })
    }

    pub fn matches(&self, object: &Value) -> bool {
        self.labels.matches_object(object) && self.fields.matches_object(object)
    }
}

pub fn list(
    shared: &Shared,
    req: &ApiRequest,
    kind: &ResourceKind,
    namespace: Option<&str>,
) -> ApiResult {
    let filter = Filter::from_request(kind, req)?;
    if req.query.watch()? {
        return watch::start(shared, req, *kind, namespace, filter);
    }
    let (objects, rv) = {
        let store = lock(&shared.store);
        let objects: Vec<Arc<Value>> = store
            .list(kind, namespace)
            .into_iter()
            .filter(|o| filter.matches(o))
            .collect();
        (objects, store.current_rv())
    };
    if table::wanted(req.accept.as_deref()) {
        return Ok(Reply::ok(table::render(kind, &objects, rv)));
    }
    Ok(Reply::Raw {
        status: 200,
        body: list_body(kind, &objects, rv),
    })
}

/// The list body, written item by item. Items carry no apiVersion/kind, as in the
/// apiserver's own lists.
pub fn list_body(kind: &ResourceKind, objects: &[Arc<Value>], rv: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + objects.len() * 512);
    // Writes to a Vec cannot fail.
    let _ = write!(
        out,
        "{{\"kind\":\"{}\",\"apiVersion\":\"{}\",\"metadata\":{{\"resourceVersion\":\"{}\"}},\"items\":[",
        kind.list_kind(),
        kind.api_version(),
        rv
    );
    for (i, object) in objects.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_item(&mut out, object);
    }
    out.extend_from_slice(b"]}");
    out
}

fn write_item(out: &mut Vec<u8>, object: &Value) {
    let Some(map) = object.as_object() else {
        let _ = serde_json::to_writer(&mut *out, object);
        return;
    };
    out.push(b'{');
    let mut first = true;
    for (k, v) in map
        .iter()
        .filter(|(k, _)| *k != "apiVersion" && *k != "kind")
    {
        if !first {
            out.push(b',');
        }
        first = false;
        let _ = serde_json::to_writer(&mut *out, k);
        out.push(b':');
        let _ = serde_json::to_writer(&mut *out, v);
    }
    out.push(b'}');
}

pub fn get(
    shared: &Shared,
    req: &ApiRequest,
    kind: &ResourceKind,
    namespace: Option<&str>,
    name: &str,
) -> ApiResult {
    let (object, rv) = {
        let store = lock(&shared.store);
        (store.get(kind, namespace, name), store.current_rv())
    };
    let object = object.ok_or_else(|| ApiError::not_found(kind, name))?;
    if table::wanted(req.accept.as_deref()) {
        return Ok(Reply::ok(table::render(kind, &[object], rv)));
    }
    Ok(Reply::ok((*object).clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::NETWORK_POLICIES;
    use serde_json::json;

    #[test]
    fn list_body_is_valid_json_without_item_kinds() {
        let objects = vec![
            Arc::new(
                json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "a"}}),
            ),
            Arc::new(json!({"metadata": {"name": "b"}, "spec": {}})),
        ];
        let body: Value =
            serde_json::from_slice(&list_body(&NETWORK_POLICIES, &objects, 9)).unwrap();
        assert_eq!(body["kind"], "NetworkPolicyList");
        assert_eq!(body["metadata"]["resourceVersion"], "9");
        assert_eq!(body["items"][0], json!({"metadata": {"name": "a"}}));
        assert_eq!(body["items"].as_array().unwrap().len(), 2);
    }
}
