//! `netpol-sync audit`: the enforced revision from the authenticated state record, verified
//! again, matched policy by policy against the live cluster (docs/audit.md). Exit codes:
//! 0 the live cluster is exactly the revision, 1 it is not (or the revision no longer
//! verifies), 2 no evidence could be gathered.

use super::sync::{cluster_target, init_logging, runtime};
use super::{render, AuditArgs, AuditFormat};
use crate::engine::audit::{self, AuditReport, AuditStatus};
use crate::engine::revision::{load_state_key, verify_and_load, Since};
use crate::engine::{Context, Mode};
use crate::kube_client::{connect, error_chain};
use crate::state::StateStore;
use std::fmt::Write;
use std::process::ExitCode;

pub fn run(args: AuditArgs) -> ExitCode {
    init_logging();
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return fail(format!("cannot start the async runtime: {e}")),
    };
    let key = match load_state_key(args.kube.state_key.as_deref()) {
        Ok(k) => k,
        Err(refused) => return fail(refused.message),
    };
    let connected = rt.block_on(connect(&cluster_target(&args.kube)));
    let (client, url) = match connected {
        Ok(c) => c,
        Err(e) => return fail(error_chain(&e)),
    };
    let store = StateStore::new(&client, &args.kube.state_namespace, key);
    let enforced = match rt.block_on(audit::enforced(&store)) {
        Ok(e) => e,
        Err(e) => return fail(format!("{e} (API server {url})")),
    };
    let context = Context {
        trust: args.trust.settings(args.clock.at),
        bundles: args.select.bundle_options(),
        cluster: None,
    };
    let since = match &args.since {
        Some(rev) => Since::Explicit(rev.clone()),
        None => Since::Anchor,
    };
    // Opened (for a URL: cloned) once, for the verification and the commit's time.
    let repo = match crate::git::Repo::open(&args.repo) {
        Ok(r) => r,
        Err(e) => return fail(format!("cannot open repository {}: {e}", args.repo)),
    };
    let request = context.revision_request(
        repo.git2().path().to_path_buf(),
        enforced.revision.clone(),
        since,
        Mode::Verify,
    );
    let prepared = match verify_and_load(&request) {
        Ok(p) => p,
        Err(refused) => {
            // The enforced revision does not verify (any more): that is the finding.
            eprint!("{}", render::screen(&refused));
            eprintln!(
                "ERROR  the enforced revision {} does not verify: the live cluster is not a signed revision",
                enforced.revision
            );
            return ExitCode::from(1);
        }
    };
    let bundles = &prepared.input.bundles;
    let live = match rt.block_on(audit::live(&client, bundles)) {
        Ok(l) => l,
        Err(e) => return fail(format!("{e} (API server {url})")),
    };
    let committed_at = commit_time(&repo, bundles.revision());
    let report = audit::compare(
        bundles,
        &live,
        &enforced,
        prepared.input.signer.clone(),
        committed_at,
        if args.immutable_objects {
            crate::plan::naming::Naming::Immutable
        } else {
            crate::plan::naming::Naming::Plain
        },
    );
    print!(
        "{}",
        match args.output {
            AuditFormat::Json => format!(
                "{}\n",
                serde_json::to_string(&report).expect("an audit report serialises")
            ),
            AuditFormat::Text => text(&report),
            AuditFormat::Md => markdown(&report),
        }
    );
    ExitCode::from(if report.exact { 0 } else { 1 })
}

fn fail(message: String) -> ExitCode {
    eprintln!("ERROR  {message}");
    ExitCode::from(2)
}

/// When the revision's commit was made (its committer time), RFC 3339.
fn commit_time(repo: &crate::git::Repo, oid: git2::Oid) -> Option<String> {
    let seconds = repo.git2().find_commit(oid).ok()?.time().seconds();
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(seconds).ok()?);
    Some(humantime::format_rfc3339_seconds(at).to_string())
}

fn status_word(s: AuditStatus) -> &'static str {
    match s {
        AuditStatus::Signed => "signed",
        AuditStatus::Differs => "DIFFERS",
        AuditStatus::Missing => "MISSING",
        AuditStatus::Unsigned => "UNSIGNED",
    }
}

fn heading(r: &AuditReport) -> String {
    let mut s = String::new();
    let signer = r
        .signer
        .as_ref()
        .map(|s| format!("{} ({})", s.principal, s.fingerprint))
        .unwrap_or_else(|| "unknown".into());
    let _ = writeln!(s, "revision {}", r.revision);
    let _ = writeln!(
        s,
        "signed by {signer}, committed {}, applied {}",
        r.committed_at.as_deref().unwrap_or("?"),
        r.applied_at.as_deref().unwrap_or("?")
    );
    for b in &r.bundles {
        let _ = writeln!(
            s,
            "bundle {} {} signed by {}",
            b.name,
            b.digest,
            b.signers.join(", ")
        );
    }
    s
}

fn verdict(r: &AuditReport) -> String {
    let c = r.counts;
    format!(
        "{}: {} signed, {} differ, {} missing, {} unsigned",
        if r.exact {
            "EXACT: the live cluster is the enforced signed revision"
        } else {
            "NOT EXACT: the live cluster is not the enforced signed revision"
        },
        c.signed,
        c.differs,
        c.missing,
        c.unsigned
    )
}

fn text(r: &AuditReport) -> String {
    let mut s = heading(r);
    for ns in &r.namespaces {
        let _ = writeln!(
            s,
            "namespace {}{}",
            ns.namespace,
            if ns.governed { "" } else { " (not governed)" }
        );
        for p in &ns.policies {
            let source = match (&p.bundle, &p.file, p.document) {
                (Some(b), Some(f), Some(d)) => format!("  {b}/{f} #{d}"),
                _ => String::new(),
            };
            let by = p
                .field_manager
                .as_deref()
                .map(|m| format!("  written by {m}"))
                .unwrap_or_default();
            let hash = p
                .signed_hash
                .as_deref()
                .or(p.live_hash.as_deref())
                .unwrap_or("");
            let policy = p
                .policy
                .as_deref()
                .map(|n| format!(" (policy {n})"))
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "  {:<9} {}{policy}{source}  {hash}{by}",
                status_word(p.status),
                p.name
            );
        }
    }
    let _ = writeln!(s, "{}", verdict(r));
    s
}

fn markdown(r: &AuditReport) -> String {
    let mut s = String::from("### netpol-sync audit\n\n");
    let _ = writeln!(s, "**{}**\n", verdict(r));
    for line in heading(r).lines() {
        let _ = writeln!(s, "- {line}");
    }
    for ns in &r.namespaces {
        let _ = writeln!(
            s,
            "\n#### `{}`{}\n\n| policy | status | bundle | file | signed content | live content | written by |\n| --- | --- | --- | --- | --- | --- | --- |",
            ns.namespace,
            if ns.governed { "" } else { " (not governed)" }
        );
        for p in &ns.policies {
            let cell = |v: Option<&str>| v.map(|v| format!("`{v}`")).unwrap_or_default();
            let file = match (&p.file, p.document) {
                (Some(f), Some(d)) => format!("`{f}` #{d}"),
                _ => String::new(),
            };
            let _ = writeln!(
                s,
                "| `{}` | {} | {} | {file} | {} | {} | {} |",
                p.name,
                status_word(p.status),
                cell(p.bundle.as_deref()),
                cell(p.signed_hash.as_deref()),
                cell(p.live_hash.as_deref()),
                p.field_manager.as_deref().unwrap_or("")
            );
        }
    }
    s
}
