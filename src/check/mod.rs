//! `netpol-sync check [PATH] [--base REV]`: the pull-request gate (docs/check.md). It runs
//! where a pull request is built, with no cluster and no trust anchor: it reports on
//! signatures instead of requiring them, and it goes on past every problem it finds, so
//! that one run names all of them.
//!
//! What it reads is the working tree, untrusted: every bundle's manifest, seal,
//! signatures and policy files, validated as `verify` will validate them; the lint rules
//! of [`crate::lint`]; the bundles' `reachability:` assertions; and with `--base`, the
//! base revision's policies (the reachability diff, over `--workloads`) and its
//! keys/allowed_signers (who may sign what this pull request changes).

mod base;
mod findings;
pub mod sarif;
mod tree;

pub use findings::{CheckRule, CHECK_RULES};

use crate::bundle::Limits;
use crate::bundle::BUNDLE_SIGNATURE_NAMESPACE;
use crate::lint::{self, Finding, LintInput, LintPolicy, Severity};
use crate::reach::{self, DiffReport, Model};
use crate::verify::AllowedSigners;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The namespace of a commit signature (git's own): who may sign the merge commit.
const COMMIT_SIGNATURE_NAMESPACE: &str = "git";

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("{0} is not a directory")]
    NotADirectory(PathBuf),
    #[error("--base {rev}: {message}")]
    Base { rev: String, message: String },
    #[error("--workloads: {0}")]
    Workloads(String),
}

/// What to check besides the working tree.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// The revision the pull request merges into (a branch, tag or commit).
    pub base: Option<String>,
    /// Kubernetes YAML whose workloads the lint rules and the reachability diff use.
    pub workloads: Vec<PathBuf>,
    /// Distinct trusted keys each bundle needs (`verify --bundle-signatures`).
    pub bundle_signatures: usize,
    pub limits: Limits,
    /// The clock for keys' validity windows.
    pub at: Option<SystemTime>,
    /// Advanced by one per policy file read (the command line draws it on a terminal).
    pub progress: Option<indicatif::ProgressBar>,
}

/// Where a bundle stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BundleStatus {
    pub name: String,
    /// The manifest parses and its `files:` list is what a seal would write.
    pub sealed: bool,
    /// Principals whose valid signatures over the current bundle.yaml were found.
    pub signed_by: Vec<String>,
    /// Fewer distinct trusted keys signed the current bundle.yaml than required.
    pub needs_signing: bool,
    /// Who keys/allowed_signers lets sign it (principals, as written).
    pub may_sign: Vec<String>,
    /// With `--base`: its bundle.yaml differs from the base's (or it is new).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed: Option<bool>,
    pub policies: usize,
}

/// Everything `check` found.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub bundles: Vec<BundleStatus>,
    /// Every finding, lint and check alike, by file, line and rule.
    pub findings: Vec<Finding>,
    /// Who may sign the merge commit (principals with a key allowed for `git`).
    pub commit_signers: Vec<String>,
    /// With `--base` and `--workloads`: what the pull request opens and closes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reachability: Option<DiffReport>,
    /// Why there is no reachability diff, when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reachability_note: Option<String>,
    pub policies: usize,
}

impl CheckReport {
    /// Findings at or above `level`.
    pub fn count_at_least(&self, level: Severity) -> usize {
        self.findings.iter().filter(|f| f.severity >= level).count()
    }
}

/// Check the policy repository at `root`.
pub fn check(root: &Path, options: &CheckOptions) -> Result<CheckReport, CheckError> {
    if !root.is_dir() {
        return Err(CheckError::NotADirectory(root.to_path_buf()));
    }
    let at = options.at.unwrap_or_else(SystemTime::now);
    let required = options.bundle_signatures.max(1);
    let base = options
        .base
        .as_deref()
        .map(|rev| {
            base::read(root, rev, &options.limits).map_err(|message| CheckError::Base {
                rev: rev.to_string(),
                message,
            })
        })
        .transpose()?;
    let workloads = (!options.workloads.is_empty())
        .then(|| {
            reach::workloads_from_files(&options.workloads, &options.limits, reach::Scope::All)
                .map_err(|e| CheckError::Workloads(e.to_string()))
        })
        .transpose()?;

    let mut findings = Vec::new();
    let progress = options
        .progress
        .clone()
        .unwrap_or_else(indicatif::ProgressBar::hidden);
    let tree = tree::read(root, &options.limits, &progress, &mut findings);
    progress.finish_and_clear();
    // Trust comes from before the change: with a base, its keys judge; else the tree's.
    let signers: Option<&AllowedSigners> = match &base {
        Some(b) => b.allowed_signers.as_ref(),
        None => tree.allowed_signers.as_ref(),
    };
    let commit_signers = signers
        .map(|s| principals(s.signers_for(COMMIT_SIGNATURE_NAMESPACE, at)))
        .unwrap_or_default();
    let may_sign = signers
        .map(|s| principals(s.signers_for(BUNDLE_SIGNATURE_NAMESPACE, at)))
        .unwrap_or_default();

    let mut statuses = Vec::new();
    for bundle in &tree.bundles {
        let signed_by = signers
            .map(|s| tree::signed_by(bundle, s, at, &mut findings))
            .unwrap_or_default();
        let needs_signing = signed_by.len() < required;
        if needs_signing && bundle.manifest.is_some() {
            findings.push(findings::signature_needed(
                bundle,
                signed_by.len(),
                required,
                &may_sign,
                signers.is_some(),
            ));
        }
        statuses.push(BundleStatus {
            name: bundle.name.clone(),
            sealed: bundle.sealed,
            signed_by,
            needs_signing,
            may_sign: may_sign.clone(),
            changed: base.as_ref().map(|b| {
                b.manifests.get(&bundle.name).map(Vec::as_slice)
                    != Some(bundle.manifest_text.as_bytes())
            }),
            policies: bundle.policies.len(),
        });
    }

    // Lint, over every policy that validated.
    let policies: Vec<LintPolicy<'_>> = tree
        .bundles
        .iter()
        .flat_map(|b| {
            b.policies.iter().map(move |p| LintPolicy {
                bundle: &b.name,
                file: &p.file,
                text: &b.texts[&p.file],
                document: p.document,
                policy: &p.policy,
            })
        })
        .collect();
    let mut governed_by: BTreeMap<String, String> = BTreeMap::new();
    let mut ignored_by_bundle: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for b in &tree.bundles {
        if let Some(m) = &b.manifest {
            for ns in &m.namespaces {
                governed_by.insert(ns.clone(), b.name.clone());
            }
            ignored_by_bundle.insert(b.name.clone(), m.lint_ignore.clone());
        }
    }
    let governed: BTreeSet<String> = governed_by.keys().cloned().collect();
    let manifest_texts: BTreeMap<String, (String, String)> = tree
        .bundles
        .iter()
        .map(|b| (b.name.clone(), (b.manifest_file(), b.manifest_text.clone())))
        .collect();
    findings.extend(lint::lint(&LintInput {
        policies: &policies,
        governed: &governed,
        governed_by: &governed_by,
        workloads: workloads.as_ref(),
        ignored_by_bundle: &ignored_by_bundle,
        manifest_texts: Some(&manifest_texts),
    }));

    // The signed assertions, against every policy of the tree.
    let all: Vec<netpol_policy::NetworkPolicy> =
        policies.iter().map(|p| p.policy.clone()).collect();
    let assertions = tree.bundles.iter().filter_map(|b| {
        b.manifest
            .as_ref()
            .map(|m| (b.name.as_str(), m.reachability.as_slice()))
    });
    match reach::assertions::violations_of(&all, assertions) {
        Ok(violations) => {
            for v in violations {
                let bundle = tree.bundles.iter().find(|b| b.name == v.bundle);
                findings.push(findings::reachability_violated(bundle, &v));
            }
        }
        Err(e) => findings.push(findings::tree_level(
            "reachability-violated",
            Severity::Error,
            e.to_string(),
        )),
    }

    let (reachability, reachability_note) = match (&base, &workloads) {
        (Some(base), Some(workloads)) => {
            let model = Model::new(workloads, Vec::new())
                .map_err(|e| CheckError::Workloads(e.to_string()))?;
            match (
                netpol_reach::Evaluator::new(&base.policies),
                netpol_reach::Evaluator::new(&all),
            ) {
                (Ok(old), Ok(new)) => (Some(reach::diff(&model, &old, &new)), None),
                (Err(e), _) | (_, Err(e)) => (None, Some(format!("not computed: {e}"))),
            }
        }
        (Some(_), None) => (
            None,
            Some("give --workloads to see what this change opens and closes".into()),
        ),
        (None, _) => (
            None,
            Some("give --base to see what this change opens and closes".into()),
        ),
    };

    findings.sort_by(|a, b| {
        (&a.location.file, a.location.line, a.rule).cmp(&(
            &b.location.file,
            b.location.line,
            b.rule,
        ))
    });
    findings.dedup();
    Ok(CheckReport {
        bundles: statuses,
        findings,
        commit_signers,
        reachability,
        reachability_note,
        policies: all.len(),
    })
}

/// Principal patterns, each once, in file order.
fn principals(lines: Vec<(String, String)>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    lines
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| seen.insert(p.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: NAME, namespace: a}\nspec: {podSelector: {}}\n";

    /// A repository of one bundle with `n` policy files, committed, and the limits given.
    fn repo(n: usize) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let bundle = dir.path().join("bundles/b/a");
        std::fs::create_dir_all(&bundle).unwrap();
        for i in 0..n {
            std::fs::write(
                bundle.join(format!("p{i}.yaml")),
                POLICY.replace("NAME", &format!("p{i}")),
            )
            .unwrap();
        }
        std::fs::write(
            dir.path().join("bundles/b/bundle.yaml"),
            "apiVersion: netpol-sync/v1\nkind: Bundle\nname: b\nnamespaces: [a]\nfiles: []\n",
        )
        .unwrap();
        let git = git2::Repository::init(dir.path()).unwrap();
        let mut index = git.index().unwrap();
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .unwrap();
        let tree = git.find_tree(index.write_tree().unwrap()).unwrap();
        let who = git2::Signature::now("t", "t@example.com").unwrap();
        git.commit(Some("HEAD"), &who, &who, "base", &tree, &[])
            .unwrap();
        dir
    }

    fn rules(report: &CheckReport, rule: &str) -> Vec<Finding> {
        report
            .findings
            .iter()
            .filter(|f| f.rule == rule)
            .cloned()
            .collect()
    }

    #[test]
    fn an_oversized_policy_file_is_a_finding_and_the_others_are_read() {
        let dir = repo(3);
        std::fs::write(dir.path().join("bundles/b/a/p1.yaml"), "x".repeat(2048)).unwrap();
        let options = CheckOptions {
            limits: Limits {
                max_file_bytes: 1024,
                ..Limits::default()
            },
            ..CheckOptions::default()
        };
        let report = check(dir.path(), &options).unwrap();
        let too_big = rules(&report, "policy-invalid");
        assert_eq!(too_big.len(), 1, "{:?}", report.findings);
        assert_eq!(too_big[0].location.file, "bundles/b/a/p1.yaml");
        assert!(
            too_big[0].message.contains("more than 1024 bytes"),
            "{}",
            too_big[0].message
        );
        assert_eq!(report.policies, 2);
    }

    #[test]
    fn files_past_the_total_limit_are_not_read_and_that_is_an_error() {
        let dir = repo(20);
        let total = |limit| CheckOptions {
            limits: Limits {
                max_total_bytes: limit,
                ..Limits::default()
            },
            ..CheckOptions::default()
        };
        // bundle.yaml and a few policies fit; the rest do not.
        let report = check(dir.path(), &total(600)).unwrap();
        let over = rules(&report, "limit-exceeded");
        assert_eq!(over.len(), 1, "{:?}", report.findings);
        assert_eq!(over[0].severity, Severity::Error);
        assert!(
            report.policies < 20 && report.policies > 0,
            "{}",
            report.policies
        );
        let everything = check(dir.path(), &CheckOptions::default()).unwrap();
        assert!(rules(&everything, "limit-exceeded").is_empty());
        assert_eq!(everything.policies, 20);
        // The base revision is held to the same total.
        let with_base = CheckOptions {
            base: Some("HEAD".into()),
            ..total(600)
        };
        let e = check(dir.path(), &with_base).unwrap_err();
        assert!(e.to_string().contains("more than 600 bytes"), "{e}");
    }
}
