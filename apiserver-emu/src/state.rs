//! State shared by the server's tasks and the library handle.

use std::sync::{Mutex, MutexGuard};

use serde_json::json;

use crate::faults::FaultSet;
use crate::records::RequestRecord;
use crate::resources::NAMESPACES;
use crate::server_fields;
use crate::store::Store;

pub struct Shared {
    pub store: Mutex<Store>,
    pub faults: Mutex<FaultSet>,
    pub requests: Mutex<Vec<RequestRecord>>,
    pub token: Option<String>,
    pub initial_namespaces: Vec<String>,
}

/// Lock, carrying on after a panic elsewhere: the data is plain values, never left
/// half-updated by the code that holds these locks.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    pub fn new(token: Option<String>, initial_namespaces: Vec<String>) -> Shared {
        let shared = Shared {
            store: Mutex::new(Store::default()),
            faults: Mutex::new(FaultSet::default()),
            requests: Mutex::new(Vec::new()),
            token,
            initial_namespaces,
        };
        for ns in shared.initial_namespaces.clone() {
            shared.create_namespace(&ns);
        }
        shared
    }

    /// Create a namespace directly (no validation), as the emulator's seed data.
    pub fn create_namespace(&self, name: &str) {
        let mut store = lock(&self.store);
        if store.get(&NAMESPACES, None, name).is_some() {
            return;
        }
        let object = json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": name,
                "uid": server_fields::new_uid(),
                "creationTimestamp": server_fields::now_rfc3339(),
                "labels": {"kubernetes.io/metadata.name": name},
            },
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        });
        store.commit(&NAMESPACES, None, name, Some(object));
    }

    /// Put a namespace into the Terminating phase, as a pending deletion would.
    /// Returns false if it does not exist.
    pub fn set_namespace_terminating(&self, name: &str) -> bool {
        let mut store = lock(&self.store);
        let Some(current) = store.get(&NAMESPACES, None, name) else {
            return false;
        };
        let mut object = (*current).clone();
        if let Some(meta) = object.get_mut("metadata").and_then(|m| m.as_object_mut()) {
            meta.insert(
                "deletionTimestamp".into(),
                json!(server_fields::now_rfc3339()),
            );
        }
        if let Some(map) = object.as_object_mut() {
            map.insert("status".into(), json!({"phase": "Terminating"}));
        }
        store.commit(&NAMESPACES, None, name, Some(object));
        true
    }

    pub fn reset(&self) {
        lock(&self.store).clear();
        lock(&self.faults).clear();
        lock(&self.requests).clear();
        for ns in self.initial_namespaces.clone() {
            self.create_namespace(&ns);
        }
    }
}
