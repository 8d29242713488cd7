//! Every Kubernetes API call netpol-sync makes, as (API group, resource, verb, scope).
//! `deploy/rbac.yaml` must grant exactly these and nothing more; `tests/it/deploy_manifests.rs`
//! compares the two, so a new call without a matching rule (or a rule nothing uses) fails
//! the build instead of failing in a cluster.

/// Where a permission is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Across the cluster (a ClusterRole bound cluster-wide).
    Cluster,
    /// Only in netpol-sync's own namespace (a Role there).
    OwnNamespace,
}

/// `(group, resource, verb, scope)`. `""` is the core group.
pub const API_CALLS: &[(&str, &str, &str, Scope)] = &[
    // plan: the live set is every NetworkPolicy in governed namespaces plus every managed
    // one anywhere, read with paged cluster-wide lists; apply: exact replacements.
    (
        "networking.k8s.io",
        "networkpolicies",
        "list",
        Scope::Cluster,
    ),
    (
        "networking.k8s.io",
        "networkpolicies",
        "get",
        Scope::Cluster,
    ),
    // daemon: the drift watch (`run --drift-watch`, on by default).
    (
        "networking.k8s.io",
        "networkpolicies",
        "watch",
        Scope::Cluster,
    ),
    (
        "networking.k8s.io",
        "networkpolicies",
        "create",
        Scope::Cluster,
    ),
    (
        "networking.k8s.io",
        "networkpolicies",
        "update",
        Scope::Cluster,
    ),
    (
        "networking.k8s.io",
        "networkpolicies",
        "delete",
        Scope::Cluster,
    ),
    // plan: which governed namespaces exist (and are not terminating).
    ("", "namespaces", "list", Scope::Cluster),
    // reachability: what a cycle's writes open and close is computed over the cluster's
    // pods, grouped into workloads (docs/reachability.md; `--no-reachability` skips it).
    ("", "pods", "list", Scope::Cluster),
    // state: the state namespace must exist before the record is written.
    ("", "namespaces", "get", Scope::Cluster),
    // state: the record ConfigMap netpol-sync-state.
    ("", "configmaps", "get", Scope::OwnNamespace),
    ("", "configmaps", "create", Scope::OwnNamespace),
    ("", "configmaps", "update", Scope::OwnNamespace),
    // daemon: leader election.
    ("coordination.k8s.io", "leases", "get", Scope::OwnNamespace),
    (
        "coordination.k8s.io",
        "leases",
        "create",
        Scope::OwnNamespace,
    ),
    (
        "coordination.k8s.io",
        "leases",
        "update",
        Scope::OwnNamespace,
    ),
    // daemon: applied / rejected / drift events.
    ("", "events", "create", Scope::OwnNamespace),
];
