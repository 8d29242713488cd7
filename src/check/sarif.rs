//! `check --output sarif`: the findings as a SARIF 2.1.0 log, which code-scanning services
//! turn into annotations on the lines a pull request changes (docs/check.md, "SARIF").
//! Every rule, lint and check alike, is listed in the tool's driver with its rationale
//! and default level; a result names its rule by id and index and its location by a
//! repository-relative URI and a start line.

use super::{CheckReport, CHECK_RULES};
use crate::lint::{Finding, Location, Severity, RULES};
use serde_json::{json, Value};

pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
pub const VERSION: &str = "2.1.0";

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// Every rule: (id, default severity, one-line rationale).
fn rules() -> Vec<(&'static str, Severity, &'static str)> {
    RULES
        .iter()
        .map(|r| (r.id, r.severity, r.summary))
        .chain(CHECK_RULES.iter().map(|r| (r.id, r.severity, r.summary)))
        .collect()
}

fn location(l: &Location) -> Value {
    let mut region = json!({"startLine": l.line.max(1)});
    if let Some(c) = l.column {
        region["startColumn"] = json!(c.max(1));
    }
    json!({"physicalLocation": {"artifactLocation": {"uri": l.file}, "region": region}})
}

fn result(f: &Finding, index: Option<usize>) -> Value {
    let mut r = json!({
        "ruleId": f.rule,
        "level": level(f.severity),
        "message": {"text": f.message},
        "locations": [location(&f.location)],
    });
    if let Some(i) = index {
        r["ruleIndex"] = json!(i);
    }
    if !f.related.is_empty() {
        r["relatedLocations"] = Value::Array(
            f.related
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    let mut v = location(l);
                    v["id"] = json!(i);
                    v
                })
                .collect(),
        );
    }
    r
}

/// The SARIF log of `report`.
pub fn log(report: &CheckReport) -> Value {
    let rules = rules();
    let driver_rules: Vec<Value> = rules
        .iter()
        .map(|(id, severity, summary)| {
            json!({
                "id": id,
                "shortDescription": {"text": summary},
                "defaultConfiguration": {"level": level(*severity)},
            })
        })
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| result(f, rules.iter().position(|(id, _, _)| *id == f.rule)))
        .collect();
    json!({
        "$schema": SCHEMA,
        "version": VERSION,
        "runs": [{
            "tool": {"driver": {
                "name": "netpol-sync",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": driver_rules,
            }},
            "results": results,
        }],
    })
}
