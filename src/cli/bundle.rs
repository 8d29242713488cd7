//! `netpol-sync bundle seal DIR`, and how the bundle flags become [`BundleOptions`].

use super::{BundleSelectArgs, SealArgs};
use crate::bundle::seal::{seal as seal_dir, SealError};
use crate::bundle::{load_verified, BundleOptions, Limits};
use crate::git::Repo;
use crate::outcome::{BundleSummary, Outcome};
use crate::reason::ReasonCode;
use crate::verify::VerifiedRevision;
use std::process::ExitCode;

impl BundleSelectArgs {
    pub fn bundle_options(&self) -> BundleOptions {
        BundleOptions {
            select: self.bundles.clone(),
            signatures_required: self.bundle_signatures,
            limits: Limits {
                max_file_bytes: self.max_file_bytes,
                max_files: self.max_files,
                max_documents_per_file: self.max_documents,
                max_total_bytes: self.max_total_bytes,
                max_yaml_depth: self.max_yaml_depth,
            },
        }
    }
}

/// Exit 0 when sealed (changed or not), 1 when the bundle's content cannot be sealed
/// (symlink, bad name, invalid bundle.yaml), 2 on I/O errors.
pub fn seal(args: SealArgs) -> ExitCode {
    match seal_dir(&args.dir, &Limits::default()) {
        Ok(report) => {
            let dir = args.dir.display();
            if report.changed {
                println!(
                    "sealed {dir}: {} file(s), bundle.yaml rewritten",
                    report.files.len()
                );
                println!("  digest {}", report.digest);
                println!("  bundle.yaml changed: its signatures no longer match. Re-sign it:");
                println!("    ssh-keygen -Y sign -n netpol-sync-bundle -f KEY {dir}/bundle.yaml");
                println!("    mv {dir}/bundle.yaml.sig {dir}/signatures/<you>.sig");
            } else {
                println!("sealed {dir}: {} file(s), unchanged", report.files.len());
                println!("  digest {}", report.digest);
            }
            ExitCode::from(0)
        }
        Err(e @ SealError::Io { .. }) => {
            eprintln!("bundle seal: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("bundle seal: {e}");
            ExitCode::from(1)
        }
    }
}

/// `verify` reports the bundles too: the chain verified, now load, verify and validate
/// the selected bundles of that revision. A bundle rejection turns the verdict into
/// `rejected` (exit 1) with the bundle's reason code; the verified commits stay listed.
pub fn add_bundles(
    repo: &Repo,
    rev: &VerifiedRevision,
    select: &BundleSelectArgs,
    outcome: Outcome,
) -> Outcome {
    match load_verified(repo, rev, &select.bundle_options()) {
        Ok(loaded) => {
            let mut outcome = outcome;
            outcome.bundles = loaded
                .bundles()
                .iter()
                .map(|b| BundleSummary {
                    name: b.name().to_string(),
                    digest: b.digest().to_string(),
                    signers: b.signers().iter().map(|s| s.fingerprint.clone()).collect(),
                })
                .collect();
            let policies = loaded.policies().count();
            outcome.message = format!(
                "{}; {} bundle(s), {policies} policies verified",
                outcome.message,
                outcome.bundles.len()
            );
            outcome
        }
        Err(e) => {
            let mut rejected = if e.reason() == ReasonCode::NotFound {
                // An unknown --bundle name or an unreadable object: not a verdict on the revision.
                let mut o = Outcome::error(e.to_string());
                o.reason = Some(e.reason());
                o.location = e.location();
                o
            } else {
                Outcome::rejected(e.reason(), e.to_string(), e.location())
            };
            rejected.revision = outcome.revision;
            rejected.commits = outcome.commits;
            rejected
        }
    }
}
