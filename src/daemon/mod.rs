//! The long-running pod (`netpol-sync run`, docs/operations.md): the poll loop, leader election,
//! the HTTP endpoints (metrics, health, webhook), Kubernetes Events and clean shutdown.
//! [`start::Daemon`] is the whole daemon as one value; the sync engine is reached through
//! [`engine::SyncEngine`].

pub mod drift_watch;
pub mod engine;
pub mod events;
pub mod http;
pub mod inprocess_engine;
pub mod leader;
pub mod metrics;
pub mod rbac;
pub mod run_loop;
pub mod shutdown;
pub mod start;
pub mod subprocess_engine;
pub mod trigger;
pub mod watch_witness;
pub mod webhook;
