//! A [`SyncEngine`] that runs each cycle as `netpol-sync sync --once … --output json` in a
//! child process and reads back its one JSON object, a [`CycleResult`] (the command line's
//! stable contract: docs/architecture.md).
//! The child is killed when the cycle is abandoned (leadership lapsed, or the shutdown
//! grace period is over); the next cycle converges whatever it left half done.

use super::engine::{CycleFuture, CycleInput, CycleReport, SyncEngine, WatchedChange};
use crate::apply::OwnWrites;
use crate::engine::CycleResult;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;

/// Largest JSON outcome read from the child.
const MAX_OUTCOME_BYTES: usize = 16 * 1024 * 1024;

pub struct SubprocessEngine {
    /// The netpol-sync binary (normally the running one).
    program: PathBuf,
    /// Flags passed to every `sync --once` (trust anchor, bundles, kubeconfig, state
    /// namespace…); the cycle adds `--repo`, `--rev`, `--output json` and
    /// `--report-own-writes`.
    args: Vec<OsString>,
    /// What the children reported writing, so the drift watch's echo of it is no drift.
    own_writes: Arc<OwnWrites>,
}

impl SubprocessEngine {
    pub fn new(program: PathBuf, args: Vec<OsString>) -> SubprocessEngine {
        SubprocessEngine {
            program,
            args,
            own_writes: Arc::default(),
        }
    }

    /// The child's command line after the program name.
    pub(crate) fn child_args(&self, input: &CycleInput) -> Vec<OsString> {
        let mut args: Vec<OsString> = ["sync", "--once", "--repo"].map(OsString::from).into();
        args.push(input.repo.clone().into());
        args.extend(
            [
                "--rev",
                &input.revision,
                "--output",
                "json",
                "--report-own-writes",
            ]
            .map(OsString::from),
        );
        args.extend(self.args.iter().cloned());
        args
    }
}

impl SyncEngine for SubprocessEngine {
    fn cycle(&mut self, input: CycleInput) -> CycleFuture<'_> {
        Box::pin(async move {
            self.own_writes.begin_cycle();
            let mut cmd = tokio::process::Command::new(&self.program);
            cmd.args(self.child_args(&input))
                // The child must not take NETPOL_SYNC_OUTPUT etc. from the daemon's env
                // differently from the flags above; flags win over env in clap anyway.
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .kill_on_drop(true);
            let mut child = match cmd.spawn() {
                Ok(c) => c,
                Err(e) => {
                    return CycleResult::error(format!("cannot start the sync cycle: {e}")).into()
                }
            };
            let stdout = match read_outcome(&mut child).await {
                Ok(bytes) => bytes,
                Err(e) => {
                    // Dropping the child kills it (`kill_on_drop`); wait so that it is
                    // reaped before the next cycle starts.
                    let _ = child.kill().await;
                    return CycleResult::error(e).into();
                }
            };
            let status = match child.wait().await {
                Ok(s) => s,
                Err(e) => {
                    return CycleResult::error(format!("sync cycle failed to run: {e}")).into()
                }
            };
            match parse_outcome(&stdout) {
                Some(mut report) => {
                    // Recorded before the loop hears of the cycle's end, which is when it
                    // judges what the drift watch saw meanwhile. Not kept in the report:
                    // it can be as long as the revision.
                    if let Some(reported) = report.result.detail.own_writes.take() {
                        self.own_writes.record_journal(&reported);
                    }
                    report
                }
                None => CycleResult::error(format!(
                    "sync cycle exited with {} without a JSON outcome",
                    status
                        .code()
                        .map(|c| c.to_string())
                        .unwrap_or_else(|| "a signal".into())
                ))
                .into(),
            }
        })
    }

    /// A change the children reported writing or deleting, in this cycle or the one
    /// before. Unlike the in-process engine, versions a child only read are not known.
    fn accounts_for(&self, change: &WatchedChange) -> bool {
        change.made_or_read(&self.own_writes, |_, _| false)
    }
}

/// The child's whole stdout, read through a bound: a child that prints without end (a
/// bug, or a binary that is not netpol-sync) is refused at [`MAX_OUTCOME_BYTES`] instead
/// of growing the daemon's memory.
async fn read_outcome(child: &mut tokio::process::Child) -> Result<Vec<u8>, String> {
    use tokio::io::AsyncReadExt;
    let Some(stdout) = child.stdout.take() else {
        return Err("sync cycle has no stdout to read".into());
    };
    let mut bytes = Vec::new();
    stdout
        .take(MAX_OUTCOME_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| format!("cannot read the sync cycle's outcome: {e}"))?;
    if bytes.len() > MAX_OUTCOME_BYTES {
        return Err(format!(
            "sync cycle printed more than {MAX_OUTCOME_BYTES} bytes; not an outcome"
        ));
    }
    Ok(bytes)
}

/// Reads the one JSON object `sync --output json` prints: its last line that starts
/// with `{`. Unknown fields are ignored; anything that is not a [`CycleResult`] (a missing
/// or unknown verdict or reason code) makes the whole thing unreadable (None).
pub fn parse_outcome(stdout: &[u8]) -> Option<CycleReport> {
    let text = std::str::from_utf8(stdout).ok()?;
    let line = text
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))?;
    serde_json::from_str::<CycleResult>(line)
        .ok()
        .map(CycleReport::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Verdict;
    use crate::plan::Counts;
    use crate::reason::ReasonCode;
    use proptest::prelude::*;

    #[test]
    fn reads_an_applied_outcome() {
        let json = br#"{"verdict":"applied","revision":"abc","message":"ok","bundles":[{"name":"prod","digest":"sha256:00"}],"created":1,"updated":2,"deleted":3,"unchanged":4,"extra":{"drift":[{"namespace":"p","name":"n","kind":"modified","field_manager":"kubectl-edit"}]}}"#;
        let r = parse_outcome(json).unwrap();
        assert_eq!(r.result.verdict, Verdict::Applied);
        assert_eq!(r.result.revision.as_deref(), Some("abc"));
        assert_eq!(
            r.result.counts,
            Some(Counts {
                created: 1,
                updated: 2,
                deleted: 3,
                unchanged: 4
            })
        );
        assert_eq!(r.result.bundles[0].digest, "sha256:00");
        assert_eq!(r.drift()[0].field_manager.as_deref(), Some("kubectl-edit"));
        assert_eq!(r.managed(), Some(7));
    }

    #[test]
    fn reads_a_rejection_reason_code() {
        let r = parse_outcome(br#"{"verdict":"rejected","revision":"abc","reason":"not-fast-forward","message":"m","bundles":[]}"#).unwrap();
        assert_eq!(r.result.reason, Some(ReasonCode::NotFastForward));
    }

    #[test]
    fn garbage_and_unknown_verdicts_are_unreadable() {
        assert!(parse_outcome(b"").is_none());
        assert!(parse_outcome(b"not json").is_none());
        assert!(parse_outcome(br#"{"verdict":"maybe"}"#).is_none());
        assert!(parse_outcome(&[0xff, 0xfe]).is_none());
    }

    /// An engine whose "netpol-sync" is a shell script with this body.
    fn engine_running(dir: &tempfile::TempDir, body: &str) -> SubprocessEngine {
        use std::os::unix::fs::PermissionsExt;
        let program = dir.path().join("child");
        std::fs::write(&program, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        SubprocessEngine::new(program, Vec::new())
    }

    fn input() -> CycleInput {
        CycleInput {
            repo: "/nonexistent".into(),
            revision: "0".repeat(40),
            moved: true,
        }
    }

    #[tokio::test]
    async fn a_child_printing_without_end_is_cut_off_at_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        // Writes forever; the cycle must end without reading it all.
        let mut engine = engine_running(&dir, "exec yes netpol-sync");
        assert_refused_as_oversized(&engine.cycle(input()).await);
    }

    fn assert_refused_as_oversized(report: &CycleReport) {
        assert_eq!(report.result.verdict, Verdict::Error);
        assert!(
            report.result.message.contains("more than"),
            "{}",
            report.result.message
        );
    }

    #[tokio::test]
    async fn an_outcome_one_byte_over_the_bound_is_refused_and_one_at_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let outcome = r#"{"verdict":"unchanged","revision":"abc","message":"m","bundles":[]}"#;
        // Padded with spaces (valid JSON whitespace) to exactly the bound, then one more.
        let pad = MAX_OUTCOME_BYTES - outcome.len() - 1;
        let at = format!("printf '%s' '{outcome}'; head -c {pad} /dev/zero | tr '\\0' ' '; echo");
        let report = engine_running(&dir, &at).cycle(input()).await;
        assert_eq!(
            report.result.verdict,
            Verdict::Unchanged,
            "{}",
            report.result.message
        );
        let over = format!("{at}; echo");
        assert_refused_as_oversized(&engine_running(&dir, &over).cycle(input()).await);
    }

    #[tokio::test]
    async fn a_child_exiting_without_an_outcome_is_an_error_naming_its_status() {
        let dir = tempfile::tempdir().unwrap();
        let report = engine_running(&dir, "echo not json; exit 3")
            .cycle(input())
            .await;
        assert_eq!(report.result.verdict, Verdict::Error);
        assert!(
            report.result.message.contains("exited with 3"),
            "{}",
            report.result.message
        );
    }

    proptest! {
        #[test]
        fn arbitrary_output_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_outcome(&bytes);
        }
    }
}
