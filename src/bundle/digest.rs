//! SHA-256 as the manifest writes it: 64 lowercase hex digits, and the bundle digest
//! `sha256:<hex>` of bundle.yaml's exact bytes.

use super::BundleDigest;
use sha2::{Digest, Sha256};

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha256(bytes))
}

/// Parse the manifest's `sha256:` field: exactly 64 lowercase hex digits, so that one
/// digest has one spelling and manifests compare byte for byte.
pub fn parse_sha256_hex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

impl BundleDigest {
    /// The digest of a bundle.yaml's exact bytes.
    pub fn of_manifest(bytes: &[u8]) -> BundleDigest {
        BundleDigest(format!("sha256:{}", sha256_hex(bytes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_abc_is_the_fips_180_test_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn bundle_digest_prefixes_sha256_of_the_exact_bytes() {
        let d = BundleDigest::of_manifest(b"");
        assert_eq!(
            d.as_str(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn uppercase_short_long_and_non_hex_digests_are_rejected() {
        let good = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert!(parse_sha256_hex(good).is_some());
        assert!(parse_sha256_hex(&good.to_uppercase()).is_none());
        assert!(parse_sha256_hex(&good[1..]).is_none());
        assert!(parse_sha256_hex(&format!("{good}0")).is_none());
        assert!(parse_sha256_hex(&good.replace('a', "g")).is_none());
        assert!(parse_sha256_hex("").is_none());
    }
}
