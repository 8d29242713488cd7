//! list, get and watch.

use std::io::Write;
use std::sync::Arc;

use serde_json::Value;

use crate::paging::{PageEnd, PageRequest};
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

    /// No label or field selector.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
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
    let page = PageRequest::parse(req.query.get("limit"), req.query.get("continue"))?;
    let (items, end, rv) = {
        let store = lock(&shared.store);
        if let Some(expired) = page.expired(store.compacted_rv()) {
            return Err(expired);
        }
        let rv = store.current_rv();
        // Only the page is cloned out of the store; the rest is walked by reference to
        // count it (remainingItemCount).
        let matching = store
            .iter_encoded(kind, namespace, page.after.as_ref())
            .filter(|(o, _)| filter.matches(o));
        let (items, end) = page.take(matching, rv, filter.is_empty(), |(o, _)| object_key(o));
        let items: Vec<(Arc<Value>, Arc<[u8]>)> = items
            .into_iter()
            .map(|(o, e)| (o.clone(), e.clone()))
            .collect();
        (items, end, rv)
    };
    if table::wanted(req.accept.as_deref()) {
        let objects: Vec<Arc<Value>> = items.into_iter().map(|(o, _)| o).collect();
        let mut rendered = table::render(kind, &objects, rv);
        if let (Some(end), Some(meta)) = (&end, rendered.get_mut("metadata")) {
            meta["continue"] = Value::String(end.continue_token.clone());
            if let Some(remaining) = end.remaining {
                meta["remainingItemCount"] = Value::from(remaining);
            }
        }
        return Ok(Reply::ok(rendered));
    }
    let encoded: Vec<Arc<[u8]>> = items.into_iter().map(|(_, e)| e).collect();
    Ok(Reply::Raw {
        status: 200,
        body: list_body(kind, &encoded, rv, end.as_ref()),
    })
}

/// The key the store orders by (namespace empty when cluster-scoped), as the continue
/// token carries it.
fn object_key(object: &Value) -> (String, String) {
    let meta = |k: &str| {
        object
            .get("metadata")
            .and_then(|m| m.get(k))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    (meta("namespace"), meta("name"))
}

/// The list body: the header, then the items' stored encodings.
pub fn list_body(
    kind: &ResourceKind,
    items: &[Arc<[u8]>],
    rv: u64,
    end: Option<&PageEnd>,
) -> Vec<u8> {
    let total: usize = items.iter().map(|i| i.len() + 1).sum();
    let mut out = Vec::with_capacity(256 + total);
    let more = end
        .map(|e| {
            let count = e
                .remaining
                .map(|n| format!(",\"remainingItemCount\":{n}"))
                .unwrap_or_default();
            format!(",\"continue\":\"{}\"{count}", e.continue_token)
        })
        .unwrap_or_default();
    // Writes to a Vec cannot fail.
    let _ = write!(
        out,
        "{{\"kind\":\"{}\",\"apiVersion\":\"{}\",\"metadata\":{{\"resourceVersion\":\"{}\"{more}}},\"items\":[",
        kind.list_kind(),
        kind.api_version(),
        rv
    );
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(item);
    }
    out.extend_from_slice(b"]}");
    out
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
        let objects = [
            Arc::new(
                json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "a"}}),
            ),
            Arc::new(json!({"metadata": {"name": "b"}, "spec": {}})),
        ];
        let items: Vec<Arc<[u8]>> = objects
            .iter()
            .map(|o| Arc::from(crate::store::list_item_json(o)))
            .collect();
        let body: Value =
            serde_json::from_slice(&list_body(&NETWORK_POLICIES, &items, 9, None)).unwrap();
        assert_eq!(body["kind"], "NetworkPolicyList");
        assert_eq!(body["metadata"]["resourceVersion"], "9");
        assert_eq!(body["items"][0], json!({"metadata": {"name": "a"}}));
        assert_eq!(body["items"].as_array().unwrap().len(), 2);
    }
}
