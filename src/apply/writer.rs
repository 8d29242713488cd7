//! One planned write against the API server, with the rules that make it safe: replace
//! carries the resourceVersion read and delete carries uid+resourceVersion preconditions,
//! so a concurrent edit is a 409 that is re-read and re-planned for that object, never
//! overwritten blindly.

use super::own_writes::OwnWrites;
use super::retry::{classify, ErrorClass, RetryPolicy};
use super::wire::{Deleted, NetworkPolicies, Stored};
use crate::marks::FIELD_MANAGER;
use crate::plan::{Action, HeldPolicy, LivePolicy, LiveVersion, ObjectKey, PlannedWrite};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, DeleteParams, PostParams, Preconditions};
use std::sync::Arc;

/// How a write ended when it did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteDone {
    /// The API server accepted the write (or, in dry-run, would accept it).
    Written,
    /// The API server accepted the delete but only marked the object: someone else's
    /// finalizers hold it, and it stays (at this resourceVersion) until they are removed.
    Marked { resource_version: Option<String> },
    /// On re-reading after a conflict, the object already was what the plan wanted.
    AlreadyRight,
    /// The object to delete was already gone (or being deleted).
    Gone,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteFailure {
    /// The API server refused the write (4xx other than conflicts): retrying cannot help.
    Refused,
    /// Transient errors (429, 5xx, connection) outlasted every retry.
    Exhausted,
    /// The object kept changing under us between read and write.
    ConflictLoop,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{action:?} NetworkPolicy {key}{dry}: {message}", dry = if *.dry_run { " (dry-run)" } else { "" })]
pub struct WriteError {
    pub key: ObjectKey,
    pub action: Action,
    pub failure: WriteFailure,
    pub dry_run: bool,
    /// HTTP status when the server answered.
    pub code: Option<u16>,
    pub message: String,
}

enum Step {
    Create,
    Replace(LiveVersion),
    Delete(LiveVersion),
    Done(WriteDone),
}

pub struct Writer {
    client: kube::Client,
    retry: RetryPolicy,
    /// Re-read/re-plan rounds per object before giving up.
    conflict_limit: u32,
    own_writes: Option<Arc<OwnWrites>>,
}

impl Writer {
    pub fn new(
        client: kube::Client,
        retry: RetryPolicy,
        conflict_limit: u32,
        own_writes: Option<Arc<OwnWrites>>,
    ) -> Writer {
        Writer {
            client,
            retry,
            conflict_limit,
            own_writes,
        }
    }

    /// Notes the version the API server stored for us (a dry run stores nothing).
    fn note_stored(&self, stored: &Stored, dry_run: bool) {
        if let (false, Some(own)) = (dry_run, &self.own_writes) {
            let meta = &stored.metadata;
            if let (Some(uid), Some(rv)) = (&meta.uid, &meta.resource_version) {
                own.record_write(uid, rv);
            }
        }
    }

    fn note_deleted(&self, uid: Option<&str>, dry_run: bool) {
        if let (false, Some(own), Some(uid)) = (dry_run, &self.own_writes, uid) {
            own.record_delete(uid);
        }
    }

    pub async fn execute(&self, w: &PlannedWrite, dry_run: bool) -> Result<WriteDone, WriteError> {
        let api = NetworkPolicies::namespaced(&self.client, &w.key.namespace);
        let pp = PostParams {
            dry_run,
            field_manager: Some(FIELD_MANAGER.into()),
        };
        let fail = |e: &kube::Error, failure: WriteFailure| WriteError {
            key: w.key.clone(),
            action: w.action,
            failure,
            dry_run,
            code: match e {
                kube::Error::Api(s) => Some(s.code),
                _ => None,
            },
            message: match e {
                kube::Error::Api(s) if !s.message.is_empty() => s.message.clone(),
                other => crate::kube_client::error_chain(other),
            },
        };
        let mut step = match (w.action, &w.live) {
            (Action::Create, _) | (_, None) => Step::Create,
            (Action::Update, Some(live)) => Step::Replace(live.clone()),
            (Action::Delete, Some(live)) => Step::Delete(live.clone()),
        };
        for _ in 0..=self.conflict_limit {
            let result = match &step {
                Step::Done(done) => return Ok(done.clone()),
                Step::Create => {
                    let Some(desired) = &w.desired else {
                        return Ok(WriteDone::Gone);
                    };
                    let object = desired.object();
                    self.retry
                        .run(|| api.create(&pp, &object))
                        .await
                        .map(|stored| {
                            self.note_stored(&stored, dry_run);
                            WriteDone::Written
                        })
                }
                Step::Replace(live) => {
                    let Some(desired) = &w.desired else {
                        return Ok(WriteDone::Gone);
                    };
                    let mut object = desired.object();
                    object.metadata.resource_version = live.resource_version.clone();
                    // Someone else's finalizers are theirs to remove, not ours.
                    if !live.finalizers.is_empty() {
                        object.metadata.finalizers = Some(live.finalizers.clone());
                    }
                    self.retry
                        .run(|| api.replace(&w.key.name, &pp, &object))
                        .await
                        .map(|stored| {
                            self.note_stored(&stored, dry_run);
                            WriteDone::Written
                        })
                }
                Step::Delete(live) => {
                    let dp = DeleteParams {
                        dry_run,
                        preconditions: Some(Preconditions {
                            uid: live.uid.clone(),
                            resource_version: live.resource_version.clone(),
                        }),
                        ..Default::default()
                    };
                    self.retry
                        .run(|| api.delete(&w.key.name, &dp))
                        .await
                        .map(|answer| {
                            self.note_deleted(live.uid.as_deref(), dry_run);
                            match answer {
                                Deleted::Marked(marked) => {
                                    self.note_stored(&marked, dry_run);
                                    WriteDone::Marked {
                                        resource_version: marked.metadata.resource_version,
                                    }
                                }
                                Deleted::Gone => WriteDone::Written,
                            }
                        })
                }
            };
            step = match result {
                Ok(done) => return Ok(done),
                Err(e) => match (classify(&e), &step) {
                    (ErrorClass::NotFound, Step::Delete(_)) => return Ok(WriteDone::Gone),
                    (ErrorClass::NotFound, Step::Replace(_)) => Step::Create,
                    (ErrorClass::Conflict | ErrorClass::AlreadyExists, _) => {
                        tracing::info!(object = %w.key, "conflict: re-reading and re-planning this object");
                        self.reread(w).await.map_err(|e| fail(&e, failure_of(&e)))?
                    }
                    (ErrorClass::Transient { .. }, _) => {
                        return Err(fail(&e, WriteFailure::Exhausted))
                    }
                    _ => return Err(fail(&e, WriteFailure::Refused)),
                },
            };
        }
        Err(WriteError {
            key: w.key.clone(),
            action: w.action,
            failure: WriteFailure::ConflictLoop,
            dry_run,
            code: Some(409),
            message: format!("still conflicting after {} re-reads", self.conflict_limit),
        })
    }

    /// Remove every finalizer from `held`, a policy being deleted that they keep, so that
    /// the deletion completes. A replace of the object as just read, carrying its uid and
    /// the resourceVersion read (a change meanwhile is a 409: read again and decide
    /// again). A finalizer cannot be added to an object being deleted, so what is removed
    /// is at most what the plan saw. The object is then gone.
    pub async fn remove_finalizers(
        &self,
        held: &HeldPolicy,
        dry_run: bool,
    ) -> Result<WriteDone, WriteError> {
        let key = held.key();
        let fail = |e: &kube::Error, failure: WriteFailure| WriteError {
            key: key.clone(),
            action: Action::Delete,
            failure,
            dry_run,
            code: match e {
                kube::Error::Api(s) => Some(s.code),
                _ => None,
            },
            message: format!(
                "removing finalizers [{}]: {}",
                held.finalizers.join(", "),
                match e {
                    kube::Error::Api(s) if !s.message.is_empty() => s.message.clone(),
                    other => crate::kube_client::error_chain(other),
                }
            ),
        };
        let read: Api<NetworkPolicy> = Api::namespaced(self.client.clone(), &key.namespace);
        let api = NetworkPolicies::namespaced(&self.client, &key.namespace);
        let pp = PostParams {
            dry_run,
            field_manager: Some(FIELD_MANAGER.into()),
        };
        for _ in 0..=self.conflict_limit {
            let current = self
                .retry
                .run(|| read.get_opt(&key.name))
                .await
                .map_err(|e| fail(&e, failure_of(&e)))?;
            let Some(mut object) = current else {
                return Ok(WriteDone::Gone);
            };
            let meta = &object.metadata;
            // Another object of that name (the held one went, someone made a new one),
            // or already free: nothing of the plan's to do here.
            if meta.uid != held.uid
                || meta.deletion_timestamp.is_none()
                || meta.finalizers.as_ref().is_none_or(|f| f.is_empty())
            {
                return Ok(WriteDone::Gone);
            }
            object.metadata.finalizers = None;
            object.metadata.managed_fields = None;
            match self
                .retry
                .run(|| api.replace(&key.name, &pp, &object))
                .await
            {
                Ok(stored) => {
                    self.note_stored(&stored, dry_run);
                    self.note_deleted(held.uid.as_deref(), dry_run);
                    return Ok(WriteDone::Written);
                }
                Err(e) => match classify(&e) {
                    ErrorClass::NotFound => return Ok(WriteDone::Gone),
                    ErrorClass::Conflict => {
                        tracing::info!(object = %key, "conflict removing finalizers: re-reading");
                        continue;
                    }
                    ErrorClass::Transient { .. } => return Err(fail(&e, WriteFailure::Exhausted)),
                    _ => return Err(fail(&e, WriteFailure::Refused)),
                },
            }
        }
        Err(WriteError {
            key: key.clone(),
            action: Action::Delete,
            failure: WriteFailure::ConflictLoop,
            dry_run,
            code: Some(409),
            message: format!(
                "removing finalizers: still conflicting after {} re-reads",
                self.conflict_limit
            ),
        })
    }

    /// The object changed since the plan read it: decide again for this one object.
    async fn reread(&self, w: &PlannedWrite) -> Result<Step, kube::Error> {
        let api: Api<NetworkPolicy> = Api::namespaced(self.client.clone(), &w.key.namespace);
        let current = self.retry.run(|| api.get_opt(&w.key.name)).await?;
        let live = current.as_ref().and_then(LivePolicy::from_object);
        Ok(match (&w.desired, live) {
            (Some(_), None) => Step::Create,
            (Some(desired), Some(live)) if desired.matches(&live) => {
                Step::Done(WriteDone::AlreadyRight)
            }
            (Some(_), Some(live)) => Step::Replace(version(&live)),
            (None, None) => Step::Done(WriteDone::Gone),
            (None, Some(live)) if live.terminating => Step::Done(WriteDone::Gone),
            (None, Some(live)) => Step::Delete(version(&live)),
        })
    }
}

fn failure_of(e: &kube::Error) -> WriteFailure {
    match classify(e) {
        ErrorClass::Transient { .. } => WriteFailure::Exhausted,
        _ => WriteFailure::Refused,
    }
}

fn version(p: &LivePolicy) -> LiveVersion {
    LiveVersion {
        uid: p.uid.clone(),
        resource_version: p.resource_version.clone(),
        content_hash: p.content_hash.clone(),
        finalizers: p.finalizers.clone(),
    }
}
