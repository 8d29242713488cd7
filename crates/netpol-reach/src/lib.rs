//! An exact NetworkPolicy evaluator. Given policies, namespaces with their labels and pods
//! with their labels and container ports ([`World`]), [`Evaluator::decide`] says whether a
//! connection (source, destination, protocol, port) is allowed, and which policies isolate
//! each end and which of their rules let it through.
//!
//! The semantics are Kubernetes' (docs/reachability.md has each rule with the sentence of
//! the Kubernetes documentation that decides it):
//!
//! - A pod is isolated for ingress (egress) only when some policy in its namespace selects
//!   it and lists `Ingress` (`Egress`) in `policyTypes`, defaulted as kube-apiserver does
//!   when omitted (`Ingress`, plus `Egress` when the policy has egress rules).
//! - A connection needs both ends: the source's egress (when the source is a pod) and the
//!   destination's ingress (when the destination is a pod). An isolated end is allowed only
//!   by a rule of a policy that isolates it.
//! - The peers of a rule are ORed; `namespaceSelector` and `podSelector` in one peer are
//!   ANDed. An empty selector matches everything, an absent one constrains nothing. An
//!   absent or empty `from`/`to` matches every peer; an absent or empty `ports` every port.
//! - A port is a number, a range (`endPort`) or a name, resolved on the destination pod's
//!   container ports with the same protocol; the protocol defaults to TCP.
//! - `ipBlock` (with `except`) matches addresses outside the cluster, IPv4 and IPv6. Traffic
//!   between pods is decided by the selectors alone: whether an ipBlock matches a pod's own
//!   IP is left to each network plugin by Kubernetes, so this evaluator never uses it.
//! - Every namespace carries the label `kubernetes.io/metadata.name` with its name.

mod addresses;
mod eval;
mod exposure;
mod matrix;
mod ports;
mod selector;
mod world;

pub use addresses::{address_classes, union as address_union, AddressClass};
pub use eval::{Decision, Direction, Evaluator, PolicyRef, RuleRef, Side};
pub use exposure::{ExposedTo, Exposure, NamespaceScopeText};
pub use matrix::{Change, Matrix};
pub use ports::PortSet;
pub use selector::Selector;
pub use world::{ContainerPort, Endpoint, Pod, PodId, Protocol, World, NAMESPACE_NAME_LABEL};

/// Why policies or a world cannot be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReachError {
    #[error("NetworkPolicy {policy}: {field}: {message}")]
    InvalidPolicy {
        policy: String,
        field: String,
        message: String,
    },
    #[error("pod {pod}: namespace {namespace} is not in the world")]
    UnknownNamespace { pod: String, namespace: String },
    #[error("namespace {0} is given twice")]
    DuplicateNamespace(String),
    #[error("pod {0} is given twice")]
    DuplicatePod(String),
}
