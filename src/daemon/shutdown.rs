//! SIGTERM (Kubernetes' stop signal) and SIGINT (a person's Ctrl-C) both start a clean
//! shutdown: the returned channel turns `true` once, and every task watches it.

use tokio::sync::watch;

pub fn on_signals() -> std::io::Result<(watch::Sender<bool>, watch::Receiver<bool>)> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let (tx, rx) = watch::channel(false);
    let sender = tx.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: finishing the running cycle, then exiting"),
            _ = int.recv() => tracing::info!("SIGINT: finishing the running cycle, then exiting"),
        }
        let _ = sender.send(true);
    });
    Ok((tx, rx))
}
