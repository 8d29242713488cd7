//! The emulator's tests, one binary (one link instead of six). Each module checks one
//! face of fidelity; `kubectl` drives the real kubectl, `kube_client` the real kube-rs.

mod support;

mod api_semantics;
mod binary;
mod faults;
mod kube_client;
mod kubectl;
mod networkpolicy_cases;
mod networkpolicy_validation;
mod pods;
