//! Table-driven: valid and invalid NetworkPolicies, after upstream's
//! pkg/apis/networking/validation test cases, sent to the emulator over HTTP. Invalid ones
//! must come back as 422 with the causes' field paths and reasons the apiserver gives.

use crate::support;

use apiserver_emu::{EmuConfig, Emulator};
use serde_json::json;
use support::*;

use crate::networkpolicy_cases::*;

#[test]
fn valid_policies_are_created() {
    let emu = Emulator::start(EmuConfig {
        namespaces: vec!["t".into()],
        ..Default::default()
    })
    .unwrap();
    for (name, spec) in valid_cases() {
        let r = post_json(&emu.url(), &netpol_path("t"), &with_spec(name, spec));
        assert_eq!(
            r.status,
            201,
            "{name}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
}

#[test]
fn invalid_policies_are_422_with_the_apiserver_causes() {
    let emu = Emulator::start(EmuConfig {
        namespaces: vec!["t".into()],
        ..Default::default()
    })
    .unwrap();
    let mut failures = Vec::new();
    for (case, object, expected) in invalid_cases() {
        let r = post_json(&emu.url(), &netpol_path("t"), &object);
        if r.status != 422 {
            failures.push(format!(
                "{case}: status {} body {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            ));
            continue;
        }
        let status = r.json();
        let name = object["metadata"]["name"].as_str().unwrap();
        let message = status["message"].as_str().unwrap_or("");
        let prefix = format!("NetworkPolicy.networking.k8s.io \"{name}\" is invalid: ");
        let causes: Vec<(String, String)> = status["details"]["causes"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|c| {
                (
                    c["field"].as_str().unwrap_or("").to_string(),
                    c["reason"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        let want: Vec<(String, String)> = expected
            .iter()
            .map(|(f, r)| (f.to_string(), r.to_string()))
            .collect();
        if causes != want
            || !message.starts_with(&prefix)
            || status["details"]["kind"] != "NetworkPolicy"
            || status["reason"] != "Invalid"
        {
            failures.push(format!(
                "{case}: got causes {causes:?}, message {message:?}; want {want:?}"
            ));
            continue;
        }
        for (field, _) in &want {
            if !message.contains(field.as_str()) {
                failures.push(format!("{case}: message {message:?} does not name {field}"));
            }
        }
    }
    assert!(
        emu.list_objects("networkpolicies").is_empty(),
        "an invalid policy was stored"
    );
    assert!(
        failures.is_empty(),
        "{} case(s) differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn defaults_are_applied_like_the_apiserver() {
    let emu = Emulator::start(EmuConfig {
        namespaces: vec!["t".into()],
        ..Default::default()
    })
    .unwrap();
    let spec = json!({"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}], "egress": [{}]});
    let created = post_json(&emu.url(), &netpol_path("t"), &with_spec("d", spec)).json();
    assert_eq!(created["spec"]["ingress"][0]["ports"][0]["protocol"], "TCP");
    assert_eq!(created["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
}
