//! Entry points for the cargo-fuzz targets in `fuzz/` (docs/fuzzing.md). Built only with
//! the `fuzzing` feature, never by default, and hidden from the docs.
//!
//! One function per target: each feeds the fuzzer's bytes to one parser of untrusted
//! input and drops the result. An `Err` is the parser doing its job; a panic, a hang or a
//! runaway allocation is the bug the fuzzer looks for. Nothing here returns a value, so
//! this module gives no way to build a verified value.

use crate::bundle::limits::Limits;
use crate::bundle::{manifest, policy, yaml};
use crate::remote::KnownHosts;
use crate::state::StateRecord;
use crate::verify::{AllowedSigners, SignaturePolicy};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;
use std::time::{Duration, UNIX_EPOCH};

/// A raw git commit object (`git cat-file commit`), as the chain reads it.
pub fn commit_object(data: &[u8]) {
    let _ = crate::verify::commit::parse_commit(data);
}

/// A binary SSHSIG blob (the armour's content).
pub fn sshsig_blob(data: &[u8]) {
    let _ = crate::verify::sshsig::SshSig::parse(data);
}

/// An armoured SSHSIG (`-----BEGIN SSH SIGNATURE-----`).
pub fn armor(data: &[u8]) {
    let _ = crate::verify::armor::dearmor(data);
}

/// A whole `keys/allowed_signers` file.
pub fn allowed_signers(data: &[u8]) {
    let _ = AllowedSigners::parse("keys/allowed_signers", data);
}

/// The signed message of the `verify_detached` seeds (fuzz/corpus/verify_detached).
pub const VERIFY_MESSAGE: &[u8] =
    b"netpol-sync fuzz: the fixed message every verify_detached seed signs\n";

/// The fixed trust file of the `verify_detached` target. Public keys only; their private
/// halves signed the seeds and were discarded. One line per verdict the entry loop can
/// reach: trusted, wrong namespace, expired, a cert-authority line, a hardware key.
const VERIFY_ALLOWED_SIGNERS: &str = r#"# verify_detached fuzz target: fixed trust file
trusted@fuzz.example namespaces="git",valid-after="20200101" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMZNF4teHiU86WGSc9m13CrWuKoXSPTv8soSxFD9nw8h
wrongns@fuzz.example namespaces="netpol-sync-bundle" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINbX5bE63wfhPWuh0P5GV9mlfxUVLwTDtOhXBCDJpzK2
expired@fuzz.example valid-before="20210101Z" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG0Rfqb7C84fy4mjKNncZaaIM77QFQlu/Y1Zx8KZHKGa
*@fuzz.example,!stranger@fuzz.example cert-authority ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHuPj1vLi1RqkhNqXIVcYasUt79NISQplxRTZn+ewDTc
sk@fuzz.example namespaces="git" sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIK01AI4tGHgh7jCxqqIQjSxpm7Txri21AcZf06J+vpGYAAAABHNzaDo=
shop-admin@example.com namespaces="git,netpol-sync-bundle" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAqs6E5zEyx37+hy6TXA/9jAOMkbBF4QhLGpx34F5NdZ
"#;

fn verify_signers() -> &'static AllowedSigners {
    static SIGNERS: OnceLock<AllowedSigners> = OnceLock::new();
    SIGNERS.get_or_init(|| {
        AllowedSigners::parse("fuzz/allowed_signers", VERIFY_ALLOWED_SIGNERS.as_bytes())
            .expect("the fixed allowed_signers of the verify_detached target parses")
    })
}

/// The verifier's clock of the `verify_detached` target: 2026-12-04T00:00:00Z.
fn verify_policy() -> SignaturePolicy {
    SignaturePolicy::at(UNIX_EPOCH + Duration::from_secs(1_796_342_400))
}

/// An armoured signature over [`VERIFY_MESSAGE`] in namespace `git`, judged against the
/// fixed trust file: armour, SSHSIG, key, Ed25519 and the allowed_signers verdicts.
pub fn verify_detached(data: &[u8]) {
    let _ = verify_signers().verify_detached(data, "git", VERIFY_MESSAGE, &verify_policy());
}

/// A bundle's `bundle.yaml`, in directory `bundles/shop`.
pub fn bundle_manifest(data: &[u8]) {
    let _ = manifest::parse(data, "shop", &Limits::default());
}

/// A policy file of a bundle governing `frontend`, `checkout` and `payments`: the YAML
/// loader, then each document as a NetworkPolicy (as the bundle loader does).
pub fn policy_file(data: &[u8]) {
    let Ok(documents) = yaml::load_documents(data, Limits::default().file_yaml()) else {
        return;
    };
    let namespaces: BTreeSet<String> = ["frontend", "checkout", "payments"]
        .into_iter()
        .map(String::from)
        .collect();
    let ctx = policy::PolicyContext {
        bundle: "shop",
        file: "payments/payments-api.yaml",
        namespaces: &namespaces,
    };
    let _ = policy::load_file(&ctx, documents);
}

/// A known_hosts file; a parsed one then judges a few hosts (the pattern matcher), all
/// presenting the key of the seeds' `github.com` line.
pub fn known_hosts(data: &[u8]) {
    let Ok(hosts) = KnownHosts::parse(data) else {
        return;
    };
    let mut key = b"\0\0\0\x0bssh-ed25519\0\0\0\x20".to_vec();
    key.extend_from_slice(&KNOWN_HOST_KEY);
    for (host, port) in [
        ("github.com", 22),
        ("git.example.com", 2222),
        ("10.0.0.1", 22),
    ] {
        let _ = hosts.check(host, port, &key);
    }
}

/// The Ed25519 point of the `github.com` key in fuzz/corpus/known_hosts.
const KNOWN_HOST_KEY: [u8; 32] = [
    0xc6, 0x4d, 0x17, 0x8b, 0x5e, 0x1e, 0x25, 0x3c, 0xe9, 0x61, 0x92, 0x73, 0xd9, 0xb5, 0xdc, 0x2a,
    0xd6, 0xb8, 0xaa, 0x17, 0x48, 0xf4, 0xef, 0xf2, 0xca, 0x12, 0xc4, 0x50, 0xfd, 0x9f, 0x0f, 0x21,
];

/// One line of a NetworkPolicy watch stream, with and without a governed scope.
pub fn watch_line(data: &[u8]) {
    let governed: BTreeSet<String> = ["payments".to_string()].into();
    let _ = crate::daemon::drift_watch::judge(data, Some(&governed));
    let _ = crate::daemon::drift_watch::judge(data, None);
}

/// The state ConfigMap's data: `state.json`, then (after the first NUL byte, if any)
/// `inventory`. ConfigMap data values are strings, so invalid UTF-8 is replaced.
pub fn state_record(data: &[u8]) {
    let (json, inventory) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let mut map = BTreeMap::new();
    map.insert(
        "state.json".to_string(),
        String::from_utf8_lossy(json).into_owned(),
    );
    if let Some(inventory) = inventory {
        map.insert(
            "inventory".to_string(),
            String::from_utf8_lossy(inventory).into_owned(),
        );
    }
    let _ = StateRecord::from_data(&map);
}

/// A draft's file as `netpol-sync reach` splits it into documents and reads namespaces
/// without parsing (src/reach/files.rs): both must agree with the YAML parser.
pub fn reach_documents(data: &[u8]) {
    crate::reach::check_split_and_hints(data);
}

/// Workloads YAML as `netpol-sync reach --workloads` reads it (src/reach/workloads.rs),
/// then the map of what it holds under a default-deny with one allowed flow.
pub fn reach_workloads(data: &[u8]) {
    let Ok(documents) = yaml::load_documents(data, Limits::default().file_yaml()) else {
        return;
    };
    let mut workloads = crate::reach::workloads::Workloads::default();
    for d in documents.iter().filter(|d| !d.value.is_null()) {
        if workloads.add("w.yaml", d.index, &d.value).is_err() {
            return;
        }
    }
    // A map is quadratic in the workloads: a fuzz input is judged by its reading.
    if workloads.pods.len() > 16 {
        return;
    }
    let policy: netpol_policy::NetworkPolicy = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"podSelector": {"matchLabels": {"app": "web"}},
                 "ingress": [{"from": [{"podSelector": {}}], "ports": [{"port": "http"}]}],
                 "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}]}]}
    }))
    .expect("a fixed policy");
    let Ok(evaluator) = netpol_reach::Evaluator::new([&policy]) else {
        return;
    };
    if let Ok(model) = crate::reach::Model::new(&workloads, Vec::new()) {
        let _ = crate::reach::map(&model, &evaluator);
    }
}

/// A policy file as `netpol-sync check`'s lint reads its text (src/lint/): the field
/// locator on a few paths of the first documents, and the `# netpol-sync:` comment
/// directives. Text that is not UTF-8 is read up to its first bad byte.
pub fn lint_locate(data: &[u8]) {
    use crate::lint::locate::{document_start, locate, PathSegment as S};
    let text = match std::str::from_utf8(data) {
        Ok(text) => text,
        Err(e) => std::str::from_utf8(&data[..e.valid_up_to()]).unwrap_or_default(),
    };
    for document in 0..3 {
        let _ = document_start(text, document);
        let _ = locate(text, document, &[S::Key("spec"), S::Key("policyTypes")]);
        let _ = locate(
            text,
            document,
            &[
                S::Key("spec"),
                S::Key("ingress"),
                S::Index(1),
                S::Key("from"),
                S::Index(0),
            ],
        );
        let _ = locate(text, document, &[S::Key("namespaces"), S::Index(0)]);
    }
    let _ = crate::lint::silence::parse_directives(text);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reason::ReasonCode;

    const TRUSTED: &[u8] = b"-----BEGIN SSH SIGNATURE-----
U1NIU0lHAAAAAQAAADMAAAALc3NoLWVkMjU1MTkAAAAgxk0Xi14eJTzpYZJz2bXcKta4qh
dI9O/yyhLEUP2fDyEAAAADZ2l0AAAAAAAAAAZzaGE1MTIAAABTAAAAC3NzaC1lZDI1NTE5
AAAAQIBriYxWwieWNzUH87aWd0fVS4dNs5leKWDWwBKV1+3fpHLiTEJsTrFyMAIz6Id0Mt
po3JZl2BXbUW8kgA00MQU=
-----END SSH SIGNATURE-----
";
    const SK_NO_PRESENCE: &[u8] = b"-----BEGIN SSH SIGNATURE-----
U1NIU0lHAAAAAQAAAEoAAAAac2stc3NoLWVkMjU1MTlAb3BlbnNzaC5jb20AAAAgrTUAji
0YeCHuMLGqohCNLGmbtPGuLbUBxl/Ton6+kZgAAAAEc3NoOgAAAANnaXQAAAAAAAAABnNo
YTUxMgAAAGcAAAAac2stc3NoLWVkMjU1MTlAb3BlbnNzaC5jb20AAABAWv4UkIFCVH07E1
hWiCTvdVMqaQIE51pKJYiyVxsma7CP23N2PW7H3q5i0975Qwn0lEaevSSE3FHPCj/6zvP/
AQAAAAAI
-----END SSH SIGNATURE-----
";
    const WRONG_NAMESPACE: &[u8] = b"-----BEGIN SSH SIGNATURE-----
U1NIU0lHAAAAAQAAADMAAAALc3NoLWVkMjU1MTkAAAAg1tflsTrfB+E9a6HQ/kZX2aV/FR
UvBMO06FcEIMmnMrYAAAADZ2l0AAAAAAAAAAZzaGE1MTIAAABTAAAAC3NzaC1lZDI1NTE5
AAAAQA6O2HOZJ8S47TJGgX7i1ck5JUJHCHnSfHknVyNUncEz+f9Kvunx1aRZC8OENYkaAw
FJSIx9w+CznxX/g7Nnxg8=
-----END SSH SIGNATURE-----
";

    fn verify(armored: &[u8]) -> Result<String, ReasonCode> {
        verify_signers()
            .verify_detached(armored, "git", VERIFY_MESSAGE, &verify_policy())
            .map(|id| id.principal().to_string())
            .map_err(|e| e.reason())
    }

    /// The seeds reach the end of the signature path: a fuzz run starts from inputs that
    /// verify, or fail only at the allowed_signers verdict.
    #[test]
    fn the_verify_detached_seeds_reach_the_trust_verdicts() {
        assert_eq!(verify(TRUSTED).unwrap(), "trusted@fuzz.example");
        assert_eq!(verify(WRONG_NAMESPACE), Err(ReasonCode::UntrustedKey));
        assert_eq!(verify(SK_NO_PRESENCE), Err(ReasonCode::BadSignature));
        let mut flipped = TRUSTED.to_vec();
        flipped[200] ^= 1;
        assert!(verify(&flipped).is_err());
    }

    #[test]
    fn the_known_hosts_key_is_the_one_of_the_seed_line() {
        let hosts = KnownHosts::parse(b"github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMZNF4teHiU86WGSc9m13CrWuKoXSPTv8soSxFD9nw8h\n").unwrap();
        let mut key = b"\0\0\0\x0bssh-ed25519\0\0\0\x20".to_vec();
        key.extend_from_slice(&KNOWN_HOST_KEY);
        assert_eq!(
            hosts.check("github.com", 22, &key),
            crate::remote::HostKeyVerdict::Trusted
        );
    }

    /// The seeds of `lint_locate` reach the locator's walk and the directive parser.
    #[test]
    fn the_lint_locate_seeds_hold_fields_and_directives() {
        use crate::lint::locate::{locate, PathSegment as S};
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/lint_locate");
        for entry in std::fs::read_dir(dir).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            let text = std::str::from_utf8(&bytes).unwrap();
            assert!(locate(text, 0, &[S::Key("kind")]).is_some());
            assert!(!crate::lint::silence::parse_directives(text).is_empty());
            lint_locate(&bytes);
        }
    }

    #[test]
    fn every_entry_point_takes_garbage() {
        for data in [
            &b""[..],
            b"\0",
            b"\xff\xfe",
            b"{\"type\":\"ADDED\"}\0a/b 12\n",
        ] {
            commit_object(data);
            sshsig_blob(data);
            armor(data);
            allowed_signers(data);
            verify_detached(data);
            bundle_manifest(data);
            policy_file(data);
            known_hosts(data);
            watch_line(data);
            state_record(data);
            reach_workloads(data);
            lint_locate(data);
        }
    }

    /// The seeds of `reach_workloads` read as workloads and reach the map.
    #[test]
    fn the_reach_workloads_seeds_are_workloads() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/reach_workloads");
        for entry in std::fs::read_dir(dir).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            let docs = yaml::load_documents(&bytes, Limits::default().file_yaml()).unwrap();
            let mut w = crate::reach::workloads::Workloads::default();
            for d in docs.iter().filter(|d| !d.value.is_null()) {
                w.add("seed", d.index, &d.value).unwrap();
            }
            assert!(!w.pods.is_empty());
            reach_workloads(&bytes);
        }
    }
}
