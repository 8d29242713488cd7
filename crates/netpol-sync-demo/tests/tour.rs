//! `netpol-sync-demo`: the README's first command runs the whole tour against the embedded
//! emulator and exits 0 only when every step behaved; `--hold` leaves a cluster kubectl can
//! read.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_netpol-sync-demo")
}

/// The tour's output when every step behaved: exit 0, nine summary rows all `yes`.
fn tour(args: &[&str]) -> String {
    let out = Command::new(bin())
        .args(args)
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.contains("━━ Summary"))
        .skip(2)
        .take_while(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(summary.len(), 9, "{text}");
    for row in &summary {
        assert!(row.trim_end().ends_with("yes"), "{row}");
    }
    text
}

#[test]
fn demo_runs_every_step_and_ends_with_an_all_yes_summary() {
    let text = tour(&[]);
    for step in [
        "unsigned-commit",
        "reachability-violated",
        "`database-closed-to-the-outside`",
        "not-fast-forward",
        "debug-allow-all",
        "kubectl-create",
        "signed by bob@example.com",
    ] {
        assert!(text.contains(step), "missing {step:?} in\n{text}");
    }
}

/// The same tour with `--immutable-objects`: each change is a create and a delete.
#[test]
fn demo_with_immutable_objects_runs_every_step() {
    let text = tour(&["--immutable-objects"]);
    assert!(text.contains("applied, +2 ~0 -2"), "{text}");
}

#[test]
fn demo_hold_keeps_the_emulator_up_for_kubectl() {
    let mut child = Command::new(bin())
        .arg("--hold")
        .env_remove("KUBECONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(120);
    let kubeconfig = loop {
        assert!(
            Instant::now() < deadline,
            "demo never printed export KUBECONFIG"
        );
        let line = lines.next().expect("demo ended before holding").unwrap();
        if let Some(rest) = line.trim().strip_prefix("export KUBECONFIG=") {
            break rest.to_string();
        }
    };
    let out = Command::new("kubectl")
        .args([
            "--kubeconfig",
            &kubeconfig,
            "get",
            "networkpolicies",
            "-A",
            "-o",
            "name",
        ])
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(std::path::Path::new(&kubeconfig).parent().unwrap());
    let names = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        names.contains("networkpolicy.networking.k8s.io/default-deny"),
        "{names}"
    );
}
