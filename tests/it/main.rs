//! netpol-sync's integration tests, one binary: each module was its own test crate,
//! and linking kube, git2 and tokio into ~20 binaries cost CI minutes and gigabytes.
//! Run one area with a filter, e.g. `cargo test --test it verify_chain::`.

mod remote_servers;
mod support;
mod sync_support;

mod audit_cli;
mod bundle_example;
mod bundle_seal_check_cli;
mod bundle_seal_cli;
mod bundle_sign_cli;
mod bundle_signatures;
mod bundle_verify_cli;
mod check_cli;
mod ci_recipes;
mod cluster_attacks;
mod daemon_e2e;
mod daemon_events;
mod daemon_flags;
mod daemon_immutable;
mod daemon_leader;
mod daemon_loop;
mod daemon_own_writes;
mod daemon_quiet;
mod deploy_immutable;
mod deploy_manifests;
mod import_cli;
mod init_cli;
mod malformed_trees;
mod reach_assertions;
mod reach_cli;
mod reach_exposure;
mod reach_live;
mod reach_npguard;
mod reach_plan;
mod real_admission;
mod real_differential;
mod real_faults;
mod real_immutable_lock;
mod remote_git_servers;
mod remote_https;
mod sync_bad_input;
mod sync_crash;
mod sync_flows;
mod sync_immutable;
mod sync_in_flight;
mod sync_random;
mod trust_attacks;
mod verify_chain;
mod verify_cli;
mod verify_commits;
