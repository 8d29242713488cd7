//! Every fetch adds a pack to the cache, and every object lookup scans the packs: a daemon
//! following a busy branch for a month would hold thousands, and each cycle would slow
//! with them (docs/performance.md). Past [`MAX_PACKS`], every object in the cache is written into
//! one new pack and the old packs are removed. Nothing is pruned: objects no ref reaches
//! (a force-pushed-over history) stay, since the verifier may still read them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Packs tolerated before consolidating.
pub const MAX_PACKS: usize = 16;

/// What went wrong, and where.
#[derive(Debug, thiserror::Error)]
pub enum RepackError {
    #[error("listing {path}: {source}")]
    List {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("writing the consolidated pack: {0}")]
    Git(#[from] git2::Error),
    #[error("removing {path}: {source}")]
    Remove {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Base names (`pack-<hash>`) of the packs in `dir`.
fn packs(dir: &Path) -> Result<BTreeSet<String>, RepackError> {
    let list = |source| RepackError::List {
        path: dir.to_path_buf(),
        source,
    };
    let mut names = BTreeSet::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(names),
        Err(e) => return Err(list(e)),
    };
    for entry in entries {
        let name = entry.map_err(list)?.file_name();
        if let Some(base) = name.to_str().and_then(|n| n.strip_suffix(".pack")) {
            names.insert(base.to_string());
        }
    }
    Ok(names)
}

/// How many packs the repository holds.
pub fn pack_count(repo: &git2::Repository) -> Result<usize, RepackError> {
    Ok(packs(&repo.path().join("objects/pack"))?.len())
}

/// With more than [`MAX_PACKS`] packs, write all objects into one pack and remove the
/// others; returns the number of packs removed (0: nothing to do). The new pack is
/// complete (pack and index) before anything is removed.
pub fn consolidate(repo: &git2::Repository) -> Result<usize, RepackError> {
    let dir = repo.path().join("objects/pack");
    let before = packs(&dir)?;
    if before.len() <= MAX_PACKS {
        return Ok(0);
    }
    let mut ids = Vec::new();
    repo.odb()?.foreach(|id| {
        ids.push(*id);
        true
    })?;
    // Compactness is not the point (the files are small YAML): a delta window of one
    // object's worth of memory keeps the repack to about the cost of copying the objects,
    // so a cycle that has to wait for it waits little.
    repo.config()?.set_i64("pack.windowMemory", 1)?;
    let mut builder = repo.packbuilder()?;
    // One thread: this runs between cycles and must not starve the next one.
    builder.set_threads(1);
    for id in ids {
        builder.insert_object(id, None)?;
    }
    builder.write(&dir, 0o444)?;
    let written: BTreeSet<String> = packs(&dir)?.difference(&before).cloned().collect();
    if written.is_empty() {
        // The new pack has the name of one already there (it held everything): keep all.
        return Ok(0);
    }
    let mut removed = 0;
    for base in before.difference(&written) {
        for ext in ["pack", "idx", "rev", "keep", "bitmap", "mtimes", "promisor"] {
            let path = dir.join(format!("{base}.{ext}"));
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(RepackError::Remove { path, source }),
            }
        }
        removed += 1;
    }
    Ok(removed)
}
