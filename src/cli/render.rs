//! How a [`CycleResult`] looks on a terminal and in a script: a screen of text (the
//! verdict first, then where and why, then the plan's detail), or one JSON object. The
//! exit code follows the verdict. Nothing below `cli/` renders.

use super::OutputFormat;
use crate::engine::{CycleResult, Verdict};
use crate::plan::{Action, DriftKind};
use std::fmt::Write;
use std::process::ExitCode;

/// `0` verified / applied / nothing to do; `1` rejected (cluster untouched); `2` usage,
/// I/O or cluster error.
pub fn exit_code(verdict: Verdict) -> ExitCode {
    match verdict {
        Verdict::Verified | Verdict::Applied | Verdict::Unchanged => ExitCode::from(0),
        Verdict::Rejected => ExitCode::from(1),
        Verdict::Error => ExitCode::from(2),
    }
}

/// Writes listed in text at most (JSON has all).
const MAX_TEXT_WRITES: usize = 200;
/// Verified commits listed in text at most.
const MAX_TEXT_COMMITS: usize = 10;

/// One JSON object on stdout, or a screen of text (errors and rejections on stderr so
/// that scripts piping stdout see only results). `with_detail` adds the plan's detail
/// under the screen.
pub fn emit(result: &CycleResult, output: OutputFormat, with_detail: bool) {
    match output {
        OutputFormat::Json => println!("{}", json(result)),
        OutputFormat::Text => {
            let mut text = screen(result);
            if with_detail {
                text.push_str(&detail(result));
            }
            print_for(result.verdict, &text);
        }
    }
}

/// Text on stdout, or on stderr for a rejection or an error.
pub fn print_for(verdict: Verdict, text: &str) {
    match verdict {
        Verdict::Rejected | Verdict::Error => eprint!("{text}"),
        _ => print!("{text}"),
    }
}

pub fn json(result: &CycleResult) -> String {
    serde_json::to_string(result)
        .expect("a CycleResult serialises: strings, numbers, lists and maps with string keys")
}

/// The verdict line, the message, where, the commits, bundles and counts.
pub fn screen(r: &CycleResult) -> String {
    let mut s = String::new();
    let verdict = serde_json::to_value(r.verdict).ok();
    let verdict = verdict.as_ref().and_then(|v| v.as_str()).unwrap_or("?");
    let _ = write!(s, "{}", verdict.to_uppercase());
    if let Some(reason) = r.reason {
        let _ = write!(s, " ({reason})");
    }
    if let Some(rev) = &r.revision {
        let _ = write!(s, "  revision {rev}");
    }
    let _ = writeln!(s);
    if !r.message.is_empty() {
        let _ = writeln!(s, "  {}", r.message);
    }
    let l = &r.location;
    for (label, value) in [
        ("commit", l.commit.as_deref()),
        ("key", l.fingerprint.as_deref()),
        ("principal", l.principal.as_deref()),
        ("bundle", l.bundle.as_deref()),
        ("file", l.file.as_deref()),
        ("field", l.field.as_deref()),
    ] {
        if let Some(v) = value {
            let _ = writeln!(s, "  {label:<10} {v}");
        }
    }
    if let Some(d) = l.document {
        let _ = writeln!(s, "  {:<10} {d}", "document");
    }
    if !r.commits.is_empty() {
        let _ = writeln!(s, "  commits verified: {}", r.commits.len());
        for c in r.commits.iter().take(MAX_TEXT_COMMITS) {
            let _ = writeln!(
                s,
                "    {}  {}  {}",
                &c.commit[..c.commit.len().min(12)],
                c.principal,
                c.fingerprint
            );
        }
        if r.commits.len() > MAX_TEXT_COMMITS {
            let _ = writeln!(s, "    … and {} more", r.commits.len() - MAX_TEXT_COMMITS);
        }
    }
    for b in &r.bundles {
        let _ = writeln!(s, "  bundle {:<20} {}", b.name, b.digest);
    }
    if let Some(c) = r.counts {
        let _ = writeln!(
            s,
            "  created {}  updated {}  deleted {}  unchanged {}",
            c.created, c.updated, c.deleted, c.unchanged
        );
    }
    s
}

/// Writes, drift, held policies, would-open namespaces, skipped namespaces and ignored
/// policies, one line each.
pub fn detail(r: &CycleResult) -> String {
    let mut s = String::new();
    let d = &r.detail;
    let writes = d.plan.as_deref().unwrap_or_default();
    for w in writes.iter().take(MAX_TEXT_WRITES) {
        let sign = match w.action {
            Action::Create => "+ create",
            Action::Update if w.adopt => "~ adopt ",
            Action::Update => "~ update",
            Action::Delete => "- delete",
        };
        let bundle = w
            .bundle
            .as_deref()
            .map(|b| format!("  (bundle {b})"))
            .unwrap_or_default();
        let policy = w
            .policy
            .as_deref()
            .map(|p| format!(" (policy {p})"))
            .unwrap_or_default();
        let _ = writeln!(s, "  {sign} {}/{}{policy}{bundle}", w.namespace, w.name);
    }
    if writes.len() > MAX_TEXT_WRITES {
        let _ = writeln!(
            s,
            "  … and {} more writes (--output json lists all)",
            writes.len() - MAX_TEXT_WRITES
        );
    }
    let still_held = |namespace: &str, name: &str| {
        d.held
            .iter()
            .any(|h| h.namespace == namespace && h.name == name)
    };
    for drift in d.drift.iter().flatten() {
        let manager = drift
            .field_manager
            .as_deref()
            .map(|m| format!(" by {m}"))
            .unwrap_or_default();
        if drift.kind == DriftKind::Held {
            let _ = writeln!(
                s,
                "  drift: {}/{} held by finalizers [{}]{manager}, {}",
                drift.namespace,
                drift.name,
                drift.finalizers.join(", "),
                if still_held(&drift.namespace, &drift.name) {
                    "NOT reverted: it still applies"
                } else {
                    "finalizers removed, reverted"
                }
            );
            continue;
        }
        let _ = writeln!(
            s,
            "  drift: {}/{} {}{manager}, reverted",
            drift.namespace, drift.name, drift.kind
        );
    }
    for h in &d.held {
        let _ = writeln!(
            s,
            "  held: {}/{} by finalizers [{}]: being deleted, still applies",
            h.namespace,
            h.name,
            h.finalizers.join(", ")
        );
    }
    for o in d.would_open.iter().flatten() {
        let bundle = match &o.bundle {
            Some(b) => format!("bundle {b}"),
            None => "no selected bundle governs it any more".to_string(),
        };
        let verdict = match &o.allowed_by {
            Some(by) if o.allowed => format!("allowed by allowOpen of bundle {by}"),
            _ if o.allowed => "allowed by allowOpen".to_string(),
            _ => "refused".to_string(),
        };
        let _ = writeln!(
            s,
            "  would open namespace {} ({bundle}): {verdict}",
            o.namespace
        );
    }
    for n in &d.skipped_namespaces {
        let reason = serde_json::to_value(n.reason).ok();
        let _ = writeln!(
            s,
            "  skipped namespace {} ({}): {} of the revision's policies not written",
            n.namespace,
            reason.as_ref().and_then(|v| v.as_str()).unwrap_or("?"),
            n.policies
        );
    }
    for i in &d.ignored {
        let _ = writeln!(
            s,
            "  ignored: {i} carries our label outside the governed namespaces but netpol-sync did not write it; left alone"
        );
    }
    if let Some(change) = &d.reachability {
        let _ = writeln!(s, "  reachability: {}", change.summary());
        let paths = change.paths.as_ref();
        let lines = paths.into_iter().flat_map(|p| {
            p.added
                .iter()
                .map(|c| format!("+ {} → {}  {}", c.from, c.to, c.ports))
                .chain(
                    p.removed
                        .iter()
                        .map(|c| format!("- {} → {}  {}", c.from, c.to, c.ports)),
                )
                .chain(
                    p.changed
                        .iter()
                        .map(|c| format!("~ {} → {}  {} ⇒ {}", c.from, c.to, c.before, c.after)),
                )
        });
        let mut shown = 0;
        let total = change.opened + change.closed + change.changed;
        for line in lines.take(MAX_TEXT_WRITES) {
            let _ = writeln!(s, "    {line}");
            shown += 1;
        }
        if paths.is_some() && total > shown {
            let _ = writeln!(
                s,
                "    … and {} more paths (--output json lists all)",
                total - shown
            );
        }
    }
    s
}
