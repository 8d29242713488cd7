//! The policy files and manifest `init` writes. Each policy is its own file, so a later
//! edit, seal and review touches one file per policy (docs/init.md).

/// Every pod of `namespace` isolated both ways: nothing reaches them, they reach nothing
/// another policy does not allow. `policyTypes` is explicit because a policy with no
/// rules would otherwise be read as ingress only (kube-apiserver's defaulting).
pub fn default_deny(namespace: &str) -> String {
    format!(
        "# Isolate every pod in {namespace}, both directions. Other policies of this bundle
# open exactly the flows the workloads need (allow-dns.yaml beside this one).
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny
  namespace: {namespace}
spec:
  podSelector: {{}}
  policyTypes: [Ingress, Egress]
"
    )
}

/// Every pod of `namespace` may ask the cluster DNS: kube-system's kube-dns pods, UDP and
/// TCP 53 (TCP for answers too large for UDP). The namespace is matched by the
/// `kubernetes.io/metadata.name` label, which the API server sets on every namespace
/// and nobody can change, rather than by a label someone could add to another one.
pub fn allow_dns(namespace: &str) -> String {
    format!(
        "# Let every pod in {namespace} resolve names: egress to the cluster DNS
# (kube-system's kube-dns pods) on port 53, UDP and TCP.
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-dns
  namespace: {namespace}
spec:
  podSelector: {{}}
  policyTypes: [Egress]
  egress:
    - to:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: kube-system
          podSelector:
            matchLabels:
              k8s-app: kube-dns
      ports:
        - protocol: UDP
          port: 53
        - protocol: TCP
          port: 53
"
    )
}

/// bundle.yaml without its `files:` block, which the seal writes (docs/bundles.md,
/// "bundle.yaml").
pub fn manifest(bundle: &str, namespaces: &[String]) -> String {
    format!(
        "# Bundle {bundle}: the namespaces it governs and, below, every policy file pinned by
# size and SHA-256. After editing a policy: `netpol-sync bundle seal` this directory,
# then `netpol-sync bundle sign` it (docs/bundles.md).
apiVersion: netpol-sync/v1
kind: Bundle
name: {bundle}
namespaces: [{}]
",
        namespaces.join(", ")
    )
}

/// The namespaces a key line may sign in: commits (`git`), bundles and key changes
/// (docs/trust.md), so each signer can do every part of the workflow.
pub const SIGNER_NAMESPACES: &str = "git,netpol-sync-bundle,netpol-sync-keys";

/// keys/allowed_signers: a header, then one line per signer.
pub fn allowed_signers(lines: &[String]) -> String {
    let mut out = String::from(
        "# Who may sign this repository's commits, bundles and key changes (docs/trust.md).
# Format: ssh-keygen(1) ALLOWED SIGNERS. namespaces= limits what a key may sign:
# \"git\" for commits, \"netpol-sync-bundle\" for bundle manifests, \"netpol-sync-keys\"
# for changes to this file. Change it only by a commit signed by a key trusted
# before the change; a key it adds signs only the commits after that one.
",
    );
    for l in lines {
        out.push_str(l);
        out.push('\n');
    }
    out
}
