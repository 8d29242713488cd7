//! Validated policies of files already loaded, for a process that loads revision after
//! revision (the daemon). A file's policies are a pure function of its exact bytes, its
//! place (bundle, path) and the limits, so the key is those, with the bytes named by
//! their SHA-256 — computed in this load from the bytes just read and checked against
//! the signed manifest, never taken from git's SHA-1 object ids or from a previous load.
//! What depends on the rest of the bundle (its `namespaces:`) is checked again on a hit.
//!
//! Only the files of the latest successful load are kept, so memory is bounded by one
//! revision's policies (shared with that revision's `VerifiedBundles`, not copied).

use super::DesiredPolicy;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct FileKey {
    pub bundle: String,
    pub path: String,
    pub sha256: [u8; 32],
    pub max_documents: usize,
    pub max_depth: usize,
}

/// Shared by reference between loads (`BundleOptions::cache`).
#[derive(Default)]
pub struct PolicyCache {
    files: Mutex<HashMap<FileKey, Arc<[DesiredPolicy]>>>,
}

impl std::fmt::Debug for PolicyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyCache")
            .field("files", &self.len())
            .finish()
    }
}

impl PolicyCache {
    pub fn new() -> PolicyCache {
        PolicyCache::default()
    }

    /// Files held.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<FileKey, Arc<[DesiredPolicy]>>> {
        // The map is never left half-updated by a panic (single inserts), so a poisoned
        // lock still holds a consistent map.
        self.files.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn get(&self, key: &FileKey) -> Option<Arc<[DesiredPolicy]>> {
        self.lock().get(key).cloned()
    }

    /// After a successful load: keep exactly its files.
    pub(crate) fn replace(&self, files: Vec<(FileKey, Arc<[DesiredPolicy]>)>) {
        let mut map = self.lock();
        map.clear();
        map.extend(files);
    }
}
