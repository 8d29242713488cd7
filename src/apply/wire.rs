//! The HTTP requests a write sends, and the one thing read back from their answers.
//!
//! The API server answers a create, replace or delete with the whole stored object,
//! managedFields included. `kube::Api` decodes all of it into the typed `NetworkPolicy`,
//! twice per object (the dry run and the write), yet only the stored uid and
//! resourceVersion are ever used: the drift watch needs them to recognise our own writes.
//! So the rest of the answer is skipped unread (what that saves: docs/performance.md).
//!
//! Errors are kube's own (`kube::Error`), exactly as through `Api`: the retry and
//! conflict rules classify them the same way.

use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{DeleteParams, PostParams};
use kube::core::Request;
use kube::Resource;
use serde::Deserialize;

/// The identity of the version the API server stored.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Stored {
    pub metadata: StoredMeta,
}

#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(super) struct StoredMeta {
    pub uid: Option<String>,
    pub resource_version: Option<String>,
}

/// Only a JSON object is a stored object: serde's derived decoders would also take an
/// array (`[]` as an object with every field missing), and an answer that is not an
/// object is a server we do not understand, so the write fails instead.
impl<'de> Deserialize<'de> for Stored {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Stored, D::Error> {
        struct StoredVisitor;
        impl<'de> serde::de::Visitor<'de> for StoredVisitor {
            type Value = Stored;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("the stored object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Stored, A::Error> {
                let mut metadata = None;
                while let Some(key) = map.next_key::<Field>()? {
                    if key == Field::Other {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    } else if metadata.is_some() {
                        return Err(serde::de::Error::duplicate_field("metadata"));
                    } else {
                        metadata = Some(map.next_value::<ObjectOnly<StoredMeta>>()?.0);
                    }
                }
                Ok(Stored {
                    metadata: metadata.unwrap_or_default(),
                })
            }
        }
        deserializer.deserialize_map(StoredVisitor)
    }
}

/// A stored object's keys: `metadata`, and the rest, skipped.
#[derive(Deserialize, PartialEq, Eq)]
#[serde(field_identifier, rename_all = "camelCase")]
enum Field {
    Metadata,
    #[serde(other)]
    Other,
}

/// `T` where its JSON is an object, an error where it is anything else.
struct ObjectOnly<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ObjectOnly<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Check<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Check<T> {
            type Value = T;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        deserializer
            .deserialize_map(Check(std::marker::PhantomData))
            .map(ObjectOnly)
    }
}

/// What a delete answered.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Deleted {
    /// The object is gone.
    Gone,
    /// The object stays, marked for deletion, until someone else's finalizers are removed:
    /// that marking is a version we wrote.
    Marked(Stored),
}

/// NetworkPolicies of one namespace, as `kube::Api` addresses them.
pub(super) struct NetworkPolicies<'a> {
    client: &'a kube::Client,
    request: Request,
}

impl<'a> NetworkPolicies<'a> {
    pub fn namespaced(client: &'a kube::Client, namespace: &str) -> Self {
        NetworkPolicies {
            client,
            request: Request::new(NetworkPolicy::url_path(&(), Some(namespace))),
        }
    }

    pub async fn create(
        &self,
        pp: &PostParams,
        object: &NetworkPolicy,
    ) -> Result<Stored, kube::Error> {
        self.write(object, |request, body| request.create(pp, body))
            .await
    }

    pub async fn replace(
        &self,
        name: &str,
        pp: &PostParams,
        object: &NetworkPolicy,
    ) -> Result<Stored, kube::Error> {
        self.write(object, |request, body| request.replace(name, pp, body))
            .await
    }

    async fn write(
        &self,
        object: &NetworkPolicy,
        build: impl FnOnce(
            &Request,
            Vec<u8>,
        ) -> Result<http::Request<Vec<u8>>, kube::core::request::Error>,
    ) -> Result<Stored, kube::Error> {
        let body = serde_json::to_vec(object).map_err(kube::Error::SerdeError)?;
        let req = build(&self.request, body).map_err(kube::Error::BuildRequest)?;
        self.client.request::<Stored>(req).await
    }

    pub async fn delete(&self, name: &str, dp: &DeleteParams) -> Result<Deleted, kube::Error> {
        let req = self
            .request
            .delete(name, dp)
            .map_err(kube::Error::BuildRequest)?;
        let answer = self.client.request_status::<Stored>(req).await?;
        Ok(match answer.left() {
            Some(marked) => Deleted::Marked(marked),
            None => Deleted::Gone,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::api::Preconditions;
    use netpol_testkit::cluster::start;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn policy(name: &str, finalizers: &[&str]) -> NetworkPolicy {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "finalizers": finalizers},
            "spec": {"podSelector": {}}
        }))
        .unwrap()
    }

    fn post(dry_run: bool) -> PostParams {
        PostParams {
            dry_run,
            field_manager: Some("netpol-sync".into()),
        }
    }

    fn stored_meta(emu: &apiserver_emu::Emulator, name: &str) -> StoredMeta {
        let object = emu
            .get_object("networkpolicies", Some("payments"), name)
            .expect("the object is stored");
        let text = |field: &str| object["metadata"][field].as_str().map(String::from);
        StoredMeta {
            uid: text("uid"),
            resource_version: text("resourceVersion"),
        }
    }

    #[tokio::test]
    async fn a_write_answers_the_uid_and_version_the_server_stored() {
        let cluster = start(&["payments"]).await;
        let api = NetworkPolicies::namespaced(&cluster.client, "payments");
        let created = api.create(&post(false), &policy("a", &[])).await.unwrap();
        assert_eq!(created.metadata, stored_meta(&cluster.emu, "a"));

        let mut changed = policy("a", &[]);
        changed.metadata.labels = Some([("tier".to_string(), "web".to_string())].into());
        changed.metadata.resource_version = created.metadata.resource_version.clone();
        let replaced = api.replace("a", &post(false), &changed).await.unwrap();
        assert_eq!(replaced.metadata, stored_meta(&cluster.emu, "a"));
        assert_ne!(
            replaced.metadata.resource_version,
            created.metadata.resource_version
        );
        assert_eq!(replaced.metadata.uid, created.metadata.uid);
    }

    #[tokio::test]
    async fn a_dry_run_says_dry_run_and_stores_nothing() {
        let cluster = start(&["payments"]).await;
        let api = NetworkPolicies::namespaced(&cluster.client, "payments");
        api.create(&post(true), &policy("a", &[])).await.unwrap();
        assert!(cluster.emu.list_objects("networkpolicies").is_empty());
        let sent = cluster.emu.requests();
        let create = sent.iter().find(|r| r.method == "POST").unwrap();
        assert!(create.query.contains("dryRun=All"), "{}", create.query);
        assert_eq!(create.field_manager.as_deref(), Some("netpol-sync"));
    }

    #[tokio::test]
    async fn a_delete_is_gone_or_marked_and_carries_its_preconditions() {
        let cluster = start(&["payments"]).await;
        let api = NetworkPolicies::namespaced(&cluster.client, "payments");
        let plain = api
            .create(&post(false), &policy("plain", &[]))
            .await
            .unwrap();
        let held = api
            .create(&post(false), &policy("held", &["example.com/hold"]))
            .await
            .unwrap();
        let delete = |stored: &Stored, rv: Option<String>| DeleteParams {
            preconditions: Some(Preconditions {
                uid: stored.metadata.uid.clone(),
                resource_version: rv,
            }),
            ..Default::default()
        };

        // A stale resourceVersion is the server's 409, not a delete.
        let stale = api
            .delete("plain", &delete(&plain, Some("1".into())))
            .await
            .unwrap_err();
        assert!(
            matches!(&stale, kube::Error::Api(s) if s.code == 409),
            "{stale:?}"
        );
        assert!(cluster
            .emu
            .get_object("networkpolicies", Some("payments"), "plain")
            .is_some());

        let rv = plain.metadata.resource_version.clone();
        assert_eq!(
            api.delete("plain", &delete(&plain, rv)).await.unwrap(),
            Deleted::Gone
        );
        let rv = held.metadata.resource_version.clone();
        match api.delete("held", &delete(&held, rv)).await.unwrap() {
            Deleted::Marked(marked) => {
                assert_eq!(marked.metadata, stored_meta(&cluster.emu, "held"))
            }
            Deleted::Gone => panic!("an object with a finalizer stays until it is removed"),
        }
    }

    /// A server that answers every request with `status` and `body`.
    async fn answering(status: u16, body: &'static str) -> kube::Client {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut request = vec![0; 64 * 1024];
                    let _ = conn.read(&mut request).await;
                    let answer = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = conn.write_all(answer.as_bytes()).await;
                });
            }
        });
        let config = kube::Config::new(url.parse().unwrap());
        kube::Client::try_from(config).unwrap()
    }

    #[tokio::test]
    async fn a_success_whose_answer_is_not_a_stored_object_is_an_error() {
        for body in [
            "not json",
            "[]",
            r#"{"metadata": 7}"#,
            r#"{"metadata": {"uid": ["u"]}}"#,
            r#"{"metadata": []}"#,
            r#"{"metadata": {}, "metadata": {}}"#,
            r#"{"metadata": {"uid": "u", "resourceVersion": "1""#,
        ] {
            let client = answering(201, body).await;
            let api = NetworkPolicies::namespaced(&client, "payments");
            let err = api
                .create(&post(false), &policy("a", &[]))
                .await
                .unwrap_err();
            assert!(matches!(err, kube::Error::SerdeError(_)), "{body}: {err:?}");
            assert_eq!(
                crate::apply::retry::classify(&err),
                crate::apply::retry::ErrorClass::Permanent,
                "{body}: a write whose answer cannot be read is not retried blindly"
            );
        }
    }

    #[tokio::test]
    async fn what_else_a_stored_object_carries_is_skipped_unread() {
        let client = answering(
            201,
            r#"{"kind": "NetworkPolicy", "metadata": {"uid": "u", "resourceVersion": "9", "managedFields": [{"x": [1, {"y": null}]}]}, "spec": {"podSelector": {"matchLabels": {"a": "b"}}}, "extra": true}"#,
        )
        .await;
        let api = NetworkPolicies::namespaced(&client, "payments");
        let stored = api.create(&post(false), &policy("a", &[])).await.unwrap();
        assert_eq!(
            stored.metadata,
            StoredMeta {
                uid: Some("u".into()),
                resource_version: Some("9".into())
            }
        );
    }
}
