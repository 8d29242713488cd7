//! Stage 3: bundles. Reads `bundles/<name>/` from a [`VerifiedRevision`]'s tree (never a
//! working directory), checks manifests, digests and bundle signatures, and validates
//! every policy as kube-apiserver would. The only way to obtain [`VerifiedBundles`] is
//! [`load_verified`]; the sync engine accepts nothing else.
//!
//! API CONTRACT used by plan/apply (keep these signatures):
//! - `load_verified(repo: &Repo, rev: &VerifiedRevision, opts: &BundleOptions)
//!    -> Result<VerifiedBundles, BundleError>`
//! - `VerifiedBundles::{revision() -> git2::Oid, bundles() -> &[VerifiedBundle],
//!    governed_namespaces() -> BTreeSet<String>, policies() -> impl Iterator<Item = &DesiredPolicy>}`
//! - `VerifiedBundle::{name(), digest() -> &BundleDigest, namespaces() -> &BTreeSet<String>,
//!    allow_open() -> &BTreeSet<String>, policies() -> &BundlePolicies, signers() -> &[SignerIdentity]}`
//! - `DesiredPolicy { bundle, namespace, name, object (defaulted NetworkPolicy as
//!    [`PolicyJson`], no netpol-sync labels/annotations), content_hash ("sha256:…" from
//!    netpol_policy::content_hash(&object, marks::ANNOTATION_PREFIX)), file, document }`
//! - `BundleError::{reason() -> ReasonCode, location() -> Location}`

//!
//! Files: [`manifest`] (bundle.yaml), [`path`] (manifest paths), [`digest`], [`limits`],
//! [`tree`] (reading the commit's tree), [`yaml`] (hazard-checked YAML), [`signatures`],
//! [`policy`] (documents → validated, defaulted policies), [`select`] (selection and
//! cross-bundle rules), [`seal`] (writing the `files:` list), [`sign`] (`bundle sign`).

pub mod assertions;
pub mod cache;
mod desired;
pub mod digest;
mod error;
pub mod limits;
pub mod manifest;
pub mod path;
mod pipeline;
pub mod policy;
pub mod seal;
pub mod select;
pub mod sign;
mod signatures;
pub use signatures::BUNDLE_SIGNATURE_NAMESPACE;
pub mod tree;
pub mod yaml;

#[cfg(test)]
mod tests;

pub use cache::PolicyCache;
pub use desired::{BundlePolicies, DesiredPolicy, PolicyJson};
pub use error::BundleError;
pub use limits::Limits;

use crate::git::Repo;
use crate::reason::ReasonCode;
use crate::verify::{RecordedBase, SignerIdentity, VerifiedRevision};
use cache::{FileKey, ManifestKey, TreeKey};
use manifest::Manifest;
use signatures::{DetachedVerifier, RevisionSigners};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use yaml::{load_documents, YamlError};

/// Where bundles live in a revision.
pub const BUNDLES_DIR: &str = "bundles";
/// The manifest inside a bundle directory.
pub const MANIFEST_FILE: &str = "bundle.yaml";
/// Detached signatures over the manifest, inside a bundle directory.
pub const SIGNATURES_DIR: &str = "signatures";

/// `sha256:<hex>` of the exact bytes of a bundle.yaml.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BundleDigest(String);

impl BundleDigest {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for BundleDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One bundle of [`VerifiedBundles`]; what it proves is said there.
#[derive(Debug, Clone)]
pub struct VerifiedBundle {
    name: String,
    digest: BundleDigest,
    namespaces: BTreeSet<String>,
    allow_open: BTreeSet<String>,
    policies: BundlePolicies,
    signers: Vec<SignerIdentity>,
    reachability: Vec<assertions::ReachabilityAssertion>,
}

impl VerifiedBundle {
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn digest(&self) -> &BundleDigest {
        &self.digest
    }
    pub fn namespaces(&self) -> &BTreeSet<String> {
        &self.namespaces
    }
    pub fn allow_open(&self) -> &BTreeSet<String> {
        &self.allow_open
    }
    pub fn policies(&self) -> &BundlePolicies {
        &self.policies
    }
    pub fn signers(&self) -> &[SignerIdentity] {
        &self.signers
    }
    /// The `reachability:` assertions of its signed bundle.yaml.
    pub fn reachability(&self) -> &[assertions::ReachabilityAssertion] {
        &self.reachability
    }
}

/// A verified bundle as a cycle reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BundleSummary {
    pub name: String,
    pub digest: String,
    /// Fingerprints (`SHA256:…`) of the distinct trusted keys that signed bundle.yaml.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub signers: Vec<String>,
}

impl VerifiedBundle {
    pub fn summary(&self) -> BundleSummary {
        BundleSummary {
            name: self.name.clone(),
            digest: self.digest.to_string(),
            signers: self
                .signers
                .iter()
                .map(|s| s.fingerprint().to_string())
                .collect(),
        }
    }
}

/// The selected bundles of one revision, every one verified. Built only by this module
/// ([`load_verified`], [`load_recorded_base`]): holding one proves that each bundle.yaml
/// carries enough distinct signatures by keys trusted before the revision, that every
/// file matches its manifest's size and SHA-256 with nothing unlisted, and that every
/// policy validated and stays inside its bundle's namespaces (docs/bundles.md).
#[derive(Debug, Clone)]
pub struct VerifiedBundles {
    revision: git2::Oid,
    bundles: Vec<VerifiedBundle>,
}

impl VerifiedBundles {
    pub fn revision(&self) -> git2::Oid {
        self.revision
    }
    pub fn bundles(&self) -> &[VerifiedBundle] {
        &self.bundles
    }
    pub fn governed_namespaces(&self) -> BTreeSet<String> {
        self.bundles
            .iter()
            .flat_map(|b| b.namespaces.iter().cloned())
            .collect()
    }
    pub fn policies(&self) -> impl Iterator<Item = &DesiredPolicy> {
        self.bundles.iter().flat_map(|b| b.policies.iter())
    }
    pub fn summaries(&self) -> Vec<BundleSummary> {
        self.bundles.iter().map(VerifiedBundle::summary).collect()
    }
}

#[derive(Debug, Clone)]
pub struct BundleOptions {
    /// Bundle names to select; empty means every bundle under bundles/.
    pub select: Vec<String>,
    /// Distinct trusted keys that must sign each bundle.yaml. 0 counts as 1: a bundle
    /// is always signed.
    pub signatures_required: usize,
    pub limits: Limits,
    /// Reuse the validated policies of files already loaded by this process (the
    /// daemon); `None` loads everything afresh (one-shot commands).
    pub cache: Option<Arc<PolicyCache>>,
}

impl Default for BundleOptions {
    fn default() -> Self {
        BundleOptions {
            select: Vec::new(),
            signatures_required: 1,
            limits: Limits::default(),
            cache: None,
        }
    }
}

/// Read, verify and validate the selected bundles of a verified revision. Any failure
/// rejects the whole revision; the error names the bundle, file, document and field.
/// Bundle signatures are checked against the keys trusted *before* the revision.
pub fn load_verified(
    repo: &Repo,
    rev: &VerifiedRevision,
    opts: &BundleOptions,
) -> Result<VerifiedBundles, BundleError> {
    load_commit(
        repo,
        rev.commit_id(),
        rev.tree_id(),
        rev.bundle_signers(),
        rev.policy(),
        opts,
    )
}

/// The bundles of the last applied revision, to put them back after a failed apply:
/// checked as when they were applied, against the base's own keys file. Only the sync
/// stage's restore calls this.
pub fn load_recorded_base(
    repo: &Repo,
    base: &RecordedBase,
    opts: &BundleOptions,
) -> Result<VerifiedBundles, BundleError> {
    load_commit(
        repo,
        base.commit_id(),
        base.tree_id(),
        base.bundle_signers(),
        base.policy(),
        opts,
    )
}

fn load_commit(
    repo: &Repo,
    commit: git2::Oid,
    tree: git2::Oid,
    signers: Result<&crate::verify::AllowedSigners, crate::verify::VerifyError>,
    policy: &crate::verify::SignaturePolicy,
    opts: &BundleOptions,
) -> Result<VerifiedBundles, BundleError> {
    let verifier = signers
        .map_err(BundleError::from_verify)
        .map(|signers| RevisionSigners { signers, policy });
    let verifier = verifier
        .as_ref()
        .map(|v| v as &dyn DetachedVerifier)
        .map_err(Clone::clone);
    load_tree(repo.git2(), tree, verifier, opts)
        .map(|bundles| VerifiedBundles {
            revision: commit,
            bundles,
        })
        .map_err(|e| e.at_commit(commit))
}

/// Counts bytes read across the selected bundles against `max_total_bytes`.
struct ReadBudget {
    left: u64,
    limit: u64,
}

impl ReadBudget {
    fn charge(&mut self, bytes: u64, file: &str) -> Result<(), BundleError> {
        match self.left.checked_sub(bytes) {
            Some(left) => {
                self.left = left;
                Ok(())
            }
            None => Err(BundleError::new(
                ReasonCode::LimitExceeded,
                format!("the selected bundles hold more than {} bytes", self.limit),
            )
            .in_file(file.to_string())),
        }
    }
}

/// A bundle whose manifest and signatures have been checked, content not yet read.
struct TrustedManifest {
    tree: tree::BundleTree,
    manifest: Arc<Manifest>,
    manifest_key: ManifestKey,
    digest: BundleDigest,
    signers: Vec<SignerIdentity>,
}

impl TrustedManifest {
    /// The verified bundle this manifest makes with its checked content.
    fn bundle(&self, policies: BundlePolicies) -> VerifiedBundle {
        VerifiedBundle {
            name: self.manifest.name.clone(),
            digest: self.digest.clone(),
            namespaces: self.manifest.namespaces.clone(),
            allow_open: self.manifest.allow_open.clone(),
            policies,
            signers: self.signers.clone(),
            reachability: self.manifest.reachability.clone(),
        }
    }
}

/// The work of [`load_verified`] on a tree. `verifier` is the revision's allowed_signers
/// (or why it is unusable: that only matters once a bundle needs it).
fn load_tree(
    repo: &git2::Repository,
    tree_id: git2::Oid,
    verifier: Result<&dyn DetachedVerifier, BundleError>,
    opts: &BundleOptions,
) -> Result<Vec<VerifiedBundle>, BundleError> {
    let limits = &opts.limits;
    let root = repo
        .find_tree(tree_id)
        .map_err(|e| BundleError::from_git("reading the revision's tree", e))?;
    let available = tree::list_bundles(repo, &root)?;
    let names: BTreeSet<String> = available.keys().cloned().collect();
    let selected = select::select(&names, &opts.select)?;
    let mut budget = ReadBudget {
        left: limits.max_total_bytes,
        limit: limits.max_total_bytes,
    };

    // Trust first: every selected manifest and its signatures before any policy file.
    let mut trusted = Vec::with_capacity(selected.len());
    for name in &selected {
        let Some(&tree_id) = available.get(name.as_str()) else {
            return Err(BundleError::new(
                ReasonCode::NotFound,
                format!("bundle `{name}` is not in the revision"),
            ));
        };
        let t = trust_manifest(repo, name, tree_id, verifier.clone(), opts, &mut budget)
            .map_err(|e| e.in_bundle(name))?;
        trusted.push(t);
    }
    select::check_namespace_conflicts(
        trusted
            .iter()
            .map(|t| (t.manifest.name.as_str(), &t.manifest.namespaces)),
    )?;

    // The same tree as the latest load, with every manifest just re-read and its
    // signatures checked again: its files are the ones already read and hashed.
    let tree_key = TreeKey {
        repo: repo.path().to_path_buf(),
        tree: tree_id,
        select: opts.select.clone(),
        limits: *limits,
    };
    let reused: Option<Vec<BundlePolicies>> = opts.cache.as_ref().and_then(|cache| {
        trusted
            .iter()
            .map(|t| cache.tree_policies(&tree_key, &t.manifest.name, &t.digest))
            .collect()
    });
    if let Some(reused) = reused {
        return Ok(trusted
            .into_iter()
            .zip(reused)
            .map(|(t, policies)| t.bundle(policies))
            .collect());
    }

    let mut bundles = Vec::with_capacity(trusted.len());
    let mut loaded_files = Vec::new();
    let mut loaded_manifests = Vec::new();
    for t in trusted {
        let name = t.manifest.name.clone();
        let policies = load_content(repo, &t, opts, &mut budget, &mut loaded_files)
            .map_err(|e| e.in_bundle(&name))?;
        bundles.push(t.bundle(policies));
        loaded_manifests.push((t.manifest_key, t.manifest));
    }
    select::check_duplicate_policies(&bundles)?;
    if let Some(cache) = &opts.cache {
        cache.replace(loaded_files, loaded_manifests);
        cache.remember_tree(
            tree_key,
            bundles
                .iter()
                .map(|b| (b.name.clone(), b.digest.clone(), b.policies.clone()))
                .collect(),
        );
    }
    Ok(bundles)
}

fn read_bounded(
    repo: &git2::Repository,
    id: git2::Oid,
    file: &str,
    max: u64,
    budget: &mut ReadBudget,
) -> Result<Vec<u8>, BundleError> {
    let size = tree::blob_size(repo, id).map_err(|e| e.reading(file))?;
    if size > max {
        return Err(BundleError::new(
            ReasonCode::LimitExceeded,
            format!("`{file}` is {size} bytes, more than the limit of {max}"),
        )
        .in_file(file.to_string()));
    }
    budget.charge(size, file)?;
    tree::read_blob(repo, id).map_err(|e| e.reading(file))
}

fn trust_manifest(
    repo: &git2::Repository,
    name: &str,
    tree_id: git2::Oid,
    verifier: Result<&dyn DetachedVerifier, BundleError>,
    opts: &BundleOptions,
    budget: &mut ReadBudget,
) -> Result<TrustedManifest, BundleError> {
    let limits = &opts.limits;
    let tree = tree::walk_bundle(repo, name, tree_id, limits)?;
    let bytes = read_bounded(
        repo,
        tree.manifest,
        MANIFEST_FILE,
        limits.max_file_bytes,
        budget,
    )?;
    let digest = BundleDigest::of_manifest(&bytes);
    let manifest_key = ManifestKey {
        dir_name: name.to_string(),
        digest: digest.to_string(),
        limits: *limits,
    };
    let manifest = match opts.cache.as_ref().and_then(|c| c.manifest(&manifest_key)) {
        Some(parsed) => parsed,
        None => Arc::new(manifest::parse(&bytes, name, limits)?),
    };
    let mut sigs = Vec::with_capacity(tree.signatures.len());
    for (file, id) in &tree.signatures {
        let path = format!("{SIGNATURES_DIR}/{file}");
        sigs.push((
            file.clone(),
            read_bounded(repo, *id, &path, limits::MAX_SIGNATURE_BYTES, budget)?,
        ));
    }
    let signers =
        signatures::check_threshold(&bytes, &sigs, verifier?, opts.signatures_required.max(1))?;
    Ok(TrustedManifest {
        tree,
        manifest,
        manifest_key,
        digest,
        signers,
    })
}

/// Every listed file present, nothing unlisted, sizes (from object headers, before
/// reading) and hashes as pinned; then the documents.
fn load_content(
    repo: &git2::Repository,
    t: &TrustedManifest,
    opts: &BundleOptions,
    budget: &mut ReadBudget,
    loaded_files: &mut Vec<(FileKey, Arc<[DesiredPolicy]>)>,
) -> Result<BundlePolicies, BundleError> {
    let limits = &opts.limits;
    let listed: BTreeMap<&str, &manifest::FileEntry> = t
        .manifest
        .files
        .iter()
        .map(|f| (f.path.as_str(), f))
        .collect();
    if let Some(path) = t
        .tree
        .files
        .keys()
        .find(|p| !listed.contains_key(p.as_str()))
    {
        return Err(BundleError::new(
            ReasonCode::UnlistedFile,
            format!("`{path}` is in the bundle directory but not in bundle.yaml (reseal the bundle, or remove the file)"),
        )
        .in_file(path.clone()));
    }
    if let Some(path) = listed.keys().find(|p| !t.tree.files.contains_key(**p)) {
        return Err(BundleError::new(
            ReasonCode::MissingFile,
            format!("`{path}` is listed in bundle.yaml but not in the revision"),
        )
        .in_file(path.to_string()));
    }
    let yaml_limits = limits.file_yaml();
    let parse = |path: &str, bytes: &[u8]| -> Result<Vec<DesiredPolicy>, BundleError> {
        let documents = load_documents(bytes, yaml_limits).map_err(|e| {
            let reason = match e.error {
                YamlError::TooManyDocuments { .. }
                | YamlError::TooDeep { .. }
                | YamlError::ExpansionBudget { .. } => ReasonCode::LimitExceeded,
                _ => ReasonCode::InvalidPolicy,
            };
            let err = BundleError::new(reason, format!("{path}: {}", e.error)).in_file(path);
            match e.document {
                Some(d) => err.in_document(d),
                None => err,
            }
        })?;
        let ctx = policy::PolicyContext {
            bundle: &t.manifest.name,
            file: path,
            namespaces: &t.manifest.namespaces,
        };
        policy::load_file(&ctx, documents)
    };
    let key_of = |path: &str, sha256: &[u8; 32]| FileKey {
        bundle: t.manifest.name.clone(),
        path: path.to_string(),
        sha256: *sha256,
        max_documents: yaml_limits.max_documents,
        max_depth: yaml_limits.max_depth,
    };
    // A cached file's policies, when its exact bytes were loaded before and it still
    // lies in the manifest's namespaces (the one check that reads the manifest).
    let cached = |path: &str, sha256: &[u8; 32]| {
        let cache = opts.cache.as_ref()?;
        cache.get(&key_of(path, sha256)).filter(|policies| {
            policies
                .iter()
                .all(|p| t.manifest.namespaces.contains(&p.namespace))
        })
    };
    // Files travel by their index in the manifest.
    let load_one = |(index, bytes, sha256): (usize, Vec<u8>, [u8; 32])| {
        let path = t.manifest.files[index].path.as_str();
        let result = match cached(path, &sha256) {
            Some(policies) => Ok(policies),
            None => parse(path, &bytes).map(Arc::<[DesiredPolicy]>::from),
        };
        (index, sha256, result)
    };
    // The calling thread reads in manifest order: sizes (from object headers, before
    // reading), the read budget and SHA-256, and hands each pinned file to the parsing
    // threads; nothing is parsed before it is pinned. A read failure wins over any parse
    // failure, and parse failures are reported first in manifest order, whatever thread
    // met them.
    let read = |send: &mut dyn FnMut((usize, Vec<u8>, [u8; 32]))| -> Result<(), BundleError> {
        for (index, entry) in t.manifest.files.iter().enumerate() {
            let path = entry.path.as_str();
            let Some(&id) = t.tree.files.get(path) else {
                return Err(BundleError::new(
                    ReasonCode::MissingFile,
                    format!("`{path}` is listed in bundle.yaml but not in the revision"),
                )
                .in_file(path));
            };
            let size = tree::blob_size(repo, id).map_err(|e| e.reading(path))?;
            if size != entry.size {
                return Err(BundleError::new(
                    ReasonCode::DigestMismatch,
                    format!("`{path}` is {size} bytes; bundle.yaml pins {} (reseal and re-sign after editing)", entry.size),
                )
                .in_file(path));
            }
            budget.charge(size, path)?;
            let bytes = tree::read_blob(repo, id).map_err(|e| e.reading(path))?;
            let sha256 = digest::sha256(&bytes);
            if sha256 != entry.sha256 {
                return Err(BundleError::new(
                    ReasonCode::DigestMismatch,
                    format!("`{path}` has sha256 {}; bundle.yaml pins {} (reseal and re-sign after editing)", digest::sha256_hex(&bytes), hex::encode(entry.sha256)),
                )
                .in_file(path));
            }
            send((index, bytes, sha256));
        }
        Ok(())
    };
    let workers = pipeline::workers_for(t.manifest.files.len());
    let (read_result, per_file) = pipeline::produce_and_work(workers, read, load_one);
    read_result?;
    let mut policies = BundlePolicies::default();
    for (index, sha256, result) in per_file {
        let file_policies = result?;
        policies.push_file(file_policies.clone());
        if opts.cache.is_some() {
            let path = t.manifest.files[index].path.as_str();
            loaded_files.push((key_of(path, &sha256), file_policies));
        }
    }
    Ok(policies)
}
