//! Bounds on what a bundle may make netpol-sync read, parse and hold. Every check runs
//! before the work it bounds (sizes come from object headers, before blobs are read).

/// Per-revision bounds with defaults that fit any realistic policy repository
/// (a 10,000-policy bundle loads within them) while keeping a hostile one to a few
/// tens of MiB and a fraction of a second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Largest file (policy file or bundle.yaml) in bytes.
    pub max_file_bytes: u64,
    /// Most files one bundle may list (and hold).
    pub max_files: usize,
    /// Most YAML documents in one file.
    pub max_documents_per_file: usize,
    /// Most bytes read across all selected bundles (policy files, manifests, signatures).
    pub max_total_bytes: u64,
    /// Deepest nesting of YAML collections.
    pub max_yaml_depth: usize,
}

impl Limits {
    pub const DEFAULT_MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;
    pub const DEFAULT_MAX_FILES: usize = 10_000;
    pub const DEFAULT_MAX_DOCUMENTS_PER_FILE: usize = 1_000;
    pub const DEFAULT_MAX_TOTAL_BYTES: u64 = 64 * 1024 * 1024;
    /// A NetworkPolicy nests about 9 levels deep; 32 leaves room without letting a
    /// document recurse far.
    pub const DEFAULT_MAX_YAML_DEPTH: usize = 32;

    /// What the YAML loader may read of one policy file (or any multi-document file a
    /// person points netpol-sync at) under these limits.
    pub fn file_yaml(&self) -> crate::bundle::yaml::YamlLimits {
        crate::bundle::yaml::YamlLimits {
            max_documents: self.max_documents_per_file,
            max_depth: self.max_yaml_depth,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: Self::DEFAULT_MAX_FILE_BYTES,
            max_files: Self::DEFAULT_MAX_FILES,
            max_documents_per_file: Self::DEFAULT_MAX_DOCUMENTS_PER_FILE,
            max_total_bytes: Self::DEFAULT_MAX_TOTAL_BYTES,
            max_yaml_depth: Self::DEFAULT_MAX_YAML_DEPTH,
        }
    }
}

/// A signature file is a few hundred bytes; anything larger is not one.
pub const MAX_SIGNATURE_BYTES: u64 = 16 * 1024;
/// More signature files than any real quorum needs.
pub const MAX_SIGNATURES: usize = 64;
