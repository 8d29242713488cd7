//! The working tree as `check` reads it: every bundle's manifest, seal, signature files and
//! policy documents, each problem a finding and never a stop (docs/check.md). Reads are
//! bounded by the bundle limits, as `verify`'s are.

use super::findings::{self, at};
use crate::bundle::manifest::{self, Manifest};
use crate::bundle::policy::{validate_file, PolicyContext};
use crate::bundle::seal;
use crate::bundle::yaml::load_documents;
use crate::bundle::BUNDLE_SIGNATURE_NAMESPACE;
use crate::bundle::{Limits, BUNDLES_DIR, MANIFEST_FILE, SIGNATURES_DIR};
use crate::lint::{Finding, Severity};
use crate::verify::{AllowedSigners, SignaturePolicy, KEYS_PATH};
use netpol_policy::NetworkPolicy;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::SystemTime;

/// Signature files read per bundle, at most.
const MAX_SIGNATURES: usize = 64;
/// One signature file's bytes, at most (an armored SSHSIG is well under 2 KiB).
const MAX_SIGNATURE_BYTES: u64 = 64 * 1024;

/// A policy document that validated.
pub struct TreePolicy {
    /// Repository-relative, `/`-separated.
    pub file: String,
    pub document: usize,
    /// Decoded strictly and defaulted as the API server would.
    pub policy: NetworkPolicy,
}

/// One directory of bundles/.
pub struct TreeBundle {
    pub name: String,
    pub manifest: Option<Manifest>,
    /// bundle.yaml's text (empty when unreadable).
    pub manifest_text: String,
    pub sealed: bool,
    /// Every policy file's text, by repository-relative path.
    pub texts: BTreeMap<String, String>,
    pub policies: Vec<TreePolicy>,
    /// `signatures/*.sig`: name and bytes.
    pub signatures: Vec<(String, Vec<u8>)>,
}

impl TreeBundle {
    /// bundle.yaml's repository-relative path.
    pub fn manifest_file(&self) -> String {
        format!("{BUNDLES_DIR}/{}/{MANIFEST_FILE}", self.name)
    }
}

pub struct Tree {
    pub bundles: Vec<TreeBundle>,
    pub allowed_signers: Option<AllowedSigners>,
}

pub fn read(
    root: &Path,
    limits: &Limits,
    progress: &indicatif::ProgressBar,
    out: &mut Vec<Finding>,
) -> Tree {
    let allowed_signers = read_allowed_signers(root, limits, out);
    let bundles_dir = root.join(BUNDLES_DIR);
    let mut names: Vec<String> = match std::fs::read_dir(&bundles_dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| !n.starts_with('.'))
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    if names.is_empty() {
        out.push(findings::tree_level(
            "no-bundles",
            Severity::Error,
            format!(
                "{}: no bundle directories; a policy repository keeps each bundle in bundles/<name>/ (docs/bundles.md)",
                bundles_dir.display()
            ),
        ));
    }
    let mut budget = Budget {
        left: limits.max_total_bytes,
        exceeded: false,
    };
    let bundles = names
        .into_iter()
        .map(|name| {
            read_bundle(
                &bundles_dir.join(&name),
                name,
                limits,
                progress,
                &mut budget,
                out,
            )
        })
        .collect();
    Tree {
        bundles,
        allowed_signers,
    }
}

fn read_allowed_signers(
    root: &Path,
    limits: &Limits,
    out: &mut Vec<Finding>,
) -> Option<AllowedSigners> {
    let path = root.join(KEYS_PATH);
    let bytes = match crate::bounded::read_file(&path, limits.max_file_bytes) {
        Ok(b) => b,
        Err(e) => {
            out.push(findings::finding(
                "allowed-signers-invalid",
                Severity::Error,
                format!("{KEYS_PATH}: {e}; without it no signature can be checked"),
                at(KEYS_PATH, 1),
            ));
            return None;
        }
    };
    match AllowedSigners::parse(KEYS_PATH, &bytes) {
        Ok(s) => Some(s),
        Err(e) => {
            out.push(findings::finding(
                "allowed-signers-invalid",
                Severity::Error,
                e.to_string(),
                at(KEYS_PATH, line_in_message(&e.to_string()).unwrap_or(1)),
            ));
            None
        }
    }
}

/// What is left of `max_total_bytes` for the bundles' files, as `verify` counts it: once
/// spent, no more files are read, and one `limit-exceeded` finding says so.
struct Budget {
    left: u64,
    exceeded: bool,
}

impl Budget {
    /// Whether `bytes` (of `file`) fit; the first that does not is a finding.
    fn charge(&mut self, bytes: usize, file: &str, max: u64, out: &mut Vec<Finding>) -> bool {
        if self.exceeded {
            return false;
        }
        match self.left.checked_sub(bytes as u64) {
            Some(left) => {
                self.left = left;
                true
            }
            None => {
                self.exceeded = true;
                out.push(findings::finding(
                    "limit-exceeded",
                    Severity::Error,
                    format!("the bundles hold more than {max} bytes; this file and those after it are not read"),
                    at(file, 1),
                ));
                false
            }
        }
    }
}

fn read_bundle(
    dir: &Path,
    name: String,
    limits: &Limits,
    progress: &indicatif::ProgressBar,
    budget: &mut Budget,
    out: &mut Vec<Finding>,
) -> TreeBundle {
    let manifest_file = format!("{BUNDLES_DIR}/{name}/{MANIFEST_FILE}");
    let mut bundle = TreeBundle {
        name: name.clone(),
        manifest: None,
        manifest_text: String::new(),
        sealed: false,
        texts: BTreeMap::new(),
        policies: Vec::new(),
        signatures: Vec::new(),
    };
    match crate::bounded::read_file(&dir.join(MANIFEST_FILE), limits.max_file_bytes) {
        Ok(bytes) if !budget.charge(bytes.len(), &manifest_file, limits.max_total_bytes, out) => {}
        Ok(bytes) => {
            bundle.manifest_text = String::from_utf8_lossy(&bytes).into_owned();
            match manifest::parse(&bytes, &name, limits) {
                Ok(m) => bundle.manifest = Some(m),
                Err(e) => {
                    let line = e
                        .location
                        .field
                        .as_deref()
                        .map_or(1, |f| key_line(&bundle.manifest_text, f));
                    out.push(findings::finding(
                        "manifest-invalid",
                        Severity::Error,
                        format!("{} ({})", e.message, e.reason),
                        at(&manifest_file, line),
                    ));
                }
            }
        }
        Err(e) => out.push(findings::finding(
            "manifest-invalid",
            Severity::Error,
            format!("{manifest_file}: {e}"),
            at(&manifest_file, 1),
        )),
    }
    if bundle.manifest.is_some() {
        match seal::check(dir, limits) {
            Ok(c) if c.is_fresh() => bundle.sealed = true,
            Ok(c) => {
                let mut what = Vec::new();
                for (label, list) in [
                    ("added", &c.added),
                    ("removed", &c.removed),
                    ("changed", &c.changed),
                ] {
                    if !list.is_empty() {
                        what.push(format!("{label}: {}", list.join(", ")));
                    }
                }
                if what.is_empty() {
                    what.push("the files: list is not written as a seal writes it".into());
                }
                out.push(findings::finding(
                    "seal-stale",
                    Severity::Error,
                    format!(
                        "the seal is stale ({}); run `netpol-sync bundle seal {BUNDLES_DIR}/{name}`, then sign again",
                        what.join("; ")
                    ),
                    at(&manifest_file, key_line(&bundle.manifest_text, "files")),
                ));
            }
            Err(e) => out.push(findings::finding(
                "seal-stale",
                Severity::Error,
                format!("the bundle cannot be sealed: {e}"),
                at(&manifest_file, 1),
            )),
        }
    }
    bundle.signatures = read_signatures(&dir.join(SIGNATURES_DIR), &name, out);
    let namespaces = bundle.manifest.as_ref().map(|m| m.namespaces.clone());
    let mut files = Vec::new();
    collect_policy_files(dir, dir, &mut files, limits);
    progress.inc_length(files.len() as u64);
    for relative in files {
        progress.inc(1);
        let file = format!("{BUNDLES_DIR}/{name}/{relative}");
        let bytes = match crate::bounded::read_file(&dir.join(&relative), limits.max_file_bytes) {
            Ok(b) => b,
            Err(e) => {
                out.push(findings::finding(
                    "policy-invalid",
                    Severity::Error,
                    e.to_string(),
                    at(&file, 1),
                ));
                continue;
            }
        };
        if !budget.charge(bytes.len(), &file, limits.max_total_bytes, out) {
            break;
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let line_of = |document: usize| crate::lint::document_start(&text, document).0;
        match load_documents(&bytes, limits.file_yaml()) {
            Err(e) => out.push(findings::finding(
                "policy-invalid",
                Severity::Error,
                format!("not YAML the loader accepts: {}", e.error),
                at(&file, line_of(e.document.unwrap_or(0))),
            )),
            Ok(documents) => {
                for doc in documents.into_iter().filter(|d| !d.value.is_null()) {
                    let own: BTreeSet<String>;
                    let allowed = match &namespaces {
                        Some(n) => n,
                        // No manifest: each document is judged on its own.
                        None => {
                            own = doc
                                .value
                                .pointer("/metadata/namespace")
                                .and_then(|v| v.as_str())
                                .map(str::to_string)
                                .into_iter()
                                .collect();
                            &own
                        }
                    };
                    let ctx = PolicyContext {
                        bundle: &name,
                        file: &relative,
                        namespaces: allowed,
                    };
                    let index = doc.index;
                    let value = doc.value.clone();
                    match validate_file(&ctx, vec![doc]) {
                        Err(e) => out.push(findings::finding(
                            "policy-invalid",
                            Severity::Error,
                            format!("document {index}: {} ({})", e.message, e.reason),
                            at(&file, line_of(index)),
                        )),
                        Ok(_) => {
                            if let Ok(mut policy) = netpol_policy::decode_strict(value) {
                                netpol_policy::apply_defaults(&mut policy);
                                bundle.policies.push(TreePolicy {
                                    file: file.clone(),
                                    document: index,
                                    policy,
                                });
                            }
                        }
                    }
                }
            }
        }
        bundle.texts.insert(file, text);
    }
    bundle
}

/// The principals whose keys made a valid signature over the current bundle.yaml, one
/// per distinct key; each signature that does not verify is an `info` finding (a
/// signature made before the last change is the usual case).
pub fn signed_by(
    bundle: &TreeBundle,
    signers: &AllowedSigners,
    now: SystemTime,
    out: &mut Vec<Finding>,
) -> Vec<String> {
    let policy = SignaturePolicy {
        at: now,
        require_user_presence: true,
        key_change_signatures: 1,
    };
    let mut keys = BTreeSet::new();
    let mut principals = Vec::new();
    for (file, armored) in &bundle.signatures {
        match signers.verify_detached(
            armored,
            BUNDLE_SIGNATURE_NAMESPACE,
            bundle.manifest_text.as_bytes(),
            &policy,
        ) {
            Ok(id) => {
                if keys.insert(id.key_blob().to_vec()) {
                    principals.push(id.principal().to_string());
                }
            }
            Err(e) => out.push(findings::finding(
                "signature-invalid",
                Severity::Info,
                format!(
                    "{SIGNATURES_DIR}/{file} does not verify over the current bundle.yaml: {}",
                    e.message
                ),
                at(
                    &format!("{BUNDLES_DIR}/{}/{SIGNATURES_DIR}/{file}", bundle.name),
                    1,
                ),
            )),
        }
    }
    principals
}

fn read_signatures(dir: &Path, bundle: &str, out: &mut Vec<Finding>) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".sig"))
        .collect();
    names.sort();
    if names.len() > MAX_SIGNATURES {
        out.push(findings::finding(
            "signature-invalid",
            Severity::Error,
            format!("more than {MAX_SIGNATURES} signature files; only the first are read"),
            at(&format!("{BUNDLES_DIR}/{bundle}/{SIGNATURES_DIR}"), 1),
        ));
        names.truncate(MAX_SIGNATURES);
    }
    names
        .into_iter()
        .filter_map(|n| {
            crate::bounded::read_file(&dir.join(&n), MAX_SIGNATURE_BYTES)
                .ok()
                .map(|b| (n, b))
        })
        .collect()
}

/// The policy files of a bundle (every `.yaml`/`.yml` below it but bundle.yaml and
/// signatures/), relative and `/`-separated, in byte order, at most `max_files`.
/// Symlinks are not followed: the seal check names them.
fn collect_policy_files(root: &Path, dir: &Path, out: &mut Vec<String>, limits: &Limits) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        if out.len() >= limits.max_files {
            return;
        }
        let Ok(kind) = e.file_type() else { continue };
        let path = e.path();
        let Ok(relative) = path.strip_prefix(root) else {
            continue;
        };
        let relative = relative.to_string_lossy().replace('\\', "/");
        if kind.is_dir() {
            if relative != SIGNATURES_DIR {
                collect_policy_files(root, &path, out, limits);
            }
        } else if kind.is_file()
            && relative != MANIFEST_FILE
            && (relative.ends_with(".yaml") || relative.ends_with(".yml"))
        {
            out.push(relative);
        }
    }
    out.sort();
}

/// The line of `field`'s top-level key in `text` (`files`, `lint.ignore[1]` → `lint:`), or 1.
pub fn key_line(text: &str, field: &str) -> usize {
    let key = field.split(['.', '[']).next().unwrap_or(field);
    text.lines()
        .position(|l| {
            l.strip_prefix(key)
                .is_some_and(|rest| rest.starts_with(':'))
        })
        .map_or(1, |i| i + 1)
}

/// `… line N …` in an allowed_signers error, if it names one.
fn line_in_message(message: &str) -> Option<usize> {
    let rest = message.split("line ").nth(1)?;
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_is_found_at_its_top_level_key() {
        let text = "# head\napiVersion: netpol-sync/v1\nname: a\nfiles:\n  - path: x\nlint:\n  ignore: [y]\n";
        assert_eq!(key_line(text, "files"), 4);
        assert_eq!(key_line(text, "lint.ignore[0]"), 6);
        assert_eq!(key_line(text, "absent"), 1);
        // A key that only starts the same is not it.
        assert_eq!(key_line("namespaces: [a]\nname: b\n", "name"), 2);
    }
}
