//! What a bundle wants enforced, in the compact form the daemon keeps between cycles.
//!
//! A validated policy is held as its JSON encoding ([`PolicyJson`]) rather than as a
//! decoded `NetworkPolicy`: the struct with its maps and options takes several times the
//! memory of the ~250 bytes of JSON, and the daemon keeps a whole revision (10,000
//! policies) between cycles. Only a write needs the decoded object, and it is decoded then.

use netpol_policy::NetworkPolicy;
use std::sync::Arc;

/// A validated, defaulted policy (no netpol-sync labels or annotations), JSON-encoded.
#[derive(Clone, PartialEq, Eq)]
pub struct PolicyJson(Arc<str>);

impl PolicyJson {
    pub fn encode(object: &NetworkPolicy) -> PolicyJson {
        // Serialising plain data (strings, numbers, maps with string keys) cannot fail.
        let json = serde_json::to_string(object).expect("a NetworkPolicy always serialises");
        PolicyJson(json.into())
    }

    /// The policy. The bytes were produced by [`PolicyJson::encode`] in this process, so
    /// decoding them again cannot fail short of a serde bug.
    pub fn decode(&self) -> NetworkPolicy {
        serde_json::from_str(&self.0).expect("a PolicyJson decodes to the policy it encoded")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PolicyJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One policy of a verified bundle. Built only by `bundle` (from a file whose SHA-256
/// matched its signed manifest, a document that validated as kube-apiserver would): the
/// fields are read-only outside it, so no stage after verification can change what a
/// signed file says.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredPolicy {
    pub(super) bundle: String,
    pub(super) namespace: String,
    pub(super) name: String,
    /// The defaulted policy, without netpol-sync's labels and annotations.
    pub(super) object: PolicyJson,
    /// `sha256:…` of the defaulted policy (`netpol_policy::content_hash`).
    pub(super) content_hash: String,
    pub(super) file: String,
    pub(super) document: usize,
}

impl DesiredPolicy {
    pub fn bundle(&self) -> &str {
        &self.bundle
    }
    pub fn namespace(&self) -> &str {
        &self.namespace
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The defaulted policy, without netpol-sync's labels and annotations.
    pub fn object(&self) -> &PolicyJson {
        &self.object
    }
    /// `sha256:…` of the defaulted policy (`netpol_policy::content_hash`).
    pub fn content_hash(&self) -> &str {
        &self.content_hash
    }
    /// The file of the bundle it comes from.
    pub fn file(&self) -> &str {
        &self.file
    }
    /// Its document's index in that file (0-based).
    pub fn document(&self) -> usize {
        self.document
    }

    /// A policy no verification made, for tests of what consumes one.
    #[cfg(test)]
    pub(crate) fn for_test(
        bundle: &str,
        object: &netpol_policy::NetworkPolicy,
        file: &str,
    ) -> DesiredPolicy {
        DesiredPolicy {
            bundle: bundle.into(),
            namespace: object.metadata.namespace.clone().unwrap_or_default(),
            name: object.metadata.name.clone().unwrap_or_default(),
            content_hash: netpol_policy::content_hash(object, crate::marks::ANNOTATION_PREFIX),
            object: PolicyJson::encode(object),
            file: file.into(),
            document: 0,
        }
    }
}

/// A bundle's policies, file by file in manifest order. Each file's policies are shared
/// (not copied) with the daemon's [`PolicyCache`](super::PolicyCache), so a revision held
/// between cycles costs its policies once.
#[derive(Debug, Clone, Default)]
pub struct BundlePolicies {
    files: Vec<Arc<[DesiredPolicy]>>,
    len: usize,
}

impl BundlePolicies {
    pub(crate) fn push_file(&mut self, policies: Arc<[DesiredPolicy]>) {
        self.len += policies.len();
        self.files.push(policies);
    }

    pub fn iter(&self) -> impl Iterator<Item = &DesiredPolicy> + Clone + '_ {
        self.files.iter().flat_map(|f| f.iter())
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    #[test]
    fn a_policy_decodes_to_exactly_what_was_encoded() {
        let object = NetworkPolicy {
            metadata: ObjectMeta {
                name: Some("db".into()),
                namespace: Some("payments".into()),
                labels: Some([("tier".to_string(), "db".to_string())].into()),
                ..Default::default()
            },
            spec: Some(Default::default()),
        };
        let json = PolicyJson::encode(&object);
        assert_eq!(json.decode(), object);
        assert!(json.as_str().contains("\"payments\""), "{json:?}");
    }

    #[test]
    fn bundle_policies_iterate_files_in_order() {
        let p = |name: &str| DesiredPolicy {
            bundle: "b".into(),
            namespace: "n".into(),
            name: name.into(),
            object: PolicyJson::encode(&NetworkPolicy::default()),
            content_hash: String::new(),
            file: format!("{name}.yaml"),
            document: 0,
        };
        let mut all = BundlePolicies::default();
        all.push_file(vec![p("a"), p("b")].into());
        all.push_file(Vec::new().into());
        all.push_file(vec![p("c")].into());
        let names: Vec<&str> = all.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(all.len(), 3);
    }
}
