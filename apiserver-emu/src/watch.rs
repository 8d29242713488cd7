//! `?watch=true`: a stream of JSON watch events, one per line, for one kind.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use serde_json::{json, Value};
use tokio::sync::broadcast;
use tokio::time::Instant;

use crate::api_read::Filter;
use crate::records::ChangeVerb;
use crate::request::{ApiRequest, ApiResult, Reply};
use crate::resources::ResourceKind;
use crate::state::{lock, Shared};
use crate::status::ApiError;
use crate::store::StoredChange;

pub type WatchStream = Pin<Box<dyn Stream<Item = Result<Bytes, Infallible>> + Send>>;

/// Longest a watch stays open when the client gives no `timeoutSeconds`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

fn event_line(event_type: &str, kind: &ResourceKind, object: &Value) -> Bytes {
    let mut object = object.clone();
    if let Some(map) = object.as_object_mut() {
        map.insert("apiVersion".into(), json!(kind.api_version()));
        map.insert("kind".into(), json!(kind.kind));
    }
    let mut line =
        serde_json::to_vec(&json!({"type": event_type, "object": object})).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}

/// The event a change produces for a watcher with this filter, if any: an object that
/// starts or stops matching is ADDED or DELETED, as the apiserver's watch cache does.
fn event_for(
    change: &StoredChange,
    kind: &ResourceKind,
    namespace: Option<&str>,
    filter: &Filter,
) -> Option<Bytes> {
    if change.kind != *kind || namespace.is_some_and(|ns| change.namespace.as_deref() != Some(ns)) {
        return None;
    }
    let before = change.before.as_deref().filter(|o| filter.matches(o));
    let after = change.after.as_deref().filter(|o| filter.matches(o));
    match (change.verb, before, after) {
        (ChangeVerb::Deleted, Some(b), _) => {
            let mut gone = b.clone();
            if let Some(meta) = gone.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.insert(
                    "resourceVersion".into(),
                    json!(change.resource_version.to_string()),
                );
            }
            Some(event_line("DELETED", kind, &gone))
        }
        (_, None, Some(a)) => Some(event_line("ADDED", kind, a)),
        (_, Some(_), Some(a)) => Some(event_line("MODIFIED", kind, a)),
        (_, Some(b), None) => Some(event_line("DELETED", kind, b)),
        _ => None,
    }
}

struct WatchState {
    pending: VecDeque<Bytes>,
    changes: broadcast::Receiver<StoredChange>,
    kind: ResourceKind,
    namespace: Option<String>,
    filter: Filter,
    deadline: Instant,
    /// End the stream once `pending` is sent (an ERROR event was queued).
    closing: bool,
}

pub fn start(
    shared: &Shared,
    req: &ApiRequest,
    kind: ResourceKind,
    namespace: Option<&str>,
    filter: Filter,
) -> ApiResult {
    let timeout = match req.query.get("timeoutSeconds") {
        Some(t) => Duration::from_secs(
            t.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid timeoutSeconds: {t:?}")))?,
        ),
        None => DEFAULT_TIMEOUT,
    };
    let since = match req.query.get("resourceVersion") {
        None | Some("") | Some("0") => None,
        Some(rv) => Some(
            rv.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv:?}")))?,
        ),
    };
    let store = lock(&shared.store);
    let changes = store.subscribe();
    let mut pending = VecDeque::new();
    let mut closing = false;
    match since {
        // As the apiserver's watch cache: a version from before the compaction is one ERROR
        // event (410 Expired) on a 200 stream, which then ends; the client lists again.
        Some(rv) if rv < store.compacted_rv() => {
            let expired = ApiError::expired_watch(rv, store.compacted_rv());
            let mut line =
                serde_json::to_vec(&json!({"type": "ERROR", "object": expired.to_status()}))
                    .unwrap_or_default();
            line.push(b'\n');
            pending.push_back(Bytes::from(line));
            closing = true;
        }
        None => {
            for object in store
                .list(&kind, namespace)
                .iter()
                .filter(|o| filter.matches(o))
            {
                pending.push_back(event_line("ADDED", &kind, object));
            }
        }
        Some(rv) => {
            for change in store.history().iter().filter(|c| c.resource_version > rv) {
                if let Some(line) = event_for(change, &kind, namespace, &filter) {
                    pending.push_back(line);
                }
            }
        }
    }
    drop(store);
    let state = WatchState {
        pending,
        changes,
        kind,
        namespace: namespace.map(str::to_string),
        filter,
        deadline: Instant::now() + timeout,
        closing,
    };
    let stream = futures::stream::unfold(state, |mut state| async move {
        loop {
            if let Some(line) = state.pending.pop_front() {
                return Some((Ok(line), state));
            }
            if state.closing {
                return None;
            }
            let next = tokio::time::timeout_at(state.deadline, state.changes.recv()).await;
            match next {
                Ok(Ok(change)) => {
                    if let Some(line) = event_for(
                        &change,
                        &state.kind,
                        state.namespace.as_deref(),
                        &state.filter,
                    ) {
                        return Some((Ok(line), state));
                    }
                }
                // Timed out, lagged behind, or the store is gone: end the watch; clients re-list.
                _ => return None,
            }
        }
    });
    Ok(Reply::Watch(Box::pin(stream)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::NETWORK_POLICIES;
    use std::sync::Arc;
    use std::time::SystemTime;

    fn change(verb: ChangeVerb, before: Option<Value>, after: Option<Value>) -> StoredChange {
        StoredChange {
            seq: 1,
            time: SystemTime::now(),
            resource_version: 5,
            kind: NETWORK_POLICIES,
            namespace: Some("a".into()),
            name: "p".into(),
            verb,
            before: before.map(Arc::new),
            after: after.map(Arc::new),
        }
    }

    fn filter(labels: &str) -> Filter {
        let req = ApiRequest {
            method: http::Method::GET,
            route: crate::route::Route::NotFound,
            query: crate::query::Query::parse(&format!("labelSelector={labels}")).unwrap(),
            content_type: None,
            accept: None,
            user_agent: None,
            body: Bytes::new(),
        };
        Filter::from_request(&NETWORK_POLICIES, &req).unwrap()
    }

    fn event_type(line: Option<Bytes>) -> Option<String> {
        line.map(|l| {
            serde_json::from_slice::<Value>(&l).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_string()
        })
    }

    #[test]
    fn leaving_the_selector_is_a_deletion_for_the_watcher() {
        let labelled = json!({"metadata": {"name": "p", "labels": {"x": "y"}}});
        let plain = json!({"metadata": {"name": "p"}});
        let f = filter("x=y");
        let e = |c: StoredChange| event_type(event_for(&c, &NETWORK_POLICIES, Some("a"), &f));
        assert_eq!(
            e(change(
                ChangeVerb::Updated,
                Some(labelled.clone()),
                Some(plain.clone())
            ))
            .as_deref(),
            Some("DELETED")
        );
        assert_eq!(
            e(change(
                ChangeVerb::Updated,
                Some(plain.clone()),
                Some(labelled.clone())
            ))
            .as_deref(),
            Some("ADDED")
        );
        assert_eq!(
            e(change(
                ChangeVerb::Updated,
                Some(labelled.clone()),
                Some(labelled.clone())
            ))
            .as_deref(),
            Some("MODIFIED")
        );
        assert_eq!(
            e(change(ChangeVerb::Created, None, Some(plain))).as_deref(),
            None
        );
        assert_eq!(
            event_type(event_for(
                &change(ChangeVerb::Deleted, Some(labelled), None),
                &NETWORK_POLICIES,
                Some("b"),
                &f
            )),
            None
        );
    }
}
