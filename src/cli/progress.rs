//! Progress for the long author commands (`check`, `import`): a bar or spinner on stderr
//! when stderr is a terminal and the output is meant for a person, hidden otherwise, so
//! `--output json|sarif`, pipes and CI logs get no control characters (docs/check.md).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// Whether progress is drawn: a person reads stderr and the output is not for a program.
pub fn shown(machine_output: bool) -> bool {
    !machine_output && std::io::stderr().is_terminal()
}

/// A bar of `len` steps (more may be added with `inc_length`), or a hidden one.
pub fn bar(len: u64, message: &'static str, show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({elapsed})") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(message);
    bar
}

/// A spinner for a step of unknown length, or a hidden one.
pub fn spinner(message: String, show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let spinner = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    spinner.set_message(message);
    spinner.enable_steady_tick(Duration::from_millis(100));
    spinner
}
