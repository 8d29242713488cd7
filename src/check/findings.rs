//! `check`'s own findings, beside the lint rules': what `verify` would refuse, said of a
//! working tree (docs/check.md, "Findings").

use super::tree::{key_line, TreeBundle};
use crate::lint::{Finding, Location, Severity};
use crate::reach::assertions::Violation;

/// A rule of `check` itself (the lint rules are [`crate::lint::RULES`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckRule {
    pub id: &'static str,
    pub severity: Severity,
    pub summary: &'static str,
}

/// Every rule `check` reports besides the lint rules, for SARIF's rule list and docs.
pub const CHECK_RULES: &[CheckRule] = &[
    CheckRule {
        id: "no-bundles",
        severity: Severity::Error,
        summary: "The repository has no bundle under bundles/: there is nothing to enforce.",
    },
    CheckRule {
        id: "allowed-signers-invalid",
        severity: Severity::Error,
        summary: "keys/allowed_signers is missing or does not parse: no signature can be checked.",
    },
    CheckRule {
        id: "manifest-invalid",
        severity: Severity::Error,
        summary: "bundle.yaml does not parse or breaks the manifest rules: verify refuses the revision.",
    },
    CheckRule {
        id: "seal-stale",
        severity: Severity::Error,
        summary: "bundle.yaml's files: list is not what a seal writes: verify refuses the revision.",
    },
    CheckRule {
        id: "policy-invalid",
        severity: Severity::Error,
        summary: "A policy document is not a NetworkPolicy the API server and the bundle accept.",
    },
    CheckRule {
        id: "limit-exceeded",
        severity: Severity::Error,
        summary: "The bundles' files hold more bytes than verify reads: the revision would be refused.",
    },
    CheckRule {
        id: "signature-needed",
        severity: Severity::Warning,
        summary: "Fewer trusted keys signed the current bundle.yaml than required: sign it before merging.",
    },
    CheckRule {
        id: "signature-invalid",
        severity: Severity::Info,
        summary: "A signature file does not verify over the current bundle.yaml (usually made before the last change).",
    },
    CheckRule {
        id: "reachability-violated",
        severity: Severity::Error,
        summary: "The policies break one of the bundle's signed reachability assertions: the revision would be refused.",
    },
];

pub fn at(file: &str, line: usize) -> Location {
    Location {
        file: file.to_string(),
        line: line.max(1),
        column: None,
    }
}

pub fn finding(
    rule: &'static str,
    severity: Severity,
    message: String,
    location: Location,
) -> Finding {
    Finding {
        rule,
        severity,
        message,
        location,
        related: Vec::new(),
        bundle: None,
    }
}

/// A finding about the repository as a whole, located at bundles/.
pub fn tree_level(rule: &'static str, severity: Severity, message: String) -> Finding {
    finding(rule, severity, message, at(crate::bundle::BUNDLES_DIR, 1))
}

pub fn signature_needed(
    bundle: &TreeBundle,
    have: usize,
    required: usize,
    may_sign: &[String],
    keys_readable: bool,
) -> Finding {
    let who = if !keys_readable {
        "keys/allowed_signers cannot be read, so no key can be named".to_string()
    } else if may_sign.is_empty() {
        "no key of keys/allowed_signers may sign bundles (namespace netpol-sync-bundle)".into()
    } else {
        format!(
            "keys/allowed_signers lets these sign it: {}",
            may_sign.join(", ")
        )
    };
    finding(
        "signature-needed",
        Severity::Warning,
        format!(
            "bundle.yaml is signed by {have} of the {required} distinct trusted key(s) it needs; sign it with `netpol-sync bundle sign bundles/{} --key KEY` ({who})",
            bundle.name
        ),
        at(&bundle.manifest_file(), 1),
    )
}

pub fn reachability_violated(bundle: Option<&TreeBundle>, v: &Violation) -> Finding {
    let (file, line) = match bundle {
        Some(b) => (
            b.manifest_file(),
            key_line(&b.manifest_text, "reachability"),
        ),
        None => (format!("bundles/{}/bundle.yaml", v.bundle), 1),
    };
    finding(
        "reachability-violated",
        Severity::Error,
        format!("reachability[{}] {}: {}", v.index, v.name, v.message),
        at(&file, line),
    )
}
