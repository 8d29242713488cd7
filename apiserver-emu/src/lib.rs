//! A Kubernetes API server emulator for NetworkPolicies, Namespaces, ConfigMaps, Leases
//! and Events: a real HTTP(S) server that kubectl and kube-rs talk to as they talk to
//! kube-apiserver 1.30+, with fault injection and a record of every request and change.
//! See README.md for what it reproduces and where it differs.

mod api_read;
mod api_write;
pub mod bench_client;
mod body;
mod control;
mod discovery;
mod emulator;
mod faults;
mod kubeconfig;
mod openapi;
mod paging;
mod protobuf;
mod query;
mod records;
mod request;
mod resources;
mod route;
pub mod selector;
mod server;
mod server_fields;
mod state;
mod status;
mod store;
mod table;
mod tls;
mod validation;
mod watch;

pub use emulator::{EmuConfig, Emulator};
pub use faults::{path_matches, FaultAction, FaultRule};
pub use records::{ChangeRecord, ChangeVerb, RequestRecord};
