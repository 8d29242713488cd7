//! The base revision a pull request merges into, read from git objects, not the working
//! tree: its policies (for the reachability diff), its bundle manifests (to tell which
//! bundles changed) and its keys/allowed_signers (trust comes from before a change, as
//! `verify` judges it; docs/trust.md). Nothing here is verified: `check` reports, it does
//! not decide what is enforced.

use crate::bundle::yaml::load_documents;
use crate::bundle::{Limits, BUNDLES_DIR, MANIFEST_FILE, SIGNATURES_DIR};
use crate::verify::{AllowedSigners, KEYS_PATH};
use netpol_policy::NetworkPolicy;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub struct Base {
    pub policies: Vec<NetworkPolicy>,
    /// Each bundle's bundle.yaml bytes, by bundle name.
    pub manifests: BTreeMap<String, Vec<u8>>,
    pub allowed_signers: Option<AllowedSigners>,
}

pub fn read(root: &Path, rev: &str, limits: &Limits) -> Result<Base, String> {
    let repo = git2::Repository::discover(root).map_err(|e| e.message().to_string())?;
    let workdir = repo
        .workdir()
        .ok_or("the repository has no working tree")?
        .to_path_buf();
    let prefix = prefix_in(&workdir, root)?;
    let commit = repo
        .revparse_single(rev)
        .and_then(|o| o.peel_to_commit())
        .map_err(|e| format!("not a commit here: {}", e.message()))?;
    let tree = commit.tree().map_err(|e| e.message().to_string())?;
    let at = |path: &str| -> Option<git2::TreeEntry<'static>> {
        tree.get_path(&prefix.join(path)).ok().map(|e| e.to_owned())
    };
    let blob = |entry: &git2::TreeEntry<'_>| -> Option<Vec<u8>> {
        let blob = entry.to_object(&repo).ok()?.peel_to_blob().ok()?;
        (blob.size() as u64 <= limits.max_file_bytes).then(|| blob.content().to_vec())
    };
    let allowed_signers = at(KEYS_PATH)
        .and_then(|e| blob(&e))
        .and_then(|bytes| AllowedSigners::parse(KEYS_PATH, &bytes).ok());
    let mut manifests = BTreeMap::new();
    let mut policies = Vec::new();
    // All the base's bundle files together, within the limit verify reads.
    let mut total = 0u64;
    let over = || {
        format!(
            "the base's bundles hold more than {} bytes",
            limits.max_total_bytes
        )
    };
    if let Some(bundles) =
        at(BUNDLES_DIR).and_then(|e| e.to_object(&repo).ok()?.peel_to_tree().ok())
    {
        for bundle in bundles.iter() {
            let Some(name) = bundle.name().map(str::to_string) else {
                continue;
            };
            let Some(dir) = bundle
                .to_object(&repo)
                .ok()
                .and_then(|o| o.peel_to_tree().ok())
            else {
                continue;
            };
            if let Some(bytes) = dir.get_name(MANIFEST_FILE).and_then(|e| blob(&e)) {
                total += bytes.len() as u64;
                if total > limits.max_total_bytes {
                    return Err(over());
                }
                manifests.insert(name.clone(), bytes);
            }
            let mut files = 0usize;
            let mut walk_err = None;
            dir.walk(git2::TreeWalkMode::PreOrder, |parent, entry| {
                if parent.is_empty() && entry.name() == Some(SIGNATURES_DIR) {
                    return git2::TreeWalkResult::Skip;
                }
                let Some(file) = entry.name() else {
                    return git2::TreeWalkResult::Ok;
                };
                let is_policy = entry.kind() == Some(git2::ObjectType::Blob)
                    && (file.ends_with(".yaml") || file.ends_with(".yml"))
                    && !(parent.is_empty() && file == MANIFEST_FILE);
                if !is_policy {
                    return git2::TreeWalkResult::Ok;
                }
                files += 1;
                if files > limits.max_files {
                    walk_err = Some(format!(
                        "bundle {name} holds more than {} files",
                        limits.max_files
                    ));
                    return git2::TreeWalkResult::Abort;
                }
                if let Some(bytes) = blob(entry) {
                    total += bytes.len() as u64;
                    if total > limits.max_total_bytes {
                        walk_err = Some(over());
                        return git2::TreeWalkResult::Abort;
                    }
                    policies.extend(decode(&bytes, limits));
                }
                git2::TreeWalkResult::Ok
            })
            .ok();
            if let Some(e) = walk_err {
                return Err(e);
            }
        }
    }
    Ok(Base {
        policies,
        manifests,
        allowed_signers,
    })
}

/// The NetworkPolicies of one file, decoded and defaulted; what does not decode is left
/// out (the base was merged; the working tree's problems are what `check` reports).
fn decode(bytes: &[u8], limits: &Limits) -> Vec<NetworkPolicy> {
    let Ok(documents) = load_documents(bytes, limits.file_yaml()) else {
        return Vec::new();
    };
    documents
        .into_iter()
        .filter(|d| d.value.get("kind").and_then(|k| k.as_str()) == Some(netpol_policy::KIND))
        .filter_map(|d| netpol_policy::decode_strict(d.value).ok())
        .map(|mut p| {
            netpol_policy::apply_defaults(&mut p);
            p
        })
        .collect()
}

/// `root` relative to the working tree, as a path inside the repository's trees.
fn prefix_in(workdir: &Path, root: &Path) -> Result<PathBuf, String> {
    let canonical = |p: &Path| {
        p.canonicalize()
            .map_err(|e| format!("{}: {e}", p.display()))
    };
    let (workdir, root) = (canonical(workdir)?, canonical(root)?);
    root.strip_prefix(&workdir)
        .map(Path::to_path_buf)
        .map_err(|_| {
            format!(
                "{} is not inside the repository {}",
                root.display(),
                workdir.display()
            )
        })
}
