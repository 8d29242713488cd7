//! netpol-sync's ownership marks: what it writes on every NetworkPolicy it manages, and
//! nowhere else. A bundle may not set any of them (`bundle::policy` refuses the label and
//! the annotation prefix); the plan reads them back to tell its own objects from others'
//! (docs/sync.md, "One cycle"); the base is recovered from [`REVISION_ANNOTATION`]
//! (docs/trust.md, "The state record").

/// The label marking objects netpol-sync manages.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Its value.
pub const MANAGED_BY_VALUE: &str = "netpol-sync";
/// Prefix of every annotation netpol-sync writes; excluded from content hashes.
pub const ANNOTATION_PREFIX: &str = "netpol-sync.io/";
/// `sha256:…` of the policy as the revision defines it (without these marks).
pub const CONTENT_HASH_ANNOTATION: &str = "netpol-sync.io/content-hash";
/// The full commit id of the revision that wrote it.
pub const REVISION_ANNOTATION: &str = "netpol-sync.io/revision";
/// The bundle it comes from.
pub const BUNDLE_ANNOTATION: &str = "netpol-sync.io/bundle";
/// `sha256:…` of that bundle's bundle.yaml.
pub const BUNDLE_DIGEST_ANNOTATION: &str = "netpol-sync.io/bundle-digest";
/// With `--immutable-objects`: the label carrying the policy's own name on its object
/// `<name>-<hash>` (docs/sync.md, "Immutable objects").
pub const POLICY_LABEL: &str = "netpol-sync.io/policy";
/// The field manager of netpol-sync's writes (managedFields, drift attribution).
pub const FIELD_MANAGER: &str = "netpol-sync";
/// The label selector of every object netpol-sync manages.
pub fn managed_selector() -> String {
    format!("{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_annotation_carries_the_prefix_the_content_hash_leaves_out() {
        for a in [
            CONTENT_HASH_ANNOTATION,
            REVISION_ANNOTATION,
            BUNDLE_ANNOTATION,
            BUNDLE_DIGEST_ANNOTATION,
        ] {
            assert!(a.starts_with(ANNOTATION_PREFIX), "{a}");
        }
        assert_eq!(
            managed_selector(),
            "app.kubernetes.io/managed-by=netpol-sync"
        );
    }
}
