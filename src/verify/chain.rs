//! The first-parent chain from the last applied revision to the new head.
//!
//! Rules (DESIGN §2):
//! - Without `since`, the head alone is verified against the trust anchor.
//! - With `since = C`, C must be on the head's *first-parent* line. A C reachable only
//!   through a merge's second parent is refused as `not-fast-forward` too: the commits
//!   between it and the head were never checked in sequence from C's trust, so accepting
//!   it would let a side branch launder trust. A C missing from the repository (history
//!   rewritten away) is also `not-fast-forward`.
//! - Each first-parent commit after C must carry a signature that verifies against
//!   `keys/allowed_signers` in its FIRST PARENT. So a key added by commit K may sign
//!   only commits after K, a key removed by K may not sign K's successors, and no commit
//!   can trust itself. A missing or malformed keys file at a parent is a rejection.
//! - Commits reached only through second parents need no signature: the signed merge
//!   vouches for its tree.

use super::allowed_signers::MAX_FILE_BYTES;
use super::commit::{parse_commit, ParsedCommit, MAX_COMMIT_BYTES};
use super::{AllowedSigners, VerifyError};
use crate::git::{GitError, Repo, TreeFile};
use crate::reason::ReasonCode;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::SystemTime;

/// Where each revision keeps the keys that may sign its children.
pub const KEYS_PATH: &str = "keys/allowed_signers";
/// Longest chain verified in one run; a longer gap is refused rather than walked.
pub const MAX_CHAIN: usize = 100_000;
/// The SSHSIG namespace git uses for commit signatures.
pub const GIT_NAMESPACE: &str = "git";

#[derive(Debug, Clone)]
pub struct SignaturePolicy {
    /// The verifier's clock for valid-after/valid-before.
    pub at: SystemTime,
    /// Hardware keys must assert user presence unless this is false.
    pub require_user_presence: bool,
}

#[derive(Debug, Clone)]
pub struct VerifiedCommit {
    pub commit: git2::Oid,
    pub principal: String,
    pub fingerprint: String,
}

/// A revision whose whole first-parent chain verified. Only [`verify_revision`] builds one.
#[derive(Debug)]
pub struct VerifiedRevision {
    commit: git2::Oid,
    tree: git2::Oid,
    /// The revision's own `keys/allowed_signers` (it decides who may sign bundles of this
    /// revision and its children), or why it could not be read.
    allowed_signers: Result<AllowedSigners, String>,
    commits: Vec<VerifiedCommit>,
    policy: SignaturePolicy,
    base: Option<Base>,
}

/// The `--since` commit: not re-verified here. It is trusted because the caller applied
/// it earlier, after it verified (the daemon records only revisions it applied); `base()`
/// exists so that the sync stage can restore it.
#[derive(Debug, Clone)]
struct Base {
    commit: git2::Oid,
    tree: git2::Oid,
    allowed_signers: Result<AllowedSigners, String>,
}

impl VerifiedRevision {
    pub fn commit_id(&self) -> git2::Oid {
        self.commit
    }
    pub fn tree_id(&self) -> git2::Oid {
        self.tree
    }
    pub fn allowed_signers(&self) -> Result<&AllowedSigners, VerifyError> {
        self.allowed_signers.as_ref().map_err(|m| {
            VerifyError::rejection(ReasonCode::TrustFileInvalid, m.clone())
                .at_commit(self.commit)
                .in_file(KEYS_PATH)
        })
    }
    /// The first-parent commits that verified, oldest first (the head alone without
    /// `since`; empty when the head is the `since` commit).
    pub fn commits(&self) -> &[VerifiedCommit] {
        &self.commits
    }
    pub fn policy(&self) -> &SignaturePolicy {
        &self.policy
    }
    /// The `--since` commit as a revision, trusted as previously applied (see [`Base`]).
    pub fn base(&self) -> Option<VerifiedRevision> {
        self.base.as_ref().map(|b| VerifiedRevision {
            commit: b.commit,
            tree: b.tree,
            allowed_signers: b.allowed_signers.clone(),
            commits: Vec::new(),
            policy: self.policy.clone(),
            base: None,
        })
    }
}

pub fn verify_revision(
    repo: &Repo,
    rev: &str,
    since: Option<&str>,
    anchor: &AllowedSigners,
    policy: &SignaturePolicy,
) -> Result<VerifiedRevision, VerifyError> {
    let head = repo.resolve(rev).map_err(|e| {
        VerifyError::environment(ReasonCode::NotFound, format!("cannot resolve --rev: {e}"))
    })?;
    let mut trust = TrustFiles::new(repo);
    let head_commit = read_commit(repo, head)?;
    let head_tree = tree_oid(&head_commit, head)?;

    let (commits, base) = match since {
        None => {
            let verified = verify_one(head, &head_commit, anchor, policy)?;
            (vec![verified], None)
        }
        Some(since) => {
            let base = resolve_since(repo, since)?;
            // Cheap refusal first, so a rollback to a far older commit is not walked to
            // the root. Only a "no" is taken from libgit2; a "yes" is re-checked below
            // along first parents with our own commit parser.
            if base != head && !repo.git2().graph_descendant_of(head, base).unwrap_or(false) {
                return Err(not_fast_forward(repo, head, base));
            }
            let chain = first_parent_chain(repo, head, head_commit.clone(), base)?;
            let base_commit = read_commit(repo, base)?;
            let mut parent_tree = tree_oid(&base_commit, base)?;
            let mut parent = base;
            let mut verified = Vec::with_capacity(chain.len());
            for (oid, tree) in chain {
                let commit = if oid == head {
                    head_commit.clone()
                } else {
                    read_commit(repo, oid)?
                };
                let signers = trust.at(parent, parent_tree).map_err(|m| {
                    VerifyError::rejection(
                        ReasonCode::TrustFileInvalid,
                        format!("{m}; so nobody may sign its child {oid}"),
                    )
                    .at_commit(oid)
                    .in_file(KEYS_PATH)
                })?;
                verified.push(verify_one(oid, &commit, &signers, policy)?);
                parent = oid;
                parent_tree = tree;
            }
            let base_signers = trust
                .at(base, tree_oid(&base_commit, base)?)
                .map(|s| (*s).clone());
            (
                verified,
                Some(Base {
                    commit: base,
                    tree: tree_oid(&base_commit, base)?,
                    allowed_signers: base_signers,
                }),
            )
        }
    };
    let allowed_signers = trust.at(head, head_tree).map(|s| (*s).clone());
    Ok(VerifiedRevision {
        commit: head,
        tree: head_tree,
        allowed_signers,
        commits,
        policy: policy.clone(),
        base,
    })
}

fn resolve_since(repo: &Repo, since: &str) -> Result<git2::Oid, VerifyError> {
    repo.resolve(since).map_err(|_| {
        VerifyError::rejection(
            ReasonCode::NotFastForward,
            format!(
                "the last applied revision {since:?} is not in the repository: history was rewritten (force-push?) or the id is wrong"
            ),
        )
    })
}

/// Commits from just after `base` to `head` along first parents, oldest first, each with
/// its tree. Fails with `not-fast-forward` if `base` is not on that line.
fn first_parent_chain(
    repo: &Repo,
    head: git2::Oid,
    head_commit: ParsedCommit,
    base: git2::Oid,
) -> Result<Vec<(git2::Oid, git2::Oid)>, VerifyError> {
    let mut chain = Vec::new();
    let mut oid = head;
    let mut commit = head_commit;
    while oid != base {
        if chain.len() >= MAX_CHAIN {
            return Err(VerifyError::rejection(
                ReasonCode::LimitExceeded,
                format!("more than {MAX_CHAIN} commits since {base}"),
            ));
        }
        chain.push((oid, tree_oid(&commit, oid)?));
        let Some(parent) = commit.first_parent() else {
            return Err(not_fast_forward(repo, head, base));
        };
        oid = parse_oid(parent, oid)?;
        commit = read_commit(repo, oid)?;
    }
    chain.reverse();
    Ok(chain)
}

fn not_fast_forward(repo: &Repo, head: git2::Oid, base: git2::Oid) -> VerifyError {
    let reachable = repo.git2().graph_descendant_of(head, base).unwrap_or(false);
    let message = if reachable {
        format!("{head} reaches the last applied revision {base} only through a merge's second parent; its first-parent history does not continue from it")
    } else {
        format!("{head} does not descend from the last applied revision {base} (force-push or rollback?)")
    };
    VerifyError::rejection(ReasonCode::NotFastForward, message).at_commit(head)
}

fn verify_one(
    oid: git2::Oid,
    commit: &ParsedCommit,
    signers: &AllowedSigners,
    policy: &SignaturePolicy,
) -> Result<VerifiedCommit, VerifyError> {
    let Some(signature) = &commit.signature else {
        return Err(VerifyError::rejection(
            ReasonCode::UnsignedCommit,
            format!("commit {oid} is not signed"),
        )
        .at_commit(oid));
    };
    let who = signers
        .verify_detached(signature, GIT_NAMESPACE, &commit.payload, policy)
        .map_err(|e| e.prefixed(&format!("commit {oid}")).at_commit(oid))?;
    Ok(VerifiedCommit {
        commit: oid,
        principal: who.principal,
        fingerprint: who.fingerprint,
    })
}

fn read_commit(repo: &Repo, oid: git2::Oid) -> Result<ParsedCommit, VerifyError> {
    let raw = repo
        .read_commit_raw(oid, MAX_COMMIT_BYTES)
        .map_err(|e| match e {
            GitError::TooLarge { size, .. } => VerifyError::rejection(
                ReasonCode::LimitExceeded,
                format!("commit {oid} is {size} bytes, more than the {MAX_COMMIT_BYTES} allowed"),
            ),
            other => VerifyError::environment(
                ReasonCode::NotFound,
                format!("cannot read commit {oid}: {other}"),
            ),
        });
    let raw = raw.map_err(|e| e.at_commit(oid))?;
    parse_commit(&raw).map_err(|e| {
        VerifyError::from(e)
            .prefixed(&format!("commit {oid}"))
            .at_commit(oid)
    })
}

fn tree_oid(commit: &ParsedCommit, at: git2::Oid) -> Result<git2::Oid, VerifyError> {
    parse_oid(&commit.tree, at)
}

fn parse_oid(hex: &str, at: git2::Oid) -> Result<git2::Oid, VerifyError> {
    git2::Oid::from_str(hex).map_err(|_| {
        VerifyError::rejection(
            ReasonCode::BadSignature,
            format!("commit {at} names an invalid object id"),
        )
        .at_commit(at)
    })
}

/// Parsed `keys/allowed_signers` per blob: consecutive commits usually share the file,
/// so a long chain parses each version once.
struct TrustFiles<'r> {
    repo: &'r Repo,
    by_blob: HashMap<git2::Oid, Result<Rc<AllowedSigners>, String>>,
}

impl<'r> TrustFiles<'r> {
    fn new(repo: &'r Repo) -> Self {
        TrustFiles {
            repo,
            by_blob: HashMap::new(),
        }
    }

    /// The keys file of `commit` (whose tree is `tree`), or why it is unusable.
    fn at(&mut self, commit: git2::Oid, tree: git2::Oid) -> Result<Rc<AllowedSigners>, String> {
        let blob = match self.repo.tree_file(tree, KEYS_PATH) {
            Ok(TreeFile::File(blob)) => blob,
            Ok(TreeFile::Missing) => {
                return Err(format!("{KEYS_PATH} is missing in commit {commit}"))
            }
            Ok(TreeFile::NotAFile(what)) => {
                return Err(format!(
                    "{KEYS_PATH} in commit {commit} is not a regular file ({what})"
                ))
            }
            Err(e) => return Err(format!("cannot read {KEYS_PATH} in commit {commit}: {e}")),
        };
        let repo = self.repo;
        self.by_blob
            .entry(blob)
            .or_insert_with(|| {
                let bytes = repo
                    .read_blob(blob, MAX_FILE_BYTES)
                    .map_err(|e| format!("cannot read {KEYS_PATH}: {e}"))?;
                let name = format!("{KEYS_PATH}@{}", &commit.to_string()[..12]);
                AllowedSigners::parse(&name, &bytes)
                    .map(Rc::new)
                    .map_err(|e| e.message)
            })
            .clone()
    }
}
