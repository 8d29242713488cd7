//! The versions our own writes made, so that the daemon's drift watch can tell its own
//! echo from drift: a created or replaced object is named by its uid and the
//! resourceVersion the API server answered with, a deleted one by its uid (we delete with
//! a uid precondition, so that uid is exactly the object we removed).
//!
//! Only a hint. Forgetting a write costs one more cycle that finds nothing to do; a
//! version wrongly taken for ours delays a revert until the interval's drift check. Both
//! sets hold 64-bit keys under a per-process random hasher, a few hundred KiB at 10,000
//! policies, and keep the writes of the last two cycles: a watch lagging behind a cycle
//! still finds that cycle's writes after the next one has started.
//!
//! A `sync --once` child of `run --cycle-isolation process` cannot share this with the
//! daemon, so it keeps a [`Journal`] of its writes as well and prints it
//! (`--report-own-writes`); the daemon records what the child reports.

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, MutexGuard, PoisonError};

#[derive(Debug, Default)]
pub struct OwnWrites {
    hasher: RandomState,
    generations: Mutex<Generations>,
    /// The writes as written, for a process that reports them to another.
    journal: Option<Mutex<Journal>>,
}

/// The writes of a process, in full: versions stored (uid, resourceVersion) and uids
/// deleted. Read back leniently (see [`Journal::from_json`]): it is only a hint.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(from = "serde_json::Value")]
pub struct Journal {
    pub written: Vec<(String, String)>,
    pub deleted: Vec<String>,
}

#[derive(Debug, Default)]
struct Generations {
    current: Written,
    previous: Written,
}

#[derive(Debug, Default)]
struct Written {
    versions: HashSet<u64>,
    deleted: HashSet<u64>,
}

/// Longest uid or resourceVersion taken as a hint from outside (a watch event, a child's
/// report): a real uid is 36 bytes, a resourceVersion a decimal uint64. A longer one is
/// dropped, and a change without it is never taken for ours.
pub const MAX_ID_BYTES: usize = 128;

impl From<serde_json::Value> for Journal {
    fn from(v: serde_json::Value) -> Journal {
        Journal::from_json(&v)
    }
}

impl Journal {
    /// Read back what a child printed. Only a hint, so what is not in the expected shape
    /// (or is longer than any real uid or version) is skipped, never an error.
    pub fn from_json(report: &serde_json::Value) -> Journal {
        let id = |v: &serde_json::Value| {
            v.as_str()
                .filter(|s| !s.is_empty() && s.len() <= MAX_ID_BYTES)
                .map(str::to_string)
        };
        let list = |field: &str| {
            report
                .get(field)
                .and_then(serde_json::Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default()
        };
        Journal {
            written: list("written")
                .iter()
                .filter_map(|pair| match pair.as_array().map(Vec::as_slice) {
                    Some([uid, version]) => Some((id(uid)?, id(version)?)),
                    _ => None,
                })
                .collect(),
            deleted: list("deleted").iter().filter_map(id).collect(),
        }
    }
}

impl OwnWrites {
    /// Note the writes another process reported as its own.
    pub fn record_journal(&self, journal: &Journal) {
        for (uid, version) in &journal.written {
            self.record_write(uid, version);
        }
        for uid in &journal.deleted {
            self.record_delete(uid);
        }
    }

    /// One that also keeps a [`Journal`].
    pub fn journaling() -> OwnWrites {
        OwnWrites {
            journal: Some(Mutex::new(Journal::default())),
            ..OwnWrites::default()
        }
    }

    /// The journal so far (empty when not [`OwnWrites::journaling`]), emptied.
    pub fn take_journal(&self) -> Journal {
        self.journal
            .as_ref()
            .map(|j| std::mem::take(&mut *j.lock().unwrap_or_else(PoisonError::into_inner)))
            .unwrap_or_default()
    }

    fn note(&self, f: impl FnOnce(&mut Journal)) {
        if let Some(j) = &self.journal {
            f(&mut j.lock().unwrap_or_else(PoisonError::into_inner));
        }
    }

    fn lock(&self) -> MutexGuard<'_, Generations> {
        self.generations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn version_key(&self, uid: &str, resource_version: &str) -> u64 {
        self.hasher.hash_one((uid, resource_version))
    }

    fn uid_key(&self, uid: &str) -> u64 {
        self.hasher.hash_one(uid)
    }

    /// A cycle starts: the writes of the cycle before last are forgotten.
    pub fn begin_cycle(&self) {
        let mut g = self.lock();
        g.previous = std::mem::take(&mut g.current);
    }

    /// The API server stored this version of an object for us (create or replace).
    pub fn record_write(&self, uid: &str, resource_version: &str) {
        let key = self.version_key(uid, resource_version);
        self.lock().current.versions.insert(key);
        self.note(|j| {
            j.written
                .push((uid.to_string(), resource_version.to_string()))
        });
    }

    /// We deleted the object with this uid.
    pub fn record_delete(&self, uid: &str) {
        let key = self.uid_key(uid);
        self.lock().current.deleted.insert(key);
        self.note(|j| j.deleted.push(uid.to_string()));
    }

    pub fn wrote(&self, uid: &str, resource_version: &str) -> bool {
        let key = self.version_key(uid, resource_version);
        let g = self.lock();
        g.current.versions.contains(&key) || g.previous.versions.contains(&key)
    }

    pub fn deleted(&self, uid: &str) -> bool {
        let key = self.uid_key(uid);
        let g = self.lock();
        g.current.deleted.contains(&key) || g.previous.deleted.contains(&key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_is_known_by_its_exact_version_and_a_delete_by_its_uid() {
        let own = OwnWrites::default();
        own.record_write("uid-a", "17");
        own.record_delete("uid-b");
        assert!(own.wrote("uid-a", "17"));
        assert!(
            !own.wrote("uid-a", "18"),
            "a later version is someone else's"
        );
        assert!(
            !own.wrote("uid-c", "17"),
            "the same version of another object"
        );
        assert!(own.deleted("uid-b"));
        assert!(!own.deleted("uid-a"), "written, not deleted");
        assert!(!own.wrote("uid-b", "17"));
    }

    #[test]
    fn a_journal_holds_every_write_as_written_until_taken() {
        let quiet = OwnWrites::default();
        quiet.record_write("uid-a", "1");
        assert_eq!(
            quiet.take_journal(),
            Journal::default(),
            "no journal unless asked"
        );

        let own = OwnWrites::journaling();
        own.record_write("uid-a", "1");
        own.record_delete("uid-b");
        own.begin_cycle();
        own.record_write("uid-a", "2");
        assert_eq!(
            own.take_journal(),
            Journal {
                written: vec![("uid-a".into(), "1".into()), ("uid-a".into(), "2".into())],
                deleted: vec!["uid-b".into()],
            }
        );
        assert_eq!(own.take_journal(), Journal::default());
        assert!(own.wrote("uid-a", "2"), "still known to the process itself");
    }

    #[test]
    fn a_journal_survives_its_json_and_a_hostile_report_yields_only_well_formed_entries() {
        let journal = Journal {
            written: vec![("uid-a".into(), "7".into())],
            deleted: vec!["uid-b".into()],
        };
        assert_eq!(
            Journal::from_json(&serde_json::to_value(&journal).unwrap()),
            journal
        );

        let long = "u".repeat(MAX_ID_BYTES + 1);
        let hostile = serde_json::json!({
            "written": [["uid-a", "7"], ["uid-c"], ["uid-d", "1", "2"], [1, "2"], "uid-e",
                        [long.clone(), "3"], ["uid-f", ""], {"uid": "g"}],
            "deleted": ["uid-b", 7, null, long, ""],
        });
        assert_eq!(Journal::from_json(&hostile), journal);
        for nothing in [
            serde_json::json!(null),
            serde_json::json!([]),
            serde_json::json!({"written": "x"}),
        ] {
            assert_eq!(Journal::from_json(&nothing), Journal::default());
        }

        let own = OwnWrites::default();
        own.record_journal(&journal);
        assert!(own.wrote("uid-a", "7"));
        assert!(own.deleted("uid-b"));
    }

    #[test]
    fn writes_are_kept_for_two_cycles() {
        let own = OwnWrites::default();
        own.begin_cycle();
        own.record_write("uid-a", "1");
        own.record_delete("uid-b");
        own.begin_cycle();
        assert!(own.wrote("uid-a", "1"), "the previous cycle's write");
        assert!(own.deleted("uid-b"));
        own.record_write("uid-c", "2");
        own.begin_cycle();
        assert!(!own.wrote("uid-a", "1"), "two cycles ago: forgotten");
        assert!(!own.deleted("uid-b"));
        assert!(own.wrote("uid-c", "2"));
    }
}
