//! `netpol-sync init DIR --namespace NS… --signer "PRINCIPAL PUBKEY-FILE"…`: its
//! arguments and the next steps it prints; the scaffolding is [`crate::init`].

use super::shell::shell_word;
use crate::init::{init as scaffold, InitRequest, Initialized, DEFAULT_BUNDLE};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Clone, Args)]
pub struct InitArgs {
    /// The directory to create the repository in: new, or empty.
    pub dir: PathBuf,
    /// A namespace the bundle governs (repeatable; at least one).
    #[arg(long = "namespace", value_name = "NS", required = true)]
    pub namespaces: Vec<String>,
    /// A trusted signer, "PRINCIPAL PUBKEY-FILE": a principal (an e-mail address, say)
    /// and their SSH public key file (ssh-ed25519 or sk-ssh-ed25519@openssh.com).
    /// Repeatable; at least one.
    #[arg(long = "signer", value_name = "PRINCIPAL PUBKEY-FILE", required = true)]
    pub signers: Vec<String>,
    /// The bundle's name: bundles/NAME/.
    #[arg(long, value_name = "NAME", default_value = DEFAULT_BUNDLE)]
    pub bundle: String,
}

/// Exit 0 when written; 1 when a signer's key file is refused; 2 on usage and I/O
/// errors (a non-empty DIR, an invalid namespace, principal or bundle name).
pub fn run(args: InitArgs) -> ExitCode {
    match scaffold(InitRequest {
        dir: &args.dir,
        bundle: &args.bundle,
        namespaces: &args.namespaces,
        signers: &args.signers,
    }) {
        Ok(done) => {
            print_result(&done, &args.namespaces);
            ExitCode::from(0)
        }
        Err(e) => {
            eprintln!("init: {e}");
            ExitCode::from(if e.is_usage() { 2 } else { 1 })
        }
    }
}

fn print_result(done: &Initialized, namespaces: &[String]) {
    let dir = shell_word(&done.dir);
    let bundle_dir = shell_word(&done.bundle_dir);
    let keys = shell_word(&done.allowed_signers);
    println!("initialized policy repository {}", done.dir.display());
    println!("  keys/allowed_signers:");
    for s in &done.signers {
        println!("    {} {}", s.principal, s.fingerprint);
    }
    println!(
        "  bundles/{}: governs {}; {} policy file(s), sealed",
        done.bundle,
        namespaces.join(", "),
        done.policy_files.len()
    );
    println!("  digest {}", done.digest);
    println!();
    println!("Next steps (docs/init.md):");
    println!("  1. Sign the bundle, each signer with their own key (a private key, or the public key of one in ssh-agent):");
    for s in &done.signers {
        println!(
            "       netpol-sync bundle sign {bundle_dir} --key {}",
            shell_word(&signing_key_hint(&s.public_key))
        );
    }
    let first = &done.signers[0];
    println!(
        "  2. Make it a git repository and commit it, signed by a listed key (gpg.format=ssh):"
    );
    println!("       git -C {dir} init -b main");
    println!("       git -C {dir} config gpg.format ssh");
    println!(
        "       git -C {dir} config user.signingkey {}",
        // git runs ssh-keygen in the repository: a relative path would miss.
        shell_word(&std::fs::canonicalize(&first.public_key).unwrap_or(first.public_key.clone()))
    );
    println!("       git -C {dir} add -A");
    println!("       git -C {dir} commit -S -m 'Policy repository: default-deny and DNS'");
    println!("  3. Check it as the daemon will:");
    println!("       netpol-sync verify --repo {dir} --trust-anchor {keys}");
    println!("  4. Push it. Give the cluster this keys/allowed_signers as its trust anchor, and a state key");
    println!(
        "     (docs/operations.md, \"Run it in a cluster\", also for the git credentials Secret):"
    );
    println!("       kubectl create namespace netpol-sync");
    println!("       kubectl -n netpol-sync create secret generic netpol-sync-trust-anchor \\");
    println!("         --from-file=allowed_signers={keys}");
    println!("       kubectl -n netpol-sync create secret generic netpol-sync-state-key \\");
    println!("         --from-literal=key=\"$(openssl rand -hex 32)\"");
    println!(
        "  5. Set NETPOL_SYNC_REPO in netpol-sync's deploy/deployment.yaml, label the governed"
    );
    println!("     namespaces, and apply netpol-sync's deploy/ directory:");
    println!(
        "       kubectl label namespace {} netpol-sync.io/governed=true",
        namespaces.join(" ")
    );
    println!("       kubectl apply -k deploy/");
}

/// The key to sign with, as far as init knows it: the private key beside a `.pub`,
/// or the public key itself (whose private half is then in ssh-agent).
fn signing_key_hint(public_key: &Path) -> PathBuf {
    let text = public_key.to_string_lossy();
    match text.strip_suffix(".pub") {
        Some(private) if Path::new(private).is_file() => PathBuf::from(private),
        _ => public_key.to_path_buf(),
    }
}
