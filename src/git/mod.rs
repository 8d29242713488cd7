//! Stage 1: the repository. Opening local paths and URLs, resolving revisions, reading
//! raw commit objects and files of a tree. It decides nothing about trust.

pub mod tree_check;

use std::path::Path;

/// libgit2's one-time set-up, done by [`set_up_before_threads`].
static SET_UP: std::sync::Once = std::sync::Once::new();

/// libgit2's one-time set-up, for the process to do while it has one thread: `cli::run`
/// calls this first for every command that reads git (its `uses_git` names them).
///
/// git2 does it on first use, and with HTTPS built in that includes `openssl_probe`
/// writing SSL_CERT_FILE and SSL_CERT_DIR into the environment. Writing the environment
/// while another thread reads it (libc `getenv` in OpenSSL, the resolver, the time-zone
/// code) is undefined behaviour, and by a command's first git call the runtime's worker
/// threads are running. Strict hash verification is libgit2's default; saying so here
/// keeps it on whatever a later git2 defaults to.
pub fn set_up_before_threads() {
    SET_UP.call_once(|| git2::opts::strict_hash_verification(true));
}

/// [`set_up_before_threads`] for a process that reads only local repositories and
/// makes no TLS connection at all (`verify` of a path): libgit2's set-up then skips
/// loading the system's CA certificates, which is most of a short command's start-up
/// (docs/performance.md). Never for a command that may fetch over HTTPS or talk to an
/// API server.
pub fn set_up_before_threads_offline() {
    // Empty CA locations for OpenSSL, read once by libgit2's set-up below. The process
    // has one thread at this point (see `set_up_before_threads`), so writing the
    // environment races with nothing.
    std::env::set_var("SSL_CERT_FILE", "/dev/null");
    std::env::set_var("SSL_CERT_DIR", "/dev/null");
    set_up_before_threads();
}

/// An open repository. A URL is cloned (bare) into a temporary directory that lives as
/// long as the `Repo`.
pub struct Repo {
    inner: git2::Repository,
    _clone_dir: Option<tempfile::TempDir>,
}

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("{path} is not a git repository: {source}")]
    NotARepository { path: String, source: git2::Error },
    #[error("cannot clone {url}: {source}")]
    Clone { url: String, source: git2::Error },
    #[error("revision {rev:?} not found in the repository")]
    UnknownRevision { rev: String },
    #[error("revision {rev:?} is ambiguous: {why}")]
    AmbiguousRevision { rev: String, why: String },
    #[error("{rev:?} is not a full commit id (40 hexadecimal digits)")]
    NotAFullId { rev: String },
    #[error("object {oid} is {size} bytes, more than the {limit} allowed")]
    TooLarge {
        oid: git2::Oid,
        size: usize,
        limit: usize,
    },
    #[error("object {oid} is a {found}, not a {expected}")]
    WrongType {
        oid: git2::Oid,
        found: String,
        expected: &'static str,
    },
    #[error("{0}")]
    Git(#[from] git2::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// What a path names in a tree.
#[derive(Debug, PartialEq, Eq)]
pub enum TreeFile {
    Missing,
    /// A symlink, submodule or directory where a regular file was expected.
    NotAFile(String),
    File(git2::Oid),
}

impl Repo {
    pub fn open(path_or_url: &str) -> Result<Repo, GitError> {
        if is_url(path_or_url) {
            let dir = tempfile::Builder::new()
                .prefix("netpol-sync-clone-")
                .tempdir()?;
            let inner = git2::build::RepoBuilder::new()
                .bare(true)
                .clone(path_or_url, dir.path())
                .map_err(|source| GitError::Clone {
                    url: path_or_url.to_string(),
                    source,
                })?;
            return Ok(Repo {
                inner,
                _clone_dir: Some(dir),
            });
        }
        let inner = git2::Repository::open_ext(
            Path::new(path_or_url),
            git2::RepositoryOpenFlags::NO_SEARCH,
            std::iter::empty::<&std::ffi::OsStr>(),
        )
        .map_err(|source| GitError::NotARepository {
            path: path_or_url.to_string(),
            source,
        })?;
        Ok(Repo {
            inner,
            _clone_dir: None,
        })
    }

    pub fn git2(&self) -> &git2::Repository {
        &self.inner
    }

    /// The commit `rev` names, read without git's rev-spec syntax (no `~`, `^`, `@{}`,
    /// abbreviated ids or DWIM through refs of other kinds), so that a ref pushed under a
    /// misleading name cannot stand in for what the caller meant:
    ///
    /// - a full 40-hex commit id: that commit, which must exist (a ref with the same
    ///   name makes it ambiguous);
    /// - `HEAD`: what the repository's HEAD points at;
    /// - `refs/…`: exactly that reference;
    /// - any other NAME: the branch `refs/heads/NAME` (in a URL clone, the fetched
    ///   `refs/remotes/origin/NAME` first). A tag of the same name makes it ambiguous.
    ///
    /// The rules are in docs/trust.md ("Which revision").
    pub fn resolve(&self, rev: &str) -> Result<git2::Oid, GitError> {
        let unknown = || GitError::UnknownRevision {
            rev: rev.to_string(),
        };
        if is_full_id(rev) {
            let others = [
                format!("refs/heads/{rev}"),
                format!("refs/tags/{rev}"),
                format!("refs/remotes/origin/{rev}"),
                rev.to_string(),
            ];
            if let Some(r) = others.iter().find(|r| self.reference_exists(r)) {
                return Err(GitError::AmbiguousRevision {
                    rev: rev.to_string(),
                    why: format!("a reference {r} has the same name as the commit id"),
                });
            }
            return self.commit_by_id(rev);
        }
        let name = if rev == "HEAD" || rev.starts_with("refs/") {
            rev.to_string()
        } else {
            if git2::Reference::is_valid_name(&format!("refs/tags/{rev}"))
                && self.reference_exists(&format!("refs/tags/{rev}"))
            {
                return Err(GitError::AmbiguousRevision {
                    rev: rev.to_string(),
                    why: format!(
                        "refs/tags/{rev} exists beside the branch name; pass refs/heads/{rev} or refs/tags/{rev}"
                    ),
                });
            }
            let fetched = format!("refs/remotes/origin/{rev}");
            if self._clone_dir.is_some() && self.reference_exists(&fetched) {
                fetched
            } else {
                format!("refs/heads/{rev}")
            }
        };
        if name != "HEAD" && !git2::Reference::is_valid_name(&name) {
            return Err(unknown());
        }
        let reference = self.inner.find_reference(&name).map_err(|_| unknown())?;
        let object = reference
            .resolve()
            .and_then(|r| r.peel(git2::ObjectType::Commit))
            .map_err(|_| unknown())?;
        Ok(object.id())
    }

    /// A full 40-hex commit id that must exist in the repository as a commit. Never a
    /// rev-spec: this is how a recorded or `--since` revision is read.
    pub fn commit_by_id(&self, id: &str) -> Result<git2::Oid, GitError> {
        let unknown = || GitError::UnknownRevision {
            rev: id.to_string(),
        };
        if !is_full_id(id) {
            return Err(GitError::NotAFullId {
                rev: id.to_string(),
            });
        }
        let oid = git2::Oid::from_str(id).map_err(|_| unknown())?;
        let odb = self.inner.odb()?;
        match odb.read_header(oid) {
            Ok((_, git2::ObjectType::Commit)) => Ok(oid),
            Ok((_, found)) => Err(GitError::WrongType {
                oid,
                found: found.str().to_string(),
                expected: "commit",
            }),
            Err(_) => Err(unknown()),
        }
    }

    fn reference_exists(&self, name: &str) -> bool {
        git2::Reference::is_valid_name(name) && self.inner.find_reference(name).is_ok()
    }

    /// The raw bytes of a commit object (what `git cat-file commit` prints), refusing
    /// objects larger than `limit` before reading them.
    pub fn read_commit_raw(&self, oid: git2::Oid, limit: usize) -> Result<Vec<u8>, GitError> {
        self.read_raw(oid, git2::ObjectType::Commit, "commit", limit)
    }

    /// The bytes of a blob, refusing blobs larger than `limit` before reading them.
    pub fn read_blob(&self, oid: git2::Oid, limit: usize) -> Result<Vec<u8>, GitError> {
        self.read_raw(oid, git2::ObjectType::Blob, "blob", limit)
    }

    fn read_raw(
        &self,
        oid: git2::Oid,
        kind: git2::ObjectType,
        expected: &'static str,
        limit: usize,
    ) -> Result<Vec<u8>, GitError> {
        let odb = self.inner.odb()?;
        let (size, found) = odb.read_header(oid)?;
        if found != kind {
            return Err(GitError::WrongType {
                oid,
                found: found.str().to_string(),
                expected,
            });
        }
        if size > limit {
            return Err(GitError::TooLarge { oid, size, limit });
        }
        let object = odb.read(oid)?;
        let data = object.data().to_vec();
        Ok(data)
    }

    /// Look up `path` (slash-separated) in `tree`.
    pub fn tree_file(&self, tree: git2::Oid, path: &str) -> Result<TreeFile, GitError> {
        // One name at a time, each tree checked (`tree_check`) before a name is looked up
        // in it: a duplicate, a name holding `/` or an unsorted tree would otherwise make
        // the lookup pick one entry of several silently.
        // The names are looked up in the very bytes the check read, not in a second read
        // of the object through libgit2's tree cache.
        let mut tree = tree;
        let mut walked = String::new();
        let mut names = path.split('/').peekable();
        while let Some(name) = names.next() {
            let object = tree_check::read_checked_tree(&self.inner, tree, &walked)?;
            if name.is_empty() || name.contains('\0') {
                return Ok(TreeFile::Missing);
            }
            let Some(entry) = tree_check::raw_entries(&object)
                .map_while(Result::ok)
                .find(|e| e.name == name.as_bytes())
            else {
                return Ok(TreeFile::Missing);
            };
            if names.peek().is_some() {
                if !entry.is_dir() {
                    return Ok(TreeFile::Missing);
                }
                if !walked.is_empty() {
                    walked.push('/');
                }
                walked.push_str(name);
                tree = entry.oid();
                continue;
            }
            // A regular file, executable or not, as libgit2 normalises the mode
            // (100664 is a 100644); a symlink, submodule or directory is not one.
            if !entry.is_regular_file() {
                return Ok(TreeFile::NotAFile(format!("mode {:o}", entry.mode)));
            }
            return Ok(TreeFile::File(entry.oid()));
        }
        Ok(TreeFile::Missing)
    }
}

/// 40 hexadecimal digits: the only form a recorded revision takes.
pub fn is_full_id(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `scheme://…` or scp-like `user@host:path`; anything else is a local path.
pub fn is_url(s: &str) -> bool {
    if s.contains("://") {
        return true;
    }
    match (s.find('@'), s.find(':'), s.find('/')) {
        (Some(at), Some(colon), slash) => at < colon && slash.is_none_or(|sl| colon < sl),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_paths_are_told_apart() {
        assert!(is_url("https://github.com/o/r.git"));
        assert!(is_url("file:///tmp/repo"));
        assert!(is_url("git@github.com:o/r.git"));
        assert!(!is_url("/tmp/repo"));
        assert!(!is_url("./repo"));
        assert!(!is_url("dir/with@at:colon"));
    }

    #[test]
    fn missing_directory_is_not_a_repository() {
        assert!(matches!(
            Repo::open("/nonexistent/netpol-sync"),
            Err(GitError::NotARepository { .. })
        ));
    }

    /// `keys/allowed_signers` looked up in raw trees, with the modes git writes: a regular
    /// file in any of its `100xxx` forms is one (as libgit2 reads them); a symlink, a
    /// submodule or a directory is not; a `keys` that is no directory hides nothing.
    #[test]
    fn a_file_is_found_by_its_mode_in_the_bytes_the_tree_check_read() {
        let dir = tempfile::tempdir().unwrap();
        let git = git2::Repository::init_bare(dir.path()).unwrap();
        let odb = git.odb().unwrap();
        let blob = odb.write(git2::ObjectType::Blob, b"k\n").unwrap();
        let tree = |entries: &[(&str, &str, git2::Oid)]| {
            let mut raw = Vec::new();
            for (mode, name, id) in entries {
                raw.extend_from_slice(format!("{mode} {name}\0").as_bytes());
                raw.extend_from_slice(id.as_bytes());
            }
            odb.write(git2::ObjectType::Tree, &raw).unwrap()
        };
        let repo = Repo {
            inner: git2::Repository::open_bare(dir.path()).unwrap(),
            _clone_dir: None,
        };
        let lookup = |mode: &str| {
            let keys = tree(&[(mode, "allowed_signers", blob)]);
            let root = tree(&[("40000", "keys", keys)]);
            repo.tree_file(root, "keys/allowed_signers").unwrap()
        };
        assert_eq!(lookup("100644"), TreeFile::File(blob));
        assert_eq!(lookup("100755"), TreeFile::File(blob));
        assert_eq!(lookup("100664"), TreeFile::File(blob));
        assert_eq!(lookup("120000"), TreeFile::NotAFile("mode 120000".into()));
        assert_eq!(lookup("160000"), TreeFile::NotAFile("mode 160000".into()));
        let sub = tree(&[("100644", "x", blob)]);
        let keys = tree(&[("40000", "allowed_signers", sub)]);
        let root = tree(&[("40000", "keys", keys)]);
        assert_eq!(
            repo.tree_file(root, "keys/allowed_signers").unwrap(),
            TreeFile::NotAFile("mode 40000".into())
        );
        let root = tree(&[("100644", "keys", blob)]);
        assert_eq!(
            repo.tree_file(root, "keys/allowed_signers").unwrap(),
            TreeFile::Missing
        );
        let root = tree(&[("40000", "other", keys)]);
        assert_eq!(
            repo.tree_file(root, "keys/allowed_signers").unwrap(),
            TreeFile::Missing
        );
        // A root the check refuses (a duplicated name) is an error, never a pick.
        let keys = tree(&[("100644", "allowed_signers", blob)]);
        let root = tree(&[("40000", "keys", keys), ("40000", "keys", keys)]);
        assert!(repo.tree_file(root, "keys/allowed_signers").is_err());
    }
}
