//! `netpol-sync bundle seal DIR`: write the `files:` list of DIR/bundle.yaml from the
//! files in DIR. Only the top-level `files:` block is rewritten, textually; every other
//! byte of bundle.yaml (comments, key order, quoting, the other fields) stays as the
//! person wrote it. The block is machine-written: comments inside it are not kept.
//! Entries are sorted by path (byte order), so sealing twice gives the same bytes, and
//! a bundle whose files did not change is not rewritten at all.
//!
//! Seal refuses to write a manifest that `verify` would reject: symlinks, non-UTF-8 or
//! non-YAML file names, or a bundle.yaml whose other fields break the manifest rules.
//!
//! [`plan`] computes the sealed bundle.yaml without writing it; [`seal`] writes it, and
//! [`check`] says what the current one gets wrong (`bundle seal --check`, and `bundle
//! sign`, which refuses to sign a stale manifest: docs/bundles.md).

use super::digest::sha256_hex;
use super::limits::Limits;
use super::manifest;
use super::path::{BundlePath, PathError};
use super::yaml::{load_documents, YamlLimits};
use super::{BundleDigest, MANIFEST_FILE, SIGNATURES_DIR};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}: no bundle.yaml; create one with apiVersion, kind, name and namespaces first")]
    NoManifest(PathBuf),
    #[error("{0} is a symlink; bundles hold regular files only")]
    Symlink(PathBuf),
    #[error("{0}: file name is not UTF-8")]
    NonUtf8Name(PathBuf),
    #[error("{path}: {source}")]
    BadPath { path: String, source: PathError },
    #[error("{path} is {size} bytes, more than the limit of {limit}")]
    TooLarge { path: String, size: u64, limit: u64 },
    #[error("more than {0} files")]
    TooManyFiles(usize),
    #[error("bundle.yaml: {0}")]
    Manifest(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedFile {
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealReport {
    pub manifest: PathBuf,
    pub files: Vec<SealedFile>,
    /// False when bundle.yaml already said exactly this (the file was not touched).
    pub changed: bool,
    pub digest: BundleDigest,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SealError + '_ {
    move |source| SealError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What a seal of a bundle directory would write, computed without writing anything:
/// `bundle seal` writes [`SealPlan::sealed`], `bundle seal --check` and `bundle sign`
/// compare it with [`SealPlan::current`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealPlan {
    pub manifest: PathBuf,
    /// bundle.yaml's bytes as read.
    pub current: Vec<u8>,
    /// bundle.yaml as a seal writes it: `current` with the `files:` block rewritten.
    pub sealed: String,
    pub files: Vec<SealedFile>,
    /// The digest of `sealed`.
    pub digest: BundleDigest,
}

impl SealPlan {
    /// True when bundle.yaml already says exactly what a seal would write.
    pub fn is_fresh(&self) -> bool {
        self.sealed.as_bytes() == self.current.as_slice()
    }
}

/// Compute the sealed bundle.yaml of `dir`; refuses, as [`seal`] does, what `verify`
/// would reject.
pub fn plan(dir: &Path, limits: &Limits) -> Result<SealPlan, SealError> {
    let manifest_path = dir.join(MANIFEST_FILE);
    let current = match std::fs::read(&manifest_path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(SealError::NoManifest(dir.to_path_buf()))
        }
        Err(e) => return Err(io(&manifest_path)(e)),
    };
    let old_text =
        std::str::from_utf8(&current).map_err(|_| SealError::Manifest("not UTF-8".into()))?;
    let files = scan(dir, limits)?;
    let sealed = rewrite_files_block(old_text, &files);
    let dir_name = bundle_name(dir)?;
    check_rewrite(old_text, &sealed, &dir_name, &files, limits)?;
    Ok(SealPlan {
        digest: BundleDigest::of_manifest(sealed.as_bytes()),
        manifest: manifest_path,
        current,
        sealed,
        files,
    })
}

pub fn seal(dir: &Path, limits: &Limits) -> Result<SealReport, SealError> {
    let plan = plan(dir, limits)?;
    let changed = !plan.is_fresh();
    if changed {
        write_atomically(&plan.manifest, plan.sealed.as_bytes())?;
    }
    Ok(SealReport {
        digest: plan.digest,
        manifest: plan.manifest,
        files: plan.files,
        changed,
    })
}

/// How bundle.yaml's `files:` list differs from what a seal would write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealCheck {
    pub plan: SealPlan,
    /// Files in the directory that bundle.yaml does not list.
    pub added: Vec<String>,
    /// Files bundle.yaml lists that are not in the directory.
    pub removed: Vec<String>,
    /// Files listed with another size or SHA-256 than they have.
    pub changed: Vec<String>,
}

impl SealCheck {
    pub fn is_fresh(&self) -> bool {
        self.plan.is_fresh()
    }

    /// Stale, yet every file is listed with its digest: the `files:` block is not
    /// written as a seal writes it (hand-edited order, spelling or comments).
    pub fn only_spelling_differs(&self) -> bool {
        !self.is_fresh()
            && self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
    }
}

/// [`plan`], and which files the current `files:` list gets wrong. Writes nothing.
pub fn check(dir: &Path, limits: &Limits) -> Result<SealCheck, SealError> {
    let plan = plan(dir, limits)?;
    let listed = listed_files(&plan.current, limits);
    let on_disk: BTreeMap<&str, &SealedFile> =
        plan.files.iter().map(|f| (f.path.as_str(), f)).collect();
    let mut added = Vec::new();
    let mut changed = Vec::new();
    for (path, file) in &on_disk {
        match listed.get(*path) {
            None => added.push(path.to_string()),
            Some((sha256, size)) => {
                if sha256.as_deref() != Some(file.sha256.as_str()) || *size != Some(file.size) {
                    changed.push(path.to_string());
                }
            }
        }
    }
    let removed = listed
        .keys()
        .filter(|p| !on_disk.contains_key(p.as_str()))
        .cloned()
        .collect();
    Ok(SealCheck {
        plan,
        added,
        removed,
        changed,
    })
}

/// The `files:` entries of a bundle.yaml as written, read leniently (an entry missing a
/// field still names its path), since a stale list is what is being diagnosed. [`plan`]
/// has already checked that the document parses.
fn listed_files(
    manifest: &[u8],
    limits: &Limits,
) -> BTreeMap<String, (Option<String>, Option<u64>)> {
    let yaml_limits = YamlLimits {
        max_documents: 2,
        max_depth: limits.max_yaml_depth,
    };
    let mut out = BTreeMap::new();
    let Ok(docs) = load_documents(manifest, yaml_limits) else {
        return out;
    };
    let entries = docs
        .iter()
        .filter_map(|d| d.value.get("files"))
        .filter_map(serde_json::Value::as_array)
        .flatten();
    for entry in entries {
        if let Some(path) = entry.get("path").and_then(serde_json::Value::as_str) {
            let sha256 = entry
                .get("sha256")
                .and_then(serde_json::Value::as_str)
                .map(str::to_string);
            let size = entry.get("size").and_then(serde_json::Value::as_u64);
            out.insert(path.to_string(), (sha256, size));
        }
    }
    out
}

fn bundle_name(dir: &Path) -> Result<String, SealError> {
    let abs = std::fs::canonicalize(dir).map_err(io(dir))?;
    abs.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_string)
        .ok_or_else(|| SealError::NonUtf8Name(abs.clone()))
}

/// Every file under `dir` except bundle.yaml and signatures/, sorted by path.
fn scan(dir: &Path, limits: &Limits) -> Result<Vec<SealedFile>, SealError> {
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((abs, rel)) = stack.pop() {
        for entry in std::fs::read_dir(&abs).map_err(io(&abs))? {
            let entry = entry.map_err(io(&abs))?;
            let path = entry.path();
            let name = entry
                .file_name()
                .into_string()
                .map_err(|_| SealError::NonUtf8Name(path.clone()))?;
            let rel_path = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            if rel.is_empty() && (name == MANIFEST_FILE || name == SIGNATURES_DIR) {
                continue;
            }
            let kind = entry.file_type().map_err(io(&path))?;
            if kind.is_symlink() {
                return Err(SealError::Symlink(path));
            }
            if kind.is_dir() {
                stack.push((path, rel_path));
                continue;
            }
            BundlePath::parse(&rel_path).map_err(|source| SealError::BadPath {
                path: rel_path.clone(),
                source,
            })?;
            let size = entry.metadata().map_err(io(&path))?.len();
            if size > limits.max_file_bytes {
                return Err(SealError::TooLarge {
                    path: rel_path,
                    size,
                    limit: limits.max_file_bytes,
                });
            }
            if out.len() >= limits.max_files {
                return Err(SealError::TooManyFiles(limits.max_files));
            }
            let bytes = std::fs::read(&path).map_err(io(&path))?;
            out.push(SealedFile {
                path: rel_path,
                sha256: sha256_hex(&bytes),
                size: bytes.len() as u64,
            });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// Plain when the path is unambiguous in YAML, else a JSON string (valid YAML
/// double-quoted).
fn yaml_scalar(s: &str) -> String {
    let plain = s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._/-".contains(&b))
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
    if plain {
        s.to_string()
    } else {
        serde_json::Value::String(s.to_string()).to_string()
    }
}

fn files_block(files: &[SealedFile]) -> String {
    if files.is_empty() {
        return "files: []\n".to_string();
    }
    let mut s = String::from("files:\n");
    for f in files {
        s.push_str(&format!(
            "  - path: {}\n    sha256: {}\n    size: {}\n",
            yaml_scalar(&f.path),
            f.sha256,
            f.size
        ));
    }
    s
}

/// A line that belongs to a top-level block value: indented, a block sequence item at
/// column 0 (`- `), or blank / an indented comment.
fn continues_block(line: &str) -> bool {
    let body = line.trim_end_matches(['\n', '\r']);
    body.is_empty()
        || body.starts_with(' ')
        || body.starts_with('\t')
        || body == "-"
        || body.starts_with("- ")
        || body.starts_with('#')
}

pub fn rewrite_files_block(text: &str, files: &[SealedFile]) -> String {
    let block = files_block(files);
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let Some(start) = lines.iter().position(|l| l.starts_with("files:")) else {
        let mut out = text.to_string();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&block);
        return out;
    };
    let mut end = start + 1;
    while end < lines.len() && continues_block(lines[end]) {
        end += 1;
    }
    // Blank lines and column-0 comments just before the next key belong to that key.
    while end > start + 1 {
        let body = lines[end - 1].trim_end_matches(['\n', '\r']);
        if body.trim().is_empty() || body.starts_with('#') {
            end -= 1;
        } else {
            break;
        }
    }
    let mut out = String::with_capacity(text.len() + block.len());
    lines[..start].iter().for_each(|l| out.push_str(l));
    out.push_str(&block);
    lines[end..].iter().for_each(|l| out.push_str(l));
    out
}

/// The textual edit must have changed `files:` and nothing else, and produced a
/// manifest `verify` accepts.
fn check_rewrite(
    old: &str,
    new: &str,
    dir_name: &str,
    files: &[SealedFile],
    limits: &Limits,
) -> Result<(), SealError> {
    let yaml_limits = YamlLimits {
        max_documents: 2,
        max_depth: limits.max_yaml_depth,
    };
    let as_map = |text: &str| -> Result<serde_json::Map<String, serde_json::Value>, SealError> {
        let docs = load_documents(text.as_bytes(), yaml_limits)
            .map_err(|e| SealError::Manifest(e.to_string()))?;
        let mut docs = docs.into_iter().filter(|d| !d.value.is_null());
        match (docs.next(), docs.next()) {
            (Some(d), None) => match d.value {
                serde_json::Value::Object(mut m) => {
                    m.remove("files");
                    Ok(m)
                }
                _ => Err(SealError::Manifest("not a mapping".into())),
            },
            _ => Err(SealError::Manifest(
                "expected exactly one YAML document".into(),
            )),
        }
    };
    if as_map(old)? != as_map(new)? {
        return Err(SealError::Manifest(
            "could not rewrite the files: block without touching other fields; put `files:` at column 0 as a block of its own".into(),
        ));
    }
    let parsed = manifest::parse(new.as_bytes(), dir_name, limits).map_err(|e| {
        let field = e
            .location
            .field
            .map(|f| format!(" ({f})"))
            .unwrap_or_default();
        SealError::Manifest(format!("{}{field}", e.message))
    })?;
    let written: Vec<(String, String, u64)> = parsed
        .files
        .iter()
        .map(|f| (f.path.to_string(), hex::encode(f.sha256), f.size))
        .collect();
    let wanted: Vec<(String, String, u64)> = files
        .iter()
        .map(|f| (f.path.clone(), f.sha256.clone(), f.size))
        .collect();
    if written != wanted {
        return Err(SealError::Manifest(
            "the rewritten files: list does not read back as written".into(),
        ));
    }
    Ok(())
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), SealError> {
    replace_file(path, bytes).map_err(io(path))
}

/// Write `bytes` to `path` by a rename of a temporary file beside it, so a reader never
/// sees half a file and a failure leaves the old one (bundle.yaml, a signature).
pub(crate) fn replace_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "# Payments team bundle. Owner: @payments\napiVersion: netpol-sync/v1\nkind: Bundle\nname: prod   # same as the directory\nnamespaces: [payments, frontend]\n";

    fn bundle_dir(manifest: &str, files: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("prod");
        std::fs::create_dir_all(dir.join("signatures")).unwrap();
        std::fs::write(dir.join("bundle.yaml"), manifest).unwrap();
        std::fs::write(dir.join("signatures/alice.sig"), "not a policy").unwrap();
        for (p, c) in files {
            let path = dir.join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, c).unwrap();
        }
        (tmp, dir)
    }

    fn read(dir: &Path) -> String {
        std::fs::read_to_string(dir.join("bundle.yaml")).unwrap()
    }

    #[test]
    fn seal_appends_a_sorted_files_list_and_keeps_everything_else() {
        let (_t, dir) = bundle_dir(
            HEAD,
            &[("z.yaml", "b: 2\n"), ("payments/deny.yaml", "a: 1\n")],
        );
        let r = seal(&dir, &Limits::default()).unwrap();
        assert!(r.changed);
        let text = read(&dir);
        assert!(text.starts_with(HEAD), "{text}");
        assert!(text.contains("  - path: payments/deny.yaml\n"), "{text}");
        assert!(text.find("payments/deny.yaml").unwrap() < text.find("z.yaml").unwrap());
        assert!(!text.contains("alice.sig"));
        assert_eq!(r.digest, BundleDigest::of_manifest(text.as_bytes()));
    }

    #[test]
    fn resealing_an_unchanged_bundle_is_byte_identical_and_writes_nothing() {
        let (_t, dir) = bundle_dir(HEAD, &[("a.yaml", "a: 1\n")]);
        seal(&dir, &Limits::default()).unwrap();
        let first = read(&dir);
        let mtime = std::fs::metadata(dir.join("bundle.yaml"))
            .unwrap()
            .modified()
            .unwrap();
        let r = seal(&dir, &Limits::default()).unwrap();
        assert!(!r.changed);
        assert_eq!(read(&dir), first);
        assert_eq!(
            std::fs::metadata(dir.join("bundle.yaml"))
                .unwrap()
                .modified()
                .unwrap(),
            mtime
        );
    }

    #[test]
    fn seal_replaces_only_the_files_block_and_keeps_later_fields_and_comments() {
        let manifest = format!(
            "{HEAD}files:\n- path: old.yaml\n  sha256: {}\n  size: 3\n  # stale comment inside the block\n\n# about allowOpen\nallowOpen: [frontend]\n",
            "0".repeat(64)
        );
        let (_t, dir) = bundle_dir(&manifest, &[("new.yaml", "n: 1\n")]);
        seal(&dir, &Limits::default()).unwrap();
        let text = read(&dir);
        assert!(
            text.starts_with(&format!("{HEAD}files:\n  - path: new.yaml\n")),
            "{text}"
        );
        assert!(
            text.ends_with("    size: 5\n\n# about allowOpen\nallowOpen: [frontend]\n"),
            "{text}"
        );
        assert!(
            !text.contains("old.yaml") && !text.contains("stale comment"),
            "{text}"
        );
    }

    #[test]
    fn seal_of_an_empty_bundle_writes_an_empty_list() {
        let (_t, dir) = bundle_dir(
            &format!(
                "{HEAD}files:\n  - path: gone.yaml\n    sha256: {}\n    size: 1\n",
                "0".repeat(64)
            ),
            &[],
        );
        seal(&dir, &Limits::default()).unwrap();
        assert_eq!(read(&dir), format!("{HEAD}files: []\n"));
    }

    #[test]
    fn seal_adds_a_newline_before_appending() {
        let (_t, dir) = bundle_dir(HEAD.trim_end(), &[]);
        seal(&dir, &Limits::default()).unwrap();
        assert_eq!(read(&dir), format!("{HEAD}files: []\n"));
    }

    #[test]
    fn paths_needing_quotes_are_quoted_and_read_back() {
        let (_t, dir) = bundle_dir(HEAD, &[("a b: c.yaml", "x: 1\n"), ("-dash.yaml", "x: 1\n")]);
        let r = seal(&dir, &Limits::default()).unwrap();
        let text = read(&dir);
        assert!(text.contains("path: \"a b: c.yaml\""), "{text}");
        assert!(text.contains("path: \"-dash.yaml\""), "{text}");
        assert_eq!(r.files.len(), 2);
    }

    #[test]
    fn seal_refuses_a_symlink() {
        let (_t, dir) = bundle_dir(HEAD, &[]);
        std::os::unix::fs::symlink("/etc/hostname", dir.join("evil.yaml")).unwrap();
        assert!(matches!(
            seal(&dir, &Limits::default()),
            Err(SealError::Symlink(_))
        ));
        assert_eq!(read(&dir), HEAD);
    }

    #[test]
    fn seal_refuses_a_non_yaml_file() {
        let (_t, dir) = bundle_dir(HEAD, &[("README.md", "hi")]);
        assert!(matches!(
            seal(&dir, &Limits::default()),
            Err(SealError::BadPath { .. })
        ));
    }

    #[test]
    fn seal_refuses_a_manifest_verify_would_reject_and_writes_nothing() {
        let bad = HEAD.replace("name: prod", "name: staging");
        let (_t, dir) = bundle_dir(&bad, &[("a.yaml", "a: 1\n")]);
        let e = seal(&dir, &Limits::default()).unwrap_err();
        assert!(e.to_string().contains("name"), "{e}");
        assert_eq!(read(&dir), bad);
    }

    #[test]
    fn seal_without_bundle_yaml_says_so() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(matches!(
            seal(tmp.path(), &Limits::default()),
            Err(SealError::NoManifest(_))
        ));
    }

    #[test]
    fn sealed_manifest_parses_and_pins_each_file() {
        let (_t, dir) = bundle_dir(HEAD, &[("a.yaml", "a: 1\n"), ("sub/b.yml", "bb: 22\n")]);
        seal(&dir, &Limits::default()).unwrap();
        let m = manifest::parse(read(&dir).as_bytes(), "prod", &Limits::default()).unwrap();
        let got: Vec<_> = m
            .files
            .iter()
            .map(|f| (f.path.to_string(), f.size, hex::encode(f.sha256)))
            .collect();
        let want = vec![
            // Expected digests from `printf ... | sha256sum`.
            (
                "a.yaml".to_string(),
                5,
                "37b128c59f1f5097f73f82691cb519f1f568667faab5ced1b4ab979d36837eae".to_string(),
            ),
            (
                "sub/b.yml".to_string(),
                7,
                "7e535da41ddd62d15ad52dfcafaeacda05c41f940371b447a4f468eb67e96b5a".to_string(),
            ),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn check_of_a_fresh_seal_finds_nothing_and_writes_nothing() {
        let (_t, dir) = bundle_dir(HEAD, &[("a.yaml", "a: 1\n")]);
        seal(&dir, &Limits::default()).unwrap();
        let before = read(&dir);
        let c = check(&dir, &Limits::default()).unwrap();
        assert!(c.is_fresh());
        assert!(c.added.is_empty() && c.removed.is_empty() && c.changed.is_empty());
        assert_eq!(read(&dir), before);
    }

    #[test]
    fn check_names_added_removed_and_changed_files() {
        let (_t, dir) = bundle_dir(
            HEAD,
            &[
                ("keep.yaml", "k: 1\n"),
                ("edit.yaml", "e: 1\n"),
                ("gone.yaml", "g: 1\n"),
            ],
        );
        seal(&dir, &Limits::default()).unwrap();
        let sealed = read(&dir);
        std::fs::write(dir.join("edit.yaml"), "e: 2\n").unwrap();
        std::fs::remove_file(dir.join("gone.yaml")).unwrap();
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("sub/new.yaml"), "n: 1\n").unwrap();
        let c = check(&dir, &Limits::default()).unwrap();
        assert!(!c.is_fresh());
        assert_eq!(c.added, vec!["sub/new.yaml"]);
        assert_eq!(c.removed, vec!["gone.yaml"]);
        assert_eq!(c.changed, vec!["edit.yaml"]);
        assert_eq!(read(&dir), sealed);
    }

    #[test]
    fn check_of_a_reordered_files_block_is_stale_with_no_file_named() {
        let (_t, dir) = bundle_dir(HEAD, &[("a.yaml", "a: 1\n"), ("b.yaml", "b: 1\n")]);
        seal(&dir, &Limits::default()).unwrap();
        let text = read(&dir);
        let block = text.find("files:\n").unwrap() + "files:\n".len();
        let entries: Vec<&str> = text[block..].split_inclusive("    size: 5\n").collect();
        let swapped = format!("{}{}{}", &text[..block], entries[1], entries[0]);
        std::fs::write(dir.join("bundle.yaml"), &swapped).unwrap();
        let c = check(&dir, &Limits::default()).unwrap();
        assert!(c.only_spelling_differs(), "{swapped}");
    }

    #[test]
    fn plan_of_an_unsealable_bundle_is_the_seal_error() {
        let bad = HEAD.replace("name: prod", "name: staging");
        let (_t, dir) = bundle_dir(&bad, &[]);
        assert!(matches!(
            check(&dir, &Limits::default()),
            Err(SealError::Manifest(_))
        ));
    }
}
