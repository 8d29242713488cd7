//! The kinds the emulator serves, with the per-kind storage rules kube-apiserver applies
//! (create-on-update, unconditional update, generation tracking).

/// One served resource (a group/version/plural), described the way discovery reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceKind {
    pub plural: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    pub group: &'static str,
    pub version: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    /// PUT on a missing object creates it (Leases, Events) instead of 404.
    pub allow_create_on_update: bool,
    /// PUT without `metadata.resourceVersion` overwrites (true for most kinds, false for Leases).
    pub allow_unconditional_update: bool,
    /// `metadata.generation` is set to 1 and bumped when `spec` changes.
    pub tracks_generation: bool,
}

impl ResourceKind {
    /// `networking.k8s.io/v1` or `v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    /// `networkpolicies.networking.k8s.io`, or `configmaps` for the core group: the form
    /// kube-apiserver uses in NotFound/Conflict/AlreadyExists messages.
    pub fn qualified_resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// `NetworkPolicy.networking.k8s.io`, or `ConfigMap`: the form used in 422 messages.
    pub fn qualified_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.to_string()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }
}

pub const NAMESPACES: ResourceKind = ResourceKind {
    plural: "namespaces",
    singular: "namespace",
    kind: "Namespace",
    group: "",
    version: "v1",
    namespaced: false,
    short_names: &["ns"],
    allow_create_on_update: false,
    allow_unconditional_update: true,
    tracks_generation: false,
};

pub const CONFIGMAPS: ResourceKind = ResourceKind {
    plural: "configmaps",
    singular: "configmap",
    kind: "ConfigMap",
    group: "",
    version: "v1",
    namespaced: true,
    short_names: &["cm"],
    allow_create_on_update: false,
    allow_unconditional_update: true,
    tracks_generation: false,
};

pub const CORE_EVENTS: ResourceKind = ResourceKind {
    plural: "events",
    singular: "event",
    kind: "Event",
    group: "",
    version: "v1",
    namespaced: true,
    short_names: &["ev"],
    allow_create_on_update: true,
    allow_unconditional_update: true,
    tracks_generation: false,
};

pub const NETWORK_POLICIES: ResourceKind = ResourceKind {
    plural: "networkpolicies",
    singular: "networkpolicy",
    kind: "NetworkPolicy",
    group: "networking.k8s.io",
    version: "v1",
    namespaced: true,
    short_names: &["netpol"],
    allow_create_on_update: false,
    allow_unconditional_update: true,
    tracks_generation: true,
};

pub const LEASES: ResourceKind = ResourceKind {
    plural: "leases",
    singular: "lease",
    kind: "Lease",
    group: "coordination.k8s.io",
    version: "v1",
    namespaced: true,
    short_names: &[],
    allow_create_on_update: true,
    allow_unconditional_update: false,
    tracks_generation: false,
};

pub const EVENTS_V1: ResourceKind = ResourceKind {
    plural: "events",
    singular: "event",
    kind: "Event",
    group: "events.k8s.io",
    version: "v1",
    namespaced: true,
    short_names: &["ev"],
    allow_create_on_update: true,
    allow_unconditional_update: true,
    tracks_generation: false,
};

/// Pods are stored and read only (no kubelet or scheduler runs): `netpol-sync reach`
/// reads their labels, container ports and owners (docs/reachability.md).
pub const PODS: ResourceKind = ResourceKind {
    plural: "pods",
    singular: "pod",
    kind: "Pod",
    group: "",
    version: "v1",
    namespaced: true,
    short_names: &["po"],
    allow_create_on_update: false,
    allow_unconditional_update: true,
    tracks_generation: false,
};

/// Every served resource; the index into this table is the storage key.
pub const ALL: [ResourceKind; 7] = [
    NAMESPACES,
    CONFIGMAPS,
    CORE_EVENTS,
    NETWORK_POLICIES,
    LEASES,
    EVENTS_V1,
    PODS,
];

/// The API groups (other than core) in discovery order.
pub const GROUPS: [&str; 3] = ["networking.k8s.io", "coordination.k8s.io", "events.k8s.io"];

/// The resource served at `group`/`version`/`plural`, if any.
pub fn lookup(group: &str, version: &str, plural: &str) -> Option<ResourceKind> {
    ALL.iter()
        .copied()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// Resolve the name tests use in the library API: `networkpolicies`, `configmaps`,
/// `events` (core/v1), or the qualified `events.events.k8s.io`.
pub fn lookup_by_name(name: &str) -> Option<ResourceKind> {
    ALL.iter()
        .copied()
        .find(|r| r.qualified_resource() == name)
        .or_else(|| ALL.iter().copied().find(|r| r.plural == name))
}

pub fn index_of(kind: &ResourceKind) -> usize {
    ALL.iter().position(|r| r == kind).unwrap_or(0)
}

pub fn resources_in(group: &str, version: &str) -> Vec<ResourceKind> {
    ALL.iter()
        .copied()
        .filter(|r| r.group == group && r.version == version)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_names_follow_the_apiserver_forms() {
        assert_eq!(
            NETWORK_POLICIES.qualified_resource(),
            "networkpolicies.networking.k8s.io"
        );
        assert_eq!(CONFIGMAPS.qualified_resource(), "configmaps");
        assert_eq!(LEASES.qualified_kind(), "Lease.coordination.k8s.io");
        assert_eq!(NAMESPACES.api_version(), "v1");
    }

    #[test]
    fn events_resolve_to_core_unless_qualified() {
        assert_eq!(lookup_by_name("events"), Some(CORE_EVENTS));
        assert_eq!(lookup_by_name("events.events.k8s.io"), Some(EVENTS_V1));
        assert_eq!(lookup_by_name("pods"), Some(PODS));
        assert_eq!(lookup_by_name("deployments"), None);
    }
}
