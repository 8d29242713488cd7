//! `netpol-sync check` as a pull-request job runs it (docs/check.md): on a working tree
//! with real signatures (`ssh-keygen`), a real git history for `--base`, and the
//! published SARIF 2.1.0 schema for `--output sarif` (scripts/sarif-schema.sh).

use crate::sync_support::{netpol_sync, BundleSpec, PolicyRepo, Run};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn check(dir: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["check".to_string(), dir.display().to_string()];
    args.extend(extra.iter().map(|s| s.to_string()));
    netpol_sync(&args)
}

fn check_json(dir: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["--output", "json"];
    args.extend(extra);
    let run = check(dir, &args);
    assert!(
        run.json.is_object(),
        "JSON expected: {}\n{}",
        run.stdout,
        run.stderr
    );
    (run.code, run.json)
}

fn findings(report: &Value, rule: &str) -> Vec<Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == rule)
        .cloned()
        .collect()
}

fn shop() -> BundleSpec {
    BundleSpec::new("shop", &["a", "b"], &[("a", "api", 8443), ("b", "web", 80)])
}

fn signed_repo() -> PolicyRepo {
    let repo = PolicyRepo::new();
    repo.revision(&[shop()], "shop");
    repo
}

fn netpol_sync_in(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(crate::support::netpol_sync_bin())
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .env_remove("SSH_AUTH_SOCK")
        .output()
        .unwrap()
}

fn line_of(text: &str, prefix: &str) -> usize {
    text.lines().position(|l| l.starts_with(prefix)).unwrap() + 1
}

#[test]
fn a_change_goes_from_stale_seal_to_needing_a_signature_to_signed() {
    let repo = signed_repo();
    let dir = repo.path();
    let (code, report) = check_json(dir, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["bundles"][0]["sealed"], true);
    assert_eq!(
        report["bundles"][0]["signed_by"],
        serde_json::json!([repo.key.principal])
    );
    assert!(findings(&report, "signature-needed").is_empty(), "{report}");

    // An edit without a seal: verify would refuse it, so check fails.
    let policy = dir.join("bundles/shop/a/api.yaml");
    let text = std::fs::read_to_string(&policy).unwrap();
    std::fs::write(&policy, text.replace("8443", "9443")).unwrap();
    let (code, report) = check_json(dir, &[]);
    assert_eq!(code, 1, "{report}");
    let stale = findings(&report, "seal-stale");
    assert_eq!(stale.len(), 1, "{report}");
    let manifest = std::fs::read_to_string(dir.join("bundles/shop/bundle.yaml")).unwrap();
    assert_eq!(stale[0]["location"]["file"], "bundles/shop/bundle.yaml");
    assert_eq!(stale[0]["location"]["line"], line_of(&manifest, "files:"));
    assert!(
        stale[0]["message"]
            .as_str()
            .unwrap()
            .contains("changed: a/api.yaml"),
        "{}",
        stale[0]
    );

    // Sealed, not yet signed: a warning naming who may sign; an error only on request.
    let sealed = netpol_sync_in(dir, &["bundle", "seal", "bundles/shop"]);
    assert!(sealed.status.success());
    let (code, report) = check_json(dir, &[]);
    assert_eq!(code, 0, "warnings do not fail by default: {report}");
    let needed = findings(&report, "signature-needed");
    assert_eq!(needed.len(), 1, "{report}");
    assert!(
        needed[0]["message"]
            .as_str()
            .unwrap()
            .contains(&repo.key.principal),
        "{}",
        needed[0]
    );
    assert_eq!(findings(&report, "signature-invalid").len(), 1, "{report}");
    assert_eq!(report["bundles"][0]["needs_signing"], true);
    assert_eq!(check(dir, &["--fail-on", "warning"]).code, 1);

    let signed = netpol_sync_in(
        dir,
        &[
            "bundle",
            "sign",
            "bundles/shop",
            "--key",
            &repo.key.private.display().to_string(),
        ],
    );
    assert!(
        signed.status.success(),
        "{}",
        String::from_utf8_lossy(&signed.stderr)
    );
    let (_, report) = check_json(dir, &[]);
    assert!(findings(&report, "signature-needed").is_empty(), "{report}");
    assert_eq!(report["bundles"][0]["needs_signing"], false);
    assert_eq!(
        report["commit_signers"],
        serde_json::json!([repo.key.principal])
    );
}

const PODS: &str = "apiVersion: v1
kind: Pod
metadata: {name: api, namespace: a, labels: {app: api}}
spec:
  containers: [{name: c, image: x, ports: [{containerPort: 8443}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: b, labels: {app: web}}
spec:
  containers: [{name: c, image: x}]
";

#[test]
fn against_a_base_it_says_which_bundles_changed_and_what_the_change_opens() {
    let repo = signed_repo();
    let dir = repo.path();
    let workloads = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(workloads.path(), PODS).unwrap();
    let policy = dir.join("bundles/shop/a/api.yaml");
    let text = std::fs::read_to_string(&policy).unwrap();
    std::fs::write(&policy, text.replace("8443", "9443")).unwrap();
    assert!(netpol_sync_in(dir, &["bundle", "seal", "bundles/shop"])
        .status
        .success());
    let w = workloads.path().display().to_string();
    let (_, report) = check_json(dir, &["--base", "HEAD", "--workloads", &w]);
    assert_eq!(report["bundles"][0]["changed"], true, "{report}");
    let changed = report["reachability"]["changed"].as_array().unwrap();
    assert!(
        changed.iter().any(|c| c["from"] == "b/web"
            && c["to"] == "a/api"
            && c["before"] == "TCP 8443"
            && c["after"] == "TCP 9443"),
        "{report}"
    );
    let md = check(
        dir,
        &["--base", "HEAD", "--workloads", &w, "--output", "md"],
    );
    assert!(md.stdout.starts_with("### "), "{}", md.stdout);
    assert!(
        md.stdout
            .contains("| changed | `b/web` | `a/api` | TCP 8443 → TCP 9443 |"),
        "{}",
        md.stdout
    );
    assert!(md.stdout.contains("`signature-needed`"), "{}", md.stdout);
    // Without workloads the diff is named as missing, not silently empty.
    let (_, report) = check_json(dir, &["--base", "HEAD"]);
    assert!(report["reachability"].is_null());
    assert!(report["reachability_note"]
        .as_str()
        .unwrap()
        .contains("--workloads"));
    // A base that is no revision is a usage error.
    assert_eq!(check(dir, &["--base", "no-such-rev"]).code, 2);
}

#[test]
fn sarif_output_is_valid_against_the_published_schema() {
    let repo = signed_repo();
    let dir = repo.path();
    // Findings of each kind: a stale seal, an invalid policy, an unknown ignore.
    std::fs::write(
        dir.join("bundles/shop/b/extra.yaml"),
        "kind: NetworkPolicy\n",
    )
    .unwrap();
    let run = check(dir, &["--output", "sarif"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let log: Value = serde_json::from_str(&run.stdout).unwrap();
    let path = Command::new("bash")
        .args(["scripts/sarif-schema.sh", "--path"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let path = String::from_utf8(path.stdout).unwrap();
    let schema_text = std::fs::read_to_string(path.trim()).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; scripts/setup.sh fetches it (scripts/sarif-schema.sh)",
            path.trim()
        )
    });
    let mut schema: Value = serde_json::from_str(&schema_text).unwrap();
    // The published `language` patterns have a stray `]`, a literal to ECMA-262 (the
    // schema's regex dialect) that the Rust regex engines refuse: escaped, they mean the
    // same and compile.
    let escaped = escape_stray_bracket(&mut schema);
    assert_eq!(escaped, 2, "run.language and toolComponent.language");
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(&log).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}\n{}", run.stdout);
    // The schema is not vacuous here: a log without `version` is refused.
    let mut broken = log.clone();
    broken.as_object_mut().unwrap().remove("version");
    assert!(!validator.is_valid(&broken));

    let results = log["runs"][0]["results"].as_array().unwrap();
    let rules = log["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap();
    let invalid = results
        .iter()
        .find(|r| r["ruleId"] == "policy-invalid")
        .expect("the invalid policy is a result");
    assert_eq!(invalid["level"], "error");
    assert_eq!(
        invalid["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "bundles/shop/b/extra.yaml"
    );
    assert_eq!(
        invalid["locations"][0]["physicalLocation"]["region"]["startLine"],
        1
    );
    let index = invalid["ruleIndex"].as_u64().unwrap() as usize;
    assert_eq!(rules[index]["id"], "policy-invalid");
}

#[test]
fn bad_input_is_named_and_every_other_finding_still_reported() {
    let repo = PolicyRepo::new();
    let dir = repo.path();
    // No bundles at all.
    let (code, report) = check_json(dir, &[]);
    assert_eq!(code, 1);
    assert_eq!(findings(&report, "no-bundles").len(), 1, "{report}");

    repo.revision(
        &[
            shop(),
            BundleSpec::new("other", &["c"], &[("c", "deny", 1)]),
        ],
        "two bundles",
    );
    // One bundle.yaml that does not parse, a policy that is not a NetworkPolicy in the
    // other, a key line that is no key, an ignore naming no rule.
    std::fs::write(dir.join("bundles/other/bundle.yaml"), "apiVersion: [\n").unwrap();
    std::fs::write(
        dir.join("bundles/shop/a/api.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: a}\n",
    )
    .unwrap();
    let manifest_path = dir.join("bundles/shop/bundle.yaml");
    let manifest = std::fs::read_to_string(&manifest_path).unwrap();
    std::fs::write(
        &manifest_path,
        format!("{manifest}lint:\n  ignore: [no-such-rule]\n"),
    )
    .unwrap();
    let keys = dir.join("keys/allowed_signers");
    let mut k = std::fs::read_to_string(&keys).unwrap();
    k.push_str("mallory@example.com ssh-ed25519 not-base64!\n");
    std::fs::write(&keys, k).unwrap();

    let (code, report) = check_json(dir, &[]);
    assert_eq!(code, 1, "{report}");
    let manifest_invalid = findings(&report, "manifest-invalid");
    assert_eq!(manifest_invalid.len(), 1, "{report}");
    assert_eq!(
        manifest_invalid[0]["location"]["file"],
        "bundles/other/bundle.yaml"
    );
    let policy_invalid = findings(&report, "policy-invalid");
    assert_eq!(policy_invalid.len(), 1, "{report}");
    assert_eq!(
        policy_invalid[0]["location"]["file"],
        "bundles/shop/a/api.yaml"
    );
    assert_eq!(
        findings(&report, "allowed-signers-invalid").len(),
        1,
        "{report}"
    );
    assert_eq!(findings(&report, "unknown-ignore").len(), 1, "{report}");
    // The seal of shop is stale (bundle.yaml and a policy changed), and still said.
    assert_eq!(findings(&report, "seal-stale").len(), 1, "{report}");

    // A path that is no directory is a usage error.
    assert_eq!(check(&dir.join("absent"), &[]).code, 2);
}

#[test]
fn a_broken_reachability_assertion_is_an_error() {
    let repo = PolicyRepo::new();
    let mut spec = shop();
    // a's pods take ingress on 8443 from anyone: b's web can reach a's api.
    spec.reachability = "  - name: web-never-reaches-api
    expect: deny
    from: {namespace: b, podLabels: {app: web}}
    to: {namespace: a, podLabels: {app: api}}
"
    .into();
    repo.revision(&[spec], "assert");
    let (code, report) = check_json(repo.path(), &[]);
    assert_eq!(code, 1, "{report}");
    let v = findings(&report, "reachability-violated");
    assert_eq!(v.len(), 1, "{report}");
    assert!(
        v[0]["message"]
            .as_str()
            .unwrap()
            .contains("web-never-reaches-api"),
        "{}",
        v[0]
    );
}

/// Replace the one pattern of the SARIF schema Rust's regex engines refuse with its
/// escaped equivalent, everywhere; how many were replaced.
fn escape_stray_bracket(v: &mut Value) -> usize {
    const STRAY: &str = "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$";
    match v {
        Value::Object(m) => m
            .iter_mut()
            .map(|(k, v)| {
                if k == "pattern" && v == STRAY {
                    *v = Value::from("^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}\\]?$");
                    1
                } else {
                    escape_stray_bracket(v)
                }
            })
            .sum(),
        Value::Array(a) => a.iter_mut().map(escape_stray_bracket).sum(),
        _ => 0,
    }
}

#[test]
fn progress_is_drawn_on_a_terminal_only() {
    let repo = PolicyRepo::new();
    let policies: Vec<(String, String, u16)> = (0..300)
        .map(|i| ("a".to_string(), format!("p{i}"), 1000 + i as u16))
        .collect();
    let refs: Vec<(&str, &str, u16)> = policies
        .iter()
        .map(|(n, p, port)| (n.as_str(), p.as_str(), *port))
        .collect();
    repo.revision(&[BundleSpec::new("big", &["a"], &refs)], "big");
    let bin = crate::support::netpol_sync_bin();
    // `script` gives the command a terminal and copies what it draws there.
    let on_terminal = |extra: &str| {
        let out = Command::new("script")
            .args(["-qfec"])
            .arg(format!(
                "{} check {} {extra} > /dev/null",
                bin.display(),
                repo.path().display()
            ))
            .arg("/dev/null")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(
        on_terminal("").contains("checking policy files"),
        "a person at a terminal sees progress"
    );
    assert!(
        !on_terminal("--output json").contains("checking policy files"),
        "JSON output draws nothing"
    );
    let piped = check(repo.path(), &[]);
    assert!(
        !piped.stderr.contains("checking policy files"),
        "no terminal, no progress: {}",
        piped.stderr
    );
}
