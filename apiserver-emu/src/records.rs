//! What the emulator remembers for tests: every API request and every state change.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// One API request (control requests under `/_emu/` are not recorded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    pub seq: u64,
    pub time: SystemTime,
    pub method: String,
    pub path: String,
    pub query: String,
    pub status: u16,
    pub user_agent: Option<String>,
    /// The `fieldManager` query parameter, if the client sent one.
    pub field_manager: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChangeVerb {
    Created,
    Updated,
    Deleted,
}

/// One change to stored state, in the order it was applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeRecord {
    pub seq: u64,
    pub time: SystemTime,
    /// The resourceVersion the change produced (for deletions, the version of the deletion).
    pub resource_version: u64,
    /// The plural (`networkpolicies`), or `events.events.k8s.io` for events.k8s.io/v1.
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub verb: ChangeVerb,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}
