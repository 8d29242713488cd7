//! Where the next cycle starts: the base revision the chain is verified from.
//!
//! Two witnesses say what the cluster enforces: the state record (authenticated with the
//! state key) and the `netpol-sync.io/revision` annotation on every policy netpol-sync
//! wrote (which the admission lock lets only netpol-sync write). The base is the newest
//! revision either proves; they must agree on one line of history. So:
//!
//! - a record replayed from the past is overruled by the newer revisions the live policies
//!   carry: the chain is still verified from the record's revision (a live annotation never
//!   lets verification skip a commit), and the head must also descend from the newest one;
//! - a lost or forged record is recovered from the live policies;
//! - only when nothing in the cluster proves a revision does the trust anchor decide —
//!   silently on a first start (no record at all), and otherwise only by the operator's
//!   explicit `--reset-trust-to-anchor`.
//!
//! docs/trust.md ("The state record") has the threat model behind each rule.

use crate::git::{is_full_id, Repo};
use crate::kube_client::read::{ListPage, PageLimits, Paged, Pager, NETWORK_POLICIES_PATH};
use crate::marks::REVISION_ANNOTATION;
use crate::plan::ObjectKey;
use crate::reason::ReasonCode;
use std::collections::BTreeMap;

/// Distinct revisions kept from the live policies; more means something is badly wrong.
pub const MAX_LIVE_REVISIONS: usize = 10_000;
/// The revisions the live policies netpol-sync wrote carry, each with one object that
/// carries it (to name in messages).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveRevisions {
    by_revision: BTreeMap<String, ObjectKey>,
    /// Our objects whose revision annotation is missing or not a full commit id.
    unreadable: Vec<ObjectKey>,
}

impl LiveRevisions {
    /// Note one live object of ours and the revision annotation it carries.
    pub fn note(&mut self, key: ObjectKey, revision: Option<&str>) -> Result<(), BaseError> {
        match revision.filter(|r| is_full_id(r)) {
            Some(rev) => {
                let rev = rev.to_ascii_lowercase();
                if !self.by_revision.contains_key(&rev)
                    && self.by_revision.len() >= MAX_LIVE_REVISIONS
                {
                    return Err(BaseError::new(
                        ReasonCode::LimitExceeded,
                        format!(
                            "the live NetworkPolicies carry more than {MAX_LIVE_REVISIONS} distinct netpol-sync revisions"
                        ),
                    ));
                }
                self.by_revision.entry(rev).or_insert(key);
            }
            None if self.unreadable.len() < 16 => self.unreadable.push(key),
            None => {}
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.by_revision.is_empty()
    }

    /// Objects of ours whose revision annotation could not be read (at most 16 named).
    pub fn unreadable(&self) -> &[ObjectKey] {
        &self.unreadable
    }
}

/// Why no base could be decided; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct BaseError {
    pub reason: ReasonCode,
    pub message: String,
}

impl BaseError {
    fn new(reason: ReasonCode, message: String) -> BaseError {
        BaseError { reason, message }
    }
}

/// What the state record in the cluster says, as the cycle may use it.
#[derive(Debug, Clone, Default)]
pub struct RecordWitness {
    /// The authenticated record's revision.
    pub revision: Option<String>,
    /// A record exists but does not authenticate (why).
    pub distrusted: Option<String>,
}

/// Where the base came from: said in logs, `plan`/`sync` output and Events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseSource {
    /// `--since` on the command line.
    Explicit,
    /// The authenticated state record, which the live policies agree with.
    Record,
    /// The authenticated state record, behind a newer revision a live policy carries (a
    /// replayed record, or a crash between the writes and the record): verified from the
    /// record, and the head must descend from the newer revision too.
    RecordBehind { from: ObjectKey },
    /// The live policies' revision annotations: the record was missing, did not
    /// authenticate, or was older than what the cluster holds.
    Recovered { from: ObjectKey, record: String },
    /// Nothing in the cluster proves a revision and there is no record: a first start.
    FirstStart,
    /// The operator's `--reset-trust-to-anchor`.
    Reset,
}

/// Where a base came from, as a cycle reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BaseSourceName {
    Explicit,
    Record,
    RecordBehind,
    Recovered,
    FirstStart,
    Reset,
}

/// A base as a cycle reports it: where the chain was verified from, the newest revision
/// the cluster proves applied, where that came from, and a line when it is not simply the
/// record's (the daemon turns `recovered` and `record-behind` into an Event).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BaseReport {
    pub since: Option<String>,
    pub applied: Option<String>,
    pub source: BaseSourceName,
    pub note: Option<String>,
}

/// The base of the next cycle: `since` (a full commit id, or none: the head is judged
/// against the trust anchor), the newest revision the cluster proves applied (the head
/// must descend from it along first parents), and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base {
    pub since: Option<String>,
    pub applied: Option<String>,
    pub source: BaseSource,
}

impl Base {
    /// The base as a cycle reports it (`extra.base` in the JSON output).
    pub fn report(&self) -> BaseReport {
        let source = match &self.source {
            BaseSource::Explicit => BaseSourceName::Explicit,
            BaseSource::Record => BaseSourceName::Record,
            BaseSource::RecordBehind { .. } => BaseSourceName::RecordBehind,
            BaseSource::Recovered { .. } => BaseSourceName::Recovered,
            BaseSource::FirstStart => BaseSourceName::FirstStart,
            BaseSource::Reset => BaseSourceName::Reset,
        };
        BaseReport {
            since: self.since.clone(),
            applied: self.applied.clone(),
            source,
            note: self.note(),
        }
    }

    /// A line for logs and Events when the base is not simply the record's.
    pub fn note(&self) -> Option<String> {
        match &self.source {
            BaseSource::Explicit | BaseSource::Record => None,
            BaseSource::RecordBehind { from } => Some(format!(
                "the state record names {}, but NetworkPolicy {from} carries the newer revision {}: verifying from the record, and the head must descend from the newer one",
                self.since.as_deref().unwrap_or("?"),
                self.applied.as_deref().unwrap_or("?")
            )),
            BaseSource::Recovered { from, record } => Some(format!(
                "state record {record}; recovered the last applied revision {} from the live policies (NetworkPolicy {from} carries it)",
                self.since.as_deref().unwrap_or("?")
            )),
            BaseSource::FirstStart => Some(
                "first start: no state record, and no live policy carries a netpol-sync revision; the trust anchor decides"
                    .to_string(),
            ),
            BaseSource::Reset => Some(
                "--reset-trust-to-anchor: the recorded and live revisions are set aside by the operator; the trust anchor decides"
                    .to_string(),
            ),
        }
    }
}

/// Decide the base from the record and the live revisions, checked against `repo`.
pub fn decide(
    repo: &Repo,
    record: &RecordWitness,
    live: &LiveRevisions,
    reset: bool,
) -> Result<Base, BaseError> {
    if reset {
        return Ok(Base {
            since: None,
            applied: None,
            source: BaseSource::Reset,
        });
    }
    let mut candidates: Vec<(String, Option<&ObjectKey>)> = Vec::new();
    if let Some(rev) = &record.revision {
        candidates.push((rev.to_ascii_lowercase(), None));
    }
    candidates.extend(live.by_revision.iter().map(|(r, k)| (r.clone(), Some(k))));
    let describe = |rev: &str, from: Option<&ObjectKey>| match from {
        Some(key) => format!("{rev} (carried by NetworkPolicy {key})"),
        None => format!("{rev} (the state record's)"),
    };
    let mut newest: Option<(git2::Oid, String, Option<&ObjectKey>)> = None;
    for (rev, from) in candidates {
        let oid = repo.commit_by_id(&rev).map_err(|_| {
            BaseError::new(
                ReasonCode::NotFastForward,
                format!(
                    "the cluster enforces revision {}, which is not a commit in the repository: history was rewritten (force-push?)",
                    describe(&rev, from)
                ),
            )
        })?;
        let Some((best, best_rev, best_from)) = &newest else {
            newest = Some((oid, rev, from));
            continue;
        };
        if oid == *best || descends(repo, *best, oid) {
            continue;
        }
        if descends(repo, oid, *best) {
            newest = Some((oid, rev, from));
            continue;
        }
        return Err(BaseError::new(
            ReasonCode::NotFastForward,
            format!(
                "the cluster holds revisions from two diverging histories: {} and {}",
                describe(best_rev, *best_from),
                describe(&rev, from)
            ),
        ));
    }
    match newest {
        Some((_, rev, None)) => Ok(Base {
            since: Some(rev.clone()),
            applied: Some(rev),
            source: BaseSource::Record,
        }),
        Some((_, rev, Some(from))) => match &record.revision {
            // The record is authentic but behind: verification still starts at the
            // record, so no commit after it goes unverified.
            Some(recorded) => Ok(Base {
                since: Some(recorded.to_ascii_lowercase()),
                applied: Some(rev),
                source: BaseSource::RecordBehind { from: from.clone() },
            }),
            None => Ok(Base {
                since: Some(rev.clone()),
                applied: Some(rev),
                source: BaseSource::Recovered {
                    from: from.clone(),
                    record: match &record.distrusted {
                        Some(why) => format!("not believed: {why}"),
                        None => "missing".to_string(),
                    },
                },
            }),
        },
        None => match &record.distrusted {
            Some(why) => Err(BaseError::new(
                ReasonCode::StateUnauthenticated,
                format!(
                    "the state record is not believed ({why}) and no live policy carries a netpol-sync revision to recover from; \
                     starting over from the trust anchor is an operator's decision: run with --reset-trust-to-anchor"
                ),
            )),
            None => Ok(Base {
                since: None,
                applied: None,
                source: BaseSource::FirstStart,
            }),
        },
    }
}

/// `descendant` descends from `ancestor` (through any parent).
fn descends(repo: &Repo, descendant: git2::Oid, ancestor: git2::Oid) -> bool {
    repo.git2()
        .graph_descendant_of(descendant, ancestor)
        .unwrap_or(false)
}

/// Read the revision annotations of every NetworkPolicy carrying netpol-sync's label,
/// cluster-wide, one bounded page at a time.
pub async fn read_live_revisions(client: &kube::Client) -> Result<LiveRevisions, BaseError> {
    let selector = crate::marks::managed_selector();
    let mut pager =
        Pager::new(client, NETWORK_POLICIES_PATH, PageLimits::default()).with_labels(&selector);
    let mut live = LiveRevisions::default();
    loop {
        let paged = pager.next::<listed::Page>().await.map_err(|e| {
            BaseError::new(
                ReasonCode::ApplyFailed,
                format!(
                    "cannot list netpol-sync's NetworkPolicies to check the state record: {}",
                    crate::kube_client::error_chain(&e)
                ),
            )
        })?;
        match paged {
            None => return Ok(live),
            Some(Paged::Restarted) => live = LiveRevisions::default(),
            Some(Paged::Page(page)) => {
                for item in page.items {
                    let m = item.metadata;
                    let (Some(namespace), Some(name)) = (m.namespace, m.name) else {
                        continue;
                    };
                    let revision = m
                        .annotations
                        .as_ref()
                        .and_then(|a| a.get(REVISION_ANNOTATION));
                    live.note(ObjectKey { namespace, name }, revision.map(String::as_str))?;
                }
            }
        }
    }
}

impl ListPage for listed::Page {
    fn continue_token(&self) -> Option<&str> {
        self.metadata.continue_.as_deref()
    }
}

/// Only what the base reads of a listed NetworkPolicy.
mod listed {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;
    use serde::Deserialize;
    use std::collections::BTreeMap;

    #[derive(Deserialize)]
    pub(super) struct Page {
        #[serde(default)]
        pub metadata: ListMeta,
        #[serde(default)]
        pub items: Vec<Item>,
    }

    #[derive(Deserialize)]
    pub(super) struct Item {
        #[serde(default)]
        pub metadata: Meta,
    }

    #[derive(Deserialize, Default)]
    pub(super) struct Meta {
        pub name: Option<String>,
        pub namespace: Option<String>,
        pub annotations: Option<BTreeMap<String, String>>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn git(dir: &std::path::Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .current_dir(dir)
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// main: a - b - c, and a side branch from a: s. Unsigned: `decide` judges history
    /// only; signatures are the verifier's.
    struct History {
        _dir: tempfile::TempDir,
        repo: Repo,
        a: String,
        b: String,
        c: String,
        s: String,
    }

    fn history() -> History {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        git(p, &["init", "-q", "-b", "main"]);
        let commit = |m: &str| {
            git(p, &["commit", "-q", "--allow-empty", "-m", m]);
            git(p, &["rev-parse", "HEAD"])
        };
        let a = commit("a");
        let b = commit("b");
        let c = commit("c");
        git(p, &["checkout", "-q", "-b", "side", &a]);
        let s = commit("s");
        let repo = Repo::open(p.to_str().unwrap()).unwrap();
        History {
            _dir: dir,
            repo,
            a,
            b,
            c,
            s,
        }
    }

    fn key(ns: &str, name: &str) -> ObjectKey {
        ObjectKey {
            namespace: ns.into(),
            name: name.into(),
        }
    }

    fn live(revs: &[(&str, &str)]) -> LiveRevisions {
        let mut l = LiveRevisions::default();
        for (name, rev) in revs {
            l.note(key("payments", name), Some(rev)).unwrap();
        }
        l
    }

    fn record(rev: Option<&str>) -> RecordWitness {
        RecordWitness {
            revision: rev.map(str::to_string),
            distrusted: None,
        }
    }

    #[test]
    fn the_record_is_the_base_when_the_live_policies_are_not_newer() {
        let h = history();
        let base = decide(
            &h.repo,
            &record(Some(&h.c)),
            &live(&[("x", &h.a), ("y", &h.c)]),
            false,
        )
        .unwrap();
        assert_eq!(base.since.as_deref(), Some(h.c.as_str()));
        assert_eq!(base.source, BaseSource::Record);
    }

    #[test]
    fn a_replayed_older_record_is_overruled_by_newer_live_revisions_without_skipping_commits() {
        let h = history();
        let base = decide(
            &h.repo,
            &record(Some(&h.a)),
            &live(&[("x", &h.a), ("y", &h.b)]),
            false,
        )
        .unwrap();
        assert_eq!(base.since.as_deref(), Some(h.a.as_str()));
        assert_eq!(base.applied.as_deref(), Some(h.b.as_str()));
        assert!(matches!(base.source, BaseSource::RecordBehind { ref from } if from.name == "y"));
    }

    #[test]
    fn a_lost_record_is_recovered_from_the_live_policies_not_reset_to_the_anchor() {
        let h = history();
        let base = decide(
            &h.repo,
            &record(None),
            &live(&[("x", &h.b), ("y", &h.a)]),
            false,
        )
        .unwrap();
        assert_eq!(base.since.as_deref(), Some(h.b.as_str()));
        assert_eq!(base.applied.as_deref(), Some(h.b.as_str()));
        assert!(base.note().unwrap().contains("missing"));
    }

    #[test]
    fn a_forged_record_with_nothing_live_is_refused_unless_the_operator_resets() {
        let h = history();
        let forged = RecordWitness {
            revision: None,
            distrusted: Some("its MAC does not verify".into()),
        };
        let e = decide(&h.repo, &forged, &LiveRevisions::default(), false).unwrap_err();
        assert_eq!(e.reason, ReasonCode::StateUnauthenticated);
        assert!(e.message.contains("--reset-trust-to-anchor"), "{e}");
        let reset = decide(&h.repo, &forged, &LiveRevisions::default(), true).unwrap();
        assert_eq!(reset.since, None);
        assert_eq!(reset.source, BaseSource::Reset);
    }

    #[test]
    fn no_record_and_nothing_live_is_a_first_start() {
        let h = history();
        let base = decide(&h.repo, &record(None), &LiveRevisions::default(), false).unwrap();
        assert_eq!(base.since, None);
        assert_eq!(base.source, BaseSource::FirstStart);
    }

    #[test]
    fn live_revisions_from_diverging_histories_are_refused() {
        let h = history();
        let e = decide(&h.repo, &record(Some(&h.b)), &live(&[("x", &h.s)]), false).unwrap_err();
        assert_eq!(e.reason, ReasonCode::NotFastForward);
        assert!(e.message.contains("payments/x"), "{e}");
    }

    #[test]
    fn a_live_revision_missing_from_the_repository_is_not_fast_forward() {
        let h = history();
        let gone = "0123456789abcdef0123456789abcdef01234567";
        let e = decide(&h.repo, &record(Some(&h.a)), &live(&[("x", gone)]), false).unwrap_err();
        assert_eq!(e.reason, ReasonCode::NotFastForward);
        assert!(e.message.contains(gone), "{e}");
    }

    #[test]
    fn a_recorded_revision_is_never_read_as_a_ref_name() {
        let h = history();
        // A tag named after a commit id that is not in the repository.
        let id = "1111111111111111111111111111111111111111";
        git(h.repo.git2().workdir().unwrap(), &["tag", id, &h.s]);
        let e = decide(&h.repo, &record(Some(id)), &LiveRevisions::default(), false).unwrap_err();
        assert_eq!(e.reason, ReasonCode::NotFastForward);
    }

    #[test]
    fn annotations_that_are_not_full_ids_are_set_aside_and_named() {
        let mut l = LiveRevisions::default();
        l.note(key("a", "x"), Some("HEAD~1")).unwrap();
        l.note(key("a", "y"), None).unwrap();
        assert!(l.is_empty());
        assert_eq!(l.unreadable().len(), 2);
        let h = history();
        let base = decide(&h.repo, &record(Some(&h.a)), &l, false).unwrap();
        assert_eq!(base.source, BaseSource::Record);
        let _ = (&h.c, &h.b);
    }
}
