//! Paths of policy files inside a bundle directory, as the manifest lists them. One
//! file has one spelling: relative, `/`-separated, already normalised. Anything that
//! would need normalising is rejected rather than normalised, so the manifest, the tree
//! and a reviewer all read the same name.

use std::fmt;

/// Longest path accepted; git and every filesystem in use allow more, no bundle needs it.
pub const MAX_PATH_BYTES: usize = 1024;
/// Longest single path segment (a file or directory name).
pub const MAX_SEGMENT_BYTES: usize = 255;

/// A validated manifest path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BundlePath(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("path is empty")]
    Empty,
    #[error("path is longer than {MAX_PATH_BYTES} bytes")]
    TooLong,
    #[error("path is absolute; paths are relative to the bundle directory")]
    Absolute,
    #[error("path contains a backslash; use `/` between directories")]
    Backslash,
    #[error("path contains an empty segment (`//`, or a leading or trailing `/`)")]
    EmptySegment,
    #[error("path contains a `.` segment; write it without")]
    DotSegment,
    #[error("path contains `..`; a bundle cannot refer outside its directory")]
    ParentSegment,
    #[error("path segment longer than {MAX_SEGMENT_BYTES} bytes")]
    SegmentTooLong,
    #[error("path contains a control character")]
    ControlCharacter,
    #[error("`{0}` is the bundle's own metadata, not a policy file")]
    Reserved(String),
    #[error("policy files end in `.yaml` or `.yml`")]
    NotYaml,
}

impl BundlePath {
    pub fn parse(s: &str) -> Result<BundlePath, PathError> {
        if s.is_empty() {
            return Err(PathError::Empty);
        }
        if s.len() > MAX_PATH_BYTES {
            return Err(PathError::TooLong);
        }
        if s.starts_with('/') {
            return Err(PathError::Absolute);
        }
        if s.contains('\\') {
            return Err(PathError::Backslash);
        }
        if s.chars().any(char::is_control) {
            return Err(PathError::ControlCharacter);
        }
        for segment in s.split('/') {
            match segment {
                "" => return Err(PathError::EmptySegment),
                "." => return Err(PathError::DotSegment),
                ".." => return Err(PathError::ParentSegment),
                seg if seg.len() > MAX_SEGMENT_BYTES => return Err(PathError::SegmentTooLong),
                _ => {}
            }
        }
        if s == super::MANIFEST_FILE {
            return Err(PathError::Reserved(s.to_string()));
        }
        if s == super::SIGNATURES_DIR || s.starts_with(&format!("{}/", super::SIGNATURES_DIR)) {
            return Err(PathError::Reserved(super::SIGNATURES_DIR.to_string()));
        }
        if !(s.ends_with(".yaml") || s.ends_with(".yml")) {
            return Err(PathError::NotYaml);
        }
        Ok(BundlePath(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BundlePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn normalised_relative_yaml_paths_are_accepted() {
        for p in [
            "a.yaml",
            "payments/default-deny.yaml",
            "x/y/z.yml",
            "dir.with.dots/a b.yaml",
            "ünï/cödé.yaml",
        ] {
            assert_eq!(BundlePath::parse(p).unwrap().as_str(), p);
        }
    }

    #[test]
    fn path_traversal_is_rejected() {
        assert_eq!(
            BundlePath::parse("../other/a.yaml"),
            Err(PathError::ParentSegment)
        );
        assert_eq!(
            BundlePath::parse("a/../../b.yaml"),
            Err(PathError::ParentSegment)
        );
        assert_eq!(BundlePath::parse("a/.."), Err(PathError::ParentSegment));
    }

    #[test]
    fn absolute_and_windows_paths_are_rejected() {
        assert_eq!(BundlePath::parse("/etc/a.yaml"), Err(PathError::Absolute));
        assert_eq!(
            BundlePath::parse("a\\..\\b.yaml"),
            Err(PathError::Backslash)
        );
    }

    #[test]
    fn unnormalised_paths_are_rejected_not_normalised() {
        assert_eq!(BundlePath::parse("./a.yaml"), Err(PathError::DotSegment));
        assert_eq!(BundlePath::parse("a//b.yaml"), Err(PathError::EmptySegment));
        assert_eq!(BundlePath::parse("a/"), Err(PathError::EmptySegment));
        assert_eq!(BundlePath::parse(""), Err(PathError::Empty));
    }

    #[test]
    fn manifest_and_signatures_cannot_be_listed_as_policy_files() {
        assert!(matches!(
            BundlePath::parse("bundle.yaml"),
            Err(PathError::Reserved(_))
        ));
        assert!(matches!(
            BundlePath::parse("signatures/a.yaml"),
            Err(PathError::Reserved(_))
        ));
        assert!(BundlePath::parse("sub/bundle.yaml").is_ok());
        assert!(BundlePath::parse("signatures-old/a.yaml").is_ok());
    }

    #[test]
    fn control_characters_and_oversized_paths_are_rejected() {
        assert_eq!(
            BundlePath::parse("a\nb.yaml"),
            Err(PathError::ControlCharacter)
        );
        assert_eq!(
            BundlePath::parse("a\0.yaml"),
            Err(PathError::ControlCharacter)
        );
        assert_eq!(
            BundlePath::parse(&format!("{}.yaml", "a".repeat(300))),
            Err(PathError::SegmentTooLong)
        );
        let long = format!("{}.yaml", "abcdefgh/".repeat(120));
        assert_eq!(BundlePath::parse(&long), Err(PathError::TooLong));
    }

    #[test]
    fn non_yaml_files_are_rejected() {
        assert_eq!(BundlePath::parse("README.md"), Err(PathError::NotYaml));
        assert_eq!(BundlePath::parse("a.yaml.bak"), Err(PathError::NotYaml));
    }

    proptest! {
        #[test]
        fn arbitrary_strings_never_panic(s in ".{0,64}") {
            let _ = BundlePath::parse(&s);
        }

        #[test]
        fn accepted_paths_have_no_dot_segments_and_round_trip(s in "[a-z./]{1,40}") {
            if let Ok(p) = BundlePath::parse(&s) {
                prop_assert_eq!(p.as_str(), s.as_str());
                prop_assert!(!s.starts_with('/'));
                for seg in s.split('/') {
                    prop_assert!(seg != "." && seg != ".." && !seg.is_empty());
                }
            }
        }

        #[test]
        fn any_path_with_a_parent_segment_is_rejected(
            prefix in "([a-z]{1,5}/){0,3}", name in "[a-z]{1,5}"
        ) {
            let p = format!("{prefix}../{name}.yaml");
            prop_assert!(BundlePath::parse(&p).is_err());
        }
    }
}
