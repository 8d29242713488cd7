//! `bundle.yaml`: strict parsing and the manifest rules (docs/bundles.md, "bundle.yaml"). Parsed through the
//! same hazard-checked YAML loader as policy files, then decoded with unknown fields
//! rejected.

use super::assertions::{self, RawAssertion, ReachabilityAssertion};
use super::digest::parse_sha256_hex;
use super::limits::Limits;
use super::path::BundlePath;
use super::yaml::{load_documents, YamlLimits};
use super::{BundleError, MANIFEST_FILE};
use crate::reason::ReasonCode;
use serde::Deserialize;
use std::collections::BTreeSet;

pub const API_VERSION: &str = "netpol-sync/v1";
pub const KIND: &str = "Bundle";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub name: String,
    pub namespaces: BTreeSet<String>,
    pub allow_open: BTreeSet<String>,
    /// In manifest order (seal writes it sorted).
    pub files: Vec<FileEntry>,
    /// Connectivity the revision must keep (docs/bundles.md, "Reachability assertions").
    pub reachability: Vec<ReachabilityAssertion>,
    /// Lint rules `check` does not report for this bundle (`lint: {ignore: [...]}`).
    /// Only their spelling is checked here: `check` names an id no rule has.
    pub lint_ignore: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub path: BundlePath,
    pub sha256: [u8; 32],
    pub size: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawManifest {
    api_version: String,
    kind: String,
    name: String,
    namespaces: Vec<String>,
    #[serde(default)]
    allow_open: Vec<String>,
    files: Vec<RawFileEntry>,
    #[serde(default)]
    reachability: Vec<RawAssertion>,
    #[serde(default)]
    lint: RawLint,
}

/// `lint:` of bundle.yaml: the rules `netpol-sync check` does not report for this bundle
/// (docs/lint.md). Signed with the rest, so silencing a rule is reviewed like a policy.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLint {
    #[serde(default)]
    ignore: Vec<String>,
}

/// At most this many rules silenced per bundle.
pub const MAX_LINT_IGNORES: usize = 100;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFileEntry {
    path: String,
    sha256: String,
    size: u64,
}

fn invalid(message: impl Into<String>) -> BundleError {
    BundleError::new(ReasonCode::ManifestInvalid, message).in_file(MANIFEST_FILE)
}

/// A DNS-1123 label, as Kubernetes requires of namespace names; bundle names follow
/// the same rule because they appear in annotations and directory names.
pub fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b.first().is_some_and(|c| *c != b'-')
        && b.last().is_some_and(|c| *c != b'-')
}

/// A lint rule id as docs/lint.md spells them.
fn is_rule_id(s: &str) -> bool {
    is_dns1123_label(s)
}

/// Parse the exact bytes of `bundles/<dir_name>/bundle.yaml`.
pub fn parse(bytes: &[u8], dir_name: &str, limits: &Limits) -> Result<Manifest, BundleError> {
    let yaml_limits = YamlLimits {
        max_documents: 2,
        max_depth: limits.max_yaml_depth,
    };
    let docs =
        load_documents(bytes, yaml_limits).map_err(|e| invalid(format!("bundle.yaml: {e}")))?;
    let mut docs = docs.into_iter().filter(|d| !d.value.is_null());
    let doc = match (docs.next(), docs.next()) {
        (Some(doc), None) => doc,
        (None, _) => return Err(invalid("bundle.yaml is empty")),
        (Some(_), Some(_)) => return Err(invalid("bundle.yaml holds more than one YAML document")),
    };
    let raw: RawManifest =
        serde_json::from_value(doc.value).map_err(|e| invalid(format!("bundle.yaml: {e}")))?;
    check(raw, dir_name, limits)
}

fn check(raw: RawManifest, dir_name: &str, limits: &Limits) -> Result<Manifest, BundleError> {
    if raw.api_version != API_VERSION {
        return Err(invalid(format!(
            "apiVersion is `{}`, expected `{API_VERSION}`",
            raw.api_version
        ))
        .at_field("apiVersion"));
    }
    if raw.kind != KIND {
        return Err(invalid(format!("kind is `{}`, expected `{KIND}`", raw.kind)).at_field("kind"));
    }
    if raw.name != dir_name {
        return Err(invalid(format!(
            "name `{}` differs from its directory `bundles/{dir_name}`",
            raw.name
        ))
        .at_field("name"));
    }
    if !is_dns1123_label(&raw.name) {
        return Err(invalid(format!(
            "name `{}` is not a DNS-1123 label (lowercase letters, digits, `-`, at most 63)",
            raw.name
        ))
        .at_field("name"));
    }
    if raw.namespaces.is_empty() {
        return Err(
            invalid("namespaces is empty: a bundle governs at least one namespace")
                .at_field("namespaces"),
        );
    }
    let namespaces = unique_labels(&raw.namespaces, "namespaces")?;
    // allowOpen may name namespaces outside `namespaces`: acknowledging that a namespace
    // which leaves the scope (or whose bundle is deleted) ends up with no policy is said
    // in a bundle that stays. It only ever permits a prune, never a write.
    let allow_open = unique_labels(&raw.allow_open, "allowOpen")?;
    if raw.files.len() > limits.max_files {
        return Err(BundleError::new(
            ReasonCode::LimitExceeded,
            format!(
                "bundle lists {} files, more than the limit of {}",
                raw.files.len(),
                limits.max_files
            ),
        )
        .in_file(MANIFEST_FILE)
        .at_field("files"));
    }
    let mut seen = BTreeSet::new();
    let mut files = Vec::with_capacity(raw.files.len());
    for (i, f) in raw.files.into_iter().enumerate() {
        let field = format!("files[{i}]");
        let path = BundlePath::parse(&f.path)
            .map_err(|e| invalid(format!("`{}`: {e}", f.path)).at_field(format!("{field}.path")))?;
        if !seen.insert(path.clone()) {
            return Err(
                invalid(format!("`{path}` is listed twice")).at_field(format!("{field}.path"))
            );
        }
        let sha256 = parse_sha256_hex(&f.sha256).ok_or_else(|| {
            invalid(format!("sha256 of `{path}` is not 64 lowercase hex digits"))
                .at_field(format!("{field}.sha256"))
        })?;
        if f.size > limits.max_file_bytes {
            return Err(BundleError::new(
                ReasonCode::LimitExceeded,
                format!(
                    "`{path}` is {} bytes, more than the limit of {}",
                    f.size, limits.max_file_bytes
                ),
            )
            .in_file(MANIFEST_FILE)
            .at_field(format!("{field}.size")));
        }
        files.push(FileEntry {
            path,
            sha256,
            size: f.size,
        });
    }
    if raw.lint.ignore.len() > MAX_LINT_IGNORES {
        return Err(BundleError::new(
            ReasonCode::LimitExceeded,
            format!("lint.ignore lists more than {MAX_LINT_IGNORES} rules"),
        )
        .in_file(MANIFEST_FILE)
        .at_field("lint.ignore"));
    }
    let mut lint_ignore = BTreeSet::new();
    for (i, id) in raw.lint.ignore.into_iter().enumerate() {
        if !is_rule_id(&id) {
            return Err(invalid(format!(
                "lint.ignore[{i}] {id:?} is not a rule id (lowercase letters, digits and `-`, at most 63)"
            ))
            .at_field(format!("lint.ignore[{i}]")));
        }
        lint_ignore.insert(id);
    }
    Ok(Manifest {
        name: raw.name,
        namespaces,
        allow_open,
        files,
        reachability: assertions::check(raw.reachability)?,
        lint_ignore,
    })
}

fn unique_labels(list: &[String], field: &str) -> Result<BTreeSet<String>, BundleError> {
    let mut set = BTreeSet::new();
    for (i, ns) in list.iter().enumerate() {
        if !is_dns1123_label(ns) {
            return Err(invalid(format!(
                "`{ns}` is not a valid namespace name (DNS-1123 label)"
            ))
            .at_field(format!("{field}[{i}]")));
        }
        if !set.insert(ns.clone()) {
            return Err(
                invalid(format!("`{ns}` is listed twice")).at_field(format!("{field}[{i}]"))
            );
        }
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HASH: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    fn manifest(files: &str) -> String {
        format!("apiVersion: netpol-sync/v1\nkind: Bundle\nname: prod\nnamespaces: [payments, frontend]\nfiles:\n{files}")
    }

    fn parse_str(s: &str) -> Result<Manifest, BundleError> {
        parse(s.as_bytes(), "prod", &Limits::default())
    }

    fn reason_and_field(s: &str) -> (ReasonCode, Option<String>) {
        let e = parse_str(s).unwrap_err();
        (e.reason, e.location.field)
    }

    #[test]
    fn a_valid_manifest_parses() {
        let m = parse_str(&manifest(&format!(
            "  - path: payments/deny.yaml\n    sha256: {HASH}\n    size: 12\n"
        )))
        .unwrap();
        assert_eq!(m.name, "prod");
        assert_eq!(
            m.namespaces.iter().collect::<Vec<_>>(),
            vec!["frontend", "payments"]
        );
        assert_eq!(m.files.len(), 1);
        assert_eq!(m.files[0].path.as_str(), "payments/deny.yaml");
        assert_eq!(m.files[0].size, 12);
    }

    #[test]
    fn lint_ignore_is_a_set_of_rule_ids_within_a_limit() {
        let m = parse_str(&format!(
            "{}lint:\n  ignore: [allow-all-ingress, redundant-rule, allow-all-ingress]\n",
            manifest("  []\n")
        ))
        .unwrap();
        assert_eq!(
            m.lint_ignore.iter().collect::<Vec<_>>(),
            ["allow-all-ingress", "redundant-rule"]
        );
        assert!(parse_str(&manifest("  []\n"))
            .unwrap()
            .lint_ignore
            .is_empty());
        assert_eq!(
            reason_and_field(&format!(
                "{}lint:\n  ignore: [ok, Not_A_Rule]\n",
                manifest("  []\n")
            )),
            (ReasonCode::ManifestInvalid, Some("lint.ignore[1]".into()))
        );
        assert_eq!(
            reason_and_field(&format!("{}lint:\n  silence: [x]\n", manifest("  []\n"))).0,
            ReasonCode::ManifestInvalid
        );
        let many: Vec<String> = (0..=MAX_LINT_IGNORES).map(|i| format!("r{i}")).collect();
        assert_eq!(
            reason_and_field(&format!(
                "{}lint:\n  ignore: [{}]\n",
                manifest("  []\n"),
                many.join(", ")
            )),
            (ReasonCode::LimitExceeded, Some("lint.ignore".into()))
        );
    }

    #[test]
    fn unknown_fields_are_rejected_at_top_level_and_in_files() {
        let e = parse_str(&format!("{}extra: 1\n", manifest("  []\n"))).unwrap_err();
        assert_eq!(e.reason, ReasonCode::ManifestInvalid);
        assert!(e.message.contains("unknown field `extra`"), "{}", e.message);
        let e = parse_str(&manifest(&format!(
            "  - path: a.yaml\n    sha256: {HASH}\n    size: 1\n    mode: x\n"
        )))
        .unwrap_err();
        assert!(e.message.contains("unknown field `mode`"), "{}", e.message);
    }

    #[test]
    fn name_must_equal_the_directory() {
        let e = parse(
            "apiVersion: netpol-sync/v1\nkind: Bundle\nname: staging\nnamespaces: [a]\nfiles: []\n"
                .as_bytes(),
            "prod",
            &Limits::default(),
        )
        .unwrap_err();
        assert_eq!(
            (e.reason, e.location.field.as_deref()),
            (ReasonCode::ManifestInvalid, Some("name"))
        );
    }

    #[test]
    fn path_traversal_in_manifest_is_rejected() {
        let (r, f) = reason_and_field(&manifest(&format!(
            "  - path: ../other/a.yaml\n    sha256: {HASH}\n    size: 1\n"
        )));
        assert_eq!(
            (r, f.as_deref()),
            (ReasonCode::ManifestInvalid, Some("files[0].path"))
        );
    }

    #[test]
    fn absolute_path_in_manifest_is_rejected() {
        let (r, _) = reason_and_field(&manifest(&format!(
            "  - path: /etc/a.yaml\n    sha256: {HASH}\n    size: 1\n"
        )));
        assert_eq!(r, ReasonCode::ManifestInvalid);
    }

    #[test]
    fn duplicate_path_in_manifest_is_rejected() {
        let entry = format!("  - path: a.yaml\n    sha256: {HASH}\n    size: 1\n");
        let (r, f) = reason_and_field(&manifest(&format!("{entry}{entry}")));
        assert_eq!(
            (r, f.as_deref()),
            (ReasonCode::ManifestInvalid, Some("files[1].path"))
        );
    }

    #[test]
    fn uppercase_digest_is_rejected() {
        let (r, f) = reason_and_field(&manifest(&format!(
            "  - path: a.yaml\n    sha256: {}\n    size: 1\n",
            HASH.to_uppercase()
        )));
        assert_eq!(
            (r, f.as_deref()),
            (ReasonCode::ManifestInvalid, Some("files[0].sha256"))
        );
    }

    #[test]
    fn negative_size_is_rejected() {
        let (r, _) = reason_and_field(&manifest(&format!(
            "  - path: a.yaml\n    sha256: {HASH}\n    size: -1\n"
        )));
        assert_eq!(r, ReasonCode::ManifestInvalid);
    }

    #[test]
    fn oversized_file_and_too_many_files_hit_limits() {
        let (r, _) = reason_and_field(&manifest(&format!(
            "  - path: a.yaml\n    sha256: {HASH}\n    size: 99999999999\n"
        )));
        assert_eq!(r, ReasonCode::LimitExceeded);
        let limits = Limits {
            max_files: 1,
            ..Limits::default()
        };
        let two = format!("  - path: a.yaml\n    sha256: {HASH}\n    size: 1\n  - path: b.yaml\n    sha256: {HASH}\n    size: 1\n");
        assert_eq!(
            parse(manifest(&two).as_bytes(), "prod", &limits)
                .unwrap_err()
                .reason,
            ReasonCode::LimitExceeded
        );
    }

    #[test]
    fn namespace_rules() {
        let base = |ns: &str, open: &str| {
            format!("apiVersion: netpol-sync/v1\nkind: Bundle\nname: prod\nnamespaces: {ns}\nallowOpen: {open}\nfiles: []\n")
        };
        assert!(parse_str(&base("[a, b]", "[b]")).is_ok());
        assert_eq!(
            parse_str(&base("[]", "[]")).unwrap_err().reason,
            ReasonCode::ManifestInvalid
        );
        assert_eq!(
            parse_str(&base("[a, a]", "[]"))
                .unwrap_err()
                .location
                .field
                .as_deref(),
            Some("namespaces[1]")
        );
        assert_eq!(
            parse_str(&base("[Payments]", "[]"))
                .unwrap_err()
                .location
                .field
                .as_deref(),
            Some("namespaces[0]")
        );
        // allowOpen may acknowledge a namespace the bundle does not govern (one leaving
        // the scope, or another bundle's that is being deleted)...
        let outside = parse_str(&base("[a]", "[b]")).unwrap();
        assert!(outside.allow_open.contains("b") && !outside.namespaces.contains("b"));
        // ...but it is still a list of distinct namespace names.
        assert_eq!(
            parse_str(&base("[a]", "[B]"))
                .unwrap_err()
                .location
                .field
                .as_deref(),
            Some("allowOpen[0]")
        );
        assert_eq!(
            parse_str(&base("[a]", "[b, b]"))
                .unwrap_err()
                .location
                .field
                .as_deref(),
            Some("allowOpen[1]")
        );
    }

    #[test]
    fn wrong_api_version_kind_and_missing_files_are_rejected() {
        assert!(parse_str(
            "apiVersion: v1\nkind: Bundle\nname: prod\nnamespaces: [a]\nfiles: []\n"
        )
        .is_err());
        assert!(parse_str(
            "apiVersion: netpol-sync/v1\nkind: ConfigMap\nname: prod\nnamespaces: [a]\nfiles: []\n"
        )
        .is_err());
        assert!(parse_str(
            "apiVersion: netpol-sync/v1\nkind: Bundle\nname: prod\nnamespaces: [a]\n"
        )
        .is_err());
        assert!(parse_str("").is_err());
        assert!(parse_str("---\n[1, 2]\n").is_err());
    }

    #[test]
    fn two_documents_are_rejected() {
        let one =
            "apiVersion: netpol-sync/v1\nkind: Bundle\nname: prod\nnamespaces: [a]\nfiles: []\n";
        assert!(parse_str(&format!("{one}---\n{one}")).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&bytes, "prod", &Limits::default());
        }

        #[test]
        fn mutated_manifests_never_panic(
            path in "[a-z./\\\\]{0,20}", hash in "[0-9a-fA-F]{0,66}", size in any::<i64>(),
            extra in "[a-zA-Z]{0,6}"
        ) {
            let s = manifest(&format!("  - path: \"{path}\"\n    sha256: \"{hash}\"\n    size: {size}\n    {extra}\n"));
            let _ = parse_str(&s);
        }

        #[test]
        fn accepted_entries_round_trip(name in "[a-z]{1,8}", size in 0u64..4_000_000) {
            let s = manifest(&format!("  - path: {name}.yaml\n    sha256: {HASH}\n    size: {size}\n"));
            let m = parse_str(&s).unwrap();
            prop_assert_eq!(m.files[0].path.as_str(), format!("{name}.yaml"));
            prop_assert_eq!(m.files[0].size, size);
        }
    }
}
