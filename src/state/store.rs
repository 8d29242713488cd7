//! Reading and writing the state ConfigMap. Writes are compare-and-swap on the
//! resourceVersion read, so two writers never silently overwrite each other.

use super::record::{StateRecord, STATE_CONFIGMAP};
use super::StateError;
use crate::bundle::{MANAGED_BY_LABEL, MANAGED_BY_VALUE};
use crate::plan::live::FIELD_MANAGER;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};

pub struct StateStore {
    namespace: String,
    configmaps: Api<ConfigMap>,
    namespaces: Api<Namespace>,
}

/// The record as read, with the version a replace must carry.
#[derive(Debug, Clone)]
pub struct LoadedState {
    pub record: StateRecord,
    resource_version: Option<String>,
}

impl StateStore {
    pub fn new(client: &kube::Client, namespace: &str) -> StateStore {
        StateStore {
            namespace: namespace.to_string(),
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
        let ns = self
            .namespaces
            .get_opt(&self.namespace)
            .await
            .map_err(|e| self.api_error("read", e))?;
        if ns.is_none() {
            return Err(StateError::NamespaceMissing(self.namespace.clone()));
        }
        let Some(cm) = self
            .configmaps
            .get_opt(STATE_CONFIGMAP)
            .await
            .map_err(|e| self.api_error("read", e))?
        else {
            return Ok(None);
        };
        let record = StateRecord::from_data(&cm.data.unwrap_or_default())?;
        Ok(Some(LoadedState {
            record,
            resource_version: cm.metadata.resource_version,
        }))
    }

    /// Write `record`, replacing `previous` (compare-and-swap) or creating the ConfigMap.
    pub async fn save(
        &self,
        record: &StateRecord,
        previous: Option<&LoadedState>,
    ) -> Result<(), StateError> {
        let cm = ConfigMap {
            metadata: ObjectMeta {
                name: Some(STATE_CONFIGMAP.into()),
                namespace: Some(self.namespace.clone()),
                labels: Some([(MANAGED_BY_LABEL.to_string(), MANAGED_BY_VALUE.to_string())].into()),
                resource_version: previous.and_then(|p| p.resource_version.clone()),
                ..Default::default()
            },
            data: Some(record.to_data()?),
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
