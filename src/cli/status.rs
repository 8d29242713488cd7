//! `netpol-sync status`: what revision the cluster enforces, since when, signed by whom,
//! its bundles, and the last failure, read from the state record.

use super::sync::{cluster_target, init_logging, runtime};
use super::{emit, StatusArgs};
use crate::kube_client::{connect, error_chain};
use crate::outcome::{BundleSummary, Outcome, Verdict};
use crate::state::StateStore;
use serde_json::json;
use std::process::ExitCode;

pub fn run(args: StatusArgs) -> ExitCode {
    init_logging();
    let outcome = match runtime() {
        Ok(rt) => rt.block_on(status(&args)),
        Err(e) => Outcome::error(format!("cannot start the async runtime: {e}")),
    };
    emit(&outcome, args.output.output);
    if args.output.output == super::OutputFormat::Text && outcome.verdict != Verdict::Error {
        print!("{}", detail_text(&outcome));
    }
    outcome.verdict.exit_code()
}

async fn status(args: &StatusArgs) -> Outcome {
    let (client, url) = match connect(&cluster_target(&args.kube)).await {
        Ok(c) => c,
        Err(e) => return Outcome::error(error_chain(&e)),
    };
    let store = match args
        .kube
        .state_key
        .as_deref()
        .map(crate::state::StateKey::load)
    {
        Some(Ok(key)) => StateStore::new(&client, &args.kube.state_namespace, key),
        Some(Err(e)) => return Outcome::error(e.to_string()),
        None => StateStore::reader(&client, &args.kube.state_namespace),
    };
    let loaded = match store.load_unchecked().await {
        Ok(l) => l,
        Err(e) => return Outcome::error(format!("{} (API server {url})", error_chain(&e))),
    };
    let Some(loaded) = loaded else {
        let mut o = Outcome::new(
            Verdict::Unchanged,
            format!(
                "no revision applied yet: no state record in namespace {} (the next sync is judged against the trust anchor)",
                store.namespace()
            ),
        );
        o.extra
            .insert("stateNamespace".into(), json!(store.namespace()));
        return o;
    };
    let (r, authentic) = loaded;
    let mut o = Outcome::new(
        Verdict::Unchanged,
        match &r.revision {
            Some(rev) => format!("enforcing revision {rev}"),
            None => "no revision applied yet".to_string(),
        },
    );
    o.revision = r.revision.clone();
    o.bundles = r
        .bundles
        .iter()
        .map(|b| BundleSummary {
            name: b.name.clone(),
            digest: b.digest.clone(),
            signers: Vec::new(),
        })
        .collect();
    o.extra
        .insert("stateNamespace".into(), json!(store.namespace()));
    o.extra.insert("appliedAt".into(), json!(r.applied_at));
    o.extra.insert("signer".into(), json!(r.signer));
    o.extra
        .insert("managedPolicies".into(), json!(r.inventory.len()));
    o.extra.insert("lastFailure".into(), json!(r.last_failure));
    // A cycle that left policies held by someone else's finalizers recorded them in its
    // failure: shown as a list, they are what still applies against the revision.
    if let Some(f) = r
        .last_failure
        .as_ref()
        .filter(|f| f.reason == crate::reason::ReasonCode::HeldByFinalizer.as_str())
    {
        o.extra.insert(
            "held".into(),
            json!(crate::apply::cycle::held_in_message(&f.message)),
        );
    }
    // What the record says is only a claim unless its MAC verified with --state-key.
    o.extra.insert(
        "recordAuthenticated".into(),
        match (authentic, args.kube.state_key.is_some()) {
            (true, _) => json!(true),
            (false, true) => json!(false),
            (false, false) => json!("unchecked (no --state-key)"),
        },
    );
    o
}

fn detail_text(o: &Outcome) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let get = |k: &str| o.extra.get(k).cloned().unwrap_or(serde_json::Value::Null);
    match get("recordAuthenticated") {
        serde_json::Value::Bool(true) => {}
        serde_json::Value::Bool(false) => {
            let _ = writeln!(s, "  WARNING: the state record does NOT authenticate with --state-key; it is not believed");
        }
        other => {
            let _ = writeln!(s, "  record authenticity {}", other.as_str().unwrap_or("?"));
        }
    }
    if let Some(at) = get("appliedAt").as_str() {
        let _ = writeln!(s, "  applied at {at}");
    }
    if let Some(signer) = get("signer").as_object() {
        let field = |k: &str| {
            signer
                .get(k)
                .and_then(|v| v.as_str())
                .unwrap_or("?")
                .to_string()
        };
        let _ = writeln!(
            s,
            "  signed by  {} ({})",
            field("principal"),
            field("fingerprint")
        );
    }
    if let Some(n) = get("managedPolicies").as_u64() {
        let _ = writeln!(s, "  managed policies {n}");
    }
    for h in get("held").as_array().into_iter().flatten() {
        let field = |k: &str| h.get(k).and_then(|v| v.as_str()).unwrap_or("?").to_string();
        let finalizers: Vec<&str> = h
            .get("finalizers")
            .and_then(|f| f.as_array())
            .into_iter()
            .flatten()
            .filter_map(|f| f.as_str())
            .collect();
        let _ = writeln!(
            s,
            "  held       {}/{} by finalizers [{}] (at the last failure): being deleted, still applies",
            field("namespace"),
            field("name"),
            finalizers.join(", ")
        );
    }
    if let Some(f) = get("lastFailure").as_object() {
        let field = |k: &str| f.get(k).and_then(|v| v.as_str()).unwrap_or("?").to_string();
        let _ = writeln!(
            s,
            "  last failure {} at {}: {}",
            field("reason"),
            field("at"),
            field("message")
        );
    }
    s
}
