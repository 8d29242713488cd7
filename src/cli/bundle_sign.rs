//! `netpol-sync bundle sign DIR --key FILE [--name NAME]`: its arguments and what it
//! prints; the signing is [`crate::bundle::sign`].

use crate::bundle::sign::{sign as sign_bundle, SignRequest, SignWarning};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Clone, Args)]
pub struct SignArgs {
    /// The bundle directory (holding bundle.yaml).
    pub dir: PathBuf,
    /// The signing key, as `ssh-keygen -Y sign -f` takes it: a private key, or a public
    /// key whose private half is in ssh-agent (a hardware key's, too).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Write the signature as signatures/NAME.sig. Default: the key's principal in the
    /// repository's keys/allowed_signers. With a key that file does not trust, it signs
    /// anyway and warns: verify will not count the signature.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

/// Exit 0 when signed and checked; 1 when refused (stale seal, untrusted key, not a
/// key, ssh-keygen failing, a signature that does not verify); 2 on usage and I/O errors.
pub fn run(args: SignArgs) -> ExitCode {
    let signed = match sign_bundle(SignRequest {
        dir: &args.dir,
        key: &args.key,
        name: args.name.as_deref(),
    }) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("bundle sign: {e}");
            return ExitCode::from(if e.is_usage() { 2 } else { 1 });
        }
    };
    let dir = args.dir.display();
    let file = format!("signatures/{}.sig", signed.name);
    if signed.replaced {
        println!("signed {dir}: {file} replaced (it held an earlier signature)");
    } else {
        println!("signed {dir}: {file} written");
    }
    match (&signed.principal, &signed.allowed_signers) {
        (Some(p), Some(file)) => {
            println!("  key {} ({p} in {})", signed.fingerprint, file.display())
        }
        _ => println!("  key {}", signed.fingerprint),
    }
    println!("  digest {}", signed.digest);
    println!("  checked with netpol-sync's verifier: a valid netpol-sync-bundle signature over this bundle.yaml");
    for w in &signed.warnings {
        match w {
            SignWarning::Untrusted {
                allowed_signers,
                why,
            } => eprintln!(
                "warning: key {} is not a bundle signer in {} ({why}): verify will not count this signature",
                signed.fingerprint,
                allowed_signers.display()
            ),
            SignWarning::NoRepository => eprintln!(
                "warning: {dir} is not inside a policy repository (bundles/ and keys/allowed_signers): nothing said whether verify will count this signature"
            ),
            SignWarning::NoTouch => eprintln!(
                "warning: the hardware key signed without user presence: only a deployment run with --allow-no-touch counts it"
            ),
        }
    }
    println!(
        "  next: git add {} && git commit -S",
        super::shell::shell_word(&args.dir)
    );
    ExitCode::from(0)
}
