//! Policy documents: each YAML document of a listed file must be a
//! `networking.k8s.io/v1` NetworkPolicy in one of the bundle's namespaces, valid as
//! kube-apiserver judges it (netpol-policy holds those rules). The accepted object is
//! defaulted as the apiserver would, and hashed in its normalised form.
//!
//! A bundle's objects may not carry netpol-sync's own ownership marks (the managed-by
//! label, `netpol-sync.io/` annotations): netpol-sync writes those itself, and letting a
//! bundle set them would let it forge the revision or digest an object claims to come
//! from. Server-owned metadata (uid, resourceVersion, …) is refused for the same reason:
//! a bundle states intent, not a snapshot of a live object.

use super::yaml::YamlDocument;
use super::{BundleError, DesiredPolicy};
use crate::marks::{ANNOTATION_PREFIX, MANAGED_BY_LABEL};
use crate::reason::ReasonCode;
use netpol_policy::FieldError;
use serde_json::Value;
use std::collections::BTreeSet;

pub const API_VERSION: &str = "networking.k8s.io/v1";
pub const KIND: &str = "NetworkPolicy";
/// The metadata a bundle may set; everything else is the server's.
const ALLOWED_METADATA: &[&str] = &["name", "namespace", "labels", "annotations"];
/// How many apiserver errors one rejection lists.
const MAX_REPORTED_ERRORS: usize = 10;

pub struct PolicyContext<'a> {
    pub bundle: &'a str,
    pub file: &'a str,
    pub namespaces: &'a BTreeSet<String>,
}

fn invalid(
    ctx: &PolicyContext<'_>,
    document: usize,
    field: &str,
    message: impl Into<String>,
) -> BundleError {
    BundleError::new(ReasonCode::InvalidPolicy, message)
        .in_bundle(ctx.bundle)
        .in_file(ctx.file)
        .in_document(document)
        .at_field(field)
}

/// How many policies of one file validate, or why one does not: the validation of
/// [`load_file`] for benchmarks and tools, without the [`DesiredPolicy`] values that only a
/// verified bundle may carry.
pub fn validate_file(
    ctx: &PolicyContext<'_>,
    documents: Vec<YamlDocument>,
) -> Result<usize, BundleError> {
    load_file(ctx, documents).map(|policies| policies.len())
}

/// Every policy of one file; empty documents (a stray `---`) are skipped. `pub(crate)`:
/// a [`DesiredPolicy`] is made only from a file whose digest matched its signed manifest.
pub(crate) fn load_file(
    ctx: &PolicyContext<'_>,
    documents: Vec<YamlDocument>,
) -> Result<Vec<DesiredPolicy>, BundleError> {
    let mut out = Vec::with_capacity(documents.len());
    for doc in documents {
        if doc.value.is_null() {
            continue;
        }
        out.push(load_document(ctx, doc.index, doc.value)?);
    }
    Ok(out)
}

fn load_document(
    ctx: &PolicyContext<'_>,
    document: usize,
    value: Value,
) -> Result<DesiredPolicy, BundleError> {
    let Value::Object(top) = &value else {
        return Err(invalid(
            ctx,
            document,
            "",
            "document is not a mapping; expected a NetworkPolicy object",
        ));
    };
    let api_version = top.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = top.get("kind").and_then(Value::as_str).unwrap_or("");
    if (api_version, kind) != (API_VERSION, KIND) {
        let field = if api_version != API_VERSION {
            "apiVersion"
        } else {
            "kind"
        };
        return Err(invalid(
            ctx,
            document,
            field,
            format!("document is `{api_version}` `{kind}`; a bundle holds only `{API_VERSION}` `{KIND}` objects"),
        ));
    }
    let metadata = match top.get("metadata") {
        Some(Value::Object(m)) => m,
        _ => return Err(invalid(ctx, document, "metadata", "metadata is required")),
    };
    let namespace = match metadata.get("namespace") {
        Some(Value::String(ns)) if !ns.is_empty() => ns.clone(),
        _ => return Err(invalid(
            ctx,
            document,
            "metadata.namespace",
            "metadata.namespace is required: a bundle's policies name their namespace explicitly",
        )),
    };
    if !ctx.namespaces.contains(&namespace) {
        return Err(BundleError::new(
            ReasonCode::NamespaceOutOfScope,
            format!(
                "namespace `{namespace}` is not governed by bundle `{}` (namespaces: {})",
                ctx.bundle,
                ctx.namespaces
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .in_bundle(ctx.bundle)
        .in_file(ctx.file)
        .in_document(document)
        .at_field("metadata.namespace"));
    }
    for key in metadata.keys() {
        if !ALLOWED_METADATA.contains(&key.as_str()) {
            return Err(invalid(
                ctx,
                document,
                &format!("metadata.{key}"),
                format!("metadata.{key} is set by the API server or not supported in a bundle; remove it"),
            ));
        }
    }
    if let Some(Value::Object(labels)) = metadata.get("labels") {
        if labels.contains_key(MANAGED_BY_LABEL) {
            return Err(invalid(
                ctx,
                document,
                &format!("metadata.labels[{MANAGED_BY_LABEL}]"),
                format!("label `{MANAGED_BY_LABEL}` is netpol-sync's own ownership mark; a bundle may not set it"),
            ));
        }
    }
    if let Some(Value::Object(annotations)) = metadata.get("annotations") {
        if let Some(key) = annotations
            .keys()
            .find(|k| k.starts_with(ANNOTATION_PREFIX))
        {
            return Err(invalid(
                ctx,
                document,
                &format!("metadata.annotations[{key}]"),
                format!("annotations under `{ANNOTATION_PREFIX}` are written by netpol-sync; a bundle may not set them"),
            ));
        }
    }

    let mut object =
        netpol_policy::decode_strict(value).map_err(|errs| field_errors(ctx, document, &errs))?;
    let errs = netpol_policy::validate_create(&object);
    if !errs.is_empty() {
        return Err(field_errors(ctx, document, &errs));
    }
    netpol_policy::apply_defaults(&mut object);
    let name = object.metadata.name.clone().unwrap_or_default();
    // Every revision must work in both modes (docs/sync.md, "Immutable objects"): the
    // name leaves room for `-<hash>` within Kubernetes' 253 characters.
    if name.len() > crate::plan::naming::MAX_POLICY_NAME {
        return Err(invalid(
            ctx,
            document,
            "metadata.name",
            format!(
                "metadata.name is {} characters: at most {} leave room for the `-<hash>` suffix of --immutable-objects",
                name.len(),
                crate::plan::naming::MAX_POLICY_NAME
            ),
        ));
    }
    let content_hash = netpol_policy::content_hash(&object, ANNOTATION_PREFIX);
    Ok(DesiredPolicy {
        bundle: ctx.bundle.to_string(),
        namespace,
        name,
        object: super::PolicyJson::encode(&object),
        content_hash,
        file: ctx.file.to_string(),
        document,
    })
}

/// Reported as the apiserver does: `field: message`, the first error's field as the
/// location, the rest listed after it.
fn field_errors(ctx: &PolicyContext<'_>, document: usize, errs: &[FieldError]) -> BundleError {
    let render = |e: &FieldError| {
        let m = e.message();
        if e.field.is_empty() || m.starts_with(&e.field) {
            m
        } else {
            format!("{}: {m}", e.field)
        }
    };
    let mut message = errs
        .iter()
        .take(MAX_REPORTED_ERRORS)
        .map(render)
        .collect::<Vec<_>>()
        .join("; ");
    if errs.len() > MAX_REPORTED_ERRORS {
        message.push_str(&format!("; and {} more", errs.len() - MAX_REPORTED_ERRORS));
    }
    if message.is_empty() {
        message = "the API server would reject this NetworkPolicy".to_string();
    }
    let field = errs.first().map(|e| e.field.as_str()).unwrap_or("");
    invalid(ctx, document, field, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::yaml::{load_documents, YamlLimits};

    fn load(yaml: &str) -> Result<Vec<DesiredPolicy>, BundleError> {
        let namespaces: BTreeSet<String> = ["payments".to_string(), "frontend".to_string()].into();
        let ctx = PolicyContext {
            bundle: "prod",
            file: "p.yaml",
            namespaces: &namespaces,
        };
        let docs = load_documents(
            yaml.as_bytes(),
            YamlLimits {
                max_documents: 10,
                max_depth: 32,
            },
        )
        .unwrap();
        load_file(&ctx, docs)
    }

    const DENY: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: default-deny\n  namespace: payments\nspec:\n  podSelector: {}\n  policyTypes: [Ingress, Egress]\n";

    #[test]
    fn a_network_policy_loads_with_its_place_and_hash() {
        // A leading `---` opens the first document; the second one opens document 1.
        let p = load(&format!("---\n---\n{DENY}")).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(
            (p[0].namespace.as_str(), p[0].name.as_str(), p[0].document),
            ("payments", "default-deny", 1)
        );
        assert!(p[0].content_hash.starts_with("sha256:") && p[0].content_hash.len() == 71);
    }

    #[test]
    fn deployment_smuggled_into_bundle_is_rejected() {
        let e = load(&format!("{DENY}---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: miner\n  namespace: payments\nspec: {{}}\n")).unwrap_err();
        assert_eq!(
            (e.reason, e.location.document, e.location.field.as_deref()),
            (ReasonCode::InvalidPolicy, Some(1), Some("apiVersion"))
        );
        assert!(e.message.contains("Deployment"), "{}", e.message);
    }

    #[test]
    fn cluster_role_smuggled_into_bundle_is_rejected() {
        let e = load("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: admin\nrules: []\n").unwrap_err();
        assert_eq!(e.reason, ReasonCode::InvalidPolicy);
    }

    #[test]
    fn network_policy_of_another_api_version_is_rejected() {
        let e = load(&DENY.replace("networking.k8s.io/v1", "extensions/v1beta1")).unwrap_err();
        assert_eq!(
            (e.reason, e.location.field.as_deref()),
            (ReasonCode::InvalidPolicy, Some("apiVersion"))
        );
    }

    #[test]
    fn policy_without_namespace_is_rejected() {
        let e = load(&DENY.replace("  namespace: payments\n", "")).unwrap_err();
        assert_eq!(
            (e.reason, e.location.field.as_deref()),
            (ReasonCode::InvalidPolicy, Some("metadata.namespace"))
        );
    }

    #[test]
    fn policy_in_undeclared_namespace_is_out_of_scope() {
        let e = load(&DENY.replace("namespace: payments", "namespace: kube-system")).unwrap_err();
        assert_eq!(
            (e.reason, e.location.file.as_deref()),
            (ReasonCode::NamespaceOutOfScope, Some("p.yaml"))
        );
        assert!(e.message.contains("kube-system"), "{}", e.message);
    }

    #[test]
    fn managed_by_label_in_bundle_is_rejected() {
        let e = load(&DENY.replace(
            "  namespace: payments\n",
            "  namespace: payments\n  labels:\n    app.kubernetes.io/managed-by: netpol-sync\n",
        ))
        .unwrap_err();
        assert_eq!(
            (e.reason, e.location.field.as_deref()),
            (
                ReasonCode::InvalidPolicy,
                Some("metadata.labels[app.kubernetes.io/managed-by]")
            )
        );
    }

    #[test]
    fn forged_netpol_sync_annotation_in_bundle_is_rejected() {
        let e = load(&DENY.replace(
            "  namespace: payments\n",
            "  namespace: payments\n  annotations:\n    netpol-sync.io/revision: deadbeef\n",
        ))
        .unwrap_err();
        assert_eq!(e.reason, ReasonCode::InvalidPolicy);
    }

    #[test]
    fn server_owned_metadata_in_bundle_is_rejected() {
        let e = load(&DENY.replace(
            "  namespace: payments\n",
            "  namespace: payments\n  resourceVersion: \"5\"\n",
        ))
        .unwrap_err();
        assert_eq!(
            (e.reason, e.location.field.as_deref()),
            (ReasonCode::InvalidPolicy, Some("metadata.resourceVersion"))
        );
    }

    #[test]
    fn misspelt_spec_field_is_rejected_by_strict_decoding() {
        let e = load(&DENY.replace("podSelector", "podSelecter")).unwrap_err();
        assert_eq!(e.reason, ReasonCode::InvalidPolicy);
        assert_eq!(e.location.document, Some(0));
    }

    #[test]
    fn scalar_document_is_rejected() {
        assert_eq!(
            load("just a string\n").unwrap_err().reason,
            ReasonCode::InvalidPolicy
        );
    }

    #[test]
    fn empty_documents_are_skipped() {
        assert_eq!(load(&format!("---\n---\n{DENY}---\n")).unwrap().len(), 1);
    }

    /// Invalid policies mirroring kube-apiserver's NetworkPolicy validation cases
    /// (pkg/apis/networking/validation): each must be `invalid-policy` at the field the
    /// apiserver names.
    fn invalid_at(spec: &str) -> (ReasonCode, Option<String>, String) {
        let doc = format!("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: p\n  namespace: payments\nspec:\n{spec}");
        let e = load(&doc).unwrap_err();
        (e.reason, e.location.field, e.message)
    }

    #[test]
    fn invalid_policy_end_port_below_port() {
        let (r, f, m) = invalid_at("  podSelector: {}\n  ingress:\n    - ports:\n        - port: 8080\n          endPort: 80\n");
        assert_eq!(
            (r, f.as_deref()),
            (
                ReasonCode::InvalidPolicy,
                Some("spec.ingress[0].ports[0].endPort")
            ),
            "{m}"
        );
    }

    #[test]
    fn invalid_policy_end_port_with_named_port() {
        let (r, f, _) = invalid_at("  podSelector: {}\n  egress:\n    - ports:\n        - port: http\n          endPort: 9000\n");
        assert_eq!(
            (r, f.as_deref()),
            (
                ReasonCode::InvalidPolicy,
                Some("spec.egress[0].ports[0].endPort")
            )
        );
    }

    #[test]
    fn invalid_policy_port_out_of_range() {
        let (r, f, _) =
            invalid_at("  podSelector: {}\n  ingress:\n    - ports:\n        - port: 70000\n");
        assert_eq!(
            (r, f.as_deref()),
            (
                ReasonCode::InvalidPolicy,
                Some("spec.ingress[0].ports[0].port")
            )
        );
    }

    #[test]
    fn invalid_policy_unsupported_protocol() {
        let (r, f, _) = invalid_at("  podSelector: {}\n  ingress:\n    - ports:\n        - protocol: ICMP\n          port: 1\n");
        assert_eq!(
            (r, f.as_deref()),
            (
                ReasonCode::InvalidPolicy,
                Some("spec.ingress[0].ports[0].protocol")
            )
        );
    }

    #[test]
    fn invalid_policy_bad_cidr() {
        let (r, f, _) = invalid_at("  podSelector: {}\n  egress:\n    - to:\n        - ipBlock:\n            cidr: 10.0.0.0/33\n");
        assert_eq!(
            (r, f.as_deref()),
            (
                ReasonCode::InvalidPolicy,
                Some("spec.egress[0].to[0].ipBlock.cidr")
            )
        );
    }

    #[test]
    fn invalid_policy_except_outside_cidr() {
        let (r, f, _) = invalid_at("  podSelector: {}\n  egress:\n    - to:\n        - ipBlock:\n            cidr: 10.0.0.0/16\n            except: [192.168.0.0/24]\n");
        assert_eq!(
            (r, f.as_deref()),
            (
                ReasonCode::InvalidPolicy,
                Some("spec.egress[0].to[0].ipBlock.except[0]")
            )
        );
    }

    #[test]
    fn invalid_policy_ip_block_with_selector_in_one_peer() {
        let (r, f, _) = invalid_at("  podSelector: {}\n  ingress:\n    - from:\n        - ipBlock:\n            cidr: 10.0.0.0/8\n          podSelector: {}\n");
        assert_eq!(r, ReasonCode::InvalidPolicy);
        assert!(
            f.as_deref()
                .is_some_and(|f| f.starts_with("spec.ingress[0].from[0]")),
            "{f:?}"
        );
    }

    #[test]
    fn invalid_policy_unsupported_policy_type() {
        let (r, f, _) = invalid_at("  podSelector: {}\n  policyTypes: [Sideways]\n");
        assert_eq!(r, ReasonCode::InvalidPolicy);
        assert!(
            f.as_deref()
                .is_some_and(|f| f.starts_with("spec.policyTypes")),
            "{f:?}"
        );
    }

    #[test]
    fn invalid_policy_bad_match_expression_operator() {
        let (r, f, _) = invalid_at("  podSelector:\n    matchExpressions:\n      - key: app\n        operator: Near\n        values: [a]\n");
        assert_eq!(r, ReasonCode::InvalidPolicy);
        assert!(
            f.as_deref()
                .is_some_and(|f| f.starts_with("spec.podSelector.matchExpressions[0]")),
            "{f:?}"
        );
    }

    #[test]
    fn invalid_policy_bad_label_value_in_selector() {
        let (r, f, _) =
            invalid_at("  podSelector:\n    matchLabels:\n      app: \"not a valid value!\"\n");
        assert_eq!(r, ReasonCode::InvalidPolicy);
        assert!(
            f.as_deref()
                .is_some_and(|f| f.starts_with("spec.podSelector.matchLabels")),
            "{f:?}"
        );
    }

    #[test]
    fn a_name_with_no_room_for_the_immutable_suffix_is_invalid() {
        let longest = "a".repeat(crate::plan::naming::MAX_POLICY_NAME);
        assert!(load(&DENY.replace("name: default-deny", &format!("name: {longest}"))).is_ok());
        let e =
            load(&DENY.replace("name: default-deny", &format!("name: {longest}b"))).unwrap_err();
        assert_eq!(
            (e.reason, e.location.field.as_deref()),
            (ReasonCode::InvalidPolicy, Some("metadata.name"))
        );
        assert!(e.message.contains("at most 242"), "{}", e.message);
    }

    #[test]
    fn invalid_policy_bad_object_name() {
        let e = load(&DENY.replace("name: default-deny", "name: Default_Deny")).unwrap_err();
        assert_eq!(
            (e.reason, e.location.field.as_deref()),
            (ReasonCode::InvalidPolicy, Some("metadata.name"))
        );
    }

    #[test]
    fn invalid_policy_bad_label_on_the_object() {
        let e = load(&DENY.replace(
            "  namespace: payments\n",
            "  namespace: payments\n  labels:\n    \"-bad-\": x\n",
        ))
        .unwrap_err();
        assert_eq!(e.reason, ReasonCode::InvalidPolicy);
        assert!(
            e.location
                .field
                .as_deref()
                .is_some_and(|f| f.starts_with("metadata.labels")),
            "{:?}",
            e.location.field
        );
    }

    #[test]
    fn defaulting_fills_protocol_and_policy_types_before_hashing() {
        let p = load("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: p\n  namespace: payments\nspec:\n  podSelector: {}\n  egress:\n    - ports:\n        - port: 53\n").unwrap();
        let object = p[0].object.decode();
        let spec = object.spec.as_ref().unwrap();
        // Upstream SetDefaults_NetworkPolicySpec: Ingress always, Egress when egress rules exist.
        assert_eq!(
            spec.policy_types.as_deref(),
            Some(&["Ingress".to_string(), "Egress".to_string()][..])
        );
        let port = &spec.egress.as_ref().unwrap()[0].ports.as_ref().unwrap()[0];
        assert_eq!(port.protocol.as_deref(), Some("TCP"));
        // Writing the defaults out gives the same content hash.
        let explicit = load("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: p\n  namespace: payments\nspec:\n  podSelector: {}\n  policyTypes: [Ingress, Egress]\n  egress:\n    - ports:\n        - port: 53\n          protocol: TCP\n").unwrap();
        assert_eq!(p[0].content_hash, explicit[0].content_hash);
    }
}
