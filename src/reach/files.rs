//! Reading YAML files a person points at (`--workloads`, `--policies`): a file, or every
//! `.yaml`/`.yml`/`.json` file below a directory, in name order, under the bundle limits
//! (file size, file count, total bytes) and the hazard-checked YAML loader.

use super::ReachError;
use crate::bundle::yaml::load_documents;
use crate::bundle::Limits;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Every document of the files at `paths`, each with the file it came from.
pub fn documents(
    paths: &[PathBuf],
    limits: &Limits,
) -> Result<Vec<(String, usize, serde_json::Value)>, ReachError> {
    let mut files = Vec::new();
    for p in paths {
        collect(p, &mut files, limits)?;
    }
    let mut total = 0u64;
    let mut out = Vec::new();
    for file in files {
        let shown = file.display().to_string();
        let bytes = read_bounded(&file, limits.max_file_bytes)?;
        total += bytes.len() as u64;
        if total > limits.max_total_bytes {
            return Err(ReachError::Input {
                file: shown,
                message: format!("the files hold more than {} bytes", limits.max_total_bytes),
            });
        }
        let docs = load_documents(&bytes, limits.file_yaml()).map_err(|e| ReachError::Input {
            file: shown.clone(),
            message: match e.document {
                Some(d) => format!("document {d}: {}", e.error),
                None => e.error.to_string(),
            },
        })?;
        out.extend(
            docs.into_iter()
                .filter(|d| !d.value.is_null())
                .map(|d| (shown.clone(), d.index, d.value)),
        );
    }
    Ok(out)
}

fn collect(path: &Path, out: &mut Vec<PathBuf>, limits: &Limits) -> Result<(), ReachError> {
    let io = |e: std::io::Error| ReachError::Input {
        file: path.display().to_string(),
        message: e.to_string(),
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_file() {
        out.push(path.to_path_buf());
    } else if meta.is_dir() {
        // Below a directory, a symlink is never followed: a link back up would make the
        // walk endless, and a draft's files are its own, not what it links to.
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(io)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(io)?;
        entries.sort();
        for e in entries {
            let kind = std::fs::symlink_metadata(&e).map_err(io)?.file_type();
            let is_yaml = e
                .extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| matches!(x, "yaml" | "yml" | "json"));
            if kind.is_dir() || (kind.is_file() && is_yaml) {
                collect(&e, out, limits)?;
            }
        }
    }
    if out.len() > limits.max_files {
        return Err(ReachError::Input {
            file: path.display().to_string(),
            message: format!("more than {} files", limits.max_files),
        });
    }
    Ok(())
}

fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, ReachError> {
    let shown = path.display().to_string();
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(limit + 1).read_to_end(&mut bytes))
        .map_err(|e| ReachError::Input {
            file: shown.clone(),
            message: e.to_string(),
        })?;
    if bytes.len() as u64 > limit {
        return Err(ReachError::Input {
            file: shown,
            message: format!("larger than {limit} bytes"),
        });
    }
    Ok(bytes)
}
