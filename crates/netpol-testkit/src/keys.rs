//! Signing keys made by the real `ssh-keygen`, private half on disk in a test's temp dir.

use crate::run;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A key made by `ssh-keygen`, private half on disk in the test's temp dir.
#[derive(Clone, Debug)]
pub struct Key {
    pub private: PathBuf,
    pub public: PathBuf,
    /// `ssh-ed25519 AAAA… comment`
    pub public_line: String,
    pub principal: String,
}

impl Key {
    /// `kind` is an ssh-keygen `-t` value: `ed25519`, `rsa`, `ecdsa`.
    pub fn generate(dir: &Path, principal: &str, kind: &str) -> Key {
        let private = dir.join(format!("key-{principal}-{kind}"));
        let mut cmd = Command::new("ssh-keygen");
        cmd.args(["-q", "-t", kind, "-N", "", "-C", principal, "-f"])
            .arg(&private);
        if kind == "rsa" {
            cmd.args(["-b", "2048"]);
        }
        run(&mut cmd);
        // ssh-keygen appends `.pub`; `with_extension` would cut a principal containing a dot.
        let public = PathBuf::from(format!("{}.pub", private.display()));
        let public_line = std::fs::read_to_string(&public).unwrap().trim().to_string();
        Key {
            private,
            public,
            public_line,
            principal: principal.to_string(),
        }
    }

    pub fn ed25519(dir: &Path, principal: &str) -> Key {
        Key::generate(dir, principal, "ed25519")
    }

    /// The Ed25519 key an earlier run left in `dir` for `principal`, or a new one (the
    /// benchmarks keep their signed fixtures between runs).
    pub fn ed25519_kept(dir: &Path, principal: &str) -> Key {
        let private = dir.join(format!("key-{principal}-ed25519"));
        let public = PathBuf::from(format!("{}.pub", private.display()));
        match std::fs::read_to_string(&public) {
            Ok(line) if private.exists() => Key {
                private,
                public,
                public_line: line.trim().to_string(),
                principal: principal.to_string(),
            },
            _ => Key::ed25519(dir, principal),
        }
    }

    /// Sign `bundle_dir/bundle.yaml` (`ssh-keygen -Y sign -n netpol-sync-bundle`) into
    /// `bundle_dir/signatures/<signer>.sig`, where netpol-sync looks for it.
    pub fn sign_bundle(&self, bundle_dir: &Path, signer: &str) {
        let manifest = std::fs::read(bundle_dir.join("bundle.yaml"))
            .unwrap_or_else(|e| panic!("reading {}/bundle.yaml: {e}", bundle_dir.display()));
        let signature = self.sign_detached("netpol-sync-bundle", &manifest);
        let dir = bundle_dir.join("signatures");
        std::fs::create_dir_all(&dir).expect("signatures/");
        std::fs::write(dir.join(format!("{signer}.sig")), signature).expect("the signature");
    }

    /// The allowed_signers line trusting this key, with optional options (`namespaces="git"`).
    pub fn allowed_signers_line(&self, options: &str) -> String {
        let key = self
            .public_line
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        if options.is_empty() {
            format!("{} {}\n", self.principal, key)
        } else {
            format!("{} {} {}\n", self.principal, options, key)
        }
    }

    /// `SHA256:…` as `ssh-keygen -l` prints it.
    pub fn fingerprint(&self) -> String {
        let out = run(Command::new("ssh-keygen").arg("-lf").arg(&self.public));
        String::from_utf8(out.stdout)
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_string()
    }

    /// A detached SSHSIG over `data` in `namespace`, armored, from `ssh-keygen -Y sign`.
    pub fn sign_detached(&self, namespace: &str, data: &[u8]) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("data");
        std::fs::write(&file, data).unwrap();
        run(Command::new("ssh-keygen")
            .args(["-q", "-Y", "sign", "-n", namespace, "-f"])
            .arg(&self.private)
            .arg(&file));
        std::fs::read(file.with_extension("sig")).unwrap()
    }
}
