//! pkg/apis/networking/validation: ValidateNetworkPolicy and ValidateNetworkPolicyUpdate,
//! in upstream's order (metadata; podSelector; each ingress rule's ports then peers; each
//! egress rule's ports then peers; policyTypes), so that causes come out in the same order.

use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::cidr::Cidr;
use crate::meta::{self, invalid_str};
use crate::names;
use crate::path::Path;
use crate::render::{go_json_string, go_json_string_list};
use crate::selector::{push_label_selector, SelectorOptions};
use crate::{ErrorKind, FieldError, NetworkPolicy};

const CIDR_INVALID: &str = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)";

fn push_port(errs: &mut Vec<FieldError>, port: &NetworkPolicyPort, path: &Path<'_>) {
    if let Some(proto) = port.protocol.as_deref() {
        if !matches!(proto, "TCP" | "UDP" | "SCTP") {
            errs.push(FieldError::new(
                ErrorKind::NotSupported,
                path.child("protocol").to_string(),
                Some(go_json_string(proto)),
                "supported values: \"TCP\", \"UDP\", \"SCTP\"",
            ));
        }
    }
    match &port.port {
        Some(IntOrString::Int(p)) => {
            for msg in names::is_valid_port_num(i64::from(*p)) {
                errs.push(FieldError::new(
                    ErrorKind::Invalid,
                    path.child("port").to_string(),
                    Some(p.to_string()),
                    msg,
                ));
            }
            if let Some(end) = port.end_port {
                if end < *p {
                    errs.push(FieldError::new(
                        ErrorKind::Invalid,
                        path.child("endPort").to_string(),
                        Some(end.to_string()),
                        "must be greater than or equal to `port`",
                    ));
                }
                for msg in names::is_valid_port_num(i64::from(end)) {
                    errs.push(FieldError::new(
                        ErrorKind::Invalid,
                        path.child("endPort").to_string(),
                        Some(end.to_string()),
                        msg,
                    ));
                }
            }
        }
        Some(IntOrString::String(name)) => {
            if let Some(end) = port.end_port {
                errs.push(FieldError::new(
                    ErrorKind::Invalid,
                    path.child("endPort").to_string(),
                    Some(end.to_string()),
                    "may not be specified when `port` is non-numeric",
                ));
            }
            for msg in names::is_valid_port_name(name) {
                errs.push(invalid_str(&path.child("port"), name, msg));
            }
        }
        None => {
            if let Some(end) = port.end_port {
                errs.push(FieldError::new(
                    ErrorKind::Invalid,
                    path.child("endPort").to_string(),
                    Some(end.to_string()),
                    "may not be specified when `port` is not specified",
                ));
            }
        }
    }
}

fn push_ip_block(errs: &mut Vec<FieldError>, block: &IPBlock, path: &Path<'_>) {
    if block.cidr.is_empty() {
        errs.push(FieldError::new(
            ErrorKind::Required,
            path.child("cidr").to_string(),
            None,
            "",
        ));
        return;
    }
    let Some(cidr) = Cidr::parse(&block.cidr) else {
        errs.push(invalid_str(&path.child("cidr"), &block.cidr, CIDR_INVALID));
        return;
    };
    let except_path = path.child("except");
    for (i, except) in block.except.iter().flatten().enumerate() {
        let at = except_path.index(i);
        let Some(inner) = Cidr::parse(except) else {
            errs.push(invalid_str(&at, except, CIDR_INVALID));
            continue;
        };
        if !cidr.contains_network_of(&inner) || cidr.prefix_len() >= inner.prefix_len() {
            errs.push(invalid_str(
                &at,
                except,
                "must be a strict subset of `cidr`",
            ));
        }
    }
}

fn push_peer(
    errs: &mut Vec<FieldError>,
    peer: &NetworkPolicyPeer,
    opts: SelectorOptions,
    path: &Path<'_>,
) {
    let mut peers = 0;
    if let Some(sel) = &peer.pod_selector {
        peers += 1;
        push_label_selector(errs, sel, opts, &path.child("podSelector"));
    }
    if let Some(sel) = &peer.namespace_selector {
        peers += 1;
        push_label_selector(errs, sel, opts, &path.child("namespaceSelector"));
    }
    if let Some(block) = &peer.ip_block {
        peers += 1;
        push_ip_block(errs, block, &path.child("ipBlock"));
    }
    if peers == 0 {
        errs.push(FieldError::new(
            ErrorKind::Required,
            path.to_string(),
            None,
            "must specify a peer",
        ));
    } else if peers > 1 && peer.ip_block.is_some() {
        errs.push(FieldError::new(
            ErrorKind::Forbidden,
            path.to_string(),
            None,
            "may not specify both ipBlock and another peer",
        ));
    }
}

/// ValidateNetworkPolicySpec.
pub(crate) fn push_spec(
    errs: &mut Vec<FieldError>,
    spec: Option<&NetworkPolicySpec>,
    opts: SelectorOptions,
    path: &Path<'_>,
) {
    let empty_selector = LabelSelector::default();
    let empty_spec = NetworkPolicySpec::default();
    let spec = spec.unwrap_or(&empty_spec);
    push_label_selector(
        errs,
        spec.pod_selector.as_ref().unwrap_or(&empty_selector),
        opts,
        &path.child("podSelector"),
    );
    let ingress_path = path.child("ingress");
    for (i, rule) in spec.ingress.iter().flatten().enumerate() {
        let at = ingress_path.index(i);
        let ports = at.child("ports");
        for (j, port) in rule.ports.iter().flatten().enumerate() {
            push_port(errs, port, &ports.index(j));
        }
        let from = at.child("from");
        for (j, peer) in rule.from.iter().flatten().enumerate() {
            push_peer(errs, peer, opts, &from.index(j));
        }
    }
    let egress_path = path.child("egress");
    for (i, rule) in spec.egress.iter().flatten().enumerate() {
        let at = egress_path.index(i);
        let ports = at.child("ports");
        for (j, port) in rule.ports.iter().flatten().enumerate() {
            push_port(errs, port, &ports.index(j));
        }
        let to = at.child("to");
        for (j, peer) in rule.to.iter().flatten().enumerate() {
            push_peer(errs, peer, opts, &to.index(j));
        }
    }
    let types = spec.policy_types.as_deref().unwrap_or(&[]);
    let types_path = path.child("policyTypes");
    if types.len() > 2 {
        errs.push(FieldError::new(
            ErrorKind::Invalid,
            types_path.to_string(),
            Some(go_json_string_list(types)),
            "may not specify more than two policyTypes",
        ));
        return;
    }
    for (i, t) in types.iter().enumerate() {
        if t != "Ingress" && t != "Egress" {
            errs.push(FieldError::new(
                ErrorKind::NotSupported,
                types_path.index(i).to_string(),
                Some(go_json_string(t)),
                "supported values: \"Ingress\", \"Egress\"",
            ));
        }
    }
}

/// ValidateNetworkPolicy with the given selector options.
fn push_network_policy(errs: &mut Vec<FieldError>, np: &NetworkPolicy, opts: SelectorOptions) {
    meta::push_object_meta_core(
        errs,
        &np.metadata,
        true,
        meta::name_is_dns_subdomain,
        &Path::new("metadata"),
    );
    push_spec(errs, np.spec.as_ref(), opts, &Path::new("spec"));
}

/// The apiserver's validation on create (the strategy's Validate), of an object that has
/// been defaulted and whose name has been generated. Empty when valid.
pub fn validate_create(np: &NetworkPolicy) -> Vec<FieldError> {
    let mut errs = Vec::new();
    push_network_policy(&mut errs, np, SelectorOptions::default());
    errs
}

/// ValidationOptionsForNetworking: an update may keep invalid label values in selectors
/// when the stored object's podSelector already had an error.
fn options_for_update(old: &NetworkPolicy) -> SelectorOptions {
    let mut probe = Vec::new();
    let empty = LabelSelector::default();
    let selector = old
        .spec
        .as_ref()
        .and_then(|s| s.pod_selector.as_ref())
        .unwrap_or(&empty);
    push_label_selector(
        &mut probe,
        selector,
        SelectorOptions::default(),
        &Path::new(""),
    );
    SelectorOptions {
        allow_invalid_label_value: !probe.is_empty(),
    }
}

/// The apiserver's validation on update, as the causes of its 422 list them: the generic
/// registry's common metadata checks, then the strategy's ValidateNetworkPolicy and
/// ValidateNetworkPolicyUpdate. The same fault can therefore appear more than once, as it
/// does on a real apiserver; [`crate::aggregate`] dedupes the message like it does.
///
/// `new` must already have had what the registry does before validating: defaults applied,
/// and [`crate::prepare_for_update`] (resourceVersion for an unconditional update, uid,
/// creationTimestamp and generation from the stored object).
pub fn validate_update(new: &NetworkPolicy, old: &NetworkPolicy) -> Vec<FieldError> {
    let opts = options_for_update(old);
    let mut errs = meta::validate_common_update(&new.metadata, &old.metadata, true);
    push_network_policy(&mut errs, new, opts);
    errs.extend(meta::validate_object_meta_update_core(
        &new.metadata,
        &old.metadata,
    ));
    push_spec(&mut errs, new.spec.as_ref(), opts, &Path::new("spec"));
    errs
}
