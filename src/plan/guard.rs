//! The `would-open-namespace` guard (DESIGN §3.8). NetworkPolicies are allow-lists: a pod
//! selected by no policy is not isolated at all. A revision that leaves a governed
//! namespace which has policies today with none would suddenly unisolate every pod in it,
//! the NetworkPolicy form of "an empty repository prunes everything".

use super::{BundleView, LiveSet, ObjectKey};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WouldOpen {
    pub namespace: String,
    pub bundle: String,
    /// Policies in the namespace today.
    pub live_policies: usize,
    /// The bundle's `allowOpen:` lists this namespace.
    pub allowed: bool,
}

pub(super) fn would_open<V>(
    views: &[BundleView<'_>],
    desired: &BTreeMap<ObjectKey, V>,
    live: &LiveSet,
) -> Vec<WouldOpen> {
    // Counted once: per namespace, a scan of all policies would be quadratic at 500
    // namespaces × 10,000 policies.
    let desired_in: BTreeSet<&str> = desired.keys().map(|k| k.namespace.as_str()).collect();
    let live_in = live.counts_by_namespace();
    let mut out = Vec::new();
    for b in views {
        for ns in b.namespaces {
            let live_policies = live_in.get(ns.as_str()).copied().unwrap_or(0);
            if live_policies > 0 && !desired_in.contains(ns.as_str()) {
                out.push(WouldOpen {
                    namespace: ns.clone(),
                    bundle: b.name.to_string(),
                    live_policies,
                    allowed: b.allow_open.contains(ns),
                });
            }
        }
    }
    out
}
