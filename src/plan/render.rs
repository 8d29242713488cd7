//! A plan as structured entries for `Outcome::extra` (JSON, and the text the CLI prints).

use super::Plan;
use serde_json::{json, Map, Value};

impl Plan {
    /// Plan entries, drift, would-open namespaces, the governed namespaces, blockers, held
    /// policies, policies ignored outside the scope (`ignored`) and skipped namespaces, for
    /// `Outcome::extra`.
    pub fn to_extra(&self) -> Map<String, Value> {
        let mut extra = Map::new();
        let entries: Vec<Value> = self
            .writes
            .iter()
            .map(|w| {
                let mut e = json!({
                    "action": w.action,
                    "namespace": w.key.namespace,
                    "name": w.key.name,
                });
                if let Some(d) = &w.desired {
                    e["bundle"] = json!(d.bundle);
                    e["contentHash"] = json!(d.content_hash);
                }
                e
            })
            .collect();
        extra.insert("plan".into(), Value::Array(entries));
        extra.insert("drift".into(), json!(self.drift));
        extra.insert("wouldOpen".into(), json!(self.would_open));
        extra.insert("governed".into(), json!(self.governed));
        if !self.blockers.is_empty() {
            extra.insert("blockers".into(), json!(self.blockers));
        }
        if !self.held.is_empty() {
            extra.insert("held".into(), json!(self.held));
        }
        if !self.foreign_labelled.is_empty() {
            extra.insert("ignored".into(), json!(self.foreign_labelled));
        }
        if !self.skipped_namespaces.is_empty() {
            extra.insert("skippedNamespaces".into(), json!(self.skipped_namespaces));
        }
        extra
    }
}
