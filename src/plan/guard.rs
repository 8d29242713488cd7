//! The `would-open-namespace` guard (docs/sync.md, "One cycle"). NetworkPolicies are allow-lists: a pod
//! selected by no policy is not isolated at all. A revision that leaves a namespace which
//! has policies today with none would suddenly unisolate every pod in it, the
//! NetworkPolicy form of "an empty repository prunes everything".
//!
//! It covers every namespace with policies in the live set (every policy of a governed
//! namespace, and every policy carrying our label anywhere), whatever the reason it would
//! end up with none: its policies dropped, the namespace dropped from a bundle's
//! `namespaces:`, the bundle deleted, or every bundle deleted. The acknowledgement is
//! explicit and signed: the namespace is listed under `allowOpen:` of any selected bundle
//! (bundle.yaml is signed). With no bundle selected at all nothing can acknowledge it.

use super::{Action, BundleView, LiveSet, ObjectKey, PlannedWrite};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WouldOpen {
    pub namespace: String,
    /// The selected bundle that governs the namespace; `None` when no bundle governs it
    /// any more (dropped from `namespaces:`, the bundle removed, or no bundle at all).
    pub bundle: Option<String>,
    /// Policies in the namespace today.
    pub live_policies: usize,
    /// A selected bundle's `allowOpen:` lists this namespace.
    pub allowed: bool,
    /// The bundle whose `allowOpen:` lists it, when one does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_by: Option<String>,
}

pub(super) fn would_open<V>(
    views: &[BundleView<'_>],
    desired: &BTreeMap<ObjectKey, V>,
    live: &LiveSet,
    writes: &[PlannedWrite],
    skipped: &BTreeSet<&str>,
) -> Vec<WouldOpen> {
    // Counted once per namespace: a scan of all policies per namespace would be quadratic
    // at 500 namespaces × 10,000 policies. A policy being deleted is not counted on either
    // side: it goes whatever the revision says.
    let deleted: BTreeSet<&ObjectKey> = writes
        .iter()
        .filter(|w| w.action == Action::Delete)
        .map(|w| &w.key)
        .collect();
    let mut before: BTreeMap<&str, usize> = BTreeMap::new();
    let mut after: BTreeSet<&str> = desired.keys().map(|k| k.namespace.as_str()).collect();
    for p in live.policies().filter(|p| !p.terminating) {
        *before.entry(p.key.namespace.as_str()).or_insert(0) += 1;
        if !deleted.contains(&p.key) {
            // Kept: a policy of the revision, or one netpol-sync leaves alone (another
            // team's, carrying our label outside the governed namespaces).
            after.insert(p.key.namespace.as_str());
        }
    }
    let governing: BTreeMap<&str, &str> = views
        .iter()
        .flat_map(|b| b.namespaces.iter().map(move |ns| (ns.as_str(), b.name)))
        .collect();
    let allowing: BTreeMap<&str, &str> = views
        .iter()
        .rev()
        .flat_map(|b| b.allow_open.iter().map(move |ns| (ns.as_str(), b.name)))
        .collect();
    before
        .into_iter()
        .filter(|(ns, n)| *n > 0 && !after.contains(ns) && !skipped.contains(ns))
        .map(|(ns, live_policies)| {
            let allowed_by = allowing.get(ns).map(|b| b.to_string());
            WouldOpen {
                namespace: ns.to_string(),
                bundle: governing.get(ns).map(|b| b.to_string()),
                live_policies,
                allowed: allowed_by.is_some(),
                allowed_by,
            }
        })
        .collect()
}
