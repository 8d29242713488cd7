//! The `would-open-namespace` guard (DESIGN §3.8). NetworkPolicies are allow-lists: a pod
//! selected by no policy is not isolated at all. A revision that leaves a governed
//! namespace which has policies today with none would suddenly unisolate every pod in it,
//! the NetworkPolicy form of "an empty repository prunes everything".

use super::{BundleView, DesiredObject, LiveSet, ObjectKey};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WouldOpen {
    pub namespace: String,
    pub bundle: String,
    /// Policies in the namespace today.
    pub live_policies: usize,
    /// The bundle's `allowOpen:` lists this namespace.
    pub allowed: bool,
}

pub(super) fn would_open(
    views: &[BundleView<'_>],
    desired: &BTreeMap<ObjectKey, DesiredObject>,
    live: &LiveSet,
) -> Vec<WouldOpen> {
    let mut out = Vec::new();
    for b in views {
        for ns in b.namespaces {
            let live_policies = live.count_in(ns);
            let desired_here = desired.keys().any(|k| &k.namespace == ns);
            if live_policies > 0 && !desired_here {
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
