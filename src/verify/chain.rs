//! The first-parent chain from the last applied revision to the new head.
//!
//! Rules (docs/trust.md):
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
/// Detached signatures over a new `keys/allowed_signers` (see [`KEY_CHANGE_NAMESPACE`]).
pub const KEY_SIGNATURES_DIR: &str = "keys/signatures";
/// The SSHSIG namespace of signatures over a keys file (`ssh-keygen -Y sign -n
/// netpol-sync-keys`); distinct from `git` and the bundle namespace so that no other
/// signature can be replayed as one.
pub const KEY_CHANGE_NAMESPACE: &str = "netpol-sync-keys";
/// Most signature files read from `keys/signatures/`, and the largest one.
const MAX_KEY_SIGNATURES: usize = 64;
const MAX_KEY_SIGNATURE_BYTES: usize = 64 * 1024;
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
    /// Distinct keys, trusted before a change to `keys/allowed_signers`, that must sign
    /// it (`--key-change-signatures`, a deployment setting). The commit's own signer
    /// counts as one; the others sign the new file's bytes in `keys/signatures/`.
    /// 0 counts as 1.
    pub key_change_signatures: usize,
}

impl SignaturePolicy {
    /// Judged at `at`, user presence required, one signature per key change.
    pub fn at(at: SystemTime) -> SignaturePolicy {
        SignaturePolicy {
            at,
            require_user_presence: true,
            key_change_signatures: 1,
        }
    }
}

/// One first-parent commit whose signature verified, and who made it. Built only by
/// this module, from a signature that verified against the keys its parent trusted.
#[derive(Debug, Clone)]
pub struct VerifiedCommit {
    commit: git2::Oid,
    principal: String,
    fingerprint: String,
}

impl VerifiedCommit {
    pub fn commit(&self) -> git2::Oid {
        self.commit
    }
    pub fn principal(&self) -> &str {
        &self.principal
    }
    /// `SHA256:…` of the key that signed it.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
    pub fn summary(&self) -> CommitSummary {
        CommitSummary {
            commit: self.commit.to_string(),
            principal: self.principal.clone(),
            fingerprint: self.fingerprint.clone(),
        }
    }
}

/// One verified commit of the chain as a cycle reports it (the audit trail).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CommitSummary {
    pub commit: String,
    pub principal: String,
    pub fingerprint: String,
}

/// A revision whose whole first-parent chain verified. Only [`verify_revision`] builds
/// one: it proves that every commit after the base (or the head alone, against the trust
/// anchor) is signed by a key its first parent trusted, that the base itself is a signed
/// commit, and that every change to `keys/allowed_signers` met the key-change threshold.
/// It carries the keys that may sign its bundles: those trusted *before* it.
#[derive(Debug)]
pub struct VerifiedRevision {
    commit: git2::Oid,
    tree: git2::Oid,
    /// The keys trusted before this revision's changes: the base's
    /// `keys/allowed_signers`, or the trust anchor without a base (docs/trust.md). They
    /// decide who may sign its bundles; keys the revision adds never do.
    bundle_signers: Result<AllowedSigners, String>,
    commits: Vec<VerifiedCommit>,
    policy: SignaturePolicy,
    base: Option<RecordedBase>,
}

/// The `--since` commit (the last applied revision), as the chain's verification found
/// it. What it proves is less than a [`VerifiedRevision`]: that the commit is signed by a
/// key its parent (or the anchor) trusted, and that the verified head descends from it
/// along first parents. Its place in the trusted history is what the state record and the
/// live policies' revision annotations vouch for (docs/trust.md, "The state record").
/// It is good for one thing only: loading its bundles to put them back after a failed
/// apply (`bundle::load_recorded_base`), judged by its own keys file as they were when it
/// was applied.
#[derive(Debug, Clone)]
pub struct RecordedBase {
    commit: git2::Oid,
    tree: git2::Oid,
    allowed_signers: Result<AllowedSigners, String>,
    policy: SignaturePolicy,
}

impl RecordedBase {
    pub fn commit_id(&self) -> git2::Oid {
        self.commit
    }
    pub(crate) fn tree_id(&self) -> git2::Oid {
        self.tree
    }
    /// The base's own `keys/allowed_signers`, which judged its bundles when it was applied.
    pub(crate) fn bundle_signers(&self) -> Result<&AllowedSigners, VerifyError> {
        self.allowed_signers.as_ref().map_err(|m| {
            VerifyError::rejection(ReasonCode::TrustFileInvalid, m.clone())
                .at_commit(self.commit)
                .in_file(KEYS_PATH)
        })
    }
    pub(crate) fn policy(&self) -> &SignaturePolicy {
        &self.policy
    }
}

impl VerifiedRevision {
    pub fn commit_id(&self) -> git2::Oid {
        self.commit
    }
    pub fn tree_id(&self) -> git2::Oid {
        self.tree
    }
    /// The keys that may sign this revision's bundles: trusted before it (see the field).
    pub fn bundle_signers(&self) -> Result<&AllowedSigners, VerifyError> {
        self.bundle_signers.as_ref().map_err(|m| {
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
    /// The base the chain was verified from (the `--since` commit), when there was one
    /// and the head is not the base itself.
    pub fn base(&self) -> Option<&RecordedBase> {
        self.base.as_ref().filter(|b| b.commit != self.commit)
    }
    /// The verified commits as a cycle reports them.
    pub fn commit_summaries(&self) -> Vec<CommitSummary> {
        self.commits.iter().map(VerifiedCommit::summary).collect()
    }
    /// Who signed the head commit (none when the head is the base itself).
    pub fn head_signer(&self) -> Option<&VerifiedCommit> {
        self.commits.iter().find(|c| c.commit == self.commit)
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
            let (verified, key) = verify_one(head, &head_commit, anchor, policy)?;
            // The first revision ever applied: its whole keys file is new to the
            // deployment, so it needs the threshold of the anchor's keys.
            if policy.key_change_signatures > 1 {
                check_key_change(repo, head, head_tree, anchor, &key, policy)?;
            }
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
            let base_commit = read_commit(repo, base)?;
            let base_tree = tree_oid(&base_commit, base)?;
            let chain = first_parent_chain(repo, head, head_commit, base)?;
            verify_base(repo, &mut trust, base, &base_commit, anchor, policy)?;
            let mut parent_tree = base_tree;
            let mut parent = base;
            let mut verified = Vec::with_capacity(chain.len());
            for ChainLink { oid, tree, commit } in chain {
                let commit = match commit {
                    Some(commit) => commit,
                    None => read_commit(repo, oid)?,
                };
                let signers = trust.at(parent, parent_tree).map_err(|m| {
                    VerifyError::rejection(
                        ReasonCode::TrustFileInvalid,
                        format!("{m}; so nobody may sign its child {oid}"),
                    )
                    .at_commit(oid)
                    .in_file(KEYS_PATH)
                })?;
                let (commit_verified, key) = verify_one(oid, &commit, &signers, policy)?;
                if trust.keys_blob(tree) != trust.keys_blob(parent_tree) {
                    check_key_change(repo, oid, tree, &signers, &key, policy)?;
                }
                verified.push(commit_verified);
                parent = oid;
                parent_tree = tree;
            }
            let base_signers = trust.at(base, base_tree).map(|s| (*s).clone());
            (
                verified,
                Some(RecordedBase {
                    commit: base,
                    tree: base_tree,
                    allowed_signers: base_signers,
                    policy: policy.clone(),
                }),
            )
        }
    };
    let bundle_signers = match &base {
        Some(b) => b.allowed_signers.clone(),
        None => Ok(anchor.clone()),
    };
    Ok(VerifiedRevision {
        commit: head,
        tree: head_tree,
        bundle_signers,
        commits,
        policy: policy.clone(),
        base,
    })
}

/// The base must be a signed commit, by a key its own first parent trusted or one the
/// trust anchor lists (the first revision ever applied was judged by the anchor). This
/// refuses a state record, or a `--since`, that names an unsigned or foreign commit.
fn verify_base(
    repo: &Repo,
    trust: &mut TrustFiles<'_>,
    base: git2::Oid,
    commit: &ParsedCommit,
    anchor: &AllowedSigners,
    policy: &SignaturePolicy,
) -> Result<(), VerifyError> {
    let by_anchor = verify_one(base, commit, anchor, policy);
    if by_anchor.is_ok() {
        return Ok(());
    }
    let by_parent = match commit.first_parent() {
        Some(parent) => {
            let parent = parse_oid(parent, base)?;
            let parent_tree = tree_oid(&read_commit(repo, parent)?, parent)?;
            trust
                .at(parent, parent_tree)
                .map_err(|m| VerifyError::rejection(ReasonCode::TrustFileInvalid, m))
                .and_then(|signers| verify_one(base, commit, &signers, policy))
        }
        None => by_anchor,
    };
    by_parent.map(|_| ()).map_err(|e| {
        let reason = e.reason();
        VerifyError::rejection(
            reason,
            format!(
                "the last applied revision {base} is not a commit signed by a trusted key ({}); a state record or --since naming it is refused",
                e.message
            ),
        )
        .at_commit(base)
    })
}

/// A change to `keys/allowed_signers` in `commit` takes effect only when
/// `key_change_signatures` distinct keys of `before` vouch for the new file: the
/// commit's signer (`signer_key`), and detached signatures over the new file's bytes in
/// `keys/signatures/*.sig` (namespace [`KEY_CHANGE_NAMESPACE`]). So no single key can
/// make itself many (docs/trust.md, "Rotating keys").
fn check_key_change(
    repo: &Repo,
    commit: git2::Oid,
    tree: git2::Oid,
    before: &AllowedSigners,
    signer_key: &[u8],
    policy: &SignaturePolicy,
) -> Result<(), VerifyError> {
    let required = policy.key_change_signatures.max(1);
    let mut keys: std::collections::BTreeSet<Vec<u8>> = [signer_key.to_vec()].into();
    if keys.len() >= required {
        return Ok(());
    }
    let reject = |message: String| {
        VerifyError::rejection(ReasonCode::KeyChangeThreshold, message)
            .at_commit(commit)
            .in_file(KEYS_PATH)
    };
    let new_file = match repo.tree_file(tree, KEYS_PATH) {
        Ok(TreeFile::File(blob)) => repo
            .read_blob(blob, MAX_FILE_BYTES)
            .map_err(|e| reject(format!("cannot read {KEYS_PATH} in commit {commit}: {e}")))?,
        _ => {
            return Err(reject(format!(
                "{KEYS_PATH} is missing or not a regular file in commit {commit}"
            )))
        }
    };
    let mut failures = Vec::new();
    for (name, blob) in key_signature_files(repo, tree, commit)? {
        let armored = repo
            .read_blob(blob, MAX_KEY_SIGNATURE_BYTES)
            .map_err(|e| reject(format!("cannot read {KEY_SIGNATURES_DIR}/{name}: {e}")))?;
        match before.verify_detached(&armored, KEY_CHANGE_NAMESPACE, &new_file, policy) {
            Ok(id) => {
                keys.insert(id.key_blob);
            }
            Err(e) => failures.push(format!("{KEY_SIGNATURES_DIR}/{name}: {}", e.message)),
        }
    }
    if keys.len() >= required {
        return Ok(());
    }
    let mut message = format!(
        "commit {commit} changes {KEYS_PATH} with {} distinct key(s) trusted before it, {required} required (the commit's signer and detached `-n {KEY_CHANGE_NAMESPACE}` signatures over the new file in {KEY_SIGNATURES_DIR}/)",
        keys.len()
    );
    for f in failures {
        message.push_str("; ");
        message.push_str(&f);
    }
    Err(reject(message))
}

/// `keys/signatures/*.sig` in `tree`: regular files only, bounded in number.
fn key_signature_files(
    repo: &Repo,
    tree: git2::Oid,
    commit: git2::Oid,
) -> Result<Vec<(String, git2::Oid)>, VerifyError> {
    let reject = |message: String| {
        VerifyError::rejection(ReasonCode::KeyChangeThreshold, message)
            .at_commit(commit)
            .in_file(KEY_SIGNATURES_DIR)
    };
    let git = repo.git2();
    let root = git
        .find_tree(tree)
        .map_err(|e| reject(format!("cannot read the tree of commit {commit}: {e}")))?;
    let dir = match root.get_path(std::path::Path::new(KEY_SIGNATURES_DIR)) {
        Ok(entry) if entry.kind() == Some(git2::ObjectType::Tree) => entry.id(),
        Ok(_) => return Err(reject(format!("{KEY_SIGNATURES_DIR} is not a directory"))),
        Err(_) => return Ok(Vec::new()),
    };
    // A malformed tree (duplicate or hidden names) is refused, never read selectively.
    crate::git::tree_check::check_tree(git, dir, KEY_SIGNATURES_DIR).map_err(|e| {
        VerifyError::rejection(ReasonCode::MalformedTree, e.to_string())
            .at_commit(commit)
            .in_file(KEY_SIGNATURES_DIR)
    })?;
    let dir = git
        .find_tree(dir)
        .map_err(|e| reject(format!("cannot read {KEY_SIGNATURES_DIR}: {e}")))?;
    let mut out = Vec::new();
    for entry in dir.iter() {
        let Ok(name) = std::str::from_utf8(entry.name_bytes()) else {
            continue;
        };
        if !name.ends_with(".sig") {
            continue;
        }
        let mode = entry.filemode_raw();
        if entry.kind() != Some(git2::ObjectType::Blob) || !(mode == 0o100644 || mode == 0o100755) {
            return Err(reject(format!(
                "{KEY_SIGNATURES_DIR}/{name} is not a regular file"
            )));
        }
        if out.len() >= MAX_KEY_SIGNATURES {
            return Err(reject(format!(
                "{KEY_SIGNATURES_DIR} holds more than {MAX_KEY_SIGNATURES} signatures"
            )));
        }
        out.push((name.to_string(), entry.id()));
    }
    Ok(out)
}

fn resolve_since(repo: &Repo, since: &str) -> Result<git2::Oid, VerifyError> {
    repo.commit_by_id(since).map_err(|e| {
        let why = match e {
            GitError::NotAFullId { .. } => "is not a full commit id; a recorded revision is never read as a branch, tag or rev-spec".to_string(),
            GitError::WrongType { found, .. } => format!("names a {found}, not a commit"),
            _ => "is not in the repository: history was rewritten (force-push?) or the id is wrong".to_string(),
        };
        VerifyError::rejection(
            ReasonCode::NotFastForward,
            format!("the last applied revision {since:?} {why}"),
        )
    })
}

/// Parsed commits kept from the chain walk for the signature checks, up to this many
/// bytes of commit objects; past it the rest are read again when their turn comes, so a
/// chain of [`MAX_CHAIN`] large commits does not sit in memory at once.
const CHAIN_KEEP_BYTES: usize = 32 * 1024 * 1024;

/// One commit of the chain: its id, its tree, and the parsed commit when the walk kept it.
struct ChainLink {
    oid: git2::Oid,
    tree: git2::Oid,
    commit: Option<ParsedCommit>,
}

/// Commits from just after `base` to `head` along first parents, oldest first, each with
/// its tree. Fails with `not-fast-forward` if `base` is not on that line.
fn first_parent_chain(
    repo: &Repo,
    head: git2::Oid,
    head_commit: ParsedCommit,
    base: git2::Oid,
) -> Result<Vec<ChainLink>, VerifyError> {
    let mut chain = Vec::new();
    let mut oid = head;
    let mut head_commit = Some(head_commit);
    let mut kept = 0usize;
    while oid != base {
        let commit = match head_commit.take() {
            Some(commit) => commit,
            None => read_commit(repo, oid)?,
        };
        if chain.len() >= MAX_CHAIN {
            return Err(VerifyError::rejection(
                ReasonCode::LimitExceeded,
                format!("more than {MAX_CHAIN} commits since {base}"),
            ));
        }
        let tree = tree_oid(&commit, oid)?;
        let parent = match commit.first_parent() {
            Some(parent) => parse_oid(parent, oid)?,
            None => return Err(not_fast_forward(repo, head, base)),
        };
        kept += commit.payload.len();
        chain.push(ChainLink {
            oid,
            tree,
            commit: (kept <= CHAIN_KEEP_BYTES).then_some(commit),
        });
        oid = parent;
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

/// Verify one commit's signature against `signers`; the verified commit and the
/// signing key's wire bytes (to count distinct keys).
fn verify_one(
    oid: git2::Oid,
    commit: &ParsedCommit,
    signers: &AllowedSigners,
    policy: &SignaturePolicy,
) -> Result<(VerifiedCommit, Vec<u8>), VerifyError> {
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
    Ok((
        VerifiedCommit {
            commit: oid,
            principal: who.principal,
            fingerprint: who.fingerprint,
        },
        who.key_blob,
    ))
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
    /// Where each tree keeps its keys file: a commit's tree is looked up once, though it
    /// is both a commit's own tree and its child's parent tree.
    by_tree: HashMap<git2::Oid, KeysFile>,
}

/// `keys/allowed_signers` in one tree.
#[derive(Debug, Clone, PartialEq, Eq)]
enum KeysFile {
    File(git2::Oid),
    Missing,
    /// A symlink, submodule or directory where a regular file was expected.
    NotAFile(String),
    /// A malformed root or keys/ tree (duplicate names, `/` in a name, unsorted...) could
    /// show a reader any of several keys files: none is trusted.
    Refused(String),
    Unreadable(String),
}

impl<'r> TrustFiles<'r> {
    fn new(repo: &'r Repo) -> Self {
        TrustFiles {
            repo,
            by_blob: HashMap::new(),
            by_tree: HashMap::new(),
        }
    }

    fn keys_file(&mut self, tree: git2::Oid) -> KeysFile {
        let repo = self.repo;
        self.by_tree
            .entry(tree)
            .or_insert_with(|| match repo.tree_file(tree, KEYS_PATH) {
                Ok(TreeFile::File(blob)) => KeysFile::File(blob),
                Ok(TreeFile::Missing) => KeysFile::Missing,
                Ok(TreeFile::NotAFile(what)) => KeysFile::NotAFile(what),
                Err(e) => match crate::git::tree_check::refused(&e) {
                    Some(refused) => KeysFile::Refused(refused.to_string()),
                    None => KeysFile::Unreadable(e.to_string()),
                },
            })
            .clone()
    }

    /// The blob id of `keys/allowed_signers` in `tree`, `None` when it is missing or not
    /// a regular file (the chain walk reports that case itself).
    fn keys_blob(&mut self, tree: git2::Oid) -> Option<git2::Oid> {
        match self.keys_file(tree) {
            KeysFile::File(blob) => Some(blob),
            _ => None,
        }
    }

    /// The keys file of `commit` (whose tree is `tree`), or why it is unusable.
    fn at(&mut self, commit: git2::Oid, tree: git2::Oid) -> Result<Rc<AllowedSigners>, String> {
        let blob = match self.keys_file(tree) {
            KeysFile::File(blob) => blob,
            KeysFile::Missing => return Err(format!("{KEYS_PATH} is missing in commit {commit}")),
            KeysFile::NotAFile(what) => {
                return Err(format!(
                    "{KEYS_PATH} in commit {commit} is not a regular file ({what})"
                ))
            }
            KeysFile::Refused(refused) => {
                return Err(format!(
                    "{KEYS_PATH} in commit {commit} is unusable: {refused}"
                ))
            }
            KeysFile::Unreadable(e) => {
                return Err(format!("cannot read {KEYS_PATH} in commit {commit}: {e}"))
            }
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
