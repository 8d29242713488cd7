//! Which bundles a run governs, and the rules across them: a namespace is governed by at
//! most one selected bundle, and a namespace/name names at most one policy.

use super::{BundleError, VerifiedBundle};
use crate::reason::ReasonCode;
use std::collections::{BTreeMap, BTreeSet};

/// The selected names, in order, without repeats. Asking for a bundle the revision does
/// not have is an error: a typo must not silently govern nothing.
pub fn select(available: &BTreeSet<String>, wanted: &[String]) -> Result<Vec<String>, BundleError> {
    if wanted.is_empty() {
        return Ok(available.iter().cloned().collect());
    }
    let mut out = Vec::new();
    for name in wanted {
        if !available.contains(name) {
            return Err(BundleError::new(
                ReasonCode::NotFound,
                format!(
                    "bundle `{name}` is not in the revision (bundles: {})",
                    if available.is_empty() {
                        "none".to_string()
                    } else {
                        available.iter().cloned().collect::<Vec<_>>().join(", ")
                    }
                ),
            )
            .in_bundle(name));
        }
        if !out.contains(name) {
            out.push(name.clone());
        }
    }
    Ok(out)
}

/// Two selected bundles may not govern one namespace: each would prune the other's
/// policies.
pub fn check_namespace_conflicts<'a>(
    bundles: impl IntoIterator<Item = (&'a str, &'a BTreeSet<String>)>,
) -> Result<(), BundleError> {
    let mut owner: BTreeMap<&str, &str> = BTreeMap::new();
    for (bundle, namespaces) in bundles {
        for ns in namespaces {
            if let Some(first) = owner.insert(ns, bundle) {
                return Err(BundleError::new(
                    ReasonCode::NamespaceConflict,
                    format!("namespace `{ns}` is governed by both bundle `{first}` and bundle `{bundle}`"),
                )
                .in_bundle(bundle)
                .at_field("namespaces"));
            }
        }
    }
    Ok(())
}

pub fn check_duplicate_policies(bundles: &[VerifiedBundle]) -> Result<(), BundleError> {
    let mut seen: BTreeMap<(&str, &str), (&str, usize)> = BTreeMap::new();
    for p in bundles.iter().flat_map(|b| b.policies().iter()) {
        if let Some((file, doc)) = seen.insert((&p.namespace, &p.name), (&p.file, p.document)) {
            return Err(BundleError::new(
                ReasonCode::DuplicatePolicy,
                format!(
                    "NetworkPolicy {}/{} is defined twice: in {file} (document {doc}) and in {} (document {})",
                    p.namespace, p.name, p.file, p.document
                ),
            )
            .in_bundle(&p.bundle)
            .in_file(&p.file)
            .in_document(p.document)
            .at_field("metadata.name"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn no_selection_means_every_bundle() {
        assert_eq!(select(&set(&["a", "b"]), &[]).unwrap(), vec!["a", "b"]);
    }

    #[test]
    fn bundle_selection_keeps_order_and_drops_repeats() {
        let wanted = vec!["b".to_string(), "a".to_string(), "b".to_string()];
        assert_eq!(
            select(&set(&["a", "b", "c"]), &wanted).unwrap(),
            vec!["b", "a"]
        );
    }

    #[test]
    fn selecting_an_unknown_bundle_is_not_found() {
        let e = select(&set(&["a"]), &["prod".to_string()]).unwrap_err();
        assert_eq!(e.reason, ReasonCode::NotFound);
    }

    #[test]
    fn namespace_conflict_between_two_bundles_is_rejected() {
        let a = set(&["payments", "frontend"]);
        let b = set(&["checkout", "payments"]);
        let e = check_namespace_conflicts([("a", &a), ("b", &b)]).unwrap_err();
        assert_eq!(e.reason, ReasonCode::NamespaceConflict);
        assert!(e.message.contains("`payments`"), "{}", e.message);
        let c = set(&["checkout"]);
        assert!(check_namespace_conflicts([("a", &a), ("c", &c)]).is_ok());
    }
}
