//! SIGTERM (Kubernetes' stop signal) and SIGINT (a person's Ctrl-C) both start a clean
//! shutdown: `stop` turns `true` once, and every task watches it.

use tokio::sync::watch;

/// Send `true` on `stop` at the first SIGTERM or SIGINT.
pub fn on_signals(stop: watch::Sender<bool>) -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let sender = stop;
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: finishing the running cycle, then exiting"),
            _ = int.recv() => tracing::info!("SIGINT: finishing the running cycle, then exiting"),
        }
        let _ = sender.send(true);
    });
    Ok(())
}
