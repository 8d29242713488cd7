//! Stage 1: the repository. Opening local paths and URLs, resolving revisions, reading
//! raw commit objects and trees. It decides nothing about trust.
//!
//! API CONTRACT: `Repo::open(path_or_url: &str) -> Result<Repo, GitError>`,
//! `Repo::git2(&self) -> &git2::Repository`, `Repo::resolve(&self, rev: &str) -> Result<git2::Oid, GitError>`.

/// An open repository.
pub struct Repo {
    inner: git2::Repository,
}

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("{0}")]
    Git(#[from] git2::Error),
}

impl Repo {
    pub fn open(path_or_url: &str) -> Result<Repo, GitError> {
        Ok(Repo { inner: git2::Repository::open(path_or_url)? })
    }
    pub fn git2(&self) -> &git2::Repository {
        &self.inner
    }
    pub fn resolve(&self, rev: &str) -> Result<git2::Oid, GitError> {
        Ok(self.inner.revparse_single(rev)?.peel_to_commit()?.id())
    }
}
