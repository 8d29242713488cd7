//! `netpol-sync init DIR --namespace NS… --signer "PRINCIPAL PUBKEY-FILE"…`: scaffold a
//! policy repository (docs/init.md): `keys/allowed_signers` trusting the signers, and one
//! bundle governing the namespaces with a default-deny and an allow-DNS policy for each,
//! sealed with the seal code. Every argument and key file is checked before anything is
//! written, and a failure while writing removes what was written, so a refused `init`
//! leaves DIR as it was.

mod policies;

use crate::bundle::manifest::is_dns1123_label;
use crate::bundle::seal::{self, SealError};
use crate::bundle::sign::check_signature_name;
use crate::bundle::{BundleDigest, Limits, BUNDLES_DIR, MANIFEST_FILE};
use crate::verify::{read_public_key_file, AllowedSigners, KeyFileError, KEYS_PATH};
use base64::Engine;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub use policies::SIGNER_NAMESPACES;

/// The bundle's name when `--bundle` is not given.
pub const DEFAULT_BUNDLE: &str = "main";

/// What to scaffold.
#[derive(Debug, Clone, Copy)]
pub struct InitRequest<'a> {
    pub dir: &'a Path,
    pub bundle: &'a str,
    pub namespaces: &'a [String],
    /// Each `PRINCIPAL PUBKEY-FILE`.
    pub signers: &'a [String],
}

/// A signer as written to keys/allowed_signers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitSigner {
    pub principal: String,
    pub public_key: PathBuf,
    /// `SHA256:…` of the key.
    pub fingerprint: String,
}

/// The repository written.
#[derive(Debug, Clone)]
pub struct Initialized {
    pub dir: PathBuf,
    pub allowed_signers: PathBuf,
    pub bundle: String,
    pub bundle_dir: PathBuf,
    /// The policy files, relative to the bundle directory, as sealed.
    pub policy_files: Vec<String>,
    pub digest: BundleDigest,
    pub signers: Vec<InitSigner>,
}

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} exists and is not empty; init writes only into a new or empty directory")]
    NotEmpty(PathBuf),
    #[error("{0} exists and is not a directory")]
    NotADirectory(PathBuf),
    #[error("no --namespace: a bundle governs at least one namespace")]
    NoNamespace,
    #[error("no --signer: a repository needs at least one trusted key")]
    NoSigner,
    #[error("namespace {0:?} is not a DNS-1123 label (lowercase letters, digits and `-`, at most 63, starting and ending alphanumeric)")]
    BadNamespace(String),
    #[error("namespace {0:?} is given twice")]
    DuplicateNamespace(String),
    #[error("bundle name {0:?} is not a DNS-1123 label (lowercase letters, digits and `-`, at most 63; docs/bundles.md)")]
    BadBundleName(String),
    #[error("--signer {0:?}: expected \"PRINCIPAL PUBKEY-FILE\"")]
    BadSigner(String),
    #[error("--signer principal {0:?} must be 1 to 128 letters, digits and `.`, `_`, `-`, `@`, `+`, not starting with `.` or `-` (it also names the signer's signatures/<principal>.sig)")]
    BadPrincipal(String),
    #[error("principal {0:?} is given twice")]
    DuplicatePrincipal(String),
    #[error("{second} holds the same key as {first} ({fingerprint}); give each key once")]
    DuplicateKey {
        first: PathBuf,
        second: PathBuf,
        fingerprint: String,
    },
    #[error("--signer {0}")]
    Key(#[from] KeyFileError),
    #[error("sealing the new bundle: {0}")]
    Seal(#[from] SealError),
    #[error("the keys/allowed_signers written does not read back: {0}")]
    SelfCheck(String),
}

impl InitError {
    /// Usage and I/O errors (exit 2), as opposed to a key file whose content is refused
    /// or a bundle that does not seal (exit 1).
    pub fn is_usage(&self) -> bool {
        match self {
            InitError::Key(KeyFileError::Io { .. }) | InitError::Seal(SealError::Io { .. }) => true,
            InitError::Key(_) | InitError::Seal(_) | InitError::SelfCheck(_) => false,
            _ => true,
        }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> InitError + '_ {
    move |source| InitError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One signer and its allowed_signers line.
struct Signer {
    signer: InitSigner,
    line: String,
}

pub fn init(req: InitRequest<'_>) -> Result<Initialized, InitError> {
    let namespaces = check_namespaces(req.namespaces)?;
    if !is_dns1123_label(req.bundle) {
        return Err(InitError::BadBundleName(req.bundle.to_string()));
    }
    let signers = read_signers(req.signers)?;
    let keys_text =
        policies::allowed_signers(&signers.iter().map(|s| s.line.clone()).collect::<Vec<_>>());
    // What verify will read: a line the verifier refuses must not be written.
    let parsed = AllowedSigners::parse(KEYS_PATH, keys_text.as_bytes())
        .map_err(|e| InitError::SelfCheck(e.message))?;
    if parsed.len() != signers.len() {
        return Err(InitError::SelfCheck(format!(
            "{} key lines for {} signers",
            parsed.len(),
            signers.len()
        )));
    }
    let created = prepare_dir(req.dir)?;

    let written = write_repository(req.dir, req.bundle, &namespaces, &keys_text);
    let (policy_files, digest) = match written {
        Ok(done) => done,
        Err(e) => {
            // DIR was empty or new: everything in it now is ours to take back.
            let _ = std::fs::remove_dir_all(req.dir.join("keys"));
            let _ = std::fs::remove_dir_all(req.dir.join(BUNDLES_DIR));
            if created {
                let _ = std::fs::remove_dir(req.dir);
            }
            return Err(e);
        }
    };
    Ok(Initialized {
        dir: req.dir.to_path_buf(),
        allowed_signers: req.dir.join(KEYS_PATH),
        bundle: req.bundle.to_string(),
        bundle_dir: req.dir.join(BUNDLES_DIR).join(req.bundle),
        policy_files,
        digest,
        signers: signers.into_iter().map(|s| s.signer).collect(),
    })
}

/// DNS-1123 labels, each once, in the order given.
fn check_namespaces(list: &[String]) -> Result<Vec<String>, InitError> {
    if list.is_empty() {
        return Err(InitError::NoNamespace);
    }
    let mut seen = BTreeSet::new();
    for ns in list {
        if !is_dns1123_label(ns) {
            return Err(InitError::BadNamespace(ns.clone()));
        }
        if !seen.insert(ns.as_str()) {
            return Err(InitError::DuplicateNamespace(ns.clone()));
        }
    }
    Ok(list.to_vec())
}

fn read_signers(list: &[String]) -> Result<Vec<Signer>, InitError> {
    if list.is_empty() {
        return Err(InitError::NoSigner);
    }
    let mut out: Vec<Signer> = Vec::new();
    for spec in list {
        // A principal has no blank in it; the rest, trimmed, is the file (which may).
        let (principal, file) = spec
            .trim()
            .split_once(char::is_whitespace)
            .map(|(p, f)| (p, f.trim()))
            .filter(|(_, f)| !f.is_empty())
            .ok_or_else(|| InitError::BadSigner(spec.clone()))?;
        if check_signature_name(principal).is_err() {
            return Err(InitError::BadPrincipal(principal.to_string()));
        }
        if out.iter().any(|s| s.signer.principal == principal) {
            return Err(InitError::DuplicatePrincipal(principal.to_string()));
        }
        let path = PathBuf::from(file);
        let key = read_public_key_file(&path)?;
        let fingerprint = key.fingerprint();
        if let Some(first) = out.iter().find(|s| s.signer.fingerprint == fingerprint) {
            return Err(InitError::DuplicateKey {
                first: first.signer.public_key.clone(),
                second: path,
                fingerprint,
            });
        }
        let line = format!(
            "{principal} namespaces=\"{SIGNER_NAMESPACES}\" {} {}",
            key.type_name(),
            base64::engine::general_purpose::STANDARD.encode(key.blob())
        );
        out.push(Signer {
            signer: InitSigner {
                principal: principal.to_string(),
                public_key: path,
                fingerprint,
            },
            line,
        });
    }
    Ok(out)
}

/// Refuse a DIR that is not a new or empty directory; create it if new. True when it
/// was created here.
fn prepare_dir(dir: &Path) -> Result<bool, InitError> {
    match std::fs::symlink_metadata(dir) {
        Ok(meta) if meta.is_dir() => {
            let mut entries = std::fs::read_dir(dir).map_err(io(dir))?;
            if entries.next().is_some() {
                return Err(InitError::NotEmpty(dir.to_path_buf()));
            }
            Ok(false)
        }
        Ok(_) => Err(InitError::NotADirectory(dir.to_path_buf())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
            Ok(true)
        }
        Err(e) => Err(io(dir)(e)),
    }
}

fn write(path: &Path, text: &str) -> Result<(), InitError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    std::fs::write(path, text).map_err(io(path))
}

fn write_repository(
    dir: &Path,
    bundle: &str,
    namespaces: &[String],
    keys_text: &str,
) -> Result<(Vec<String>, BundleDigest), InitError> {
    write(&dir.join(KEYS_PATH), keys_text)?;
    let bundle_dir = dir.join(BUNDLES_DIR).join(bundle);
    write(
        &bundle_dir.join(MANIFEST_FILE),
        &policies::manifest(bundle, namespaces),
    )?;
    for ns in namespaces {
        write(
            &bundle_dir.join(ns).join("default-deny.yaml"),
            &policies::default_deny(ns),
        )?;
        write(
            &bundle_dir.join(ns).join("allow-dns.yaml"),
            &policies::allow_dns(ns),
        )?;
    }
    let report = seal::seal(&bundle_dir, &Limits::default())?;
    Ok((
        report.files.into_iter().map(|f| f.path).collect(),
        report.digest,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::policy::{validate_file, PolicyContext};
    use crate::bundle::yaml::{load_documents, YamlLimits};

    #[test]
    fn generated_policies_are_valid_networkpolicies_in_their_namespace() {
        let namespaces: BTreeSet<String> = ["payments".to_string()].into();
        for (file, text) in [
            (
                "payments/default-deny.yaml",
                policies::default_deny("payments"),
            ),
            ("payments/allow-dns.yaml", policies::allow_dns("payments")),
        ] {
            let ctx = PolicyContext {
                bundle: "main",
                file,
                namespaces: &namespaces,
            };
            let docs = load_documents(
                text.as_bytes(),
                YamlLimits {
                    max_documents: 10,
                    max_depth: 32,
                },
            )
            .unwrap();
            assert_eq!(validate_file(&ctx, docs).unwrap(), 1, "{file}");
        }
    }

    #[test]
    fn namespaces_must_be_dns_labels_given_once() {
        let list = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(check_namespaces(&list(&["a", "b-2"])).is_ok());
        for bad in ["Payments", "-a", "a_b", "", &"a".repeat(64)] {
            assert!(
                matches!(
                    check_namespaces(&list(&[bad])),
                    Err(InitError::BadNamespace(_))
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            check_namespaces(&list(&["a", "a"])),
            Err(InitError::DuplicateNamespace(_))
        ));
        assert!(matches!(check_namespaces(&[]), Err(InitError::NoNamespace)));
    }

    #[test]
    fn a_signer_needs_a_principal_and_a_file() {
        for bad in ["alice", "alice   ", "", "  "] {
            assert!(
                matches!(
                    read_signers(&[bad.to_string()]),
                    Err(InitError::BadSigner(_))
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            read_signers(&["../x /nonexistent.pub".to_string()]),
            Err(InitError::BadPrincipal(_))
        ));
    }
}
