//! netpol-sync: make a cluster's NetworkPolicies exactly a verified, signed Git revision.
//!
//! The modules follow the data, top to bottom:
//!
//! - [`git`]: open a repository, resolve revisions, read raw commit objects and trees.
//! - [`verify`]: SSHSIG, allowed_signers and the first-parent commit chain. Only this
//!   module can build a [`verify::VerifiedRevision`].
//! - [`bundle`]: manifests, digests, bundle signatures, loading and validating policies
//!   from a `VerifiedRevision`. Only this module can build [`bundle::VerifiedBundles`].
//! - `plan` → `apply` → `state` → `daemon`: desired vs live, writes, records, the loop.
//!
//! [`reason`] holds the stable reason codes and [`outcome`] what a command prints.

pub mod apply;
pub mod bundle;
pub mod cli;
pub mod daemon;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzz_api;
pub mod git;
pub mod kube_client;
pub mod logging;
pub mod memory;
pub mod outcome;
pub mod plan;
pub mod reason;
pub mod remote;
pub mod revision;
pub mod state;
pub mod verify;
