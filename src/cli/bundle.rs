//! `netpol-sync bundle seal DIR`, and how the bundle flags become [`BundleOptions`].

use super::{BundleSelectArgs, SealArgs};
use crate::bundle::seal::{seal as seal_dir, SealError};
use crate::bundle::{BundleOptions, Limits};
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
            cache: None,
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
