//! A policy repository as netpol-sync reads one: `keys/allowed_signers`, bundles whose
//! bundle.yaml lists every file's SHA-256 and size (written here, not by netpol-sync's own
//! `bundle seal`, so that a test does not check the product against itself) and carries a
//! detached `ssh-keygen -Y sign` signature, and signed commits.

use crate::{Key, TestRepo};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One NetworkPolicy document: default-deny plus one allowed ingress port.
pub fn policy_yaml(ns: &str, name: &str, port: u16) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  podSelector: {{}}\n  policyTypes: [Ingress]\n  ingress:\n  - ports:\n    - port: {port}\n"
    )
}

#[derive(Clone, Debug)]
pub struct BundleSpec {
    pub name: String,
    pub namespaces: Vec<String>,
    pub allow_open: Vec<String>,
    /// (namespace, name, port)
    pub policies: Vec<(String, String, u16)>,
    /// The `reachability:` list of bundle.yaml as YAML lines (each starting `  - `), or
    /// empty for none.
    pub reachability: String,
}

impl BundleSpec {
    pub fn new(name: &str, namespaces: &[&str], policies: &[(&str, &str, u16)]) -> BundleSpec {
        BundleSpec {
            name: name.into(),
            namespaces: namespaces.iter().map(|s| s.to_string()).collect(),
            allow_open: Vec::new(),
            reachability: String::new(),
            policies: policies
                .iter()
                .map(|(n, p, port)| (n.to_string(), p.to_string(), *port))
                .collect(),
        }
    }
}

/// A policy repository with signed commits and signed bundles.
pub struct PolicyRepo {
    pub repo: TestRepo,
    pub key: Key,
    pub anchor: PathBuf,
    /// The bundles [`PolicyRepo::write_bundle`] wrote, by name, and every file it wrote
    /// for them (path → bytes).
    written: std::cell::RefCell<BTreeMap<String, BundleSpec>>,
    written_files: std::cell::RefCell<BTreeMap<String, Vec<u8>>>,
    /// The bundles of each commit made through [`PolicyRepo::commit`]: what a sync of that
    /// commit must make the cluster, so that [`sync`] can check the invariant by itself.
    committed: std::cell::RefCell<BTreeMap<String, Vec<BundleSpec>>>,
    _dir: tempfile::TempDir,
}

impl Default for PolicyRepo {
    fn default() -> Self {
        PolicyRepo::new()
    }
}

impl PolicyRepo {
    /// An empty repository trusting one new key (alice's), in a temp dir.
    pub fn new() -> PolicyRepo {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        std::fs::create_dir_all(&keys).unwrap();
        let key = Key::ed25519(&keys, "alice@example.com");
        let repo = TestRepo::init(&dir.path().join("repo"));
        let signers = key.allowed_signers_line("");
        repo.write("keys/allowed_signers", &signers);
        let anchor = dir.path().join("trust-anchor");
        std::fs::write(&anchor, &signers).unwrap();
        PolicyRepo {
            repo,
            key,
            anchor,
            written: Default::default(),
            written_files: Default::default(),
            committed: Default::default(),
            _dir: dir,
        }
    }

    pub fn path(&self) -> &Path {
        &self.repo.dir
    }

    /// Replace `bundles/<name>/` with this content, sealed and signed.
    pub fn write_bundle(&self, spec: &BundleSpec) {
        self.written
            .borrow_mut()
            .insert(spec.name.clone(), spec.clone());
        let root = self.repo.dir.join("bundles").join(&spec.name);
        let _ = std::fs::remove_dir_all(&root);
        self.forget_files(&spec.name);
        let mut files = String::new();
        let mut entries: Vec<(String, String)> = spec
            .policies
            .iter()
            .map(|(ns, name, port)| (format!("{ns}/{name}.yaml"), policy_yaml(ns, name, *port)))
            .collect();
        entries.sort();
        for (path, body) in &entries {
            self.put(&format!("bundles/{}/{path}", spec.name), body.as_bytes());
            files.push_str(&format!(
                "  - path: {path}\n    sha256: {}\n    size: {}\n",
                hex::encode(Sha256::digest(body.as_bytes())),
                body.len()
            ));
        }
        let list = |v: &[String]| format!("[{}]", v.join(", "));
        let mut manifest = format!(
            "apiVersion: netpol-sync/v1\nkind: Bundle\nname: {}\nnamespaces: {}\nallowOpen: {}\nfiles:{}\n{files}",
            spec.name,
            list(&spec.namespaces),
            list(&spec.allow_open),
            if files.is_empty() { " []" } else { "" }
        );
        if !spec.reachability.is_empty() {
            manifest.push_str("reachability:\n");
            manifest.push_str(&spec.reachability);
        }
        self.put(
            &format!("bundles/{}/bundle.yaml", spec.name),
            manifest.as_bytes(),
        );
        let sig = self
            .key
            .sign_detached("netpol-sync-bundle", manifest.as_bytes());
        self.put(&format!("bundles/{}/signatures/alice.sig", spec.name), &sig);
    }

    fn put(&self, path: &str, bytes: &[u8]) {
        self.repo.write(path, bytes);
        self.written_files
            .borrow_mut()
            .insert(path.to_string(), bytes.to_vec());
    }

    fn forget_files(&self, bundle: &str) {
        let prefix = format!("bundles/{bundle}/");
        self.written_files
            .borrow_mut()
            .retain(|path, _| !path.starts_with(&prefix));
    }

    pub fn remove_bundle(&self, name: &str) {
        self.written.borrow_mut().remove(name);
        self.forget_files(name);
        self.repo.remove(&format!("bundles/{name}"));
    }

    /// Commit everything, signed. The commit's bundles are remembered for [`sync`] when
    /// its bundles/ holds exactly the files `write_bundle` wrote, byte for byte; a file a
    /// test wrote or changed by other means makes them unknown.
    pub fn commit(&self, message: &str) -> String {
        let commit = self.repo.commit_signed(message, &self.key);
        let listed = self
            .repo
            .git(&["ls-tree", "-r", "--name-only", "HEAD", "--", "bundles"]);
        let files = self.written_files.borrow();
        let only_specs = listed.lines().count() == files.len()
            && listed.lines().all(|path| {
                files.get(path).is_some_and(|bytes| {
                    std::fs::read(self.repo.dir.join(path)).is_ok_and(|on_disk| on_disk == *bytes)
                })
            });
        if only_specs {
            let bundles = self.written.borrow().values().cloned().collect();
            self.committed.borrow_mut().insert(commit.clone(), bundles);
        }
        commit
    }

    /// The bundles of the checked-out commit, when [`PolicyRepo::commit`] knows them.
    pub fn head_bundles(&self) -> Option<Vec<BundleSpec>> {
        self.committed.borrow().get(&self.repo.head()).cloned()
    }

    /// Write these bundles and commit, signed.
    pub fn revision(&self, bundles: &[BundleSpec], message: &str) -> String {
        for b in bundles {
            self.write_bundle(b);
        }
        self.commit(message)
    }
}
