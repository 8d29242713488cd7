//! The local clone the daemon verifies from: a bare repository in the cache directory,
//! updated by fetching one branch into `refs/remotes/origin/<branch>`.

use super::credentials::GitAuth;
use super::error::RemoteError;
use super::known_hosts::KnownHosts;
use super::session::Session;
use super::url::{transport, Transport};
use git2::{AutotagOption, Direction, FetchOptions, FetchPrune, Oid, Repository};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where and how to fetch.
#[derive(Debug, Clone)]
pub struct RemoteConfig {
    pub url: String,
    pub branch: String,
    pub auth: GitAuth,
    pub known_hosts: Option<KnownHosts>,
    /// PEM file of CAs trusted for HTTPS instead of the system store.
    pub ca_bundle: Option<PathBuf>,
    /// Limit for one ls-remote or fetch, connection included.
    pub timeout: Duration,
    /// Most bytes one fetch may bring (a repository that suddenly grows huge is refused).
    pub max_fetch_bytes: u64,
}

impl RemoteConfig {
    pub fn new(url: impl Into<String>, branch: impl Into<String>) -> Self {
        RemoteConfig {
            url: url.into(),
            branch: branch.into(),
            auth: GitAuth::Anonymous,
            known_hosts: None,
            ca_bundle: None,
            timeout: Duration::from_secs(60),
            max_fetch_bytes: 512 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchOutcome {
    /// The branch head now in the cache.
    pub head: Oid,
    /// Bytes the transfer brought (0 when nothing was new).
    pub received_bytes: u64,
    /// The cache was unusable and was rebuilt from scratch.
    pub recloned: bool,
}

/// A remote branch and its cache.
pub struct GitRemote {
    config: RemoteConfig,
    transport: Transport,
    repo_dir: PathBuf,
    /// The head this process last found intact (after a fetch, or on first use). Reading
    /// every object of a 10,000-file tree again each poll would cost more than the rest
    /// of a no-change cycle; the check runs again after any fetch, and after any failed
    /// cycle ([`GitRemote::recheck_cache`]).
    checked_head: std::sync::Mutex<Option<Oid>>,
}

impl std::fmt::Debug for GitRemote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitRemote")
            .field("url", &self.config.url)
            .field("branch", &self.config.branch)
            .finish()
    }
}

impl GitRemote {
    pub fn new(config: RemoteConfig, cache_dir: &Path) -> Result<GitRemote, RemoteError> {
        let transport = transport(&config.url).map_err(RemoteError::Config)?;
        if matches!(transport, Transport::Ssh { .. }) && config.known_hosts.is_none() {
            return Err(RemoteError::Config("an ssh remote needs --known-hosts-file: host keys are pinned, never trusted on first use".into()));
        }
        if config.branch.is_empty()
            || !git2::Reference::is_valid_name(&format!("refs/heads/{}", config.branch))
        {
            return Err(RemoteError::Config(format!(
                "invalid branch name {:?}",
                config.branch
            )));
        }
        set_global_options(&config)?;
        Ok(GitRemote {
            transport,
            repo_dir: cache_dir.join("repo.git"),
            config,
            checked_head: std::sync::Mutex::new(None),
        })
    }

    pub fn config(&self) -> &RemoteConfig {
        &self.config
    }

    /// The bare repository the fetched history lives in.
    pub fn cache_path(&self) -> &Path {
        &self.repo_dir
    }

    /// The ref the fetched branch head is stored under in the cache.
    pub fn tracking_ref(&self) -> String {
        format!("refs/remotes/origin/{}", self.config.branch)
    }

    /// The head already in the cache, if the cache is usable.
    pub fn cached_head(&self) -> Option<Oid> {
        let repo = Repository::open_bare(&self.repo_dir).ok()?;
        let head = repo.refname_to_id(&self.tracking_ref()).ok()?;
        if *self.checked() == Some(head) {
            return Some(head);
        }
        let ok = intact(&repo, head);
        *self.checked() = ok.then_some(head);
        ok.then_some(head)
    }

    /// Fold the cache's packs into one when fetches have piled up more than
    /// [`repack::MAX_PACKS`](super::repack::MAX_PACKS); returns the packs removed. Run
    /// between cycles, never during one.
    pub fn consolidate_packs(&self) -> Result<usize, super::repack::RepackError> {
        let repo = match Repository::open_bare(&self.repo_dir) {
            Ok(repo) => repo,
            // No cache yet, or one the next fetch will rebuild anyway.
            Err(_) => return Ok(0),
        };
        let removed = super::repack::consolidate(&repo)?;
        if removed > 0 {
            // The same objects, in another file: checked again at the next use.
            self.recheck_cache();
        }
        Ok(removed)
    }

    /// Check the cache in full again at its next use: something read from it failed.
    pub fn recheck_cache(&self) {
        *self.checked() = None;
    }

    fn checked(&self) -> std::sync::MutexGuard<'_, Option<Oid>> {
        // A plain value: a panic elsewhere cannot leave it half-written.
        self.checked_head
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The branch head on the remote, without fetching (ls-remote).
    pub fn remote_head(&self) -> Result<Oid, RemoteError> {
        let (repo, _) = self.open_or_init()?;
        let mut remote = repo
            .remote_anonymous(&self.config.url)
            .map_err(|e| self.git_err(e))?;
        let session = self.session();
        let connection = remote
            .connect_auth(Direction::Fetch, Some(session.callbacks()), None)
            .map_err(|e| session.error(e))?;
        let wanted = format!("refs/heads/{}", self.config.branch);
        let heads = connection.list().map_err(|e| session.error(e))?;
        heads
            .iter()
            .find(|h| h.name() == wanted)
            .map(|h| h.oid())
            .ok_or_else(|| RemoteError::BranchNotFound {
                url: self.config.url.clone(),
                branch: self.config.branch.clone(),
            })
    }

    /// Fetches the branch into the cache (forced: the verifier, not the fetch, refuses a
    /// history rewrite). A cache that cannot be opened, or that is missing objects after
    /// the fetch, is deleted and fetched again from scratch, once.
    pub fn fetch(&self) -> Result<FetchOutcome, RemoteError> {
        let (repo, mut recloned) = self.open_or_init()?;
        let result = self.fetch_into(&repo);
        match result {
            Ok((head, bytes)) if intact(&repo, head) => {
                *self.checked() = Some(head);
                return Ok(FetchOutcome {
                    head,
                    received_bytes: bytes,
                    recloned,
                });
            }
            Ok(_) => {
                tracing::warn!(cache = %self.repo_dir.display(), "cache is missing objects after fetch; recloning")
            }
            Err(e @ RemoteError::Git { .. }) if is_local_damage(&e) && !recloned => {
                tracing::warn!(cache = %self.repo_dir.display(), error = %e, "fetch into the cache failed; recloning");
            }
            Err(e) => return Err(e),
        }
        drop(repo);
        self.wipe()?;
        recloned = true;
        let (repo, _) = self.open_or_init()?;
        let (head, bytes) = self.fetch_into(&repo)?;
        if !intact(&repo, head) {
            return Err(RemoteError::Config(format!(
                "fetched head {head} is not readable even after a fresh clone"
            )));
        }
        *self.checked() = Some(head);
        Ok(FetchOutcome {
            head,
            received_bytes: bytes,
            recloned,
        })
    }

    fn fetch_into(&self, repo: &Repository) -> Result<(Oid, u64), RemoteError> {
        let mut remote = repo
            .remote_anonymous(&self.config.url)
            .map_err(|e| self.git_err(e))?;
        let session = self.session();
        let mut options = FetchOptions::new();
        options
            .remote_callbacks(session.callbacks())
            .download_tags(AutotagOption::None)
            .prune(FetchPrune::Off)
            .update_fetchhead(false);
        let refspec = format!("+refs/heads/{}:{}", self.config.branch, self.tracking_ref());
        remote
            .fetch(&[refspec.as_str()], Some(&mut options), None)
            .map_err(|e| session.error(e))?;
        let bytes = session.received_bytes.get();
        drop(options);
        let head =
            repo.refname_to_id(&self.tracking_ref())
                .map_err(|_| RemoteError::BranchNotFound {
                    url: self.config.url.clone(),
                    branch: self.config.branch.clone(),
                })?;
        Ok((head, bytes))
    }

    fn session(&self) -> Session<'_> {
        Session::new(
            &self.config.url,
            &self.transport,
            &self.config.auth,
            self.config.known_hosts.as_ref(),
            self.config.timeout,
            self.config.max_fetch_bytes,
        )
    }

    /// Opens the cache, or builds an empty one when it is absent or unusable; says whether
    /// an unusable cache was thrown away.
    fn open_or_init(&self) -> Result<(Repository, bool), RemoteError> {
        let mut wiped = false;
        if self.repo_dir.exists() {
            match Repository::open_bare(&self.repo_dir) {
                Ok(repo) if repo.is_bare() && repo.odb().is_ok() => return Ok((repo, false)),
                _ => {
                    tracing::warn!(cache = %self.repo_dir.display(), "cache is not a usable repository; recloning");
                    self.wipe()?;
                    wiped = true;
                }
            }
        }
        let repo = Repository::init_bare(&self.repo_dir).map_err(|e| self.git_err(e))?;
        Ok((repo, wiped))
    }

    fn wipe(&self) -> Result<(), RemoteError> {
        *self.checked() = None;
        match std::fs::remove_dir_all(&self.repo_dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(RemoteError::CacheIo {
                path: self.repo_dir.clone(),
                source,
            }),
        }
    }

    fn git_err(&self, source: git2::Error) -> RemoteError {
        RemoteError::Git {
            url: self.config.url.clone(),
            source,
        }
    }
}

/// The head commit and its whole tree are readable: the objects the verifier is about to
/// read are all there and not corrupt.
fn intact(repo: &Repository, head: Oid) -> bool {
    let Ok(commit) = repo.find_commit(head) else {
        return false;
    };
    let Ok(tree) = commit.tree() else {
        return false;
    };
    let mut ok = true;
    let walked = tree.walk(git2::TreeWalkMode::PreOrder, |_, entry| {
        if entry.kind() == Some(git2::ObjectType::Blob) && repo.find_blob(entry.id()).is_err() {
            ok = false;
            return git2::TreeWalkResult::Abort;
        }
        git2::TreeWalkResult::Ok
    });
    walked.is_ok() && ok
}

/// libgit2's CA locations and socket timeouts are process-wide. The daemon builds one
/// remote at start-up, before any git2 network call; the last remote built wins.
fn set_global_options(config: &RemoteConfig) -> Result<(), RemoteError> {
    let millis = i32::try_from(config.timeout.as_millis())
        .unwrap_or(i32::MAX)
        .max(1);
    // SAFETY: libgit2 reads these options when it opens a connection; they are set here,
    // at construction, and not while another thread is inside a git2 network call of ours.
    unsafe {
        git2::opts::set_server_connect_timeout_in_milliseconds(millis)
            .map_err(|e| RemoteError::Config(format!("setting the connect timeout: {e}")))?;
        git2::opts::set_server_timeout_in_milliseconds(millis)
            .map_err(|e| RemoteError::Config(format!("setting the I/O timeout: {e}")))?;
        if let Some(ca) = &config.ca_bundle {
            if !ca.is_file() {
                return Err(RemoteError::Config(format!(
                    "CA bundle {} is not a file",
                    ca.display()
                )));
            }
            git2::opts::set_ssl_cert_file(ca)
                .map_err(|e| RemoteError::Config(format!("CA bundle {}: {e}", ca.display())))?;
        }
    }
    Ok(())
}

/// A git2 failure in the cache itself (objects, refs, files), as opposed to the network:
/// only this kind is worth a fresh clone.
fn is_local_damage(error: &RemoteError) -> bool {
    use git2::ErrorClass::*;
    matches!(error, RemoteError::Git { source, .. }
        if matches!(source.class(), Odb | Object | Repository | Reference | Zlib | Filesystem | Index))
}
