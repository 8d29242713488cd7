//! A minimal OpenAPI v3 surface. kubectl's default `--validate=strict` downloads
//! `/openapi/v3` to learn whether the server validates fields itself (a `fieldValidation`
//! query parameter on the kind's PATCH operation); it does, so kubectl sends
//! `fieldValidation=Strict` and leaves validation to the emulator. No schemas are served.

use serde_json::{json, Map, Value};

use crate::resources::{self, GROUPS};

fn group_version_path(group: &str) -> String {
    if group.is_empty() {
        "api/v1".to_string()
    } else {
        format!("apis/{group}/v1")
    }
}

/// `/openapi/v3`: where each group/version's document is.
pub fn root() -> Value {
    let mut paths = Map::new();
    for group in std::iter::once("").chain(GROUPS.iter().copied()) {
        let gv = group_version_path(group);
        paths.insert(
            gv.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{gv}?hash=apiserver-emu")}),
        );
    }
    json!({"paths": Value::Object(paths)})
}

fn operation(group: &str, version: &str, kind: &str, action: &str) -> Value {
    json!({
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": group, "version": version, "kind": kind},
        "parameters": [
            {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
            {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
            {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
        ],
        "responses": {"200": {"description": "OK"}},
    })
}

/// The document for one group/version: each kind's item path with PUT and PATCH, and the
/// collection path with POST, all advertising `fieldValidation`.
pub fn group_version(group: &str, version: &str) -> Value {
    let prefix = if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    };
    let mut paths = Map::new();
    for kind in resources::resources_in(group, version) {
        let collection = if kind.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}", kind.plural)
        } else {
            format!("{prefix}/{}", kind.plural)
        };
        paths.insert(
            collection.clone(),
            json!({"post": operation(group, version, kind.kind, "post")}),
        );
        paths.insert(
            format!("{collection}/{{name}}"),
            json!({
                "put": operation(group, version, kind.kind, "put"),
                "patch": operation(group, version, kind.kind, "patch"),
            }),
        );
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.33.0"},
        "paths": Value::Object(paths),
        "components": {"schemas": {}},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networkpolicy_patch_advertises_field_validation() {
        let doc = group_version("networking.k8s.io", "v1");
        let patch = &doc["paths"]
            ["/apis/networking.k8s.io/v1/namespaces/{namespace}/networkpolicies/{name}"]["patch"];
        assert_eq!(
            patch["x-kubernetes-group-version-kind"]["kind"],
            "NetworkPolicy"
        );
        assert!(patch["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "fieldValidation"));
        assert!(root()["paths"]["api/v1"]["serverRelativeURL"]
            .as_str()
            .unwrap()
            .starts_with("/openapi/v3/api/v1"));
    }
}
