//! `netpol-sync bundle seal DIR` as a person runs it: exit codes and what it writes.

use crate::support;

use std::process::Command;

fn seal(dir: &std::path::Path) -> std::process::Output {
    Command::new(support::netpol_sync_bin())
        .args(["bundle", "seal"])
        .arg(dir)
        .output()
        .unwrap()
}

fn bundle_dir() -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("prod");
    std::fs::create_dir_all(dir.join("payments")).unwrap();
    std::fs::write(
        dir.join("bundle.yaml"),
        "# keep me\napiVersion: netpol-sync/v1\nkind: Bundle\nname: prod\nnamespaces: [payments]\n",
    )
    .unwrap();
    std::fs::write(dir.join("payments/deny.yaml"), "kind: x\n").unwrap();
    (tmp, dir)
}

#[test]
fn seal_writes_then_reports_unchanged() {
    let (_t, dir) = bundle_dir();
    let first = seal(&dir);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        stdout.contains("rewritten")
            && stdout.contains(&format!("netpol-sync bundle sign {} --key", dir.display())),
        "{stdout}"
    );
    let text = std::fs::read_to_string(dir.join("bundle.yaml")).unwrap();
    assert!(
        text.starts_with("# keep me\n")
            && text.contains("  - path: payments/deny.yaml\n    sha256: "),
        "{text}"
    );
    let second = seal(&dir);
    assert_eq!(second.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&second.stdout).contains("unchanged"));
    assert_eq!(
        std::fs::read_to_string(dir.join("bundle.yaml")).unwrap(),
        text
    );
}

#[test]
fn seal_of_a_bundle_holding_a_symlink_exits_1_and_writes_nothing() {
    let (_t, dir) = bundle_dir();
    std::os::unix::fs::symlink("/etc/passwd", dir.join("payments/evil.yaml")).unwrap();
    let before = std::fs::read(dir.join("bundle.yaml")).unwrap();
    let out = seal(&dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("symlink"));
    assert_eq!(std::fs::read(dir.join("bundle.yaml")).unwrap(), before);
}

#[test]
fn seal_of_a_missing_directory_exits_nonzero() {
    let tmp = tempfile::tempdir().unwrap();
    let out = seal(&tmp.path().join("nope"));
    assert_ne!(out.status.code(), Some(0));
}
