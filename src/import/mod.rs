//! `netpol-sync import`: the NetworkPolicies a cluster already enforces in some namespaces,
//! written as a new bundle of a policy repository (docs/import.md). This is how a team
//! with policies in place adopts netpol-sync: the bundle governs those namespaces and
//! holds exactly what is live, so the first `plan` against the same cluster changes no
//! policy's content; it only adopts each one (adds netpol-sync's label and annotations).
//!
//! Nothing is written to the cluster. The bundle is written into a temporary directory of
//! the repository, every file validated as `verify` will validate it and sealed, and only
//! then moved to `bundles/NAME`: a failed import leaves the repository as it was.

mod object;

use crate::bundle::manifest::is_dns1123_label;
use crate::bundle::policy::{validate_file, PolicyContext};
use crate::bundle::seal::{self, SealError};
use crate::bundle::yaml::load_documents;
use crate::bundle::{BundleDigest, Limits, BUNDLES_DIR, MANIFEST_FILE};
use crate::kube_client::pods::{read_namespaces, read_network_policies, ListError};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub use object::{bundle_object, BundleObject};

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("no --namespace: a bundle governs at least one namespace")]
    NoNamespace,
    #[error(
        "namespace {0:?} is not a DNS-1123 label (lowercase letters, digits and `-`, at most 63)"
    )]
    BadNamespace(String),
    #[error("bundle name {0:?} is not a DNS-1123 label (lowercase letters, digits and `-`, at most 63; docs/bundles.md)")]
    BadBundleName(String),
    #[error("{0} is not a directory; give the policy repository's root")]
    NoRepository(PathBuf),
    #[error("{0} exists; import writes a new bundle only (remove it or choose another --bundle)")]
    BundleExists(PathBuf),
    #[error("reading the cluster: {0}")]
    Cluster(#[from] ListError),
    #[error("{namespace}/{name}: {message}")]
    Policy {
        namespace: String,
        name: String,
        message: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("sealing the bundle: {0}")]
    Seal(#[from] SealError),
}

/// What to import.
#[derive(Debug, Clone, Copy)]
pub struct ImportRequest<'a> {
    /// The policy repository's root (holding, or about to hold, `bundles/`).
    pub repository: &'a Path,
    pub bundle: &'a str,
    pub namespaces: &'a BTreeSet<String>,
}

/// The cluster's policies in the namespaces asked for, as bundle objects.
#[derive(Debug, Clone)]
pub struct ClusterPolicies {
    pub policies: Vec<BundleObject>,
    /// Namespaces asked for that the cluster does not have (the bundle still governs
    /// them: a namespace created later gets exactly its policies).
    pub missing_namespaces: Vec<String>,
}

/// The bundle written.
#[derive(Debug, Clone)]
pub struct Imported {
    pub bundle_dir: PathBuf,
    /// Each policy's file, relative to the bundle directory, with what was left out of it.
    pub files: Vec<(String, BundleObject)>,
    pub digest: BundleDigest,
    pub missing_namespaces: Vec<String>,
}

/// Check the request before reading anything: a bad name is refused without a cluster.
pub fn check(request: &ImportRequest<'_>) -> Result<(), ImportError> {
    if request.namespaces.is_empty() {
        return Err(ImportError::NoNamespace);
    }
    if let Some(bad) = request.namespaces.iter().find(|n| !is_dns1123_label(n)) {
        return Err(ImportError::BadNamespace(bad.clone()));
    }
    if !is_dns1123_label(request.bundle) {
        return Err(ImportError::BadBundleName(request.bundle.to_string()));
    }
    if !request.repository.is_dir() {
        return Err(ImportError::NoRepository(request.repository.to_path_buf()));
    }
    let target = bundle_dir(request);
    if target.symlink_metadata().is_ok() {
        return Err(ImportError::BundleExists(target));
    }
    Ok(())
}

/// Every NetworkPolicy of the namespaces, read with the bounded, paged list `plan` uses,
/// in namespace and name order.
pub async fn read(
    client: &kube::Client,
    namespaces: &BTreeSet<String>,
) -> Result<ClusterPolicies, ImportError> {
    let existing: BTreeSet<String> = read_namespaces(client)
        .await?
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    let mut policies = Vec::new();
    for np in read_network_policies(client).await? {
        let namespace = np.metadata.namespace.clone().unwrap_or_default();
        if !namespaces.contains(&namespace) {
            continue;
        }
        policies.push(
            bundle_object(np).map_err(|(name, message)| ImportError::Policy {
                namespace: namespace.clone(),
                name,
                message,
            })?,
        );
    }
    policies.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    Ok(ClusterPolicies {
        policies,
        missing_namespaces: namespaces.difference(&existing).cloned().collect(),
    })
}

/// Write the policies as `bundles/NAME/<namespace>/<name>.yaml`, one file each, with a
/// bundle.yaml governing the namespaces, validated and sealed; then move the bundle into
/// place. Nothing is left behind on failure.
pub fn write(
    request: &ImportRequest<'_>,
    cluster: ClusterPolicies,
    header: &str,
) -> Result<Imported, ImportError> {
    check(request)?;
    let limits = Limits::default();
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ImportError::Io { path, source }
    };
    // In the repository, so that the final move is a rename on one filesystem; a
    // dot-name, so that nothing reads it as a bundle meanwhile.
    let staging = tempfile::Builder::new()
        .prefix(".netpol-sync-import-")
        .tempdir_in(request.repository)
        .map_err(io(request.repository))?;
    let dir = staging.path().join(request.bundle);
    std::fs::create_dir(&dir).map_err(io(&dir))?;
    let mut files = Vec::with_capacity(cluster.policies.len());
    for object in cluster.policies {
        let relative = format!("{}/{}.yaml", object.namespace, object.name);
        let path = dir.join(&relative);
        let parent = dir.join(&object.namespace);
        std::fs::create_dir_all(&parent).map_err(io(&parent))?;
        std::fs::write(&path, &object.yaml).map_err(io(&path))?;
        files.push((relative, object));
    }
    let manifest = dir.join(MANIFEST_FILE);
    std::fs::write(&manifest, manifest_text(request, header)).map_err(io(&manifest))?;
    let sealed = seal::seal(&dir, &limits)?;
    // What verify will say of each file, now rather than after the commit.
    for (relative, object) in &files {
        let bad = |message: String| ImportError::Policy {
            namespace: object.namespace.clone(),
            name: object.name.clone(),
            message,
        };
        let documents = load_documents(object.yaml.as_bytes(), limits.file_yaml())
            .map_err(|e| bad(e.error.to_string()))?;
        let ctx = PolicyContext {
            bundle: request.bundle,
            file: relative,
            namespaces: request.namespaces,
        };
        validate_file(&ctx, documents).map_err(|e| bad(e.to_string()))?;
    }
    let bundles = request.repository.join(BUNDLES_DIR);
    std::fs::create_dir_all(&bundles).map_err(io(&bundles))?;
    let target = bundle_dir(request);
    std::fs::rename(&dir, &target).map_err(io(&target))?;
    Ok(Imported {
        bundle_dir: target,
        files,
        digest: sealed.digest,
        missing_namespaces: cluster.missing_namespaces,
    })
}

fn bundle_dir(request: &ImportRequest<'_>) -> PathBuf {
    request.repository.join(BUNDLES_DIR).join(request.bundle)
}

/// bundle.yaml before sealing: `header` as comment lines, then the manifest.
fn manifest_text(request: &ImportRequest<'_>, header: &str) -> String {
    let mut text = String::new();
    for line in header.lines() {
        text.push_str("# ");
        text.push_str(line);
        text.push('\n');
    }
    let namespaces: Vec<&str> = request.namespaces.iter().map(String::as_str).collect();
    text.push_str(&format!(
        "apiVersion: netpol-sync/v1\nkind: Bundle\nname: {}\nnamespaces: [{}]\nfiles: []\n",
        request.bundle,
        namespaces.join(", ")
    ));
    text
}
