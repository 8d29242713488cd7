//! `netpol-sync import --namespace NS… --bundle NAME DIR`: the cluster's NetworkPolicies of
//! those namespaces as a new bundle of the repository DIR (docs/import.md); the reading
//! and writing are [`crate::import`]. Exit 0 when written, 1 when the cluster cannot be
//! read or a policy cannot be a bundle file, 2 on usage errors (a bad name, an existing
//! bundle, DIR not a directory).

use super::shell::shell_word;
use super::sync::runtime;
use crate::import::{self, ClusterPolicies, ImportError, ImportRequest, Imported};
use crate::kube_client::{connect, error_chain, ClusterTarget};
use clap::Args;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// The policy repository's root; the bundle is written to DIR/bundles/NAME.
    pub dir: PathBuf,
    /// A namespace whose NetworkPolicies are imported and which the bundle governs
    /// (repeatable, or comma-separated; at least one).
    #[arg(
        long = "namespace",
        value_name = "NS",
        required = true,
        value_delimiter = ','
    )]
    pub namespaces: Vec<String>,
    /// The new bundle's name.
    #[arg(long, value_name = "NAME")]
    pub bundle: String,
    /// Path to a kubeconfig (default: $KUBECONFIG, ~/.kube/config, or in-cluster).
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// kubeconfig context to use.
    #[arg(long, env = "NETPOL_SYNC_CONTEXT")]
    pub context: Option<String>,
}

pub fn run(args: ImportArgs) -> ExitCode {
    let namespaces: BTreeSet<String> = args.namespaces.iter().cloned().collect();
    let request = ImportRequest {
        repository: &args.dir,
        bundle: &args.bundle,
        namespaces: &namespaces,
    };
    if let Err(e) = import::check(&request) {
        return fail(&e);
    }
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("import: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let target = ClusterTarget {
        kubeconfig: args.kubeconfig.clone(),
        context: args.context.clone(),
    };
    let show = super::progress::shown(false);
    let read: Result<(ClusterPolicies, String), String> = rt.block_on(async {
        let (client, url) = connect(&target).await.map_err(|e| error_chain(&e))?;
        let spinner = super::progress::spinner(format!("reading NetworkPolicies from {url}"), show);
        let policies = import::read(&client, &namespaces)
            .await
            .map_err(|e| format!("{e} (the API server at {url})"));
        spinner.finish_and_clear();
        Ok((policies?, url))
    });
    let (cluster, url) = match read {
        Ok(r) => r,
        Err(e) => {
            eprintln!("import: {e}");
            return ExitCode::from(1);
        }
    };
    let header = format!(
        "Imported by `netpol-sync import` from the NetworkPolicies of {url}.\nThe policies are the live ones as they were; edit them like any other (docs/bundles.md)."
    );
    match import::write(&request, cluster, &header) {
        Ok(done) => {
            print_result(&done, &args);
            ExitCode::from(0)
        }
        Err(e) => fail(&e),
    }
}

fn fail(e: &ImportError) -> ExitCode {
    eprintln!("import: {e}");
    let usage = matches!(
        e,
        ImportError::NoNamespace
            | ImportError::BadNamespace(_)
            | ImportError::BadBundleName(_)
            | ImportError::NoRepository(_)
            | ImportError::BundleExists(_)
    );
    ExitCode::from(if usage { 2 } else { 1 })
}

fn print_result(done: &Imported, args: &ImportArgs) {
    println!(
        "imported {} NetworkPolicies into {} (governs {}), sealed",
        done.files.len(),
        done.bundle_dir.display(),
        args.namespaces.join(", ")
    );
    println!("  digest {}", done.digest);
    for (file, object) in &done.files {
        println!("  {file}");
        for note in &object.notes {
            println!("    note: {note}");
        }
    }
    for ns in &done.missing_namespaces {
        println!("  note: namespace {ns} does not exist in the cluster; the bundle governs it all the same");
    }
    let changing = done.files.iter().filter(|(_, o)| o.changes_content).count();
    let bundle_dir = shell_word(&done.bundle_dir);
    println!();
    println!("Next steps:");
    println!("  1. Review the files, then sign the bundle:");
    println!("       netpol-sync bundle sign {bundle_dir} --key ~/.ssh/id_ed25519");
    println!(
        "  2. Commit, signed:  git -C {} add bundles && git -C {} commit -S -m 'Import {}'",
        shell_word(&args.dir),
        shell_word(&args.dir),
        args.bundle
    );
    println!(
        "  3. See what the first sync would do:  netpol-sync plan --repo {} ...",
        shell_word(&args.dir)
    );
    if changing == 0 {
        println!("     It changes no policy's content: each is adopted (netpol-sync's label and annotations added).");
    } else {
        println!("     It adopts each policy; {changing} of them also lose what a bundle cannot state (see the notes above).");
    }
}
