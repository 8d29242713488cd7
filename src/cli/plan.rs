//! `netpol-sync plan`: verify, then show what a sync would change (no writes), and the
//! text rendering of plan detail shared with `sync`.

use super::sync::{self, Mode};
use super::ClusterRunArgs;
use crate::outcome::Outcome;
use serde_json::Value;
use std::process::ExitCode;

pub fn run(args: ClusterRunArgs) -> ExitCode {
    sync::run(args, Mode::Plan)
}

/// Writes, drift, held policies, would-open namespaces, skipped namespaces and ignored
/// policies from `outcome.extra`, one line each, under the verdict screen. At most this
/// many writes are listed in text (JSON has all).
const MAX_TEXT_WRITES: usize = 200;

pub fn print_detail(outcome: &Outcome) {
    let text = detail_text(outcome);
    if text.is_empty() {
        return;
    }
    match outcome.verdict {
        crate::outcome::Verdict::Rejected | crate::outcome::Verdict::Error => eprint!("{text}"),
        _ => print!("{text}"),
    }
}

pub fn detail_text(outcome: &Outcome) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let list = |k: &str| {
        outcome
            .extra
            .get(k)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let str_of = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let writes = list("plan");
    for w in writes.iter().take(MAX_TEXT_WRITES) {
        let sign = match str_of(w, "action").as_str() {
            "create" => "+ create",
            "update" => "~ update",
            _ => "- delete",
        };
        let bundle = w
            .get("bundle")
            .and_then(Value::as_str)
            .map(|b| format!("  (bundle {b})"))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "  {sign} {}/{}{bundle}",
            str_of(w, "namespace"),
            str_of(w, "name")
        );
    }
    if writes.len() > MAX_TEXT_WRITES {
        let _ = writeln!(
            s,
            "  … and {} more writes (--output json lists all)",
            writes.len() - MAX_TEXT_WRITES
        );
    }
    let held = list("held");
    let still_held = |d: &Value| {
        held.iter().any(|h| {
            str_of(h, "namespace") == str_of(d, "namespace")
                && str_of(h, "name") == str_of(d, "name")
        })
    };
    let finalizers = |v: &Value| {
        v.get("finalizers")
            .and_then(Value::as_array)
            .map(|f| {
                f.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    for d in list("drift") {
        let manager = d
            .get("field_manager")
            .and_then(Value::as_str)
            .map(|m| format!(" by {m}"))
            .unwrap_or_default();
        if str_of(&d, "kind") == "held" {
            let _ = writeln!(
                s,
                "  drift: {}/{} held by finalizers [{}]{manager}, {}",
                str_of(&d, "namespace"),
                str_of(&d, "name"),
                finalizers(&d),
                if still_held(&d) {
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
            str_of(&d, "namespace"),
            str_of(&d, "name"),
            str_of(&d, "kind")
        );
    }
    for h in &held {
        let _ = writeln!(
            s,
            "  held: {}/{} by finalizers [{}]: being deleted, still applies",
            str_of(h, "namespace"),
            str_of(h, "name"),
            finalizers(h)
        );
    }
    for o in list("wouldOpen") {
        let allowed = o.get("allowed").and_then(Value::as_bool).unwrap_or(false);
        let bundle = match o.get("bundle").and_then(Value::as_str) {
            Some(b) => format!("bundle {b}"),
            None => "no selected bundle governs it any more".to_string(),
        };
        let verdict = match o.get("allowed_by").and_then(Value::as_str) {
            Some(by) if allowed => format!("allowed by allowOpen of bundle {by}"),
            _ if allowed => "allowed by allowOpen".to_string(),
            _ => "refused".to_string(),
        };
        let _ = writeln!(
            s,
            "  would open namespace {} ({bundle}): {verdict}",
            str_of(&o, "namespace"),
        );
    }
    for n in list("skippedNamespaces") {
        let _ = writeln!(
            s,
            "  skipped namespace {} ({}): {} of the revision's policies not written",
            str_of(&n, "namespace"),
            str_of(&n, "reason"),
            n.get("policies").and_then(Value::as_u64).unwrap_or(0)
        );
    }
    for i in list("ignored") {
        let _ = writeln!(
            s,
            "  ignored: {}/{} carries our label outside the governed namespaces but netpol-sync did not write it; left alone",
            str_of(&i, "namespace"),
            str_of(&i, "name")
        );
    }
    s
}
