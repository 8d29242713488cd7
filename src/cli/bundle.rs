//! `netpol-sync bundle seal DIR [--check]`, and how the bundle flags become
//! [`BundleOptions`].

use super::{BundleSelectArgs, SealArgs};
use crate::bundle::seal::{check as check_dir, seal as seal_dir, SealError};
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
/// (symlink, bad name, invalid bundle.yaml), 2 on I/O errors. With `--check`: 0 when
/// the seal is fresh, 1 when it is stale or cannot be sealed, 2 on I/O errors.
pub fn seal(args: SealArgs) -> ExitCode {
    if args.check {
        return check(&args.dir);
    }
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
                println!(
                    "    netpol-sync bundle sign {} --key KEY",
                    super::shell::shell_word(&args.dir)
                );
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

/// `bundle seal DIR --check`: what a seal would change, written nowhere.
fn check(dir: &std::path::Path) -> ExitCode {
    let shown = dir.display();
    match check_dir(dir, &Limits::default()) {
        Ok(c) if c.is_fresh() => {
            println!("{shown}: sealed, {} file(s)", c.plan.files.len());
            println!("  digest {}", c.plan.digest);
            ExitCode::from(0)
        }
        Ok(c) => {
            println!(
                "{shown}: bundle.yaml is stale: its files: list is not what a seal would write"
            );
            for (what, list) in [
                ("added", &c.added),
                ("removed", &c.removed),
                ("changed", &c.changed),
            ] {
                for path in list.iter() {
                    println!("  {what:<8}{path}");
                }
            }
            if c.only_spelling_differs() {
                println!("  every file is listed with its digest, but not in the order or spelling seal writes");
            }
            println!(
                "  fix: netpol-sync bundle seal {}   (then sign it again: netpol-sync bundle sign)",
                super::shell::shell_word(dir)
            );
            ExitCode::from(1)
        }
        Err(e @ SealError::Io { .. }) => {
            eprintln!("bundle seal --check: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("bundle seal --check: {e}");
            ExitCode::from(1)
        }
    }
}
