//! `netpol-sync check [PATH] [--base REV]`: the pull-request gate's arguments, its exit
//! code and its four renderings (docs/check.md). The checking is [`crate::check`].

use crate::check::{self, sarif, CheckOptions, CheckReport};
use crate::lint::{Finding, Severity};
use clap::{Args, ValueEnum};
use std::fmt::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum CheckFormat {
    #[default]
    Text,
    Json,
    /// A pull-request comment.
    Md,
    /// SARIF 2.1.0, for code-scanning annotations.
    Sarif,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum FailOn {
    #[default]
    Error,
    Warning,
    Info,
}

#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// The policy repository's root (its working tree).
    #[arg(default_value = ".")]
    pub path: PathBuf,
    /// The revision the change merges into: which bundles changed, who may sign, and
    /// (with --workloads) what the change opens and closes.
    #[arg(long, value_name = "REV")]
    pub base: Option<String>,
    /// Kubernetes YAML (a file or directory; repeatable) whose workloads the lint rules
    /// and the reachability diff use.
    #[arg(long, value_name = "PATH")]
    pub workloads: Vec<PathBuf>,
    /// Distinct trusted keys each bundle needs, as `verify --bundle-signatures`.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub bundle_signatures: usize,
    #[arg(long, value_enum, default_value_t)]
    pub output: CheckFormat,
    /// Exit 1 when a finding at or above this severity is reported.
    #[arg(long, value_enum, default_value_t)]
    pub fail_on: FailOn,
}

/// Exit 0 when no finding reaches `--fail-on`, 1 when one does, 2 when the check could
/// not run (PATH not a directory, a base that does not resolve, unreadable workloads).
pub fn run(args: CheckArgs) -> ExitCode {
    let show = super::progress::shown(matches!(
        args.output,
        CheckFormat::Json | CheckFormat::Sarif
    ));
    let options = CheckOptions {
        base: args.base.clone(),
        workloads: args.workloads.clone(),
        bundle_signatures: args.bundle_signatures,
        progress: Some(super::progress::bar(0, "checking policy files", show)),
        ..CheckOptions::default()
    };
    let report = match check::check(&args.path, &options) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("check: {e}");
            return ExitCode::from(2);
        }
    };
    let text = match args.output {
        CheckFormat::Text => text(&report),
        CheckFormat::Json => serde_json::to_string_pretty(&report).unwrap_or_default() + "\n",
        CheckFormat::Md => markdown(&report),
        CheckFormat::Sarif => {
            serde_json::to_string_pretty(&sarif::log(&report)).unwrap_or_default() + "\n"
        }
    };
    print!("{text}");
    let threshold = match args.fail_on {
        FailOn::Error => Severity::Error,
        FailOn::Warning => Severity::Warning,
        FailOn::Info => Severity::Info,
    };
    ExitCode::from(u8::from(report.count_at_least(threshold) > 0))
}

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
    }
}

fn counts(r: &CheckReport) -> (usize, usize, usize) {
    let n = |s| r.findings.iter().filter(|f| f.severity == s).count();
    (n(Severity::Error), n(Severity::Warning), n(Severity::Info))
}

fn text(r: &CheckReport) -> String {
    let mut s = String::new();
    let (e, w, i) = counts(r);
    let _ = writeln!(
        s,
        "{} bundle(s), {} policies: {e} error(s), {w} warning(s), {i} note(s)",
        r.bundles.len(),
        r.policies
    );
    for b in &r.bundles {
        let signed = if b.signed_by.is_empty() {
            "unsigned".to_string()
        } else {
            format!("signed by {}", b.signed_by.join(", "))
        };
        let changed = match b.changed {
            Some(true) => ", changed",
            Some(false) => ", unchanged",
            None => "",
        };
        let _ = writeln!(
            s,
            "  bundle {}: {} policies, {}, {signed}{}{changed}",
            b.name,
            b.policies,
            if b.sealed { "sealed" } else { "NOT sealed" },
            if b.needs_signing {
                " (needs signing)"
            } else {
                ""
            },
        );
    }
    for f in &r.findings {
        let _ = writeln!(
            s,
            "{}:{}: {} [{}] {}",
            f.location.file,
            f.location.line,
            severity(f.severity),
            f.rule,
            f.message
        );
    }
    if !r.commit_signers.is_empty() {
        let _ = writeln!(
            s,
            "the merge commit must be signed (git commit -S) by a key of: {}",
            r.commit_signers.join(", ")
        );
    }
    match (&r.reachability, &r.reachability_note) {
        (Some(d), _) => {
            s.push_str("reachability: ");
            s.push_str(&super::reach::diff_text(d));
        }
        (None, Some(note)) => {
            let _ = writeln!(s, "reachability diff: {note}");
        }
        (None, None) => {}
    }
    s
}

/// Findings and paths a comment lists before it says "and N more".
const MAX_MD_ROWS: usize = 50;

/// A cell of a Markdown table: no line break, and `|` escaped.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn markdown(r: &CheckReport) -> String {
    let mut s = String::new();
    let (e, w, i) = counts(r);
    let mark = if e > 0 {
        "❌"
    } else if w > 0 {
        "⚠️"
    } else {
        "✅"
    };
    let _ = writeln!(
        s,
        "### {mark} netpol-sync check: {e} error(s), {w} warning(s), {i} note(s)\n"
    );
    let _ = writeln!(s, "| bundle | policies | seal | signatures | changed |");
    let _ = writeln!(s, "| --- | ---: | --- | --- | --- |");
    for b in &r.bundles {
        let signed = if b.needs_signing {
            format!("needs signing ({})", b.may_sign.join(", "))
        } else {
            b.signed_by.join(", ")
        };
        let changed = match b.changed {
            Some(true) => "yes",
            Some(false) => "no",
            None => "",
        };
        let _ = writeln!(
            s,
            "| `{}` | {} | {} | {} | {changed} |",
            cell(&b.name),
            b.policies,
            if b.sealed { "sealed" } else { "**stale**" },
            cell(&signed)
        );
    }
    if !r.findings.is_empty() {
        let _ = writeln!(s, "\n#### Findings\n");
        let _ = writeln!(s, "| | rule | where | what |");
        let _ = writeln!(s, "| --- | --- | --- | --- |");
        for f in r.findings.iter().take(MAX_MD_ROWS) {
            let _ = writeln!(s, "{}", md_row(f));
        }
        if r.findings.len() > MAX_MD_ROWS {
            let _ = writeln!(
                s,
                "\n… and {} more (`--output json` lists all)",
                r.findings.len() - MAX_MD_ROWS
            );
        }
    }
    if let Some(d) = &r.reachability {
        let _ = writeln!(
            s,
            "\n#### Reachability: {} opened, {} closed, {} changed\n",
            d.added.len(),
            d.removed.len(),
            d.changed.len()
        );
        let rows: Vec<String> = d
            .added
            .iter()
            .map(|c| {
                format!(
                    "| opened | `{}` | `{}` | {} |",
                    cell(&c.from),
                    cell(&c.to),
                    cell(&c.ports)
                )
            })
            .chain(d.removed.iter().map(|c| {
                format!(
                    "| closed | `{}` | `{}` | {} |",
                    cell(&c.from),
                    cell(&c.to),
                    cell(&c.ports)
                )
            }))
            .chain(d.changed.iter().map(|c| {
                format!(
                    "| changed | `{}` | `{}` | {} → {} |",
                    cell(&c.from),
                    cell(&c.to),
                    cell(&c.before),
                    cell(&c.after)
                )
            }))
            .collect();
        if !rows.is_empty() {
            let _ = writeln!(s, "| | from | to | ports |");
            let _ = writeln!(s, "| --- | --- | --- | --- |");
            for row in rows.iter().take(MAX_MD_ROWS) {
                let _ = writeln!(s, "{row}");
            }
            if rows.len() > MAX_MD_ROWS {
                let _ = writeln!(s, "\n… and {} more", rows.len() - MAX_MD_ROWS);
            }
        }
    } else if let Some(note) = &r.reachability_note {
        let _ = writeln!(s, "\nReachability diff: {note}.");
    }
    if !r.commit_signers.is_empty() {
        let _ = writeln!(
            s,
            "\nThe merge commit must be signed (`git commit -S`) by a key of: {}.",
            r.commit_signers.join(", ")
        );
    }
    s
}

fn md_row(f: &Finding) -> String {
    let icon = match f.severity {
        Severity::Error => "❌",
        Severity::Warning => "⚠️",
        Severity::Info => "ℹ️",
    };
    format!(
        "| {icon} | `{}` | `{}:{}` | {} |",
        f.rule,
        cell(&f.location.file),
        f.location.line,
        cell(&f.message)
    )
}
