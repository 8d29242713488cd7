//! What a policy's object is called: the policy's own name, or with `--immutable-objects`
//! `<name>-<hash>` (docs/sync.md, "Immutable objects"), so that a changed policy is a new
//! object and an object's name says which content it must hold.

/// Hex digits of the policy's content hash in an immutable object's name: 40 bits. Names
/// only need to differ between the versions of one policy in one namespace, and the
/// content an object holds is compared in full (its hash annotation) every cycle, so a
/// collision could at worst make a changed policy look like its earlier version's name,
/// which the full comparison still catches.
pub const SUFFIX_HEX: usize = 10;

/// The longest policy name that still takes the suffix within Kubernetes' 253 characters.
pub const MAX_POLICY_NAME: usize = 253 - 1 - SUFFIX_HEX;

/// How the plan names objects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Naming {
    /// The policy's own name; a changed policy is updated in place.
    #[default]
    Plain,
    /// `<name>-<hash>`: objects are only ever created and deleted.
    Immutable,
}

/// `name-0123456789` from `name` and its `sha256:…` content hash.
pub fn immutable_name(name: &str, content_hash: &str) -> String {
    let hex = content_hash.strip_prefix("sha256:").unwrap_or(content_hash);
    format!("{name}-{}", &hex[..SUFFIX_HEX.min(hex.len())])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_suffix_is_ten_hex_digits_of_the_content_hash() {
        let hash = format!("sha256:{}", "0123456789abcdef".repeat(4));
        assert_eq!(immutable_name("web", &hash), "web-0123456789");
        let longest = "a".repeat(MAX_POLICY_NAME);
        assert_eq!(immutable_name(&longest, &hash).len(), 253);
    }
}
