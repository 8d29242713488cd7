//! URL paths of the Kubernetes REST API, mapped to what they address.

use crate::resources::{self, ResourceKind, NAMESPACES};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Version,
    Health,
    /// `/api`
    CoreVersions,
    /// `/api/v1`
    CoreResources,
    /// `/apis`
    Groups,
    /// `/apis/<group>`
    Group(String),
    /// `/apis/<group>/<version>`
    GroupResources(String, String),
    /// A collection: all objects of a kind (namespace `None`), or in one namespace.
    Collection {
        kind: ResourceKind,
        namespace: Option<String>,
    },
    Item {
        kind: ResourceKind,
        namespace: Option<String>,
        name: String,
    },
    /// `/openapi/v3`
    OpenApiRoot,
    /// `/openapi/v3/api/v1`, `/openapi/v3/apis/<group>/<version>`
    OpenApiGroupVersion(String, String),
    /// A path under a served group/version that names nothing: a Status 404.
    UnknownResource,
    /// Anything else: a plain-text 404, as the apiserver's mux answers.
    NotFound,
}

/// Map a request path to a route. Never panics on arbitrary input.
pub fn parse(path: &str) -> Route {
    let trimmed = path.trim_end_matches('/');
    let segments: Vec<&str> = trimmed.split('/').skip(1).collect();
    match segments.as_slice() {
        ["version"] => Route::Version,
        ["healthz"] | ["readyz"] | ["livez"] => Route::Health,
        ["api"] => Route::CoreVersions,
        ["api", "v1"] => Route::CoreResources,
        ["api", "v1", rest @ ..] => resource_route("", "v1", rest),
        ["apis"] => Route::Groups,
        ["openapi", "v3"] => Route::OpenApiRoot,
        ["openapi", "v3", "api", "v1"] => Route::OpenApiGroupVersion(String::new(), "v1".into()),
        ["openapi", "v3", "apis", group, "v1"] if resources::GROUPS.contains(group) => {
            Route::OpenApiGroupVersion(group.to_string(), "v1".into())
        }
        ["apis", group] if resources::GROUPS.contains(group) => Route::Group(group.to_string()),
        ["apis", group, "v1"] if resources::GROUPS.contains(group) => {
            Route::GroupResources(group.to_string(), "v1".to_string())
        }
        ["apis", group, version, rest @ ..] if resources::GROUPS.contains(group) => {
            resource_route(group, version, rest)
        }
        _ => Route::NotFound,
    }
}

fn resource_route(group: &str, version: &str, rest: &[&str]) -> Route {
    if version != "v1" {
        return Route::NotFound;
    }
    let kind = |plural: &str| resources::lookup(group, version, plural);
    match rest {
        [plural] => match kind(plural) {
            Some(k) => Route::Collection {
                kind: k,
                namespace: None,
            },
            None => Route::UnknownResource,
        },
        ["namespaces", name] if group.is_empty() => item(NAMESPACES, None, name),
        [plural, name] => match kind(plural) {
            Some(k) if !k.namespaced => item(k, None, name),
            _ => Route::UnknownResource,
        },
        ["namespaces", ns, plural] => match kind(plural) {
            Some(k) if k.namespaced && !ns.is_empty() => Route::Collection {
                kind: k,
                namespace: Some(ns.to_string()),
            },
            _ => Route::UnknownResource,
        },
        ["namespaces", ns, plural, name] => match kind(plural) {
            Some(k) if k.namespaced && !ns.is_empty() => item(k, Some(ns), name),
            _ => Route::UnknownResource,
        },
        _ => Route::UnknownResource,
    }
}

fn item(kind: ResourceKind, namespace: Option<&str>, name: &str) -> Route {
    if name.is_empty() {
        return Route::UnknownResource;
    }
    Route::Item {
        kind,
        namespace: namespace.map(str::to_string),
        name: name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{CONFIGMAPS, NETWORK_POLICIES};

    #[test]
    fn resource_paths() {
        assert_eq!(
            parse("/apis/networking.k8s.io/v1/networkpolicies"),
            Route::Collection {
                kind: NETWORK_POLICIES,
                namespace: None
            }
        );
        assert_eq!(
            parse("/apis/networking.k8s.io/v1/namespaces/a/networkpolicies/p"),
            Route::Item {
                kind: NETWORK_POLICIES,
                namespace: Some("a".into()),
                name: "p".into()
            }
        );
        assert_eq!(
            parse("/api/v1/namespaces/a"),
            Route::Item {
                kind: NAMESPACES,
                namespace: None,
                name: "a".into()
            }
        );
        assert_eq!(
            parse("/api/v1/namespaces"),
            Route::Collection {
                kind: NAMESPACES,
                namespace: None
            }
        );
        assert_eq!(
            parse("/api/v1/namespaces/a/configmaps"),
            Route::Collection {
                kind: CONFIGMAPS,
                namespace: Some("a".into())
            }
        );
    }

    #[test]
    fn unserved_paths() {
        assert_eq!(parse("/api/v1/services"), Route::UnknownResource);
        assert_eq!(parse("/api/v1/configmaps/x"), Route::UnknownResource);
        assert_eq!(
            parse("/api/v1/namespaces/a/configmaps/x/status"),
            Route::UnknownResource
        );
        assert_eq!(parse("/apis/apps/v1"), Route::NotFound);
        assert_eq!(parse("/openapi/v2"), Route::NotFound);
        assert_eq!(parse(""), Route::NotFound);
        assert_eq!(parse("//"), Route::NotFound);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_paths_never_panic(path in "(/[a-z0-9.{}-]{0,12}){0,7}/?") {
            let _ = parse(&path);
        }

        #[test]
        fn arbitrary_unicode_paths_never_panic(path in "\\PC{0,80}") {
            let _ = parse(&path);
        }
    }
}
