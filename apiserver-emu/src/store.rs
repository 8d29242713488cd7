//! In-memory state: objects per resource, one global resourceVersion counter, and the
//! ordered history of every change. Objects are shared as `Arc<Value>` so a list of
//! thousands of objects clones pointers, not trees.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use serde_json::Value;
use tokio::sync::broadcast;

use crate::records::{ChangeRecord, ChangeVerb};
use crate::resources::{self, ResourceKind, NAMESPACES};

/// (namespace or "", name)
type ObjectKey = (String, String);

/// A change as stored: objects stay shared until a test asks for them.
#[derive(Debug, Clone)]
pub struct StoredChange {
    pub seq: u64,
    pub time: SystemTime,
    pub resource_version: u64,
    pub kind: ResourceKind,
    pub namespace: Option<String>,
    pub name: String,
    pub verb: ChangeVerb,
    pub before: Option<Arc<Value>>,
    pub after: Option<Arc<Value>>,
}

impl StoredChange {
    pub fn to_record(&self) -> ChangeRecord {
        ChangeRecord {
            seq: self.seq,
            time: self.time,
            resource_version: self.resource_version,
            kind: if self.kind.group == "events.k8s.io" {
                self.kind.qualified_resource()
            } else {
                self.kind.plural.to_string()
            },
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            verb: self.verb,
            before: self.before.as_deref().cloned(),
            after: self.after.as_deref().cloned(),
        }
    }
}

/// An object and its JSON as a list item (no apiVersion/kind), encoded once when stored
/// so that a list of thousands is a concatenation.
struct Stored {
    object: Arc<Value>,
    encoded: Arc<[u8]>,
}

pub struct Store {
    last_rv: u64,
    /// Revisions before this one are compacted away (`/_emu/compact`): a continue token
    /// from a list at an older revision has expired, as after etcd's compaction.
    compacted_rv: u64,
    objects: Vec<BTreeMap<ObjectKey, Stored>>,
    history: Vec<StoredChange>,
    changes: broadcast::Sender<StoredChange>,
}

impl Default for Store {
    fn default() -> Self {
        let (changes, _) = broadcast::channel(4096);
        Store {
            last_rv: 0,
            compacted_rv: 0,
            objects: resources::ALL.iter().map(|_| BTreeMap::new()).collect(),
            history: Vec::new(),
            changes,
        }
    }
}

fn key(namespace: Option<&str>, name: &str) -> ObjectKey {
    (namespace.unwrap_or("").to_string(), name.to_string())
}

fn set_resource_version(object: &mut Value, rv: u64) {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("resourceVersion".into(), Value::String(rv.to_string()));
    }
}

/// An object as a list item: its JSON without apiVersion and kind, as the apiserver's
/// lists carry items.
pub fn list_item_json(object: &Value) -> Vec<u8> {
    let Some(map) = object.as_object() else {
        return serde_json::to_vec(object).unwrap_or_default();
    };
    let mut out = Vec::with_capacity(512);
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
        // Writing JSON into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut out, k);
        out.push(b':');
        let _ = serde_json::to_writer(&mut out, v);
    }
    out.push(b'}');
    out
}

impl Store {
    pub fn current_rv(&self) -> u64 {
        self.last_rv
    }

    /// Compact history up to the current revision, as etcd's periodic compaction does:
    /// continue tokens from lists at earlier revisions expire. Returns that revision.
    pub fn compact(&mut self) -> u64 {
        self.compacted_rv = self.last_rv;
        self.compacted_rv
    }

    pub fn compacted_rv(&self) -> u64 {
        self.compacted_rv
    }

    pub fn get(
        &self,
        kind: &ResourceKind,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Arc<Value>> {
        self.objects
            .get(resources::index_of(kind))?
            .get(&key(namespace, name))
            .map(|s| s.object.clone())
    }

    /// Objects of a kind, in one namespace or all, ordered by namespace then name.
    pub fn list(&self, kind: &ResourceKind, namespace: Option<&str>) -> Vec<Arc<Value>> {
        let Some(map) = self.objects.get(resources::index_of(kind)) else {
            return Vec::new();
        };
        match namespace {
            Some(ns) => map
                .range((ns.to_string(), String::new())..)
                .take_while(|((n, _), _)| n == ns)
                .map(|(_, s)| s.object.clone())
                .collect(),
            None => map.values().map(|s| s.object.clone()).collect(),
        }
    }

    /// The stored objects with their list-item encoding, in [`Store::list`] order, by
    /// reference, starting strictly after `after` (a continue token's key).
    pub fn iter_encoded<'a>(
        &'a self,
        kind: &ResourceKind,
        namespace: Option<&'a str>,
        after: Option<&ObjectKey>,
    ) -> impl Iterator<Item = (&'a Arc<Value>, &'a Arc<[u8]>)> + 'a {
        use std::ops::Bound;
        let idx = resources::index_of(kind);
        let objects = self.objects.get(idx);
        let start = match (namespace, after) {
            (Some(ns), Some(a)) if a.0.as_str() >= ns => Bound::Excluded(a.clone()),
            (Some(ns), _) => Bound::Included((ns.to_string(), String::new())),
            (None, Some(a)) => Bound::Excluded(a.clone()),
            (None, None) => Bound::Unbounded,
        };
        objects
            .into_iter()
            .flat_map(move |map| map.range((start.clone(), Bound::Unbounded)))
            .take_while(move |((n, _), _)| namespace.is_none_or(|ns| n == ns))
            .map(|(_, s)| (&s.object, &s.encoded))
    }

    pub fn subscribe(&self) -> broadcast::Receiver<StoredChange> {
        self.changes.subscribe()
    }

    pub fn history(&self) -> &[StoredChange] {
        &self.history
    }

    /// Store (or with `after == None`, remove) an object under a fresh resourceVersion,
    /// and record the change. Returns the stored object.
    pub fn commit(
        &mut self,
        kind: &ResourceKind,
        namespace: Option<&str>,
        name: &str,
        after: Option<Value>,
    ) -> Option<Arc<Value>> {
        self.last_rv += 1;
        let rv = self.last_rv;
        let idx = resources::index_of(kind);
        let k = key(namespace, name);
        let stored = after.map(|mut v| {
            set_resource_version(&mut v, rv);
            Arc::new(v)
        });
        let map = self.objects.get_mut(idx)?;
        let before = match &stored {
            Some(obj) => map.insert(
                k,
                Stored {
                    object: obj.clone(),
                    encoded: Arc::from(list_item_json(obj)),
                },
            ),
            None => map.remove(&k),
        }
        .map(|s| s.object);
        let verb = match (&before, &stored) {
            (None, _) => ChangeVerb::Created,
            (Some(_), Some(_)) => ChangeVerb::Updated,
            (Some(_), None) => ChangeVerb::Deleted,
        };
        let change = StoredChange {
            seq: self.history.len() as u64 + 1,
            time: SystemTime::now(),
            resource_version: rv,
            kind: *kind,
            namespace: namespace.map(str::to_string),
            name: name.to_string(),
            verb,
            before,
            after: stored.clone(),
        };
        // Nobody watching is the normal case, not an error.
        let _ = self.changes.send(change.clone());
        self.history.push(change);
        stored
    }

    /// Delete a namespace and, as the namespace controller would, everything in it.
    pub fn delete_namespace(&mut self, name: &str) {
        for kind in resources::ALL.iter().filter(|k| k.namespaced) {
            let names: Vec<String> = self
                .list(kind, Some(name))
                .iter()
                .filter_map(|o| {
                    o.pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .collect();
            for object in names {
                self.commit(kind, Some(name), &object, None);
            }
        }
        self.commit(&NAMESPACES, None, name, None);
    }

    /// Drop every object and all history; the resourceVersion counter keeps counting so
    /// versions a client saw before the reset never come back.
    pub fn clear(&mut self) {
        for map in &mut self.objects {
            map.clear();
        }
        self.history.clear();
        self.compacted_rv = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{CONFIGMAPS, NETWORK_POLICIES};
    use serde_json::json;

    fn obj(name: &str) -> Value {
        json!({"metadata": {"name": name}})
    }

    #[test]
    fn every_change_takes_the_next_version_and_is_recorded() {
        let mut s = Store::default();
        s.commit(&NETWORK_POLICIES, Some("a"), "p", Some(obj("p")));
        s.commit(&NETWORK_POLICIES, Some("a"), "p", Some(obj("p")));
        s.commit(&NETWORK_POLICIES, Some("a"), "p", None);
        let verbs: Vec<_> = s
            .history()
            .iter()
            .map(|c| (c.resource_version, c.verb))
            .collect();
        assert_eq!(
            verbs,
            [
                (1, ChangeVerb::Created),
                (2, ChangeVerb::Updated),
                (3, ChangeVerb::Deleted)
            ]
        );
        assert!(s.get(&NETWORK_POLICIES, Some("a"), "p").is_none());
        assert_eq!(
            s.history()[1].after.as_ref().unwrap()["metadata"]["resourceVersion"],
            "2"
        );
    }

    #[test]
    fn namespace_listing_does_not_leak_into_neighbours() {
        let mut s = Store::default();
        for ns in ["a", "ab", "b"] {
            s.commit(&CONFIGMAPS, Some(ns), "x", Some(obj("x")));
        }
        assert_eq!(s.list(&CONFIGMAPS, Some("a")).len(), 1);
        assert_eq!(s.list(&CONFIGMAPS, None).len(), 3);
    }

    #[test]
    fn deleting_a_namespace_deletes_its_content() {
        let mut s = Store::default();
        s.commit(&NAMESPACES, None, "a", Some(obj("a")));
        s.commit(&CONFIGMAPS, Some("a"), "x", Some(obj("x")));
        s.commit(&NETWORK_POLICIES, Some("b"), "y", Some(obj("y")));
        s.delete_namespace("a");
        assert!(s.list(&CONFIGMAPS, None).is_empty());
        assert_eq!(s.list(&NETWORK_POLICIES, None).len(), 1);
        assert!(s.get(&NAMESPACES, None, "a").is_none());
    }
}
