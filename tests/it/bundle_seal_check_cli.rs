//! `netpol-sync bundle seal DIR --check`: exit 0 when bundle.yaml's `files:` list is what
//! a seal would write, 1 naming each file added, removed or changed when it is stale;
//! never writes.

use crate::support;

use std::path::Path;
use std::process::Command;

const HEAD: &str =
    "# keep me\napiVersion: netpol-sync/v1\nkind: Bundle\nname: prod\nnamespaces: [payments]\n";

fn seal(dir: &Path, check: bool) -> (i32, String, String) {
    let mut cmd = Command::new(support::netpol_sync_bin());
    cmd.args(["bundle", "seal"]).arg(dir);
    if check {
        cmd.arg("--check");
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A sealed bundle with two policy files.
fn sealed_bundle() -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("prod");
    std::fs::create_dir_all(dir.join("payments")).unwrap();
    std::fs::write(dir.join("bundle.yaml"), HEAD).unwrap();
    std::fs::write(dir.join("payments/deny.yaml"), "kind: a\n").unwrap();
    std::fs::write(dir.join("payments/api.yaml"), "kind: b\n").unwrap();
    let (code, _, stderr) = seal(&dir, false);
    assert_eq!(code, 0, "{stderr}");
    (tmp, dir)
}

/// The names of every entry under `dir`, for "nothing was created".
fn entries(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        out.push(p.display().to_string());
        if p.is_dir() {
            out.extend(entries(&p));
        }
    }
    out.sort();
    out
}

#[test]
fn a_fresh_seal_checks_clean_and_nothing_is_written() {
    let (_t, dir) = sealed_bundle();
    let before = std::fs::read(dir.join("bundle.yaml")).unwrap();
    let listing = entries(&dir);
    let (code, stdout, stderr) = seal(&dir, true);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(std::fs::read(dir.join("bundle.yaml")).unwrap(), before);
    assert_eq!(entries(&dir), listing);
}

#[test]
fn an_added_modified_or_removed_policy_is_stale_named_and_nothing_is_written() {
    type Edit = fn(&Path);
    let cases: [(&str, &str, Edit); 3] = [
        ("added", "payments/new.yaml", |d| {
            std::fs::write(d.join("payments/new.yaml"), "kind: c\n").unwrap()
        }),
        ("changed", "payments/api.yaml", |d| {
            std::fs::write(d.join("payments/api.yaml"), "kind: B\n").unwrap()
        }),
        ("removed", "payments/deny.yaml", |d| {
            std::fs::remove_file(d.join("payments/deny.yaml")).unwrap()
        }),
    ];
    for (what, file, edit) in cases {
        let (_t, dir) = sealed_bundle();
        edit(&dir);
        let before = std::fs::read(dir.join("bundle.yaml")).unwrap();
        let listing = entries(&dir);
        let (code, stdout, stderr) = seal(&dir, true);
        assert_eq!(code, 1, "{what}: {stdout}\n{stderr}");
        let named = stdout
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == [what, file]);
        assert!(named, "{what} {file} not reported: {stdout}");
        // Only that file is named: the untouched one is not reported.
        let other = if file == "payments/api.yaml" {
            "payments/deny.yaml"
        } else {
            "payments/api.yaml"
        };
        assert!(!stdout.contains(other), "{stdout}");
        assert!(
            stdout.contains(&format!("netpol-sync bundle seal {}", dir.display())),
            "{stdout}"
        );
        assert_eq!(
            std::fs::read(dir.join("bundle.yaml")).unwrap(),
            before,
            "{what}"
        );
        assert_eq!(entries(&dir), listing, "{what}");
        // And the fix it names makes it fresh.
        assert_eq!(seal(&dir, false).0, 0);
        assert_eq!(seal(&dir, true).0, 0, "{what}");
    }
}

#[test]
fn a_bundle_that_cannot_be_sealed_fails_the_check_with_the_reason() {
    let (_t, dir) = sealed_bundle();
    std::os::unix::fs::symlink("/etc/passwd", dir.join("payments/evil.yaml")).unwrap();
    let before = std::fs::read(dir.join("bundle.yaml")).unwrap();
    let (code, _, stderr) = seal(&dir, true);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("symlink"), "{stderr}");
    assert_eq!(std::fs::read(dir.join("bundle.yaml")).unwrap(), before);
}
