//! `netpol-sync bundle sign DIR --key FILE [--name NAME]`: sign DIR/bundle.yaml with the
//! real `ssh-keygen -Y sign -n netpol-sync-bundle` (so ssh-agent, passphrases and
//! hardware keys work as they do for `git commit -S`) and put the signature where the
//! verifier reads it, `DIR/signatures/<NAME>.sig` (docs/bundles.md, "A person's
//! workflow").
//!
//! Before signing it refuses what would make a worthless signature: a stale manifest
//! (a signature over a `files:` list that does not match the files), and a key the
//! repository's `keys/allowed_signers` does not let sign bundles (unless `--name` is
//! given, which signs anyway and warns). After signing, the signature goes through the
//! verifier's own threshold check ([`super::signatures`]) before it is written, so a
//! wrong namespace, a `.pub` that is not the private key's, or broken output from
//! ssh-keygen is caught here rather than by the daemon.

use super::limits::Limits;
use super::seal::{self, SealError};
use super::signatures::{check_threshold, RevisionSigners, BUNDLE_SIGNATURE_NAMESPACE};
use super::{BundleDigest, BUNDLES_DIR, MANIFEST_FILE, SIGNATURES_DIR};
use crate::verify::{
    is_private_key, parse_public_key, read_public_key_file, AllowedSigners, KeyFileError, KeyKind,
    PublicKey, SignaturePolicy, KEYS_PATH, MAX_KEY_FILE_BYTES,
};
use base64::Engine;
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::SystemTime;

/// Longest signature name; the verifier reads any `*.sig`, this only keeps names sane.
pub const MAX_NAME_BYTES: usize = 128;

/// What to sign, with which key, under which name.
#[derive(Debug, Clone, Copy)]
pub struct SignRequest<'a> {
    /// The bundle directory (holding bundle.yaml).
    pub dir: &'a Path,
    /// A private key, or a public key whose private half is in ssh-agent (as
    /// `ssh-keygen -Y sign -f` takes it).
    pub key: &'a Path,
    /// The signature's file name without `.sig`; default: the key's principal in
    /// keys/allowed_signers.
    pub name: Option<&'a str>,
}

/// A signature written, and checked.
#[derive(Debug, Clone)]
pub struct Signed {
    /// `DIR/signatures/<name>.sig`.
    pub signature: PathBuf,
    pub name: String,
    /// `SHA256:…` of the key.
    pub fingerprint: String,
    /// The principals of the keys/allowed_signers line that trusts the key, if one does.
    pub principal: Option<String>,
    /// The repository's keys/allowed_signers, when DIR is inside a policy repository.
    pub allowed_signers: Option<PathBuf>,
    /// An existing signature of that name was overwritten (re-signing after a reseal).
    pub replaced: bool,
    /// The digest of the bundle.yaml signed.
    pub digest: BundleDigest,
    pub warnings: Vec<SignWarning>,
}

/// Signed, but verify may not count it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignWarning {
    /// `--name` was given for a key keys/allowed_signers does not let sign bundles.
    Untrusted {
        allowed_signers: PathBuf,
        why: String,
    },
    /// No policy repository (bundles/ and keys/allowed_signers) above DIR, so nothing
    /// says whether the key is trusted.
    NoRepository,
    /// A hardware key signed without user presence: counted only by a deployment run
    /// with `--allow-no-touch` (docs/trust.md).
    NoTouch,
}

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("signature name {0:?} is not a safe file name: use 1 to {MAX_NAME_BYTES} letters, digits and `.`, `_`, `-`, `@`, `+`, not starting with `.` or `-`")]
    BadName(String),
    #[error("{0}")]
    Seal(#[from] SealError),
    #[error("{dir}: bundle.yaml is stale ({summary}); a signature over it would be worthless: run `netpol-sync bundle seal {dir}` first")]
    Stale { dir: String, summary: String },
    #[error("{0}")]
    Key(#[from] KeyFileError),
    #[error("{dir} is not inside a policy repository (no directory above it holds bundles/ and keys/allowed_signers), so the signer cannot be named; give --name NAME")]
    NoRepository { dir: String },
    #[error("{path}: {message}")]
    TrustFile { path: PathBuf, message: String },
    #[error("key {fingerprint} is not in {allowed_signers} as a bundle signer ({why}), so verify would not count its signature. Add it there by a signed commit (docs/trust.md), or give --name NAME to sign anyway")]
    NotTrusted {
        fingerprint: String,
        allowed_signers: String,
        why: String,
    },
    #[error("the principal {principals:?} of {allowed_signers}:{line} is not a safe signature file name; give --name NAME")]
    PrincipalNotAName {
        principals: String,
        allowed_signers: String,
        line: usize,
    },
    #[error(
        "ssh-keygen was not found on PATH; `bundle sign` runs OpenSSH's ssh-keygen (8.1 or later)"
    )]
    SshKeygenMissing,
    #[error("could not run ssh-keygen: {0}")]
    Spawn(std::io::Error),
    #[error("`ssh-keygen {command}` failed ({status}): {stderr}")]
    SshKeygen {
        command: String,
        status: String,
        stderr: String,
    },
    #[error("the signature ssh-keygen made does not verify, so it was not written: {0}")]
    BadSignature(String),
    #[error("{0} changed while it was being signed; nothing was written: sign again")]
    Changed(PathBuf),
}

impl SignError {
    /// Usage and I/O errors (exit 2), as opposed to a refusal of what was asked (exit 1).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            SignError::Io { .. }
                | SignError::BadName(_)
                | SignError::Seal(SealError::Io { .. })
                | SignError::Key(KeyFileError::Io { .. })
        )
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SignError + '_ {
    move |source| SignError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A signature file name: what `--name` and a principal used as a name must be. The
/// verifier reads any `signatures/*.sig`; the rule keeps the name inside signatures/
/// (no `/`, no `..`), visible (no leading `.`) and safe to pass on a command line.
pub fn check_signature_name(name: &str) -> Result<(), SignError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_BYTES
        && !name.starts_with(['.', '-'])
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@+".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(SignError::BadName(name.to_string()))
    }
}

/// The directory above `dir` that holds `bundles/` and `keys/allowed_signers`.
pub fn find_repository(dir: &Path) -> Result<Option<PathBuf>, SignError> {
    let abs = std::fs::canonicalize(dir).map_err(io(dir))?;
    Ok(abs
        .ancestors()
        .find(|a| a.join(BUNDLES_DIR).is_dir() && a.join(KEYS_PATH).is_file())
        .map(Path::to_path_buf))
}

pub fn sign(req: SignRequest<'_>) -> Result<Signed, SignError> {
    if let Some(name) = req.name {
        check_signature_name(name)?;
    }
    let check = seal::check(req.dir, &Limits::default())?;
    if !check.is_fresh() {
        return Err(SignError::Stale {
            dir: req.dir.display().to_string(),
            summary: stale_summary(&check),
        });
    }
    let manifest = check.plan.current;
    let key = public_key_of(req.key)?;
    let fingerprint = key.fingerprint();
    let now = SystemTime::now();

    let repository = find_repository(req.dir)?;
    let trusted = match &repository {
        Some(root) => Some(read_allowed_signers(&root.join(KEYS_PATH))?),
        None => None,
    };
    let mut warnings = Vec::new();
    // The line that lets this key sign bundles, as the verifier will judge it now.
    let line = trusted.as_ref().and_then(|(_, signers)| {
        signers
            .lines_for_key(&key, BUNDLE_SIGNATURE_NAMESPACE, now)
            .into_iter()
            .find(|l| l.allows.is_ok())
    });
    let name = match (req.name, &line, &trusted) {
        (Some(name), Some(_), _) => name.to_string(),
        (Some(name), None, Some((path, signers))) => {
            warnings.push(SignWarning::Untrusted {
                allowed_signers: path.clone(),
                why: why_untrusted(signers, &key, now),
            });
            name.to_string()
        }
        (Some(name), None, None) => {
            warnings.push(SignWarning::NoRepository);
            name.to_string()
        }
        (None, Some(line), Some((path, _))) => {
            let first = line.principals.split(',').next().unwrap_or_default();
            check_signature_name(first).map_err(|_| SignError::PrincipalNotAName {
                principals: line.principals.clone(),
                allowed_signers: path.display().to_string(),
                line: line.line,
            })?;
            first.to_string()
        }
        (None, None, Some((path, signers))) => {
            return Err(SignError::NotTrusted {
                fingerprint,
                allowed_signers: path.display().to_string(),
                why: why_untrusted(signers, &key, now),
            })
        }
        (None, _, None) => {
            return Err(SignError::NoRepository {
                dir: req.dir.display().to_string(),
            })
        }
    };

    let armored = ssh_keygen_sign(req.key, &manifest)?;

    // Judge it as `verify` will: through the threshold check, against the repository's
    // keys when they trust this key, else against this key alone (a `--name` signature
    // still has to be a valid signature by it).
    let own_line;
    let verifier_keys = match (&line, &trusted) {
        (Some(_), Some((_, signers))) => signers,
        _ => {
            own_line = single_key_signers(&name, &key)?;
            &own_line
        }
    };
    let file = format!("{name}.sig");
    let checked = |require_user_presence: bool| {
        let policy = SignaturePolicy {
            at: now,
            require_user_presence,
            key_change_signatures: 1,
        };
        let verifier = RevisionSigners {
            signers: verifier_keys,
            policy: &policy,
        };
        check_threshold(&manifest, &[(file.clone(), armored.clone())], &verifier, 1)
    };
    let signer = match checked(true) {
        Ok(signers) => signers,
        Err(strict) if key.kind() == KeyKind::SkEd25519 => match checked(false) {
            Ok(signers) => {
                warnings.push(SignWarning::NoTouch);
                signers
            }
            Err(_) => return Err(SignError::BadSignature(strict.message)),
        },
        Err(e) => return Err(SignError::BadSignature(e.message)),
    };
    // A `.pub` beside a private key it does not belong to would name the wrong signer.
    if signer.first().map(|s| s.key_blob()) != Some(key.blob()) {
        return Err(SignError::BadSignature(format!(
            "it was made by key {}, not by {fingerprint} (the key's public half does not match {})",
            signer.first().map(|s| s.fingerprint()).unwrap_or("?"),
            req.key.display()
        )));
    }

    let manifest_path = req.dir.join(MANIFEST_FILE);
    if std::fs::read(&manifest_path).map_err(io(&manifest_path))? != manifest {
        return Err(SignError::Changed(manifest_path));
    }
    let sig_dir = req.dir.join(SIGNATURES_DIR);
    std::fs::create_dir_all(&sig_dir).map_err(io(&sig_dir))?;
    let signature = sig_dir.join(&file);
    let replaced = std::fs::symlink_metadata(&signature).is_ok();
    write_atomically(&signature, &armored)?;
    Ok(Signed {
        signature,
        name,
        fingerprint,
        principal: line.map(|l| l.principals),
        allowed_signers: trusted.map(|(path, _)| path),
        replaced,
        digest: check.plan.digest,
        warnings,
    })
}

fn stale_summary(check: &seal::SealCheck) -> String {
    if check.only_spelling_differs() {
        return "its files: block is not written as seal writes it".into();
    }
    let mut parts = Vec::new();
    for (what, list) in [
        ("added", &check.added),
        ("removed", &check.removed),
        ("changed", &check.changed),
    ] {
        if !list.is_empty() {
            parts.push(format!("{what}: {}", list.join(", ")));
        }
    }
    parts.join("; ")
}

fn read_allowed_signers(path: &Path) -> Result<(PathBuf, AllowedSigners), SignError> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    let signers = AllowedSigners::parse(KEYS_PATH, &bytes).map_err(|e| SignError::TrustFile {
        path: path.to_path_buf(),
        message: e.message,
    })?;
    Ok((path.to_path_buf(), signers))
}

fn why_untrusted(signers: &AllowedSigners, key: &PublicKey, at: SystemTime) -> String {
    let lines = signers.lines_for_key(key, BUNDLE_SIGNATURE_NAMESPACE, at);
    if lines.is_empty() {
        return "no line lists it".into();
    }
    lines
        .iter()
        .map(|l| {
            format!(
                "line {} ({}): {}",
                l.line,
                l.principals,
                l.allows.as_ref().err().map(String::as_str).unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// An allowed_signers file trusting `key` alone, for bundles: what a `--name`
/// signature is checked against.
fn single_key_signers(name: &str, key: &PublicKey) -> Result<AllowedSigners, SignError> {
    let line = format!(
        "{name} namespaces=\"{BUNDLE_SIGNATURE_NAMESPACE}\" {} {}\n",
        key.type_name(),
        base64::engine::general_purpose::STANDARD.encode(key.blob())
    );
    AllowedSigners::parse("the signing key", line.as_bytes())
        .map_err(|e| SignError::BadSignature(e.message))
}

/// The public half of `--key`: the file itself when it is a public key (its private
/// half in ssh-agent), else `FILE.pub`, else what `ssh-keygen -y -f FILE` prints.
fn public_key_of(path: &Path) -> Result<PublicKey, SignError> {
    let size = std::fs::metadata(path).map_err(io(path))?.len();
    if size > MAX_KEY_FILE_BYTES {
        return Err(KeyFileError::TooLarge(path.to_path_buf()).into());
    }
    let bytes = std::fs::read(path).map_err(io(path))?;
    if !is_private_key(&bytes) {
        return Ok(parse_public_key(path, &bytes)?);
    }
    let pub_path = PathBuf::from(format!("{}.pub", path.display()));
    if pub_path.is_file() {
        return Ok(read_public_key_file(&pub_path)?);
    }
    let shown = format!("-y -f {}", path.display());
    let out = ssh_keygen(
        &[OsStr::new("-y"), OsStr::new("-f"), path.as_os_str()],
        shown.clone(),
    )?;
    Ok(parse_public_key(
        Path::new(&format!("ssh-keygen {shown}")),
        &out,
    )?)
}

/// `ssh-keygen -q -Y sign -n netpol-sync-bundle -f KEY` over a copy of `manifest` in a
/// private temporary directory, so no `bundle.yaml.sig` is ever left in the bundle.
fn ssh_keygen_sign(key: &Path, manifest: &[u8]) -> Result<Vec<u8>, SignError> {
    let shown = format!(
        "-Y sign -n {BUNDLE_SIGNATURE_NAMESPACE} -f {} <a copy of bundle.yaml>",
        key.display()
    );
    let tmp = tempfile::tempdir().map_err(io(&std::env::temp_dir()))?;
    let copy = tmp.path().join(MANIFEST_FILE);
    std::fs::write(&copy, manifest).map_err(io(&copy))?;
    ssh_keygen(
        &[
            OsStr::new("-q"),
            OsStr::new("-Y"),
            OsStr::new("sign"),
            OsStr::new("-n"),
            OsStr::new(BUNDLE_SIGNATURE_NAMESPACE),
            OsStr::new("-f"),
            key.as_os_str(),
            copy.as_os_str(),
        ],
        shown,
    )?;
    let sig = tmp.path().join(format!("{MANIFEST_FILE}.sig"));
    std::fs::read(&sig).map_err(io(&sig))
}

/// Run ssh-keygen, returning its stdout. Its stdin and the terminal stay the person's
/// (a passphrase prompt reads /dev/tty), and its stderr is shown as it comes — a
/// hardware key's "Confirm user presence" must be seen while it waits — and kept for
/// the error if it fails.
fn ssh_keygen(args: &[&OsStr], shown: String) -> Result<Vec<u8>, SignError> {
    let mut child = Command::new("ssh-keygen")
        .args(args)
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => SignError::SshKeygenMissing,
            _ => SignError::Spawn(e),
        })?;
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let tee = std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            let _ = std::io::stderr().write_all(&buf[..n]);
            kept.extend_from_slice(&buf[..n]);
        }
        kept
    });
    let mut stdout = Vec::new();
    let read = child
        .stdout
        .take()
        .expect("stdout is piped")
        .read_to_end(&mut stdout);
    let status = child.wait().map_err(SignError::Spawn)?;
    let kept = tee.join().unwrap_or_default();
    read.map_err(SignError::Spawn)?;
    if !status.success() {
        let stderr = String::from_utf8_lossy(&kept).trim().to_string();
        return Err(SignError::SshKeygen {
            command: shown,
            status: status.to_string(),
            stderr: if stderr.is_empty() {
                "no message".into()
            } else {
                stderr
            },
        });
    }
    Ok(stdout)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), SignError> {
    seal::replace_file(path, bytes).map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_names_stay_inside_signatures_and_visible() {
        for good in ["alice", "alice@example.com", "ops+ci", "a_b-c.d", "A1"] {
            assert!(check_signature_name(good).is_ok(), "{good}");
        }
        let long = "a".repeat(MAX_NAME_BYTES + 1);
        for bad in [
            "", "../x", "a/b", ".hidden", "..", "-rf", "a b", "a\\b", "é", "a\nb", "*", &long,
        ] {
            assert!(
                matches!(check_signature_name(bad), Err(SignError::BadName(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_repository_is_the_nearest_directory_with_bundles_and_keys() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("repo");
        std::fs::create_dir_all(root.join("bundles/main")).unwrap();
        std::fs::create_dir_all(root.join("keys")).unwrap();
        assert_eq!(find_repository(&root.join("bundles/main")).unwrap(), None);
        std::fs::write(root.join("keys/allowed_signers"), "").unwrap();
        assert_eq!(
            find_repository(&root.join("bundles/main")).unwrap(),
            Some(std::fs::canonicalize(&root).unwrap())
        );
    }
}
