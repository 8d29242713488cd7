//! The sync invariant (docs/sync.md, "One cycle"), checkable over a recorded history of
//! changes: from the moment a sync starts until it ends, every live policy in scope equals
//! its version at the start or its version in the new revision (absent counts as a
//! version). Tests run it over the API server's change log (the emulator's, or the real
//! server's audit log).

use netpol_policy::NetworkPolicy;
use netpol_sync::plan::live::content_hash_without_finalizers;
use netpol_sync::plan::{Action, ObjectKey};
use std::collections::BTreeMap;

/// One state change of a NetworkPolicy, as the API server recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedChange {
    pub key: ObjectKey,
    /// Content hash of the object after the change; `None` when it was deleted.
    pub after: Option<String>,
    /// Made by netpol-sync (its field manager / user agent). Changes made by others during
    /// a sync (a concurrent hand edit) are outside the invariant; the sync's answer to them
    /// is not.
    pub by_netpol_sync: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Position in the change list.
    pub index: usize,
    pub key: ObjectKey,
    pub found: Option<String>,
    pub at_start: Option<String>,
    pub in_new: Option<String>,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "change #{} made {} {:?}, neither its start version {:?} nor its new version {:?}",
            self.index, self.key, self.found, self.at_start, self.in_new
        )
    }
}

/// Content hashes keyed by namespace/name, the form the checker compares (finalizers, which
/// are someone else's lifecycle, left out).
pub fn hashes<'a>(
    objects: impl IntoIterator<Item = &'a NetworkPolicy>,
) -> BTreeMap<ObjectKey, String> {
    objects
        .into_iter()
        .filter_map(|o| {
            let key = ObjectKey {
                namespace: o.metadata.namespace.clone()?,
                name: o.metadata.name.clone()?,
            };
            Some((key, content_hash_without_finalizers(o)))
        })
        .collect()
}

/// Every change netpol-sync made leaves its object at its start version or its new one.
pub fn check(
    start: &BTreeMap<ObjectKey, String>,
    new: &BTreeMap<ObjectKey, String>,
    changes: &[ObservedChange],
) -> Result<(), Vec<Violation>> {
    let violations: Vec<Violation> = changes
        .iter()
        .enumerate()
        .filter(|(_, c)| c.by_netpol_sync)
        .filter_map(|(index, c)| {
            let at_start = start.get(&c.key).cloned();
            let in_new = new.get(&c.key).cloned();
            let ok = c.after == at_start || c.after == in_new;
            (!ok).then(|| Violation {
                index,
                key: c.key.clone(),
                found: c.after.clone(),
                at_start,
                in_new,
            })
        })
        .collect();
    if violations.is_empty() {
        Ok(())
    } else {
        Err(violations)
    }
}

/// Apply-then-prune: in a pass without failures, no create or update follows a delete.
pub fn check_write_order(actions: &[Action]) -> Result<(), usize> {
    let first_delete = actions.iter().position(|a| *a == Action::Delete);
    match first_delete {
        Some(d) => match actions[d..].iter().position(|a| *a != Action::Delete) {
            Some(offset) => Err(d + offset),
            None => Ok(()),
        },
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: &str) -> ObjectKey {
        ObjectKey {
            namespace: "ns".into(),
            name: n.into(),
        }
    }

    fn change(n: &str, after: Option<&str>, ours: bool) -> ObservedChange {
        ObservedChange {
            key: key(n),
            after: after.map(String::from),
            by_netpol_sync: ours,
        }
    }

    fn map(entries: &[(&str, &str)]) -> BTreeMap<ObjectKey, String> {
        entries
            .iter()
            .map(|(k, v)| (key(k), v.to_string()))
            .collect()
    }

    #[test]
    fn update_create_and_prune_towards_the_new_revision_hold() {
        let start = map(&[("a", "a1"), ("gone", "g1")]);
        let new = map(&[("a", "a2"), ("b", "b2")]);
        let changes = [
            change("b", Some("b2"), true),
            change("a", Some("a2"), true),
            change("gone", None, true),
        ];
        assert_eq!(check(&start, &new, &changes), Ok(()));
    }

    #[test]
    fn rollback_to_the_start_version_holds() {
        let start = map(&[("a", "a1")]);
        let new = map(&[("a", "a2"), ("b", "b2")]);
        let changes = [
            change("b", Some("b2"), true),
            change("a", Some("a2"), true),
            change("a", Some("a1"), true),
            change("b", None, true),
        ];
        assert_eq!(check(&start, &new, &changes), Ok(()));
    }

    #[test]
    fn a_third_version_is_a_violation_naming_the_object() {
        let start = map(&[("a", "a1")]);
        let new = map(&[("a", "a2")]);
        let err = check(&start, &new, &[change("a", Some("mix"), true)]).unwrap_err();
        assert_eq!(err.len(), 1);
        assert!(err[0].to_string().contains("ns/a"));
    }

    #[test]
    fn deleting_a_policy_both_revisions_have_is_a_violation() {
        // The moment between delete and re-create opens the namespace: never allowed.
        let start = map(&[("a", "a1")]);
        let new = map(&[("a", "a2")]);
        assert!(check(&start, &new, &[change("a", None, true)]).is_err());
    }

    #[test]
    fn writing_an_object_neither_revision_has_is_a_violation() {
        assert!(check(
            &BTreeMap::new(),
            &BTreeMap::new(),
            &[change("x", Some("x1"), true)]
        )
        .is_err());
    }

    #[test]
    fn concurrent_hand_edits_are_not_held_against_the_sync() {
        let start = map(&[("a", "a1")]);
        let new = map(&[("a", "a2")]);
        let changes = [
            change("a", Some("by-hand"), false),
            change("a", Some("a2"), true),
        ];
        assert_eq!(check(&start, &new, &changes), Ok(()));
    }

    #[test]
    fn write_order_requires_every_delete_last() {
        use Action::*;
        assert_eq!(
            check_write_order(&[Create, Update, Create, Delete, Delete]),
            Ok(())
        );
        assert_eq!(check_write_order(&[]), Ok(()));
        assert_eq!(check_write_order(&[Create, Delete, Update]), Err(2));
    }
}
