//! `netpol-sync reach` end to end: the example bundle over the example workloads (a
//! draft, `--policies`), a verified revision and a diff between two revisions (signed
//! by the real `git commit -S`), label queries without workloads, every output, and bad
//! input that must be an error naming what is wrong, never a silent "allowed".

use crate::support::run_netpol_sync;
use crate::sync_support::{BundleSpec, PolicyRepo};
use serde_json::Value;

fn root(p: &str) -> String {
    format!("{}/{p}", env!("CARGO_MANIFEST_DIR"))
}

fn shop(extra: &[&str]) -> (i32, String, String) {
    let policies = root("bundles/shop");
    let workloads = root("examples/shop-workloads.yaml");
    let mut args = vec!["reach", "--policies", &policies, "--workloads", &workloads];
    args.extend_from_slice(extra);
    run_netpol_sync(&args)
}

#[test]
fn a_query_says_allowed_or_denied_and_names_the_deciding_rules_on_each_side() {
    let (code, out, err) = shop(&[
        "--from",
        "frontend/web",
        "--to",
        "checkout/checkout-api",
        "--port",
        "8080",
        "--output",
        "json",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["allowed"], true);
    assert_eq!(v["from"], "frontend/web");
    assert_eq!(v["to"], "checkout/checkout-api");
    assert_eq!(v["protocol"], "TCP");
    assert_eq!(v["port"], 8080);
    assert_eq!(
        v["egress"]["rules"][0],
        "frontend/web-to-checkout egress[0]"
    );
    assert_eq!(
        v["ingress"]["rules"][0],
        "checkout/checkout-api-from-web ingress[0]"
    );
    assert_eq!(v["allowed_ports"], "TCP 8080");

    // The web frontend may not reach payments: both sides say so, and the exit code too.
    let (code, out, _) = shop(&[
        "--from",
        "frontend/web",
        "--to",
        "payments/payments-api",
        "--port",
        "8443",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.starts_with("DENIED  frontend/web -> payments/payments-api  TCP/8443"),
        "{out}"
    );
    assert!(out.contains("no rule allows it"), "{out}");

    // DNS is allowed on both protocols, and a named port resolves on the destination.
    let (code, out, _) = shop(&[
        "--from",
        "payments/postgres",
        "--to",
        "kube-system/coredns",
        "--port",
        "53",
        "--protocol",
        "udp",
    ]);
    assert_eq!(code, 0, "{out}");
    let (code, out, _) = shop(&[
        "--from",
        "ingress-nginx/controller",
        "--to",
        "frontend/web",
        "--port",
        "8080",
    ]);
    assert_eq!(code, 0, "web's `http` is its container port 8080: {out}");
}

#[test]
fn pods_named_by_labels_need_no_workloads_and_an_address_is_an_end() {
    let policies = root("bundles/shop");
    let query = |from: &str, to: &str, port: &str| {
        run_netpol_sync(&[
            "reach",
            "--policies",
            &policies,
            "--from",
            from,
            "--to",
            to,
            "--port",
            port,
        ])
    };
    assert_eq!(
        query(
            "checkout/app=checkout-api",
            "payments/app=payments-api",
            "8443"
        )
        .0,
        0
    );
    assert_eq!(
        query("checkout/app=other", "payments/app=payments-api", "8443").0,
        1
    );
    assert_eq!(
        query("payments/app=payments-api", "203.0.113.10", "443").0,
        0
    );
    assert_eq!(
        query("payments/app=payments-api", "198.51.100.1", "443").0,
        1
    );
}

#[test]
fn the_map_lists_who_reaches_whom_and_every_output_renders_it() {
    let (code, out, err) = shop(&["--output", "json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let paths: Vec<(String, String, String)> = v["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["from"].as_str().unwrap().to_string(),
                c["to"].as_str().unwrap().to_string(),
                c["ports"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let has = |f: &str, t: &str| {
        paths
            .iter()
            .find(|p| p.0 == f && p.1 == t)
            .map(|p| p.2.clone())
    };
    assert_eq!(
        has("frontend/web", "checkout/checkout-api").as_deref(),
        Some("TCP 8080")
    );
    assert_eq!(
        has("checkout/checkout-api", "payments/payments-api").as_deref(),
        Some("TCP 8443")
    );
    assert_eq!(
        has("payments/payments-api", "payments/postgres").as_deref(),
        Some("TCP 5432")
    );
    assert_eq!(has("frontend/web", "payments/payments-api"), None);
    assert_eq!(has("frontend/web", "payments/postgres"), None);
    assert_eq!(v["workloads"].as_array().unwrap().len(), 6);
    assert!(
        v["addresses"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "203.0.113.0/25"),
        "{}",
        v["addresses"]
    );

    let (_, md, _) = shop(&["--output", "md"]);
    assert!(md.starts_with("### Reachability: 6 workloads"), "{md}");
    assert!(
        md.contains("| `frontend/web` | `checkout/checkout-api` | TCP 8080 |"),
        "{md}"
    );
    assert!(md.contains("```mermaid\nflowchart LR\n"), "{md}");
    let (_, dot, _) = shop(&["--output", "dot"]);
    assert!(
        dot.contains("\"frontend/web\" -> \"checkout/checkout-api\" [label=\"TCP 8080\"];"),
        "{dot}"
    );
    let (_, mermaid, _) = shop(&["--output", "mermaid"]);
    assert!(
        mermaid.starts_with("flowchart LR\n") && mermaid.contains("-->|\"TCP 8080\"|"),
        "{mermaid}"
    );
}

#[test]
fn a_diff_says_what_a_draft_opens() {
    let dir = tempfile::tempdir().unwrap();
    let open = dir.path().join("debug.yaml");
    std::fs::write(
        &open,
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: debug-allow-all, namespace: payments}\nspec:\n  podSelector: {}\n  ingress: [{}]\n",
    )
    .unwrap();
    let policies = root("bundles/shop");
    let workloads = root("examples/shop-workloads.yaml");
    let (code, out, err) = run_netpol_sync(&[
        "reach",
        "--policies",
        &policies,
        "--policies",
        open.to_str().unwrap(),
        "--diff-policies",
        &policies,
        "--workloads",
        &workloads,
        "--output",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let added = v["added"].as_array().unwrap();
    assert!(
        added.iter().any(|c| c["from"] == "ingress-nginx/controller"
            && c["to"] == "payments/payments-api"
            && c["ports"] == "all"),
        "{out}"
    );
    assert!(v["removed"].as_array().unwrap().is_empty(), "{out}");
    // checkout-api could reach payments-api on 8443 before; that stays as it was.
    assert!(
        !added
            .iter()
            .any(|c| c["from"] == "checkout/checkout-api" && c["to"] == "payments/payments-api"),
        "{out}"
    );
}

#[test]
fn a_verified_revision_and_a_diff_between_revisions() {
    let repo = PolicyRepo::new();
    let first = repo.revision(
        &[BundleSpec::new(
            "prod",
            &["payments"],
            &[("payments", "api", 8443)],
        )],
        "first",
    );
    repo.revision(
        &[BundleSpec::new(
            "prod",
            &["payments"],
            &[("payments", "api", 8443), ("payments", "metrics", 9090)],
        )],
        "second",
    );
    let dir = tempfile::tempdir().unwrap();
    let workloads = dir.path().join("w.yaml");
    std::fs::write(
        &workloads,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: api, namespace: payments, labels: {app: api}}\nspec: {containers: [{name: c, ports: [{containerPort: 8443}]}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: client, namespace: other}\nspec: {containers: [{name: c}]}\n",
    )
    .unwrap();
    let (path, anchor, w) = (
        repo.path().to_str().unwrap(),
        repo.anchor.to_str().unwrap(),
        workloads.to_str().unwrap(),
    );
    let (code, out, err) = run_netpol_sync(&[
        "reach",
        "--repo",
        path,
        "--trust-anchor",
        anchor,
        "--workloads",
        w,
        "--diff",
        &first,
    ]);
    assert_eq!(code, 0, "{err}");
    // Everything that reaches the api (the client, itself, any address) gains 9090.
    assert!(out.starts_with("0 opened, 0 closed, 4 changed"), "{out}");
    assert!(
        out.contains("~ 0.0.0.0/0 -> payments/api  TCP 8443 => TCP 8443,9090"),
        "{out}"
    );
    assert!(
        out.contains("~ other/client -> payments/api  TCP 8443 => TCP 8443,9090"),
        "{out}"
    );

    // An unsigned commit on top: the revision does not verify, and nothing is analysed.
    repo.repo.write("notes.txt", "x");
    repo.repo.commit_unsigned("unsigned");
    let (code, out, err) = run_netpol_sync(&[
        "reach",
        "--repo",
        path,
        "--trust-anchor",
        anchor,
        "--workloads",
        w,
    ]);
    assert_eq!(code, 2, "{out}");
    assert!(err.contains("does not verify (unsigned-commit)"), "{err}");
}

#[test]
fn bad_input_is_an_error_naming_it_never_an_answer() {
    let dir = tempfile::tempdir().unwrap();
    let policies = root("bundles/shop");
    let write = |name: &str, body: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        p.to_str().unwrap().to_string()
    };
    let bomb = write(
        "bomb.yaml",
        "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n",
    );
    let bad_labels = write(
        "labels.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: a, labels: {app: [1]}}\n",
    );
    let bad_port = write(
        "port.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {template: {spec: {containers: [{name: c, ports: [{containerPort: 70000}]}]}}}\n",
    );
    let twice = write(
        "twice.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\n",
    );
    let bad_policy = write(
        "policy.yaml",
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x, namespace: a}\nspec: {podSelector: {matchExpressions: [{key: k, operator: Near}]}}\n",
    );
    for (args, says) in [
        (vec!["--workloads", bomb.as_str()], "bomb.yaml"),
        (vec!["--workloads", bad_labels.as_str()], "not a string"),
        (vec!["--workloads", bad_port.as_str()], "not a port number"),
        (vec!["--workloads", twice.as_str()], "given twice"),
        (vec!["--policies", bad_policy.as_str()], "x"),
        (
            vec![
                "--from",
                "frontend/nothing-here",
                "--to",
                "payments/app=x",
                "--port",
                "80",
            ],
            "no workload frontend/nothing-here",
        ),
        (
            vec!["--from", "frontend/web", "--to", "payments/app=x"],
            "needs --port",
        ),
        (
            vec![
                "--from",
                "nonsense",
                "--to",
                "payments/app=x",
                "--port",
                "1",
            ],
            "neither",
        ),
        (
            vec!["--from", "10.0.0.1", "--to", "10.0.0.2", "--port", "1"],
            "both ends are addresses",
        ),
    ] {
        let mut all = vec!["reach", "--policies", policies.as_str()];
        all.extend(args.iter().copied());
        let (code, out, err) = run_netpol_sync(&all);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(out.is_empty(), "{args:?}: no answer on stdout: {out}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

/// Below a directory, symlinks are not followed: a link back up does not make the walk
/// endless, and a linked file is not read as the draft's own.
#[test]
fn symlinks_in_a_policies_directory_are_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let draft = dir.path().join("draft");
    std::fs::create_dir(&draft).unwrap();
    std::fs::write(
        draft.join("deny.yaml"),
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: a}\nspec: {podSelector: {}}\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(&draft, draft.join("loop")).unwrap();
    let outside = dir.path().join("outside.yaml");
    std::fs::write(
        &outside,
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: allow, namespace: a}\nspec: {podSelector: {}, ingress: [{}]}\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(&outside, draft.join("linked.yaml")).unwrap();
    let (code, out, err) = run_netpol_sync(&[
        "reach",
        "--policies",
        draft.to_str().unwrap(),
        "--from",
        "b/app=x",
        "--to",
        "a/app=y",
        "--port",
        "80",
    ]);
    assert_eq!(code, 1, "only deny.yaml is read: {out}{err}");
    assert!(
        out.contains("isolated by a/deny; no rule allows it"),
        "{out}"
    );
}

/// A query reads only the documents of its ends' namespaces; whatever it skips, its
/// answer is the map's for that pair, on every pair of the example and every port the
/// map lists. A broken document elsewhere stops the map but not the query (documented in
/// docs/reachability.md, "What a query reads").
#[test]
fn a_query_answers_what_the_map_says_and_reads_only_its_namespaces() {
    let (code, out, err) = shop(&["--output", "json"]);
    assert_eq!(code, 0, "{out}{err}");
    let map: Value = serde_json::from_str(&out).unwrap();
    let workloads: Vec<String> = map["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_string())
        .collect();
    assert!(workloads.len() >= 4, "{map}");
    let listed = |from: &str, to: &str| {
        map["connections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["from"] == from && c["to"] == to)
            .map(|c| c["ports"].as_str().unwrap().to_string())
    };
    for from in &workloads {
        for to in &workloads {
            let (code, out, err) = shop(&[
                "--from", from, "--to", to, "--port", "8443", "--output", "json",
            ]);
            assert!(code == 0 || code == 1, "{out}{err}");
            let q: Value = serde_json::from_str(&out).unwrap();
            let ports = q["allowed_ports"].as_str().unwrap();
            assert_eq!(
                listed(from, to).as_deref().unwrap_or("none"),
                ports,
                "{from} -> {to}"
            );
        }
    }

    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(
        root("examples/shop-workloads.yaml"),
        tmp.path().join("workloads.yaml"),
    )
    .unwrap();
    std::fs::write(
        tmp.path().join("elsewhere.yaml"),
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: x\n  namespace: elsewhere\nspec:\n  podSelector: {}\n  bogus: 1\n",
    )
    .unwrap();
    let policies = root("bundles/shop");
    let elsewhere = tmp.path().join("elsewhere.yaml").display().to_string();
    let workloads = tmp.path().join("workloads.yaml").display().to_string();
    let base = [
        "reach",
        "--policies",
        policies.as_str(),
        "--policies",
        elsewhere.as_str(),
        "--workloads",
        workloads.as_str(),
    ];
    let (code, out, err) = run_netpol_sync(&base);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("elsewhere.yaml") && err.contains("bogus"),
        "{err}"
    );
    let mut query = base.to_vec();
    query.extend([
        "--from",
        "frontend/web",
        "--to",
        "checkout/checkout-api",
        "--port",
        "8080",
    ]);
    let (code, out, err) = run_netpol_sync(&query);
    assert_eq!(code, 0, "{out}{err}");
}

/// A named port no workload exposes allows nothing: the map says so on stderr, naming
/// the rule, and still answers.
#[test]
fn a_named_port_no_workload_exposes_is_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let policy = tmp.path().join("p.yaml");
    std::fs::write(
        &policy,
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: web-in\n  namespace: frontend\nspec:\n  podSelector: {}\n  ingress:\n  - ports:\n    - port: metrics\n",
    )
    .unwrap();
    let workloads = root("examples/shop-workloads.yaml");
    let policies = policy.display().to_string();
    let (code, out, err) =
        run_netpol_sync(&["reach", "--policies", &policies, "--workloads", &workloads]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains(
            "WARNING  frontend/web-in ingress[0] names port \"metrics\" (TCP), which no workload exposes"
        ),
        "{err}"
    );
    // The example's own named port (`http`, which web exposes) gives no warning.
    let shop = root("bundles/shop");
    let (code, out, err) =
        run_netpol_sync(&["reach", "--policies", &shop, "--workloads", &workloads]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!err.contains("WARNING"), "{err}");
}

/// One directory given to both `--policies` and `--workloads` is read once and split by
/// kind: the answers are those of the same documents given apart.
#[test]
fn one_directory_for_policies_and_workloads_answers_as_two() {
    let tmp = tempfile::tempdir().unwrap();
    let both = tmp.path().join("both");
    std::fs::create_dir(&both).unwrap();
    // `<dir>-<file>` keeps the documents in the order the bundle's paths give them.
    for dir in ["checkout", "frontend", "payments"] {
        for entry in std::fs::read_dir(root(&format!("bundles/shop/{dir}"))).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            std::fs::copy(&path, both.join(format!("{dir}-{name}"))).unwrap();
        }
    }
    std::fs::copy(
        root("examples/shop-workloads.yaml"),
        both.join("workloads.yaml"),
    )
    .unwrap();
    let both = both.to_str().unwrap();
    for extra in [
        vec!["--output", "json"],
        vec![
            "--from",
            "frontend/web",
            "--to",
            "payments/postgres",
            "--port",
            "5432",
            "--output",
            "json",
        ],
        vec![
            "--from",
            "frontend/web",
            "--to",
            "checkout/checkout-api",
            "--port",
            "8080",
            "--output",
            "json",
        ],
    ] {
        let (apart_code, apart, err) = shop(&extra);
        assert!(apart_code <= 1, "{err}");
        let mut args = vec!["reach", "--policies", both, "--workloads", both];
        args.extend_from_slice(&extra);
        let (code, together, err) = run_netpol_sync(&args);
        assert_eq!(code, apart_code, "{err}");
        assert_eq!(
            serde_json::from_str::<Value>(&together).unwrap(),
            serde_json::from_str::<Value>(&apart).unwrap(),
            "{extra:?}"
        );
    }
}

/// `netpol-sync reach … | head`: the reader goes away, and the command ends quietly with
/// the status a process SIGPIPE killed would have (141), not a panic or an error: for
/// the streamed map and for a report printed whole (`check`).
#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    let shop_map = vec![
        "reach".to_string(),
        "--policies".into(),
        root("bundles/shop"),
        "--workloads".into(),
        root("examples/shop-workloads.yaml"),
    ];
    let check = vec!["check".to_string(), root("")];
    for args in [shop_map, check] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = std::process::Command::new(crate::support::netpol_sync_bin())
            .args(&args)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(141), "{args:?}: {stderr}");
        assert!(stderr.trim().is_empty(), "{args:?}: {stderr}");
    }
}
