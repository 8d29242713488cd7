//! A reader that closes stdout early (`netpol-sync reach … | head`) ends the command the
//! way it ends `ls` or `grep`: quietly, with the status of a process SIGPIPE killed. Rust
//! ignores SIGPIPE (so that a closed socket is an error, not a death, which the API
//! client and the daemon's HTTP server rely on), and `print!` then panics on the broken
//! pipe; that one panic is turned into the quiet exit, every other panic is left alone.

/// 128 + SIGPIPE, what a shell reports for a process the signal ended.
const BROKEN_PIPE_STATUS: i32 = 128 + 13;

/// The status to end with when a command's own writer meets the closed pipe.
pub fn exit_status() -> std::process::ExitCode {
    std::process::ExitCode::from(BROKEN_PIPE_STATUS as u8)
}

/// Install the hook; called once, before the command runs.
pub fn exit_quietly_when_stdout_closes() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if is_closed_stdout(message) {
            std::process::exit(BROKEN_PIPE_STATUS);
        }
        previous(info);
    }));
}

/// std's message when `print!` meets a closed pipe (EPIPE is 32 on Linux).
fn is_closed_stdout(message: &str) -> bool {
    message.starts_with("failed printing to stdout") && message.contains("(os error 32)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_closed_stdout_is_recognised() {
        assert!(is_closed_stdout(
            "failed printing to stdout: Broken pipe (os error 32)"
        ));
        assert!(!is_closed_stdout(
            "failed printing to stdout: No space left on device (os error 28)"
        ));
        assert!(!is_closed_stdout(
            "index out of bounds: Broken pipe (os error 32)"
        ));
    }
}
