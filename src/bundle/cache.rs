//! Validated policies of files already loaded, for a process that loads revision after
//! revision (the daemon). A file's policies are a pure function of its exact bytes, its
//! place (bundle, path) and the limits, so the key is those, with the bytes named by
//! their SHA-256 — computed in this load from the bytes just read and checked against
//! the signed manifest, never taken from git's SHA-1 object ids or from a previous load.
//! What depends on the rest of the bundle (its `namespaces:`) is checked again on a hit.
//!
//! Parsed manifests are kept the same way, keyed by the bundle digest (the SHA-256 of
//! bundle.yaml's exact bytes, computed in the load that asks), the directory name and the
//! limits; their signatures are checked again on every load.
//!
//! Only the files and manifests of the latest successful load are kept, so memory is
//! bounded by one revision's policies (shared with that revision's `VerifiedBundles`, not
//! copied).
//!
//! The latest load's tree is kept too: a cycle over the same tree (the branch did not
//! move; a drift check) re-reads bundle.yaml and checks its signatures against the clock,
//! but not the policy files again. That leans on our own earlier SHA-256 checks, not on
//! SHA-1: git never replaces an object it already holds, so the tree id names the very
//! objects this process read and hashed, and what is reused is what was checked then.

use super::manifest::Manifest;
use super::{BundleDigest, BundlePolicies, DesiredPolicy, Limits};
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

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ManifestKey {
    pub dir_name: String,
    pub digest: String,
    pub limits: Limits,
}

/// A whole revision tree, as loaded with one selection and one set of limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TreeKey {
    /// The repository's object store: the argument above holds within one store.
    pub repo: std::path::PathBuf,
    pub tree: git2::Oid,
    pub select: Vec<String>,
    pub limits: Limits,
}

/// The selected bundles' contents, by bundle name and digest.
type TreeContents = Vec<(String, BundleDigest, BundlePolicies)>;

/// Shared by reference between loads (`BundleOptions::cache`).
#[derive(Default)]
pub struct PolicyCache {
    files: Mutex<HashMap<FileKey, Arc<[DesiredPolicy]>>>,
    manifests: Mutex<HashMap<ManifestKey, Arc<Manifest>>>,
    tree: Mutex<Option<(TreeKey, TreeContents)>>,
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

    /// After a successful load: keep exactly its files and manifests.
    pub(crate) fn replace(
        &self,
        files: Vec<(FileKey, Arc<[DesiredPolicy]>)>,
        manifests: Vec<(ManifestKey, Arc<Manifest>)>,
    ) {
        let mut map = self.lock();
        map.clear();
        map.extend(files);
        let mut m = self.manifests();
        m.clear();
        m.extend(manifests);
    }

    fn manifests(&self) -> std::sync::MutexGuard<'_, HashMap<ManifestKey, Arc<Manifest>>> {
        self.manifests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn manifest(&self, key: &ManifestKey) -> Option<Arc<Manifest>> {
        self.manifests().get(key).cloned()
    }

    fn trees(&self) -> std::sync::MutexGuard<'_, Option<(TreeKey, TreeContents)>> {
        self.tree.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The policies of bundle `name` with manifest `digest`, when the latest load was of
    /// the same tree with the same selection and limits.
    pub(crate) fn tree_policies(
        &self,
        key: &TreeKey,
        name: &str,
        digest: &BundleDigest,
    ) -> Option<BundlePolicies> {
        let trees = self.trees();
        let (held, contents) = trees.as_ref()?;
        if held != key {
            return None;
        }
        contents
            .iter()
            .find(|(n, d, _)| n == name && d == digest)
            .map(|(_, _, policies)| policies.clone())
    }

    /// After a successful load of a whole tree.
    pub(crate) fn remember_tree(&self, key: TreeKey, contents: TreeContents) {
        *self.trees() = Some((key, contents));
    }
}
