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

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, MutexGuard, PoisonError};

#[derive(Debug, Default)]
pub struct OwnWrites {
    hasher: RandomState,
    generations: Mutex<Generations>,
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

impl OwnWrites {
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
    }

    /// We deleted the object with this uid.
    pub fn record_delete(&self, uid: &str) {
        let key = self.uid_key(uid);
        self.lock().current.deleted.insert(key);
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
