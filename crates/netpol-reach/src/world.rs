//! What policies are evaluated over: namespaces with their labels, and pods with their
//! labels and container ports.

use crate::ReachError;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

/// The label every namespace carries with its own name (Kubernetes sets it).
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    /// `TCP`, `UDP` or `SCTP`, as the API writes them.
    pub fn parse(s: &str) -> Option<Protocol> {
        match s {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }
}

/// A port a container exposes; a named port in a policy is resolved on these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerPort {
    pub name: Option<String>,
    pub port: u16,
    pub protocol: Protocol,
}

/// A pod (or a workload's pods, which share labels and ports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pod {
    pub namespace: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub ports: Vec<ContainerPort>,
}

/// A pod of a [`World`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PodId(pub(crate) usize);

/// One end of a connection: a pod of the world, or an address outside the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Pod(PodId),
    Address(IpAddr),
}

/// Namespaces and pods.
#[derive(Debug, Clone, Default)]
pub struct World {
    namespaces: BTreeMap<String, BTreeMap<String, String>>,
    pods: Vec<Pod>,
    by_name: HashMap<(String, String), PodId>,
}

impl World {
    /// A world of `namespaces` (name, labels) and `pods`. Each namespace gets the label
    /// `kubernetes.io/metadata.name` with its name, as Kubernetes gives it. A pod in a
    /// namespace that is not given is an error, as is a name given twice.
    pub fn new(
        namespaces: impl IntoIterator<Item = (String, BTreeMap<String, String>)>,
        pods: impl IntoIterator<Item = Pod>,
    ) -> Result<World, ReachError> {
        let mut world = World::default();
        for (name, mut labels) in namespaces {
            labels.insert(NAMESPACE_NAME_LABEL.to_string(), name.clone());
            if world.namespaces.insert(name.clone(), labels).is_some() {
                return Err(ReachError::DuplicateNamespace(name));
            }
        }
        for pod in pods {
            let shown = format!("{}/{}", pod.namespace, pod.name);
            if !world.namespaces.contains_key(&pod.namespace) {
                return Err(ReachError::UnknownNamespace {
                    pod: shown,
                    namespace: pod.namespace.clone(),
                });
            }
            let id = PodId(world.pods.len());
            if world
                .by_name
                .insert((pod.namespace.clone(), pod.name.clone()), id)
                .is_some()
            {
                return Err(ReachError::DuplicatePod(shown));
            }
            world.pods.push(pod);
        }
        Ok(world)
    }

    pub fn pod(&self, id: PodId) -> &Pod {
        &self.pods[id.0]
    }

    /// The pod `namespace/name`, if the world has it.
    pub fn find(&self, namespace: &str, name: &str) -> Option<PodId> {
        self.by_name
            .get(&(namespace.to_string(), name.to_string()))
            .copied()
    }

    pub fn pods(&self) -> impl Iterator<Item = PodId> + '_ {
        (0..self.pods.len()).map(PodId)
    }

    /// How many pods the world has (their ids are `0..len`).
    pub fn len(&self) -> usize {
        self.pods.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pods.is_empty()
    }

    /// Every namespace with its labels, by name.
    pub(crate) fn namespaces(&self) -> impl Iterator<Item = (&String, &BTreeMap<String, String>)> {
        self.namespaces.iter()
    }

    /// The labels of namespace `name` (`None`: not in the world).
    pub fn namespace_labels(&self, name: &str) -> Option<&BTreeMap<String, String>> {
        self.namespaces.get(name)
    }
}
