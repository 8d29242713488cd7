//! pkg/apis/networking/v1 defaults.go, plus what the apiserver's internal type implies:
//! `spec` and `spec.podSelector` always exist on a stored object (they are not pointers).

use k8s_openapi::api::networking::v1::{NetworkPolicyPort, NetworkPolicySpec};

use crate::NetworkPolicy;

fn default_port(port: &mut NetworkPolicyPort) {
    if port.protocol.is_none() {
        port.protocol = Some("TCP".to_string());
    }
}

/// SetDefaults_NetworkPolicyPort on every port, SetDefaults_NetworkPolicy (policyTypes
/// `[Ingress]`, plus `Egress` when there are egress rules, whenever policyTypes is empty),
/// and an empty podSelector where none was given.
pub fn apply_defaults(np: &mut NetworkPolicy) {
    let spec = np.spec.get_or_insert_with(NetworkPolicySpec::default);
    if spec.pod_selector.is_none() {
        spec.pod_selector = Some(Default::default());
    }
    for rule in spec.ingress.iter_mut().flatten() {
        rule.ports.iter_mut().flatten().for_each(default_port);
    }
    for rule in spec.egress.iter_mut().flatten() {
        rule.ports.iter_mut().flatten().for_each(default_port);
    }
    if spec.policy_types.as_ref().is_none_or(Vec::is_empty) {
        let mut types = vec!["Ingress".to_string()];
        if spec.egress.as_ref().is_some_and(|e| !e.is_empty()) {
            types.push("Egress".to_string());
        }
        spec.policy_types = Some(types);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn np(v: serde_json::Value) -> NetworkPolicy {
        serde_json::from_value(v).expect("fixture is a NetworkPolicy")
    }

    #[test]
    fn bare_policy_gets_pod_selector_and_ingress_type() {
        let mut p = np(
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "a"}}),
        );
        apply_defaults(&mut p);
        let spec = p.spec.expect("spec defaulted");
        assert_eq!(spec.pod_selector, Some(Default::default()));
        assert_eq!(spec.policy_types, Some(vec!["Ingress".to_string()]));
    }

    #[test]
    fn egress_rules_add_egress_type_and_ports_get_tcp() {
        let mut p = np(
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "a"},
            "spec": {"podSelector": {}, "policyTypes": [], "egress": [{"ports": [{"port": 53, "protocol": "UDP"}, {"port": 443}]}],
                     "ingress": [{"ports": [{"port": "http"}]}]}}),
        );
        apply_defaults(&mut p);
        let spec = p.spec.expect("spec");
        assert_eq!(
            spec.policy_types,
            Some(vec!["Ingress".to_string(), "Egress".to_string()])
        );
        let egress_ports = spec
            .egress
            .as_ref()
            .and_then(|e| e[0].ports.clone())
            .expect("ports");
        assert_eq!(egress_ports[0].protocol.as_deref(), Some("UDP"));
        assert_eq!(egress_ports[1].protocol.as_deref(), Some("TCP"));
        let ingress_ports = spec
            .ingress
            .as_ref()
            .and_then(|e| e[0].ports.clone())
            .expect("ports");
        assert_eq!(ingress_ports[0].protocol.as_deref(), Some("TCP"));
    }

    #[test]
    fn explicit_policy_types_and_empty_protocol_are_kept() {
        let mut p = np(
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "a"},
            "spec": {"policyTypes": ["Egress"], "ingress": [{"ports": [{"protocol": ""}]}]}}),
        );
        apply_defaults(&mut p);
        let spec = p.spec.expect("spec");
        assert_eq!(spec.policy_types, Some(vec!["Egress".to_string()]));
        let ports = spec
            .ingress
            .as_ref()
            .and_then(|e| e[0].ports.clone())
            .expect("ports");
        assert_eq!(ports[0].protocol.as_deref(), Some(""));
    }

    #[test]
    fn defaulting_is_idempotent() {
        let mut p = np(
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "a"},
            "spec": {"egress": [{}]}}),
        );
        apply_defaults(&mut p);
        let once = p.clone();
        apply_defaults(&mut p);
        assert_eq!(p, once);
    }
}
