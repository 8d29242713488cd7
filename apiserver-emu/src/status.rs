//! metav1.Status error bodies, shaped exactly as kube-apiserver writes them, so that
//! kubectl and kube-rs parse ours as they parse the real ones.

use serde_json::{json, Map, Value};

use crate::resources::ResourceKind;

/// One entry of `details.causes[]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    pub reason: String,
    pub message: String,
    pub field: String,
}

/// A failed request, carried to the response as a metav1.Status.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
    /// Seconds for a `Retry-After` header (429/503).
    pub retry_after: Option<u64>,
    /// `metadata.continue` of the Status: a token that resumes an expired list.
    pub list_continue: Option<String>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
            retry_after: None,
            list_continue: None,
        }
    }

    fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(400, "BadRequest", message)
    }

    pub fn not_found(kind: &ResourceKind, name: &str) -> Self {
        ApiError::new(
            404,
            "NotFound",
            format!("{} \"{}\" not found", kind.qualified_resource(), name),
        )
        .with_details(resource_details(kind, name))
    }

    /// 404 for a path no served resource answers.
    pub fn no_such_resource() -> Self {
        ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
        .with_details(json!({}))
    }

    pub fn already_exists(kind: &ResourceKind, name: &str) -> Self {
        ApiError::new(
            409,
            "AlreadyExists",
            format!("{} \"{}\" already exists", kind.qualified_resource(), name),
        )
        .with_details(resource_details(kind, name))
    }

    /// 409 with the apiserver's optimistic-lock message (`OptimisticLockErrorMsg`), or a
    /// precondition explanation.
    pub fn conflict(kind: &ResourceKind, name: &str, why: &str) -> Self {
        ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{}\": {}",
                kind.qualified_resource(),
                name,
                why
            ),
        )
        .with_details(resource_details(kind, name))
    }

    pub fn optimistic_lock(kind: &ResourceKind, name: &str) -> Self {
        ApiError::conflict(
            kind,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// 422 Invalid: `Kind.group "name" is invalid: <aggregate>` with one cause per error.
    pub fn invalid(
        qualified_kind: &str,
        group: &str,
        kind: &str,
        name: &str,
        causes: Vec<Cause>,
    ) -> Self {
        let mut details = Map::new();
        details.insert("name".into(), json!(name));
        if !group.is_empty() {
            details.insert("group".into(), json!(group));
        }
        details.insert("kind".into(), json!(kind));
        let full_messages: Vec<String> = causes
            .iter()
            .map(|c| {
                if c.field.is_empty() {
                    c.message.clone()
                } else {
                    format!("{}: {}", c.field, c.message)
                }
            })
            .collect();
        details.insert(
            "causes".into(),
            Value::Array(
                causes
                    .iter()
                    .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
                    .collect(),
            ),
        );
        ApiError::new(
            422,
            "Invalid",
            format!(
                "{} \"{}\" is invalid: {}",
                qualified_kind,
                name,
                aggregate_message(&full_messages)
            ),
        )
        .with_details(Value::Object(details))
    }

    pub fn invalid_for(kind: &ResourceKind, name: &str, causes: Vec<Cause>) -> Self {
        ApiError::invalid(&kind.qualified_kind(), kind.group, kind.kind, name, causes)
    }

    /// 403 from the NamespaceLifecycle admission plugin.
    pub fn namespace_terminating(kind: &ResourceKind, name: &str, namespace: &str) -> Self {
        let mut details = resource_details(kind, name);
        if let Some(map) = details.as_object_mut() {
            map.insert(
                "causes".into(),
                json!([{
                    "reason": "NamespaceTerminating",
                    "message": format!("namespace {namespace} is being terminated"),
                    "field": "metadata.namespace",
                }]),
            );
        }
        ApiError::new(
            403,
            "Forbidden",
            format!(
                "{} \"{}\" is forbidden: unable to create new content in namespace {} because it is being terminated",
                kind.qualified_resource(),
                name,
                namespace
            ),
        )
        .with_details(details)
    }

    pub fn unauthorized() -> Self {
        ApiError::new(401, "Unauthorized", "Unauthorized")
    }

    pub fn method_not_allowed() -> Self {
        ApiError::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
        .with_details(json!({}))
    }

    pub fn unsupported_media_type(content_type: &str) -> Self {
        ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got {content_type:?})"
            ),
        )
    }

    /// A continue token from before the last compaction (etcd3's
    /// `handleCompactedErrorForPaging`): 410 Expired, carrying a token that resumes after
    /// the same key at the latest revision, for a client that accepts an inconsistent list.
    pub fn expired_continue(resume: String) -> Self {
        let mut e = ApiError::new(
            410,
            "Expired",
            "The provided continue parameter is too old to display a consistent list result. \
             You can start a new list without the continue parameter, or use the continue \
             token in this response to retrieve the remainder of the results. Continuing \
             with the provided token results in an inconsistent list - objects that were \
             created, modified, or deleted between the time the first chunk was returned \
             and now may show up in the list.",
        );
        e.list_continue = Some(resume);
        e
    }

    /// A watch from a resourceVersion before the compaction (the watch cache's
    /// "too old resource version: <asked> (<oldest kept - 1>)").
    pub fn expired_watch(asked: u64, compacted: u64) -> Self {
        ApiError::new(
            410,
            "Expired",
            format!(
                "too old resource version: {asked} ({})",
                compacted.saturating_sub(1)
            ),
        )
    }

    /// A list at a compacted resourceVersion (etcd3's `interpretListError`).
    pub fn expired_list() -> Self {
        ApiError::new(
            410,
            "Expired",
            "The resourceVersion for the provided list is too old.",
        )
    }

    pub fn too_large(limit: usize) -> Self {
        ApiError::new(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {limit}"),
        )
    }

    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        let mut e = ApiError::new(
            429,
            "TooManyRequests",
            "Too many requests, please try again later.",
        )
        .with_details(json!({"retryAfterSeconds": retry_after_secs}));
        e.retry_after = Some(retry_after_secs);
        e
    }

    /// An injected or internal failure with the reason kube-apiserver uses for that code.
    pub fn from_code(code: u16) -> Self {
        match code {
            500 => ApiError::new(500, "InternalError", "Internal error occurred: injected fault")
                .with_details(json!({"causes": [{"message": "injected fault"}]})),
            503 => ApiError::new(503, "ServiceUnavailable", "the server is currently unable to handle the request"),
            504 => ApiError::new(504, "Timeout", "the server was unable to return a response in the time allotted"),
            429 => ApiError::too_many_requests(1),
            409 => ApiError::new(409, "Conflict", "the object has been modified; please apply your changes to the latest version and try again"),
            404 => ApiError::no_such_resource(),
            403 => ApiError::new(403, "Forbidden", "forbidden: injected fault"),
            401 => ApiError::unauthorized(),
            400 => ApiError::bad_request("injected fault"),
            other => ApiError::new(other, "", format!("injected fault (HTTP {other})")),
        }
    }

    /// The metav1.Status body.
    pub fn to_status(&self) -> Value {
        let mut status = Map::new();
        status.insert("kind".into(), json!("Status"));
        status.insert("apiVersion".into(), json!("v1"));
        let metadata = match &self.list_continue {
            Some(token) => json!({ "continue": token }),
            None => json!({}),
        };
        status.insert("metadata".into(), metadata);
        status.insert("status".into(), json!("Failure"));
        status.insert("message".into(), json!(self.message));
        if !self.reason.is_empty() {
            status.insert("reason".into(), json!(self.reason));
        }
        if let Some(details) = &self.details {
            status.insert("details".into(), details.clone());
        }
        status.insert("code".into(), json!(self.code));
        Value::Object(status)
    }
}

/// `details` for errors about one object: `{name, group, kind}` where kind is the plural.
fn resource_details(kind: &ResourceKind, name: &str) -> Value {
    let mut details = Map::new();
    details.insert("name".into(), json!(name));
    if !kind.group.is_empty() {
        details.insert("group".into(), json!(kind.group));
    }
    details.insert("kind".into(), json!(kind.plural));
    Value::Object(details)
}

/// utilerrors.NewAggregate(...).Error(): one message alone, several as `[a, b]`, with
/// duplicates removed.
pub fn aggregate_message(messages: &[String]) -> String {
    let mut unique: Vec<&String> = Vec::new();
    for m in messages {
        if !unique.contains(&m) {
            unique.push(m);
        }
    }
    match unique.as_slice() {
        [] => String::new(),
        [one] => (*one).clone(),
        many => format!(
            "[{}]",
            many.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The `Success` Status a DELETE of most kinds answers with.
pub fn delete_success(kind: &ResourceKind, name: &str, uid: Option<&str>) -> Value {
    let mut details = Map::new();
    details.insert("name".into(), json!(name));
    if !kind.group.is_empty() {
        details.insert("group".into(), json!(kind.group));
    }
    details.insert("kind".into(), json!(kind.plural));
    if let Some(uid) = uid {
        details.insert("uid".into(), json!(uid));
    }
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": Value::Object(details)})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{CONFIGMAPS, NETWORK_POLICIES};

    #[test]
    fn not_found_names_the_qualified_resource() {
        let s = ApiError::not_found(&NETWORK_POLICIES, "deny").to_status();
        assert_eq!(
            s["message"],
            "networkpolicies.networking.k8s.io \"deny\" not found"
        );
        assert_eq!(s["details"]["kind"], "networkpolicies");
        assert_eq!(s["details"]["group"], "networking.k8s.io");
        assert_eq!(s["code"], 404);
        let core = ApiError::not_found(&CONFIGMAPS, "c").to_status();
        assert!(core["details"].get("group").is_none());
    }

    #[test]
    fn invalid_message_brackets_only_several_errors() {
        let one = ApiError::invalid_for(
            &NETWORK_POLICIES,
            "p",
            vec![Cause {
                reason: "FieldValueRequired".into(),
                message: "Required value".into(),
                field: "spec.x".into(),
            }],
        );
        assert_eq!(
            one.message,
            "NetworkPolicy.networking.k8s.io \"p\" is invalid: spec.x: Required value"
        );
        let two = ApiError::invalid_for(
            &NETWORK_POLICIES,
            "p",
            vec![
                Cause {
                    reason: "FieldValueRequired".into(),
                    message: "Required value".into(),
                    field: "spec.x".into(),
                },
                Cause {
                    reason: "FieldValueInvalid".into(),
                    message: "Invalid value: 1".into(),
                    field: "spec.y".into(),
                },
            ],
        );
        assert_eq!(
            two.message,
            "NetworkPolicy.networking.k8s.io \"p\" is invalid: [spec.x: Required value, spec.y: Invalid value: 1]"
        );
        assert_eq!(two.to_status()["details"]["kind"], "NetworkPolicy");
    }
}
