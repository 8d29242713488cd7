//! `netpol-sync status`: what revision the cluster enforces, since when, signed by whom,
//! its bundles, and the last failure, read from the state record.

use super::sync::{cluster_target, init_logging, runtime};
use super::{render, OutputFormat, StatusArgs};
use crate::bundle::BundleSummary;
use crate::engine::{CycleResult, Verdict};
use crate::kube_client::{connect, error_chain};
use crate::plan::HeldPolicy;
use crate::state::{RecordedFailure, RecordedSigner, StateStore};
use serde::Serialize;
use std::process::ExitCode;

/// What `status` reports besides the verdict, under `extra` in its JSON.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusDetail {
    #[serde(skip_serializing_if = "Option::is_none")]
    applied_at: Option<Option<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    held: Vec<HeldPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_failure: Option<Option<RecordedFailure>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    managed_policies: Option<usize>,
    /// `true`, `false`, or `"unchecked (no --state-key)"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    record_authenticated: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signer: Option<Option<RecordedSigner>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state_namespace: Option<String>,
}

/// `status`'s report: the header every command prints, and its own detail.
#[derive(Debug, Serialize)]
struct StatusReport {
    #[serde(flatten)]
    head: CycleResult,
    #[serde(skip_serializing_if = "is_empty")]
    extra: StatusDetail,
}

fn is_empty(d: &StatusDetail) -> bool {
    d.state_namespace.is_none() && d.record_authenticated.is_none()
}

pub fn run(args: StatusArgs) -> ExitCode {
    init_logging();
    let report = match runtime() {
        Ok(rt) => rt.block_on(status(&args)),
        Err(e) => StatusReport::from(CycleResult::error(format!(
            "cannot start the async runtime: {e}"
        ))),
    };
    let verdict = report.head.verdict;
    match args.output.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string(&report).expect("a status report serialises")
        ),
        OutputFormat::Text => {
            let mut text = render::screen(&report.head);
            if verdict != Verdict::Error {
                text.push_str(&detail_text(&report.extra));
            }
            render::print_for(verdict, &text);
        }
    }
    render::exit_code(verdict)
}

impl From<CycleResult> for StatusReport {
    fn from(head: CycleResult) -> Self {
        StatusReport {
            head,
            extra: StatusDetail::default(),
        }
    }
}

async fn status(args: &StatusArgs) -> StatusReport {
    let (client, url) = match connect(&cluster_target(&args.kube)).await {
        Ok(c) => c,
        Err(e) => return CycleResult::error(error_chain(&e)).into(),
    };
    let store = match args
        .kube
        .state_key
        .as_deref()
        .map(crate::state::StateKey::load)
    {
        Some(Ok(key)) => StateStore::new(&client, &args.kube.state_namespace, key),
        Some(Err(e)) => return CycleResult::error(e.to_string()).into(),
        None => StateStore::reader(&client, &args.kube.state_namespace),
    };
    let loaded = match store.load_unchecked().await {
        Ok(l) => l,
        Err(e) => {
            return CycleResult::error(format!("{} (API server {url})", error_chain(&e))).into()
        }
    };
    let Some((r, authentic)) = loaded else {
        let mut report = StatusReport::from(CycleResult::new(
            Verdict::Unchanged,
            format!(
                "no revision applied yet: no state record in namespace {} (the next sync is judged against the trust anchor)",
                store.namespace()
            ),
        ));
        report.extra.state_namespace = Some(store.namespace().to_string());
        return report;
    };
    let mut head = CycleResult::new(
        Verdict::Unchanged,
        match &r.revision {
            Some(rev) => format!("enforcing revision {rev}"),
            None => "no revision applied yet".to_string(),
        },
    );
    head.revision = r.revision.clone();
    head.bundles = r
        .bundles
        .iter()
        .map(|b| BundleSummary {
            name: b.name.clone(),
            digest: b.digest.clone(),
            signers: Vec::new(),
        })
        .collect();
    let extra = StatusDetail {
        state_namespace: Some(store.namespace().to_string()),
        applied_at: Some(r.applied_at.clone()),
        signer: Some(r.signer.clone()),
        managed_policies: Some(r.inventory.len()),
        last_failure: Some(r.last_failure.clone()),
        // A cycle that left policies held by someone else's finalizers recorded them in
        // its failure: shown as a list, they are what still applies against the revision.
        held: r
            .last_failure
            .as_ref()
            .filter(|f| f.reason == crate::reason::ReasonCode::HeldByFinalizer.as_str())
            .map(|f| crate::engine::sync::held_in_message(&f.message))
            .unwrap_or_default(),
        // What the record says is only a claim unless its MAC verified with --state-key.
        record_authenticated: Some(match (authentic, args.kube.state_key.is_some()) {
            (true, _) => serde_json::json!(true),
            (false, true) => serde_json::json!(false),
            (false, false) => serde_json::json!("unchecked (no --state-key)"),
        }),
    };
    StatusReport { head, extra }
}

fn detail_text(d: &StatusDetail) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    match &d.record_authenticated {
        None | Some(serde_json::Value::Bool(true)) => {}
        Some(serde_json::Value::Bool(false)) => {
            let _ = writeln!(s, "  WARNING: the state record does NOT authenticate with --state-key; it is not believed");
        }
        Some(other) => {
            let _ = writeln!(s, "  record authenticity {}", other.as_str().unwrap_or("?"));
        }
    }
    if let Some(Some(at)) = &d.applied_at {
        let _ = writeln!(s, "  applied at {at}");
    }
    if let Some(Some(signer)) = &d.signer {
        let _ = writeln!(
            s,
            "  signed by  {} ({})",
            signer.principal, signer.fingerprint
        );
    }
    if let Some(n) = d.managed_policies {
        let _ = writeln!(s, "  managed policies {n}");
    }
    for h in &d.held {
        let _ = writeln!(
            s,
            "  held       {}/{} by finalizers [{}] (at the last failure): being deleted, still applies",
            h.namespace,
            h.name,
            h.finalizers.join(", ")
        );
    }
    if let Some(Some(f)) = &d.last_failure {
        let _ = writeln!(s, "  last failure {} at {}: {}", f.reason, f.at, f.message);
    }
    s
}
