//! `reachability:` assertions in bundle.yaml (docs/bundles.md, "Reachability assertions"):
//! `verify`, `plan` and `sync` evaluate them against the revision's policies, refuse a
//! revision that breaks one with `reachability-violated`, and leave the cluster untouched.

use crate::sync_support;

use sync_support::*;

/// payments: every pod isolated for ingress, port 8443 (`api`) open to every peer.
fn shop(api_port: Option<u16>, reachability: &str) -> BundleSpec {
    let mut policies = vec![
        ("frontend", "default-deny", 1),
        ("payments", "default-deny", 1),
    ];
    if let Some(port) = api_port {
        policies.push(("payments", "api", port));
    }
    let mut spec = BundleSpec::new("shop", &["frontend", "payments"], &policies);
    spec.reachability = reachability.to_string();
    spec
}

const ASSERTIONS: &str = "  - name: web-never-reaches-db
    expect: deny
    from: {namespace: frontend, podLabels: {app: web}}
    to: {namespace: payments, podLabels: {app: db}}
    ports: [{port: 5432}]
  - name: web-reaches-the-api
    expect: allow
    from: {namespace: frontend, podLabels: {app: web}}
    to: {namespace: payments, podLabels: {app: api}}
    ports: [{protocol: TCP, port: 8443}]
";

#[test]
fn a_revision_that_opens_a_forbidden_path_is_refused_everywhere_and_the_cluster_is_untouched() {
    let cluster = Cluster::start(&["frontend", "payments"]);
    let repo = PolicyRepo::new();
    repo.revision(&[shop(Some(8443), ASSERTIONS)], "shop with assertions");
    let v1 = sync(&repo, &cluster, &[]);
    assert_eq!(v1.code, 0, "{}\n{}", v1.json, v1.stderr);
    assert_eq!(v1.json["verdict"], "applied");
    let applied = cluster.policy_hashes();

    // The api moves to the database's port: every pod of payments now takes 5432.
    let opened = repo.revision(&[shop(Some(5432), ASSERTIONS)], "api on 5432");
    let mark = cluster.write_mark();
    for run in [
        verify(&repo),
        plan(&repo, &cluster, &[]),
        sync(&repo, &cluster, &[]),
    ] {
        assert_eq!(run.code, 1, "{}\n{}", run.json, run.stderr);
        assert_eq!(run.json["verdict"], "rejected", "{}", run.json);
        assert_eq!(run.json["reason"], "reachability-violated", "{}", run.json);
        assert_eq!(run.json["revision"], opened.as_str());
        assert_eq!(run.json["location"]["bundle"], "shop");
        assert_eq!(run.json["location"]["file"], "bundle.yaml");
        assert_eq!(run.json["location"]["field"], "reachability[0]");
        let message = run.json["message"].as_str().unwrap();
        for needle in [
            "`web-never-reaches-db`",
            "frontend/app=web → payments/app=db TCP 5432 is allowed",
            "egress: no policy isolates frontend/app=web",
            "ingress: allowed by payments/api ingress[0]",
            // The allow on 8443 broke too, and is named.
            "also broken: `web-reaches-the-api` (shop)",
        ] {
            assert!(message.contains(needle), "{needle:?} not in {message}");
        }
    }
    assert_eq!(cluster.policy_writes_since(mark), Vec::<String>::new());
    assert_eq!(cluster.policy_hashes(), applied);

    // Without the api, the path the bundle requires is closed.
    repo.revision(&[shop(None, ASSERTIONS)], "drop the api");
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.json["reason"], "reachability-violated", "{}", run.json);
    assert_eq!(run.json["location"]["field"], "reachability[1]");
    let message = run.json["message"].as_str().unwrap();
    assert!(
        message.contains("frontend/app=web → payments/app=api TCP 8443 is denied"),
        "{message}"
    );
    assert!(
        message.contains(
            "ingress: payments/app=api is isolated by payments/default-deny and no rule allows it"
        ),
        "{message}"
    );
    assert_eq!(cluster.policy_hashes(), applied);

    // Putting the api back on 8443 keeps both: the revision is accepted, and as its
    // policies are the applied ones, nothing is written.
    repo.revision(&[shop(Some(8443), ASSERTIONS)], "api back on 8443");
    let run = sync(&repo, &cluster, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    assert_eq!(run.json["verdict"], "unchanged", "{}", run.json);
    assert_eq!(cluster.policy_writes_since(mark), Vec::<String>::new());
}

#[test]
fn an_address_range_end_is_broken_by_any_address_of_it() {
    // No egress policy: the database may reach every address, 192.0.2.7 included.
    let repo = PolicyRepo::new();
    let deny = "  - name: db-stays-inside
    expect: deny
    from: {namespace: payments, podLabels: {app: db}}
    to: {cidr: 192.0.2.0/24}
";
    repo.revision(&[shop(Some(8443), deny)], "db egress open");
    let run = verify(&repo);
    assert_eq!(run.json["reason"], "reachability-violated", "{}", run.json);
    let message = run.json["message"].as_str().unwrap();
    assert!(
        message.contains("payments/app=db → 192.0.2.0 TCP 1 is allowed"),
        "{message}"
    );

    // An allow towards a range needs every address of it: here, ingress from outside to
    // the api is open on 8443 to every address, so it holds; on 9000 it does not.
    let allow = "  - name: partners-reach-the-api
    expect: allow
    from: {cidr: 198.51.100.0/24}
    to: {namespace: payments, podLabels: {app: api}}
    ports: [{port: 8443}]
";
    repo.revision(&[shop(Some(8443), allow)], "api open to partners");
    let run = verify(&repo);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    assert_eq!(run.json["verdict"], "verified", "{}", run.json);
    repo.revision(
        &[shop(Some(8443), &allow.replace("8443", "9000"))],
        "partners on 9000",
    );
    let run = verify(&repo);
    assert_eq!(run.json["reason"], "reachability-violated", "{}", run.json);
    let message = run.json["message"].as_str().unwrap();
    assert!(
        message.contains("198.51.100.0 → payments/app=api TCP 9000 is denied"),
        "{message}"
    );
}

#[test]
fn a_malformed_assertion_is_manifest_invalid() {
    let repo = PolicyRepo::new();
    let broken = "  - name: no-ports
    expect: allow
    from: {namespace: frontend}
    to: {namespace: payments}
";
    repo.revision(&[shop(Some(8443), broken)], "allow without ports");
    let run = verify(&repo);
    assert_eq!(run.code, 1, "{}\n{}", run.json, run.stderr);
    assert_eq!(run.json["reason"], "manifest-invalid", "{}", run.json);
    assert_eq!(run.json["location"]["field"], "reachability[0].ports");
}
