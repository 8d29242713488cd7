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

/// Writes, drift, would-open namespaces and blockers from `outcome.extra`, one line each,
/// under the verdict screen. At most this many writes are listed in text (JSON has all).
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
    for d in list("drift") {
        let manager = d
            .get("field_manager")
            .and_then(Value::as_str)
            .map(|m| format!(" by {m}"))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "  drift: {}/{} {}{manager}, reverted",
            str_of(&d, "namespace"),
            str_of(&d, "name"),
            str_of(&d, "kind")
        );
    }
    for o in list("wouldOpen") {
        let allowed = o.get("allowed").and_then(Value::as_bool).unwrap_or(false);
        let _ = writeln!(
            s,
            "  would open namespace {} (bundle {}): {}",
            str_of(&o, "namespace"),
            str_of(&o, "bundle"),
            if allowed {
                "allowed by allowOpen"
            } else {
                "refused"
            }
        );
    }
    s
}
