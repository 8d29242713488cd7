//! Reading bundle directories from a git tree (the verified commit's, never a working
//! directory). Only regular files and directories are allowed: a symlink could point
//! outside the bundle, a submodule's content is not in the revision at all, and a name
//! that is not UTF-8 cannot be listed in a manifest.
//!
//! Every tree read here is checked by git fsck's rules first ([`tree_check`]): the root,
//! `keys/`, `bundles/` and every directory of a walked bundle. A malformed one (a
//! duplicate name, a name holding `/`, `.`, `..`, `.git`, entries out of order) rejects
//! the revision with `malformed-tree`, instead of one of its entries being dropped.

use super::limits::{Limits, MAX_SIGNATURES};
use super::{BundleError, BUNDLES_DIR, MANIFEST_FILE, SIGNATURES_DIR};
use crate::git::tree_check::{self, TreeCheckError};
use crate::reason::ReasonCode;
use crate::verify::KEYS_PATH;
use git2::{ObjectType, Oid, Repository, Tree};
use std::collections::btree_map::Entry;
use std::collections::BTreeMap;

const MODE_TREE: i32 = 0o040000;
const MODE_BLOB: i32 = 0o100644;
const MODE_BLOB_EXECUTABLE: i32 = 0o100755;
const MODE_SYMLINK: i32 = 0o120000;
const MODE_SUBMODULE: i32 = 0o160000;

/// A bundle directory as the tree holds it: blob ids, nothing read yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleTree {
    pub name: String,
    pub manifest: Oid,
    /// `signatures/<file>` → blob, sorted by file name.
    pub signatures: BTreeMap<String, Oid>,
    /// Every other file, by its path relative to the bundle directory.
    pub files: BTreeMap<String, Oid>,
}

fn mode_error(path: &str, mode: i32) -> BundleError {
    let what = match mode {
        MODE_SYMLINK => "is a symlink; bundles hold regular files only",
        MODE_SUBMODULE => "is a submodule; bundles hold regular files only",
        _ => "has an unsupported file mode",
    };
    BundleError::new(ReasonCode::ManifestInvalid, format!("`{path}` {what}"))
        .in_file(path.to_string())
}

/// Check the tree `id` at `repo_path` (its path in the revision, `""` for the root);
/// a refusal is located at `file` (relative to the bundle inside one).
fn check(repo: &Repository, id: Oid, repo_path: &str, file: &str) -> Result<(), BundleError> {
    tree_check::check_tree(repo, id, repo_path).map_err(|e| tree_error(e, file))
}

fn tree_error(e: TreeCheckError, file: &str) -> BundleError {
    let reason = if e.is_malformed() {
        ReasonCode::MalformedTree
    } else if e.is_limit() {
        ReasonCode::LimitExceeded
    } else {
        // Missing or not a tree: the repository could not be read (as `from_git`).
        ReasonCode::NotFound
    };
    BundleError::new(reason, e.to_string()).in_file(file.to_string())
}

/// Two entries reached by one path: impossible in a tree that passed the check, refused
/// anyway rather than one of them dropped.
fn duplicate_path(path: &str) -> BundleError {
    BundleError::new(
        ReasonCode::MalformedTree,
        format!("`{path}` is in the tree twice"),
    )
    .in_file(path.to_string())
}

fn entry_name(bytes: &[u8], parent: &str) -> Result<String, BundleError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| {
        BundleError::new(
            ReasonCode::ManifestInvalid,
            format!(
                "a file name under `{parent}` is not UTF-8 ({}); it cannot be listed in a manifest",
                String::from_utf8_lossy(bytes)
            ),
        )
        .in_file(parent.to_string())
    })
}

/// The bundle directories under `bundles/` of `root`, by name. No `bundles/` means no
/// bundles. A file, symlink or submodule directly under `bundles/` rejects the revision:
/// nothing there could be governed or ignored safely. The root tree, `keys/` (whose
/// `allowed_signers` decides who may sign) and `bundles/` are checked first.
pub fn list_bundles(
    repo: &Repository,
    root: &Tree<'_>,
) -> Result<BTreeMap<String, Oid>, BundleError> {
    check(repo, root.id(), "", ".")?;
    let keys_dir = KEYS_PATH.split_once('/').map_or(KEYS_PATH, |(dir, _)| dir);
    if let Some(keys) = root.get_name(keys_dir) {
        if keys.filemode_raw() == MODE_TREE {
            check(repo, keys.id(), keys_dir, keys_dir)?;
        }
    }
    let Some(entry) = root.get_name(BUNDLES_DIR) else {
        return Ok(BTreeMap::new());
    };
    if entry.filemode_raw() != MODE_TREE {
        return Err(mode_error(BUNDLES_DIR, entry.filemode_raw()));
    }
    check(repo, entry.id(), BUNDLES_DIR, BUNDLES_DIR)?;
    let tree = repo
        .find_tree(entry.id())
        .map_err(|e| BundleError::from_git("reading bundles/", e))?;
    let mut out = BTreeMap::new();
    for e in tree.iter() {
        let name = entry_name(e.name_bytes(), BUNDLES_DIR)?;
        let path = format!("{BUNDLES_DIR}/{name}");
        match e.filemode_raw() {
            MODE_TREE => {
                if out.insert(name, e.id()).is_some() {
                    return Err(duplicate_path(&path));
                }
            }
            MODE_BLOB | MODE_BLOB_EXECUTABLE => {
                return Err(BundleError::new(
                    ReasonCode::UnlistedFile,
                    format!("`{path}` is a file directly under bundles/, which holds only bundle directories"),
                )
                .in_file(path))
            }
            mode => return Err(mode_error(&path, mode)),
        }
    }
    Ok(out)
}

/// Walk one bundle directory. Paths are relative to it; errors name them relative to it
/// too (the location carries the bundle).
pub fn walk_bundle(
    repo: &Repository,
    name: &str,
    tree_id: Oid,
    limits: &Limits,
) -> Result<BundleTree, BundleError> {
    // Each tree checked, then opened; `path` is relative to the bundle directory.
    let bundle_dir = format!("{BUNDLES_DIR}/{name}");
    let find = |id: Oid, path: &str| {
        if path.is_empty() {
            check(repo, id, &bundle_dir, ".")?;
        } else {
            check(repo, id, &format!("{bundle_dir}/{path}"), path)?;
        }
        repo.find_tree(id)
            .map_err(|e| BundleError::from_git(if path.is_empty() { name } else { path }, e))
    };
    let root = find(tree_id, "")?;
    let mut manifest = None;
    let mut signatures = BTreeMap::new();
    let mut signatures_seen = false;
    let mut files = BTreeMap::new();
    // Entries visited, including directories: bounds a walk of a hostile tree before
    // any manifest comparison happens.
    let max_entries = limits
        .max_files
        .saturating_mul(2)
        .saturating_add(MAX_SIGNATURES + 16);
    let mut visited = 0usize;
    let mut stack: Vec<(String, Tree<'_>)> = vec![(String::new(), root)];
    while let Some((prefix, tree)) = stack.pop() {
        for e in tree.iter() {
            visited += 1;
            if visited > max_entries {
                return Err(BundleError::new(
                    ReasonCode::LimitExceeded,
                    format!("bundle directory holds more than {max_entries} entries"),
                ));
            }
            let entry = entry_name(
                e.name_bytes(),
                if prefix.is_empty() { "." } else { &prefix },
            )?;
            let path = if prefix.is_empty() {
                entry.clone()
            } else {
                format!("{prefix}/{entry}")
            };
            let mode = e.filemode_raw();
            match (prefix.as_str(), entry.as_str(), mode) {
                ("", MANIFEST_FILE, MODE_BLOB | MODE_BLOB_EXECUTABLE) => {
                    if manifest.replace(e.id()).is_some() {
                        return Err(duplicate_path(&path));
                    }
                }
                ("", SIGNATURES_DIR, MODE_TREE) => {
                    if std::mem::replace(&mut signatures_seen, true) {
                        return Err(duplicate_path(&path));
                    }
                    check(repo, e.id(), &format!("{bundle_dir}/{path}"), &path)?;
                    signatures = walk_signatures(repo, e.id())?;
                }
                (_, _, MODE_TREE) => stack.push((path.clone(), find(e.id(), &path)?)),
                (_, _, MODE_BLOB | MODE_BLOB_EXECUTABLE) => match files.entry(path) {
                    Entry::Vacant(v) => {
                        v.insert(e.id());
                    }
                    Entry::Occupied(o) => return Err(duplicate_path(o.key())),
                },
                (_, _, mode) => return Err(mode_error(&path, mode)),
            }
        }
    }
    let manifest = manifest.ok_or_else(|| {
        BundleError::new(
            ReasonCode::ManifestInvalid,
            format!("bundles/{name} has no bundle.yaml (or it is not a regular file)"),
        )
        .in_file(MANIFEST_FILE)
    })?;
    Ok(BundleTree {
        name: name.to_string(),
        manifest,
        signatures,
        files,
    })
}

/// `signatures/` holds only `*.sig` files: anything else there is unlisted content.
fn walk_signatures(repo: &Repository, id: Oid) -> Result<BTreeMap<String, Oid>, BundleError> {
    let tree = repo
        .find_tree(id)
        .map_err(|e| BundleError::from_git("reading signatures/", e))?;
    let mut out = BTreeMap::new();
    for e in tree.iter() {
        let name = entry_name(e.name_bytes(), SIGNATURES_DIR)?;
        let path = format!("{SIGNATURES_DIR}/{name}");
        match e.filemode_raw() {
            MODE_BLOB | MODE_BLOB_EXECUTABLE if name.ends_with(".sig") => {
                if out.len() >= MAX_SIGNATURES {
                    return Err(BundleError::new(
                        ReasonCode::LimitExceeded,
                        format!("more than {MAX_SIGNATURES} signature files"),
                    )
                    .in_file(path));
                }
                if out.insert(name, e.id()).is_some() {
                    return Err(duplicate_path(&path));
                }
            }
            MODE_BLOB | MODE_BLOB_EXECUTABLE | MODE_TREE => {
                return Err(BundleError::new(
                    ReasonCode::UnlistedFile,
                    format!("`{path}`: signatures/ holds only `*.sig` files"),
                )
                .in_file(path))
            }
            mode => return Err(mode_error(&path, mode)),
        }
    }
    Ok(out)
}

/// The size of a blob from its object header, without reading its content.
pub fn blob_size(repo: &Repository, id: Oid) -> Result<u64, BundleError> {
    let odb = repo
        .odb()
        .map_err(|e| BundleError::from_git("opening the object database", e))?;
    let (size, kind) = odb
        .read_header(id)
        .map_err(|e| BundleError::from_git("reading an object header", e))?;
    if kind != ObjectType::Blob {
        return Err(BundleError::new(
            ReasonCode::ManifestInvalid,
            format!("object {id} is a {kind}, not a blob"),
        ));
    }
    Ok(size as u64)
}

pub fn read_blob(repo: &Repository, id: Oid) -> Result<Vec<u8>, BundleError> {
    let blob = repo
        .find_blob(id)
        .map_err(|e| BundleError::from_git("reading a blob", e))?;
    Ok(blob.content().to_vec())
}

#[cfg(test)]
pub(crate) mod test_trees {
    //! Trees built directly with libgit2 for tests: the shapes `git add` refuses to make
    //! (symlinks, gitlinks, non-UTF-8 names) are exactly the ones to test.
    use super::*;

    pub enum Node {
        File(Vec<u8>),
        Dir(Vec<(Vec<u8>, Node)>),
        Symlink(&'static str),
        Submodule,
    }

    pub fn file(s: impl AsRef<[u8]>) -> Node {
        Node::File(s.as_ref().to_vec())
    }

    pub fn dir(entries: Vec<(&str, Node)>) -> Node {
        Node::Dir(
            entries
                .into_iter()
                .map(|(n, e)| (n.as_bytes().to_vec(), e))
                .collect(),
        )
    }

    pub fn build(repo: &Repository, node: &Node) -> Oid {
        match node {
            Node::File(bytes) => repo.blob(bytes).unwrap(),
            Node::Symlink(target) => repo.blob(target.as_bytes()).unwrap(),
            Node::Submodule => Oid::from_str("1111111111111111111111111111111111111111").unwrap(),
            Node::Dir(entries) => {
                let mut b = repo.treebuilder(None).unwrap();
                for (name, child) in entries {
                    let mode = match child {
                        Node::File(_) => MODE_BLOB,
                        Node::Dir(_) => MODE_TREE,
                        Node::Symlink(_) => MODE_SYMLINK,
                        Node::Submodule => MODE_SUBMODULE,
                    };
                    let id = build(repo, child);
                    b.insert(
                        std::ffi::OsStr::new(std::str::from_utf8(name).unwrap_or("x")),
                        id,
                        mode,
                    )
                    .unwrap();
                }
                b.write().unwrap()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_trees::*;
    use super::*;

    fn repo() -> (tempfile::TempDir, Repository) {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(dir.path()).unwrap();
        (dir, repo)
    }

    fn walk(node: Node) -> Result<BundleTree, BundleError> {
        let (_d, repo) = repo();
        let id = build(&repo, &node);
        walk_bundle(&repo, "prod", id, &Limits::default())
    }

    #[test]
    fn a_bundle_tree_is_split_into_manifest_signatures_and_files() {
        let t = walk(dir(vec![
            ("bundle.yaml", file("m")),
            ("signatures", dir(vec![("alice.sig", file("s"))])),
            (
                "payments",
                dir(vec![
                    ("deny.yaml", file("d")),
                    ("sub", dir(vec![("x.yaml", file("x"))])),
                ]),
            ),
            ("top.yaml", file("t")),
        ]))
        .unwrap();
        assert_eq!(t.signatures.keys().collect::<Vec<_>>(), vec!["alice.sig"]);
        assert_eq!(
            t.files.keys().collect::<Vec<_>>(),
            vec!["payments/deny.yaml", "payments/sub/x.yaml", "top.yaml"]
        );
    }

    #[test]
    fn symlink_is_rejected() {
        let e = walk(dir(vec![
            ("bundle.yaml", file("m")),
            ("evil.yaml", Node::Symlink("/etc/passwd")),
        ]))
        .unwrap_err();
        assert_eq!(e.reason, ReasonCode::ManifestInvalid);
        assert!(e.message.contains("symlink"), "{}", e.message);
        assert_eq!(e.location.file.as_deref(), Some("evil.yaml"));
    }

    #[test]
    fn symlinked_manifest_is_rejected() {
        let e = walk(dir(vec![(
            "bundle.yaml",
            Node::Symlink("../other/bundle.yaml"),
        )]))
        .unwrap_err();
        assert!(e.message.contains("symlink"), "{}", e.message);
    }

    #[test]
    fn submodule_is_rejected() {
        let e = walk(dir(vec![
            ("bundle.yaml", file("m")),
            ("vendor", Node::Submodule),
        ]))
        .unwrap_err();
        assert_eq!(e.reason, ReasonCode::ManifestInvalid);
        assert!(e.message.contains("submodule"), "{}", e.message);
    }

    #[test]
    fn non_utf8_name_is_rejected() {
        let (_d, repo) = repo();
        let blob = repo.blob(b"x").unwrap();
        let manifest = repo.blob(b"m").unwrap();
        // libgit2's treebuilder takes names as paths; on Unix any bytes but `/` and NUL.
        use std::os::unix::ffi::OsStrExt;
        let mut b = repo.treebuilder(None).unwrap();
        b.insert(
            std::ffi::OsStr::from_bytes(b"caf\xe9.yaml"),
            blob,
            MODE_BLOB,
        )
        .unwrap();
        b.insert("bundle.yaml", manifest, MODE_BLOB).unwrap();
        let id = b.write().unwrap();
        let e = walk_bundle(&repo, "prod", id, &Limits::default()).unwrap_err();
        assert_eq!(e.reason, ReasonCode::ManifestInvalid);
        assert!(e.message.contains("not UTF-8"), "{}", e.message);
    }

    #[test]
    fn missing_manifest_is_rejected() {
        let e = walk(dir(vec![("a.yaml", file("x"))])).unwrap_err();
        assert_eq!(
            (e.reason, e.location.file.as_deref()),
            (ReasonCode::ManifestInvalid, Some("bundle.yaml"))
        );
    }

    #[test]
    fn non_sig_file_in_signatures_is_unlisted() {
        let e = walk(dir(vec![
            ("bundle.yaml", file("m")),
            ("signatures", dir(vec![("payload.yaml", file("x"))])),
        ]))
        .unwrap_err();
        assert_eq!(e.reason, ReasonCode::UnlistedFile);
    }

    #[test]
    fn file_directly_under_bundles_is_rejected_and_bundles_are_listed() {
        let (_d, repo) = repo();
        let root = build(
            &repo,
            &dir(vec![(
                "bundles",
                dir(vec![
                    ("a", dir(vec![("bundle.yaml", file("m"))])),
                    ("b", dir(vec![("bundle.yaml", file("m"))])),
                ]),
            )]),
        );
        let root = repo.find_tree(root).unwrap();
        assert_eq!(
            list_bundles(&repo, &root)
                .unwrap()
                .keys()
                .collect::<Vec<_>>(),
            vec!["a", "b"]
        );
        let root = build(
            &repo,
            &dir(vec![("bundles", dir(vec![("README.yaml", file("x"))]))]),
        );
        let root = repo.find_tree(root).unwrap();
        assert_eq!(
            list_bundles(&repo, &root).unwrap_err().reason,
            ReasonCode::UnlistedFile
        );
        let root = build(
            &repo,
            &dir(vec![("keys", dir(vec![("allowed_signers", file("x"))]))]),
        );
        let root = repo.find_tree(root).unwrap();
        assert!(list_bundles(&repo, &root).unwrap().is_empty());
    }

    /// A tree object written byte for byte: libgit2's object database stores what it is
    /// given, so these are the trees git fsck refuses.
    fn raw_tree(repo: &Repository, entries: &[(&str, &[u8], Oid)]) -> Oid {
        let mut bytes = Vec::new();
        for (mode, name, id) in entries {
            bytes.extend_from_slice(mode.as_bytes());
            bytes.push(b' ');
            bytes.extend_from_slice(name);
            bytes.push(0);
            bytes.extend_from_slice(id.as_bytes());
        }
        repo.odb().unwrap().write(ObjectType::Tree, &bytes).unwrap()
    }

    fn malformed(e: BundleError, file: &str, mentions: &str) {
        assert_eq!(e.reason, ReasonCode::MalformedTree, "{}", e.message);
        assert_eq!(e.location.file.as_deref(), Some(file), "{}", e.message);
        assert!(
            e.message.contains("malformed tree") && e.message.contains(mentions),
            "{}",
            e.message
        );
    }

    #[test]
    fn duplicate_manifest_is_a_malformed_tree_not_the_last_one_read() {
        let (_d, repo) = repo();
        let real = repo.blob(b"real").unwrap();
        let evil = repo.blob(b"evil").unwrap();
        for (first, second) in [(real, evil), (evil, real)] {
            let id = raw_tree(
                &repo,
                &[
                    ("100644", b"bundle.yaml", first),
                    ("100644", b"bundle.yaml", second),
                ],
            );
            let e = walk_bundle(&repo, "prod", id, &Limits::default()).unwrap_err();
            malformed(e, ".", "`bundles/prod/`");
        }
    }

    #[test]
    fn malformed_trees_below_a_bundle_are_refused_with_their_path() {
        let (_d, repo) = repo();
        let m = repo.blob(b"m").unwrap();
        let x = repo.blob(b"x").unwrap();
        // payments/ holds deny.yaml twice; payments/sub/ holds a `..`.
        let dup = raw_tree(
            &repo,
            &[("100644", b"deny.yaml", x), ("100644", b"deny.yaml", m)],
        );
        let dotdot = raw_tree(&repo, &[("100644", b"..", x)]);
        let nested = raw_tree(&repo, &[("40000", b"sub", dotdot)]);
        let sigs = raw_tree(&repo, &[("100644", b"a.sig", x), ("100644", b"a.sig", x)]);
        for (dir, sub, file, shown) in [
            (
                &b"payments"[..],
                dup,
                "payments",
                "`bundles/prod/payments/`",
            ),
            (b"payments", nested, "payments/sub", "`..`"),
            (b"signatures", sigs, "signatures", "`a.sig`"),
        ] {
            let id = raw_tree(&repo, &[("100644", b"bundle.yaml", m), ("40000", dir, sub)]);
            let e = walk_bundle(&repo, "prod", id, &Limits::default()).unwrap_err();
            malformed(e, file, shown);
        }
    }

    #[test]
    fn a_name_with_a_slash_cannot_shadow_a_nested_file() {
        let (_d, repo) = repo();
        let m = repo.blob(b"m").unwrap();
        let real = repo.blob(b"real").unwrap();
        let evil = repo.blob(b"evil").unwrap();
        let payments = raw_tree(&repo, &[("100644", b"deny.yaml", real)]);
        let id = raw_tree(
            &repo,
            &[
                ("100644", b"bundle.yaml", m),
                ("40000", b"payments", payments),
                ("100644", b"payments/deny.yaml", evil),
            ],
        );
        let e = walk_bundle(&repo, "prod", id, &Limits::default()).unwrap_err();
        malformed(e, ".", "`payments/deny.yaml` has `/`");
    }

    #[test]
    fn the_root_keys_and_bundles_trees_are_checked_before_listing() {
        let (_d, repo) = repo();
        let x = repo.blob(b"x").unwrap();
        let prod = raw_tree(&repo, &[("100644", b"bundle.yaml", x)]);
        let bundles = raw_tree(&repo, &[("40000", b"prod", prod)]);
        let keys = raw_tree(&repo, &[("100644", b"allowed_signers", x)]);
        let list = |root: Oid| list_bundles(&repo, &repo.find_tree(root).unwrap());
        let good = raw_tree(
            &repo,
            &[("40000", b"bundles", bundles), ("40000", b"keys", keys)],
        );
        assert_eq!(list(good).unwrap().len(), 1);

        let two_prods = raw_tree(&repo, &[("40000", b"prod", prod), ("40000", b"prod", prod)]);
        let root = raw_tree(
            &repo,
            &[("40000", b"bundles", two_prods), ("40000", b"keys", keys)],
        );
        malformed(list(root).unwrap_err(), "bundles", "`bundles/`");

        let two_files = raw_tree(
            &repo,
            &[
                ("100644", b"allowed_signers", x),
                ("100644", b"allowed_signers", x),
            ],
        );
        let root = raw_tree(
            &repo,
            &[
                ("40000", b"bundles", bundles),
                ("40000", b"keys", two_files),
            ],
        );
        malformed(list(root).unwrap_err(), "keys", "`keys/`");

        let root = raw_tree(
            &repo,
            &[
                ("40000", b"bundles", bundles),
                ("40000", b"keys", keys),
                ("40000", b"keys", keys),
            ],
        );
        malformed(list(root).unwrap_err(), ".", "at the root of the revision");

        // Unsorted: `bundles` after `keys`.
        let root = raw_tree(
            &repo,
            &[("40000", b"keys", keys), ("40000", b"bundles", bundles)],
        );
        malformed(list(root).unwrap_err(), ".", "out of git's order");

        // A `.git` at the root rejects even a revision without bundles.
        let root = raw_tree(&repo, &[("40000", b".GIT", keys), ("40000", b"keys", keys)]);
        malformed(list(root).unwrap_err(), ".", "`.GIT`");
    }

    #[test]
    fn hostile_tree_with_too_many_entries_hits_the_limit() {
        let mut entries: Vec<(Vec<u8>, Node)> = (0..200)
            .map(|i| (format!("f{i}.yaml").into_bytes(), file(format!("{i}"))))
            .collect();
        entries.push((b"bundle.yaml".to_vec(), file("m")));
        let (_d, repo) = repo();
        let id = build(&repo, &Node::Dir(entries));
        let limits = Limits {
            max_files: 5,
            ..Limits::default()
        };
        assert_eq!(
            walk_bundle(&repo, "prod", id, &limits).unwrap_err().reason,
            ReasonCode::LimitExceeded
        );
        assert!(walk_bundle(&repo, "prod", id, &Limits::default()).is_ok());
    }
}
