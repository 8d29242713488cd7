//! The `/_emu/` control surface (see README.md): faults, request log, change history,
//! reset, namespace phases. Not authenticated, not logged, never faulted.

use serde::Serialize;
use serde_json::{json, Value};

use crate::faults::FaultRule;
use crate::records::ChangeRecord;
use crate::state::{lock, Shared};

pub struct ControlReply {
    pub status: u16,
    pub body: Value,
}

fn ok(body: impl Serialize) -> ControlReply {
    ControlReply {
        status: 200,
        body: serde_json::to_value(body).unwrap_or(Value::Null),
    }
}

fn error(status: u16, message: impl Into<String>) -> ControlReply {
    ControlReply {
        status,
        body: json!({"error": message.into()}),
    }
}

pub fn history(shared: &Shared) -> Vec<ChangeRecord> {
    lock(&shared.store)
        .history()
        .iter()
        .map(|c| c.to_record())
        .collect()
}

pub fn handle(shared: &Shared, method: &http::Method, path: &str, body: &[u8]) -> ControlReply {
    let rest = path.trim_start_matches("/_emu/").trim_end_matches('/');
    let segments: Vec<&str> = rest.split('/').collect();
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["requests"]) => ok(lock(&shared.requests).clone()),
        ("GET", ["history"]) => ok(history(shared)),
        ("GET", ["faults"]) => ok(lock(&shared.faults).rules()),
        ("POST", ["faults"]) => match serde_json::from_slice::<FaultRule>(body) {
            Ok(rule) => {
                lock(&shared.faults).add(rule.clone());
                ok(rule)
            }
            Err(e) => error(400, format!("invalid fault rule: {e}")),
        },
        ("DELETE", ["faults"]) => {
            lock(&shared.faults).clear();
            ok(json!({}))
        }
        ("POST", ["compact"]) => {
            let rv = lock(&shared.store).compact();
            ok(json!({ "compactedResourceVersion": rv.to_string() }))
        }
        ("POST", ["reset"]) => {
            shared.reset();
            ok(json!({}))
        }
        ("POST", ["namespaces", name]) => {
            shared.create_namespace(name);
            ok(json!({}))
        }
        ("POST", ["namespaces", name, "terminating"]) => {
            if shared.set_namespace_terminating(name) {
                ok(json!({}))
            } else {
                error(404, format!("namespace {name} not found"))
            }
        }
        _ => error(
            404,
            format!("no control endpoint {} {path}", method.as_str()),
        ),
    }
}
