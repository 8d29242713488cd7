//! The CI recipes of docs/ci.md are what a team copies: every `netpol-sync` command in the
//! GitHub workflow, the GitLab job and .pre-commit-hooks.yaml must be one the command
//! line takes, and the seal hook must stop a commit whose bundle is not sealed.

use crate::sync_support::{BundleSpec, PolicyRepo};
use clap::Parser;
use netpol_sync::cli::Cli;
use serde_yaml::Value;
use std::path::Path;

fn repo_file(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every `netpol-sync …` invocation in a shell snippet: its arguments up to a
/// redirection, a pipe or a `||`/`&&`/`;`.
fn invocations(shell: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for line in shell.lines() {
        let Some(words) = shlex::split(line) else {
            panic!("not shell words: {line}");
        };
        let mut i = 0;
        while i < words.len() {
            if words[i] == "netpol-sync"
                && (i == 0 || ["||", "&&", ";"].contains(&words[i - 1].as_str()))
            {
                let args: Vec<String> = words[i..]
                    .iter()
                    .take_while(|w| {
                        !matches!(w.as_str(), ">" | "|" | "||" | "&&" | ";") && !w.starts_with('>')
                    })
                    .cloned()
                    .collect();
                out.push(args);
            }
            i += 1;
        }
    }
    out
}

fn parses(args: &[String], whence: &str) {
    if let Err(e) = Cli::try_parse_from(args) {
        panic!(
            "{whence}: `{}` is not a command netpol-sync takes:\n{e}",
            args.join(" ")
        );
    }
}

#[test]
fn every_netpol_sync_command_in_the_recipes_is_one_the_command_line_takes() {
    let mut seen = 0;
    let github: Value = serde_yaml::from_str(&repo_file("docs/ci/github-workflow.yml")).unwrap();
    for step in github["jobs"]["check"]["steps"].as_sequence().unwrap() {
        if let Some(run) = step["run"].as_str() {
            for args in invocations(run) {
                parses(&args, "docs/ci/github-workflow.yml");
                seen += 1;
            }
        }
    }
    let gitlab: Value = serde_yaml::from_str(&repo_file("docs/ci/gitlab-ci.yml")).unwrap();
    for line in gitlab["netpol-sync-check"]["script"].as_sequence().unwrap() {
        for args in invocations(line.as_str().unwrap()) {
            parses(&args, "docs/ci/gitlab-ci.yml");
            seen += 1;
        }
    }
    let hooks: Value = serde_yaml::from_str(&repo_file(".pre-commit-hooks.yaml")).unwrap();
    for hook in hooks.as_sequence().unwrap() {
        let entry = hook["entry"].as_str().unwrap();
        match hook["language"].as_str().unwrap() {
            "system" => {
                let args = invocations(entry);
                assert_eq!(args.len(), 1, "{entry}");
                parses(&args[0], ".pre-commit-hooks.yaml");
                seen += 1;
            }
            "script" => {
                let script = repo_file(entry);
                for args in invocations(&script) {
                    parses(&args, entry);
                    seen += 1;
                }
            }
            other => panic!("hook language {other}"),
        }
    }
    // Two checks in each CI file, the check hook, the seal hook's script.
    assert_eq!(seen, 6, "the recipes' netpol-sync commands");
    // A flag the command line does not take is caught.
    let bad: Vec<String> = ["netpol-sync", "check", ".", "--fail-on", "never"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert!(Cli::try_parse_from(&bad).is_err());
}

#[test]
fn the_seal_hook_stops_a_commit_whose_bundle_is_not_sealed() {
    let repo = PolicyRepo::new();
    repo.revision(
        &[BundleSpec::new("shop", &["a"], &[("a", "api", 8443)])],
        "shop",
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pre-commit-seal-check.sh");
    let bin_dir = crate::support::netpol_sync_bin()
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap());
    let hook = |files: &[&str]| {
        std::process::Command::new("bash")
            .arg(&script)
            .args(files)
            .current_dir(repo.path())
            .env("PATH", &path)
            .output()
            .unwrap()
    };
    assert!(hook(&["bundles/shop/a/api.yaml"]).status.success());
    std::fs::write(
        repo.path().join("bundles/shop/a/api.yaml"),
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: api, namespace: a}\nspec: {podSelector: {}}\n",
    )
    .unwrap();
    let stopped = hook(&["bundles/shop/a/api.yaml", "README.md"]);
    assert_eq!(stopped.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&stopped.stdout).contains("a/api.yaml"),
        "{}",
        String::from_utf8_lossy(&stopped.stdout)
    );
    // Files outside bundles/ start no check.
    assert!(hook(&["keys/allowed_signers"]).status.success());
}
