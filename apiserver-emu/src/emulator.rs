//! The library handle: an emulator running on its own thread and tokio runtime, so it
//! works from plain `#[test]`s and from inside `#[tokio::test]` alike.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;

use serde_json::Value;

use crate::faults::FaultRule;
use crate::records::{ChangeRecord, RequestRecord};
use crate::resources;
use crate::server::{self, AppState};
use crate::state::{lock, Shared};
use crate::{control, kubeconfig, tls};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmuConfig {
    /// Serve HTTPS with a fresh self-signed CA (its certificate goes into the kubeconfig).
    pub tls: bool,
    /// Require `Authorization: Bearer <token>` on API requests.
    pub token: Option<String>,
    /// Namespaces that exist from the start (and again after `reset`).
    pub namespaces: Vec<String>,
}

impl Default for EmuConfig {
    fn default() -> Self {
        EmuConfig {
            tls: false,
            token: None,
            namespaces: vec!["default".to_string()],
        }
    }
}

pub struct Emulator {
    shared: Arc<Shared>,
    url: String,
    ca_pem: Option<String>,
    token: Option<String>,
    shutdown: Option<tokio::sync::watch::Sender<bool>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// Start on 127.0.0.1 and a free port.
    pub fn start(cfg: EmuConfig) -> std::io::Result<Emulator> {
        Emulator::start_on(cfg, SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Start on a given address (port 0 picks a free one).
    pub fn start_on(cfg: EmuConfig, addr: SocketAddr) -> std::io::Result<Emulator> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let local = listener.local_addr()?;
        let server_tls = if cfg.tls {
            Some(tls::generate().map_err(|e| std::io::Error::other(e.to_string()))?)
        } else {
            None
        };
        let scheme = if cfg.tls { "https" } else { "http" };
        let url = format!("{scheme}://{local}");
        let shared = Arc::new(Shared::new(cfg.token.clone(), cfg.namespaces.clone()));
        let app = server::router(AppState {
            shared: shared.clone(),
            address: local.to_string(),
        });
        let acceptor = server_tls
            .as_ref()
            .map(|t| tokio_rustls::TlsAcceptor::from(t.config.clone()));
        let (shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("apiserver-emu")
            .enable_all()
            .build()?;
        let thread = std::thread::Builder::new()
            .name("apiserver-emu".into())
            .spawn(move || {
                runtime.block_on(async move {
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => server::serve(listener, app, acceptor, shutdown_rx).await,
                        Err(e) => tracing::error!("apiserver-emu cannot listen: {e}"),
                    }
                });
                runtime.shutdown_background();
            })?;
        Ok(Emulator {
            shared,
            url,
            ca_pem: server_tls.map(|t| t.ca_pem),
            token: cfg.token,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The CA certificate (PEM) when serving TLS.
    pub fn ca_pem(&self) -> Option<String> {
        self.ca_pem.clone()
    }

    pub fn kubeconfig_yaml(&self) -> String {
        kubeconfig::render(&self.url, self.ca_pem.as_deref(), self.token.as_deref())
    }

    pub fn write_kubeconfig(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.kubeconfig_yaml())
    }

    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.shared.requests).clone()
    }

    pub fn history(&self) -> Vec<ChangeRecord> {
        control::history(&self.shared)
    }

    pub fn inject(&self, fault: FaultRule) {
        lock(&self.shared.faults).add(fault);
    }

    /// The rules still installed (a rule with `times` is gone once it has fired that often).
    pub fn faults(&self) -> Vec<FaultRule> {
        lock(&self.shared.faults).rules()
    }

    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// Forget all objects, history, requests and faults; recreate the configured namespaces.
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Compact history up to the current revision, as etcd does every few minutes: a
    /// continue token from an earlier list now gets 410 Expired. Returns the revision.
    pub fn compact(&self) -> u64 {
        lock(&self.shared.store).compact()
    }

    pub fn create_namespace(&self, name: &str) {
        self.shared.create_namespace(name);
    }

    /// Put a namespace into the Terminating phase: creates in it are refused with 403 until
    /// it is deleted or the emulator reset. Does nothing if it does not exist.
    pub fn set_namespace_terminating(&self, name: &str) {
        self.shared.set_namespace_terminating(name);
    }

    /// `kind_plural` as in [`ChangeRecord::kind`] (`networkpolicies`, `leases`, `events`
    /// for core/v1, `events.events.k8s.io`).
    pub fn get_object(
        &self,
        kind_plural: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let kind = resources::lookup_by_name(kind_plural)?;
        lock(&self.shared.store)
            .get(&kind, namespace, name)
            .map(|o| (*o).clone())
    }

    /// All objects of a kind, across namespaces, ordered by namespace and name.
    pub fn list_objects(&self, kind_plural: &str) -> Vec<Value> {
        let Some(kind) = resources::lookup_by_name(kind_plural) else {
            return Vec::new();
        };
        lock(&self.shared.store)
            .list(&kind, None)
            .iter()
            .map(|o| (**o).clone())
            .collect()
    }

    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
