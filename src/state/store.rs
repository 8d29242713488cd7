//! Reading and writing the state ConfigMap. Writes are compare-and-swap on the
//! resourceVersion read, so two writers never silently overwrite each other. A record is
//! believed only when its MAC verifies with the [`StateKey`]; one that does not is kept
//! aside (never overwritten by a failure report) and the cycle recovers its base from the
//! cluster instead (`state::base`).

use super::key::StateKey;
use super::record::{StateRecord, STATE_CONFIGMAP};
use super::StateError;
use crate::marks::{FIELD_MANAGER, MANAGED_BY_LABEL, MANAGED_BY_VALUE};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};

pub struct StateStore {
    namespace: String,
    /// `None`: a reader that cannot authenticate (`status` without `--state-key`).
    key: Option<StateKey>,
    configmaps: Api<ConfigMap>,
    namespaces: Api<Namespace>,
}

/// The record as read, with the version a replace must carry. Built only by
/// [`StateStore::load`]: its record is what the cluster's record says only when that
/// authenticated with the state key (HMAC-SHA256, bound to the namespace); otherwise it is
/// empty (no revision, no inventory) and [`LoadedState::distrusted`] says why. Read-only
/// outside this module, so no code can make a recorded revision up.
#[derive(Debug, Clone)]
pub struct LoadedState {
    record: StateRecord,
    resource_version: Option<String>,
    distrusted: Option<String>,
}

impl LoadedState {
    /// What the record says (empty unless it authenticated).
    pub fn record(&self) -> &StateRecord {
        &self.record
    }

    /// Why the record in the cluster is not believed (`None`: it authenticated).
    pub fn distrusted(&self) -> Option<&str> {
        self.distrusted.as_deref()
    }
}

impl StateStore {
    /// A store that authenticates what it reads and signs what it writes.
    pub fn new(client: &kube::Client, namespace: &str, key: StateKey) -> StateStore {
        StateStore::with_key(client, namespace, Some(key))
    }

    /// A store that only reads: nothing it loads is believed, and it writes nothing.
    pub fn reader(client: &kube::Client, namespace: &str) -> StateStore {
        StateStore::with_key(client, namespace, None)
    }

    fn with_key(client: &kube::Client, namespace: &str, key: Option<StateKey>) -> StateStore {
        StateStore {
            namespace: namespace.to_string(),
            key,
            configmaps: Api::namespaced(client.clone(), namespace),
            namespaces: Api::all(client.clone()),
        }
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    fn api_error(&self, action: &'static str, source: kube::Error) -> StateError {
        StateError::Api {
            action,
            namespace: self.namespace.clone(),
            source,
        }
    }

    /// `Ok(None)` when the namespace exists but holds no record (first run, or the record
    /// was lost); an error when the namespace itself is missing.
    pub async fn load(&self) -> Result<Option<LoadedState>, StateError> {
        let Some(cm) = self.read_configmap().await? else {
            return Ok(None);
        };
        let data = cm.data.unwrap_or_default();
        let distrusted = match &self.key {
            None => Some("no --state-key was given to check it".to_string()),
            Some(key) if !StateRecord::authenticates(&data, key, &self.namespace) => Some(
                "its MAC does not verify with --state-key (written by someone else, or by another key)"
                    .to_string(),
            ),
            Some(_) => None,
        };
        let record = match (&distrusted, StateRecord::from_data(&data)) {
            (None, Ok(record)) => record,
            (None, Err(e)) => return Err(e),
            (Some(why), parsed) => {
                let claimed = parsed.ok().and_then(|r| r.revision);
                tracing::warn!(namespace = %self.namespace, claimed_revision = ?claimed, why = %why,
                    "the state record does not authenticate; it is not believed");
                StateRecord::default()
            }
        };
        Ok(Some(LoadedState {
            record,
            resource_version: cm.metadata.resource_version,
            distrusted,
        }))
    }

    /// The state ConfigMap, `None` when absent; an error when its namespace is missing.
    async fn read_configmap(&self) -> Result<Option<ConfigMap>, StateError> {
        let ns = self
            .namespaces
            .get_opt(&self.namespace)
            .await
            .map_err(|e| self.api_error("read", e))?;
        if ns.is_none() {
            return Err(StateError::NamespaceMissing(self.namespace.clone()));
        }
        self.configmaps
            .get_opt(STATE_CONFIGMAP)
            .await
            .map_err(|e| self.api_error("read", e))
    }

    /// The record as the cluster holds it, authenticated or not, for `status` to show.
    pub async fn load_unchecked(&self) -> Result<Option<(StateRecord, bool)>, StateError> {
        let Some(cm) = self.read_configmap().await? else {
            return Ok(None);
        };
        let data = cm.data.unwrap_or_default();
        let authentic = self
            .key
            .as_ref()
            .is_some_and(|k| StateRecord::authenticates(&data, k, &self.namespace));
        Ok(Some((StateRecord::from_data(&data)?, authentic)))
    }

    /// Write `record`, replacing `previous` (compare-and-swap) or creating the ConfigMap.
    ///
    /// A record that did not authenticate is replaced only by one that names an applied
    /// revision: a failure report carries no revision, and writing it over a forged record
    /// would turn "not believed" into "authentic and empty", a silent reset to the trust
    /// anchor.
    pub async fn save(
        &self,
        record: &StateRecord,
        previous: Option<&LoadedState>,
    ) -> Result<(), StateError> {
        let Some(key) = &self.key else {
            return Err(StateError::NoKey);
        };
        if previous.is_some_and(|p| p.distrusted.is_some()) && record.revision.is_none() {
            tracing::warn!(namespace = %self.namespace,
                "the state record does not authenticate; it is left as it is until a revision is applied");
            return Ok(());
        }
        let cm = ConfigMap {
            metadata: ObjectMeta {
                name: Some(STATE_CONFIGMAP.into()),
                namespace: Some(self.namespace.clone()),
                labels: Some([(MANAGED_BY_LABEL.to_string(), MANAGED_BY_VALUE.to_string())].into()),
                resource_version: previous.and_then(|p| p.resource_version.clone()),
                ..Default::default()
            },
            data: Some(record.to_data(key, &self.namespace)?),
            ..Default::default()
        };
        let pp = PostParams {
            dry_run: false,
            field_manager: Some(FIELD_MANAGER.into()),
        };
        let result = match previous {
            Some(_) => self.configmaps.replace(STATE_CONFIGMAP, &pp, &cm).await,
            None => self.configmaps.create(&pp, &cm).await,
        };
        result.map(|_| ()).map_err(|e| self.api_error("write", e))
    }
}
