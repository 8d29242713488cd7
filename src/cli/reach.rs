//! `netpol-sync reach`: build the model (policies of a verified revision or of files,
//! workloads of YAML files), run the analysis the flags ask for, render it. Exit codes:
//! 0 the analysis ran (a query: the connection is allowed), 1 a query's connection is
//! denied, 2 an error (bad input, a revision that does not verify).

use super::{ReachArgs, ReachFormat};
use crate::engine::revision::{verify_and_load, Since};
use crate::engine::{Context, Mode};
use crate::kube_client::{connect, error_chain, ClusterTarget};
use crate::reach::exposure::ExposureReport;
use crate::reach::{self, DiffReport, MapReport, Model, QueryEnd, QueryReport, Scope};
use netpol_reach::{Evaluator, Protocol};
use std::collections::BTreeSet;
use std::fmt::Write;
use std::process::ExitCode;

pub fn run(args: ReachArgs) -> ExitCode {
    use std::io::Write as _;
    match analyse(&args) {
        Ok((output, code)) => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let written = match output {
                Output::Text(text) => out.write_all(text.as_bytes()),
                Output::Map(report) => write_map(&report, args.output, &mut out),
            };
            if let Err(e) = written.and_then(|()| out.flush()) {
                if e.kind() == std::io::ErrorKind::BrokenPipe {
                    return super::closed_stdout::exit_status();
                }
                eprintln!("ERROR  writing the report: {e}");
                return ExitCode::from(2);
            }
            ExitCode::from(code)
        }
        Err(e) => {
            eprintln!("ERROR  {e}");
            ExitCode::from(2)
        }
    }
}

/// What an analysis prints: a whole map is written as it is rendered, not held as text
/// (a map over thousands of workloads is hundreds of megabytes of JSON).
enum Output {
    Text(String),
    Map(MapReport),
}

/// The policies to analyse and, with --diff / --diff-policies, those to compare with.
type Policies = (
    Vec<netpol_policy::NetworkPolicy>,
    Option<Vec<netpol_policy::NetworkPolicy>>,
);

fn policies(args: &ReachArgs, scope: Scope<'_>) -> Result<Policies, String> {
    let limits = args.select.bundle_options().limits;
    // The two sides of a diff share most documents: each is decoded once.
    let cache = reach::PolicyDocuments::default();
    let old_files = (!args.diff_policies.is_empty())
        .then(|| reach::policies_from_files(&args.diff_policies, &limits, Scope::All, Some(&cache)))
        .transpose()
        .map_err(|e| e.to_string())?;
    let Some(repo) = &args.repo else {
        let reuse = old_files.is_some().then_some(&cache);
        let new = reach::policies_from_files(&args.policies, &limits, scope, reuse)
            .map_err(|e| e.to_string())?;
        return Ok((new, old_files));
    };
    let anchor = args
        .trust_anchor
        .clone()
        .ok_or("--repo needs --trust-anchor: the revision is verified as `verify` verifies it")?;
    let context = Context {
        trust: args.signers.settings(anchor, args.clock.at),
        bundles: args.select.bundle_options(),
        cluster: None,
    };
    let since = match &args.diff {
        Some(old) => Since::Explicit(old.clone()),
        None => Since::Anchor,
    };
    let request = context.revision_request(repo.into(), args.rev.clone(), since, Mode::Verify);
    let prepared = verify_and_load(&request).map_err(|refused| {
        format!(
            "the revision does not verify ({}): {}",
            refused
                .reason
                .map(|r| r.to_string())
                .unwrap_or_else(|| "error".into()),
            refused.message
        )
    })?;
    let new = reach::policies_of(&prepared.input.bundles);
    let old = match (&args.diff, &prepared.input.previous) {
        (Some(_), Some(previous)) => Some(reach::policies_of(
            &crate::bundle::load_recorded_base(&previous.repo, &previous.base, &previous.options)
                .map_err(|e| format!("the earlier revision's bundles do not load: {e}"))?,
        )),
        // --diff names the revision itself: nothing changes.
        (Some(_), None) => Some(new.clone()),
        (None, _) => old_files,
    };
    Ok((new, old))
}

fn analyse(args: &ReachArgs) -> Result<(Output, u8), String> {
    let limits = args.select.bundle_options().limits;
    let query = match (&args.from, &args.to) {
        (Some(from), Some(to)) => Some((
            QueryEnd::parse(from).map_err(|e| e.to_string())?,
            QueryEnd::parse(to).map_err(|e| e.to_string())?,
        )),
        _ => None,
    };
    // A query between two ends needs only the policies and workloads of their namespaces:
    // the source's egress and the destination's ingress are decided there.
    let query_namespaces: Option<BTreeSet<String>> = query.as_ref().map(|(from, to)| {
        [from, to]
            .iter()
            .filter_map(|e| e.namespace().map(str::to_string))
            .collect()
    });
    let scope = match &query_namespaces {
        Some(namespaces) if !args.exposure => Scope::Namespaces(namespaces),
        _ => Scope::All,
    };
    let workloads = || -> Result<reach::workloads::Workloads, String> {
        let workloads = match &args.kubeconfig {
            Some(kubeconfig) => live_workloads(kubeconfig, args.context.as_deref())?,
            None => reach::workloads_from_files(&args.workloads, &limits, scope)
                .map_err(|e| e.to_string())?,
        };
        for w in &workloads.warnings {
            eprintln!("WARNING  {w}");
        }
        Ok(workloads)
    };
    if args.repo.is_none() && !args.diff_policies.is_empty() {
        // Two sets of files: only what can change is parsed (docs/reachability.md).
        let model = Model::new(&workloads()?, Vec::new()).map_err(|e| e.to_string())?;
        let (report, read) =
            reach::diff_files(&model, &args.policies, &args.diff_policies, &limits)
                .map_err(|e| e.to_string())?;
        warn_unexposed_named_ports(&model, &read)?;
        return Ok((Output::Text(render_diff(&report, args.output)), 0));
    }
    // One directory given to both: its files are read once.
    let same_files = args.repo.is_none()
        && args.kubeconfig.is_none()
        && args.diff_policies.is_empty()
        && !args.policies.is_empty()
        && args.policies == args.workloads;
    let (new, old, workloads) = if same_files {
        let (policies, workloads) =
            reach::policies_and_workloads_from_files(&args.policies, &limits, scope)
                .map_err(|e| e.to_string())?;
        for w in &workloads.warnings {
            eprintln!("WARNING  {w}");
        }
        (policies, None, workloads)
    } else {
        let (new, old) = policies(args, scope)?;
        (new, old, workloads()?)
    };
    let evaluator = Evaluator::new(&new).map_err(|e| e.to_string())?;
    // A query reads its ends' namespaces only: a port another namespace's pods expose is
    // not in view, so only the whole map and the diff warn.
    if matches!(scope, Scope::All) {
        let model = Model::new(&workloads, Vec::new()).map_err(|e| e.to_string())?;
        warn_unexposed_named_ports(&model, &new)?;
    }
    if args.exposure {
        if matches!(args.output, ReachFormat::Dot | ReachFormat::Mermaid) {
            return Err(
                "--exposure prints text, json or md: it lists peers, it draws no paths".into(),
            );
        }
        let model = Model::new(&workloads, Vec::new()).map_err(|e| e.to_string())?;
        let report = reach::exposure::exposure(&model, &evaluator);
        return Ok((Output::Text(render_exposure(&report, args.output)), 0));
    }
    if let Some((from, to)) = query {
        let protocol = Protocol::parse(&args.protocol.to_ascii_uppercase())
            .ok_or_else(|| format!("--protocol {:?}: TCP, UDP or SCTP", args.protocol))?;
        let mut extra: Vec<_> = [&from, &to]
            .iter()
            .filter_map(|e| e.synthetic_pod())
            .collect();
        // Both ends may name the same pods (a connection within one set of labels).
        extra.dedup_by(|a, b| a.namespace == b.namespace && a.name == b.name);
        let model = Model::new(&workloads, extra).map_err(|e| e.to_string())?;
        let port = args
            .port
            .ok_or("a query needs --port N (its answer lists every port allowed too)")?;
        let report = reach::query(&model, &evaluator, &from, &to, protocol, port)
            .map_err(|e| e.to_string())?;
        return Ok((
            Output::Text(render_query(&report, args.output)),
            u8::from(!report.allowed),
        ));
    }
    let model = Model::new(&workloads, Vec::new()).map_err(|e| e.to_string())?;
    if let Some(old) = old {
        let old = Evaluator::new(&old).map_err(|e| format!("the policies compared with: {e}"))?;
        let report = reach::diff(&model, &old, &evaluator);
        return Ok((Output::Text(render_diff(&report, args.output)), 0));
    }
    Ok((Output::Map(reach::map(&model, &evaluator)), 0))
}

/// A warning for each named port of `policies`' rules that no workload of `model` exposes
/// (none when there are no workloads: nothing is exposed then).
fn warn_unexposed_named_ports(
    model: &Model,
    policies: &[netpol_policy::NetworkPolicy],
) -> Result<(), String> {
    if model.is_empty() {
        return Ok(());
    }
    let evaluator = Evaluator::new(policies).map_err(|e| e.to_string())?;
    for (rule, name, protocol) in model.unexposed_named_ports(&evaluator) {
        eprintln!(
            "WARNING  {rule} names port {name:?} ({}), which no workload exposes: it allows nothing there",
            protocol.as_str()
        );
    }
    Ok(())
}

/// The workloads of the cluster a kubeconfig names (docs/reachability.md, "Workloads
/// from a live cluster"); pods that ended are counted on stderr.
fn live_workloads(
    kubeconfig: &std::path::Path,
    context: Option<&str>,
) -> Result<reach::workloads::Workloads, String> {
    let target = ClusterTarget {
        kubeconfig: Some(kubeconfig.to_path_buf()),
        context: context.map(str::to_string),
    };
    let rt = super::runtime().map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let workloads = rt.block_on(async {
        let (client, url) = connect(&target).await.map_err(|e| error_chain(&e))?;
        reach::live::workloads_from_cluster(&client)
            .await
            .map_err(|e| format!("{e} (the API server at {url})"))
    })?;
    if !workloads.skipped.is_empty() {
        eprintln!(
            "NOTE  left out: {} pods that ended (phase Succeeded or Failed)",
            workloads.skipped.len()
        );
    }
    Ok(workloads)
}

fn json(v: &impl serde::Serialize) -> String {
    format!(
        "{}\n",
        serde_json::to_string(v).expect("a report serialises: strings, numbers, lists")
    )
}

fn render_query(r: &QueryReport, format: ReachFormat) -> String {
    if format == ReachFormat::Json {
        return json(r);
    }
    let mut s = String::new();
    let verdict = if r.allowed { "ALLOWED" } else { "DENIED" };
    let what = format!("{}/{}", r.protocol, r.port);
    if format == ReachFormat::Md {
        let _ = writeln!(s, "**{verdict}** `{}` → `{}` ({what})\n", r.from, r.to);
    } else {
        let _ = writeln!(s, "{verdict}  {} -> {}  {what}", r.from, r.to);
    }
    for (label, end, side) in [
        ("egress ", &r.from, &r.egress),
        ("ingress", &r.to, &r.ingress),
    ] {
        let why = if !side.applies {
            "an address outside the cluster: no policy of its own".to_string()
        } else if !side.isolated {
            "not isolated: no policy selects it for this direction".to_string()
        } else if side.allowed {
            format!(
                "isolated by {}; allowed by {}",
                side.policies.join(", "),
                side.rules.join(", ")
            )
        } else {
            format!(
                "isolated by {}; no rule allows it",
                side.policies.join(", ")
            )
        };
        if format == ReachFormat::Md {
            let _ = writeln!(s, "- {} `{end}`: {why}", label.trim());
        } else {
            let _ = writeln!(s, "  {label} {end}: {why}");
        }
    }
    if format == ReachFormat::Md {
        let _ = writeln!(s, "- every port allowed: {}", r.allowed_ports);
    } else {
        let _ = writeln!(s, "  every port allowed: {}", r.allowed_ports);
    }
    for range in r.ranges.iter().flatten() {
        let verdict = if range.allowed { "allowed" } else { "denied" };
        if format == ReachFormat::Md {
            let _ = writeln!(
                s,
                "- `{}`: {verdict} (ports: {})",
                range.range, range.allowed_ports
            );
        } else {
            let _ = writeln!(
                s,
                "  range {}: {verdict}  (ports: {})",
                range.range, range.allowed_ports
            );
        }
    }
    s
}

/// `nodes` first, in order, then any end of a connection they do not name.
fn mermaid(connections: &[(&str, &str, String)], nodes: &[String]) -> String {
    let mut ids: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut order: Vec<&str> = Vec::new();
    let names = nodes
        .iter()
        .map(String::as_str)
        .chain(connections.iter().flat_map(|(f, t, _)| [*f, *t]));
    for n in names {
        if !ids.contains_key(n) {
            ids.insert(n, order.len());
            order.push(n);
        }
    }
    let mut s = String::from("flowchart LR\n");
    for (i, n) in order.iter().enumerate() {
        let _ = writeln!(s, "  n{i}[\"{}\"]", n.replace('"', "'"));
    }
    for (from, to, label) in connections {
        let _ = writeln!(
            s,
            "  n{} -->|\"{}\"| n{}",
            ids[from],
            label.replace('"', "'"),
            ids[to]
        );
    }
    s
}

fn dot(connections: &[(&str, &str, String)]) -> String {
    let mut s = String::from("digraph reach {\n  rankdir=LR;\n");
    for (from, to, label) in connections {
        let _ = writeln!(s, "  {:?} -> {:?} [label={:?}];", from, to, label);
    }
    s.push_str("}\n");
    s
}

fn write_map(
    r: &MapReport,
    format: ReachFormat,
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    let edges = || -> Vec<(&str, &str, String)> {
        r.connections()
            .map(|(f, t, p)| (f, t, p.to_string()))
            .collect()
    };
    let nodes = || -> Vec<String> { r.workloads.iter().chain(&r.addresses).cloned().collect() };
    match format {
        ReachFormat::Json => {
            serde_json::to_writer(&mut *out, r)?;
            writeln!(out)
        }
        ReachFormat::Dot => out.write_all(dot(&edges()).as_bytes()),
        ReachFormat::Mermaid => out.write_all(mermaid(&edges(), &nodes()).as_bytes()),
        ReachFormat::Md => {
            writeln!(
                out,
                "### Reachability: {} workloads, {} address ranges, {} paths\n\n| from | to | ports |\n| --- | --- | --- |",
                r.workloads.len(),
                r.addresses.len(),
                r.len()
            )?;
            for (from, to, ports) in r.connections() {
                writeln!(out, "| `{from}` | `{to}` | {ports} |")?;
            }
            write!(out, "\n```mermaid\n{}```\n", mermaid(&edges(), &nodes()))
        }
        ReachFormat::Text => {
            writeln!(
                out,
                "{} workloads, {} address ranges, {} paths allowed",
                r.workloads.len(),
                r.addresses.len(),
                r.len()
            )?;
            for (from, to, ports) in r.connections() {
                writeln!(out, "  {from} -> {to}  {ports}")?;
            }
            Ok(())
        }
    }
}

fn render_diff(r: &DiffReport, format: ReachFormat) -> String {
    let mut all: Vec<(&str, &str, String)> = Vec::new();
    for c in &r.added {
        all.push((&c.from, &c.to, format!("+ {}", c.ports)));
    }
    for c in &r.removed {
        all.push((&c.from, &c.to, format!("- {}", c.ports)));
    }
    for c in &r.changed {
        all.push((&c.from, &c.to, format!("{} → {}", c.before, c.after)));
    }
    let mut nodes: Vec<String> = all
        .iter()
        .flat_map(|(f, t, _)| [f.to_string(), t.to_string()])
        .collect();
    nodes.sort();
    nodes.dedup();
    match format {
        ReachFormat::Json => json(r),
        ReachFormat::Dot => dot(&all),
        ReachFormat::Mermaid => mermaid(&all, &nodes),
        ReachFormat::Md => {
            let mut s = format!(
                "### Reachability diff: {} opened, {} closed, {} changed\n\n",
                r.added.len(),
                r.removed.len(),
                r.changed.len()
            );
            if !all.is_empty() {
                s.push_str("| | from | to | ports |\n| --- | --- | --- | --- |\n");
                for c in &r.added {
                    let _ = writeln!(s, "| opened | `{}` | `{}` | {} |", c.from, c.to, c.ports);
                }
                for c in &r.removed {
                    let _ = writeln!(s, "| closed | `{}` | `{}` | {} |", c.from, c.to, c.ports);
                }
                for c in &r.changed {
                    let _ = writeln!(
                        s,
                        "| changed | `{}` | `{}` | {} → {} |",
                        c.from, c.to, c.before, c.after
                    );
                }
                let _ = write!(s, "\n```mermaid\n{}```\n", mermaid(&all, &nodes));
            }
            s
        }
        ReachFormat::Text => diff_text(r),
    }
}

/// A diff as text: its counts, then a line per path (`+` opened, `-` closed, `~` changed).
pub(super) fn diff_text(r: &DiffReport) -> String {
    let mut s = format!(
        "{} opened, {} closed, {} changed\n",
        r.added.len(),
        r.removed.len(),
        r.changed.len()
    );
    for c in &r.added {
        let _ = writeln!(s, "  + {} -> {}  {}", c.from, c.to, c.ports);
    }
    for c in &r.removed {
        let _ = writeln!(s, "  - {} -> {}  {}", c.from, c.to, c.ports);
    }
    for c in &r.changed {
        let _ = writeln!(s, "  ~ {} -> {}  {} => {}", c.from, c.to, c.before, c.after);
    }
    s
}

fn render_exposure(r: &ExposureReport, format: ReachFormat) -> String {
    let mut s = String::new();
    match format {
        ReachFormat::Json => return json(r),
        ReachFormat::Md => {
            let _ = writeln!(
                s,
                "### Exposure: {} workloads\n\n| workload | direction | peer | ports | rules |\n| --- | --- | --- | --- | --- |",
                r.workloads.len()
            );
            for w in &r.workloads {
                for (dir, list) in [("ingress", &w.ingress), ("egress", &w.egress)] {
                    if list.is_empty() {
                        let _ = writeln!(s, "| `{}` | {dir} | nothing | | |", w.workload);
                    }
                    for e in list {
                        let _ = writeln!(
                            s,
                            "| `{}` | {dir} | {} | {} | {} |",
                            w.workload,
                            e.peer,
                            e.ports,
                            e.rules.join(", ")
                        );
                    }
                }
            }
        }
        // dot and mermaid are refused before the analysis runs.
        ReachFormat::Text | ReachFormat::Dot | ReachFormat::Mermaid => {
            let _ = writeln!(s, "{} workloads", r.workloads.len());
            for w in &r.workloads {
                let _ = writeln!(s, "  {}", w.workload);
                for (dir, arrow, list) in [
                    ("ingress", "from", &w.ingress),
                    ("egress ", "to  ", &w.egress),
                ] {
                    if list.is_empty() {
                        let _ = writeln!(s, "    {dir} {arrow} nothing");
                    }
                    for e in list {
                        let rules = if e.rules.is_empty() {
                            String::new()
                        } else {
                            format!("  ({})", e.rules.join(", "))
                        };
                        let _ = writeln!(s, "    {dir} {arrow} {}  {}{rules}", e.peer, e.ports);
                    }
                }
            }
        }
    }
    s
}
