//! What every end-to-end test uses: the test kit's keys and repositories (netpol-testkit:
//! the real `git` and `ssh-keygen`), the netpol-sync binary, and waiting without sleeping
//! blindly.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Check `cond` every 25 ms until it holds, and say how long that took; `None` once `limit`
/// has passed without it.
pub fn wait_for(limit: Duration, cond: impl FnMut() -> bool) -> Option<Duration> {
    poll(limit, Duration::from_millis(25), cond)
}

/// [`wait_for`], checking every `every` (a check that runs a process wants a slower pace).
pub fn poll(limit: Duration, every: Duration, mut cond: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return Some(start.elapsed());
        }
        std::thread::sleep(every);
    }
    None
}

/// The value of a sample without labels in Prometheus text (`name value`), if present.
pub fn metric_value(metrics: &str, name: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

pub use netpol_testkit::{run, Key, TestRepo};

/// Path to the built `netpol-sync` binary, for end-to-end tests of the command line.
pub fn netpol_sync_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_netpol-sync"))
}

/// The state key every test's netpol-sync uses (`--state-key`; `NETPOL_SYNC_STATE_KEY`
/// for spawned commands): one per test process, as one deployment has one Secret.
pub fn state_key() -> &'static Path {
    static KEY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("netpol-sync-test-key-")
            .tempdir()
            .unwrap()
            .keep();
        let path = dir.join("state-key");
        std::fs::write(&path, format!("{}\n", "5e".repeat(32))).unwrap();
        path
    })
}

/// Write an allowed_signers file made of `lines` into `dir/name` and return its path.
pub fn write_allowed_signers(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, lines.concat()).unwrap();
    path
}

/// Run the built `netpol-sync` with `args`; returns (exit code, stdout, stderr).
pub fn run_netpol_sync(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(netpol_sync_bin())
        .args(args)
        .env_remove("NETPOL_SYNC_OUTPUT")
        .env("NETPOL_SYNC_STATE_KEY", state_key())
        .output()
        .expect("spawn netpol-sync");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Insert a header block (already formatted, ending in `\n`) into a raw commit object
/// right before the blank line that ends its headers.
pub fn insert_header(raw: &[u8], header: &[u8]) -> Vec<u8> {
    let end = raw
        .windows(2)
        .position(|w| w == b"\n\n")
        .expect("commit has a message")
        + 1;
    let mut out = raw[..end].to_vec();
    out.extend_from_slice(header);
    out.extend_from_slice(&raw[end..]);
    out
}

/// Format an armored signature as a `gpgsig` header the way git writes it: the first line
/// after `gpgsig `, every following line indented by one space.
pub fn gpgsig_header(name: &str, armored: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(armored);
    let mut out = format!("{name} ");
    for (i, line) in text.trim_end_matches('\n').split('\n').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(line);
        out.push('\n');
    }
    out.into_bytes()
}
