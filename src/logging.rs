//! Logs through tracing-subscriber: one JSON object per line in a pod (`--log-format
//! json`, what log collectors parse), readable text on a terminal. `RUST_LOG` filters with
//! the usual directives (`RUST_LOG=netpol_sync=debug,kube=warn`); without it, `info` for
//! netpol-sync and `warn` for libraries.

use clap::ValueEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

pub const DEFAULT_FILTER: &str = "warn,netpol_sync=info";

/// The filter from `RUST_LOG`, or the default when it is unset or does not parse (a typo
/// in an env var must not silence the daemon; the parse error is reported once started).
pub fn filter_from(rust_log: Option<&str>) -> (tracing_subscriber::EnvFilter, Option<String>) {
    match rust_log {
        Some(directives) if !directives.trim().is_empty() => {
            match tracing_subscriber::EnvFilter::try_new(directives) {
                Ok(f) => (f, None),
                Err(e) => (
                    tracing_subscriber::EnvFilter::new(DEFAULT_FILTER),
                    Some(format!("RUST_LOG {directives:?} ignored: {e}")),
                ),
            }
        }
        _ => (tracing_subscriber::EnvFilter::new(DEFAULT_FILTER), None),
    }
}

/// Installs the global subscriber (logs on stderr). Safe to call twice: the second call
/// is a no-op.
pub fn init(format: LogFormat) {
    let rust_log = std::env::var("RUST_LOG").ok();
    let (filter, problem) = filter_from(rust_log.as_deref());
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    let installed = match format {
        // Span fields (the cycle's revision) go into every event of the span.
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder.with_target(false).try_init(),
    };
    if installed.is_ok() {
        if let Some(problem) = problem {
            tracing::warn!("{problem}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_rust_log_falls_back_to_the_default_and_says_so() {
        let (_, problem) = filter_from(Some("netpol_sync=loud["));
        assert!(problem.unwrap().contains("ignored"));
        let (_, problem) = filter_from(Some("netpol_sync=debug"));
        assert!(problem.is_none());
        let (f, problem) = filter_from(None);
        assert!(problem.is_none());
        let shown = f.to_string();
        assert!(
            shown.contains("netpol_sync=info") && shown.split(',').any(|d| d == "warn"),
            "{shown}"
        );
    }
}
