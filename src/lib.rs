//! netpol-sync: make a cluster's NetworkPolicies exactly a verified, signed Git revision.
//!
//! The modules follow the data, top to bottom (docs/architecture.md draws it):
//!
//! - [`git`]: open a repository, resolve revisions, read raw commit objects and trees.
//! - [`verify`]: SSHSIG, allowed_signers and the first-parent commit chain. Only this
//!   module can build a [`verify::VerifiedRevision`].
//! - [`bundle`]: manifests, digests, bundle signatures, loading and validating policies
//!   from a `VerifiedRevision`. Only this module can build [`bundle::VerifiedBundles`].
//! - [`plan`] → [`apply`] → [`state`]: desired vs live, writes, the state record.
//! - [`engine`]: one cycle through all of them, answering a typed
//!   [`engine::CycleResult`]; the only place a cycle is assembled.
//! - [`daemon`]: the long-running loop around the engine; [`cli`]: the commands, which
//!   render what the engine answers.
//!
//! Beside them: [`reason`] (the stable reason codes), [`marks`] (what netpol-sync writes
//! on the objects it owns), [`kube_client`] (cluster access and bounded reads),
//! [`remote`] (fetching the repository) and [`init`] (scaffolding a policy repository).

pub mod apply;
pub mod bounded;
pub mod bundle;
pub mod check;
pub mod cli;
pub mod daemon;
pub mod engine;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzz_api;
pub mod git;
pub mod import;
pub mod init;
pub mod kube_client;
pub mod lint;
pub mod logging;
pub mod marks;
pub mod memory;
pub mod plan;
pub mod reach;
pub mod reason;
pub mod remote;
pub mod state;
pub mod verify;
