//! Kubernetes Events in the state namespace, involving the state record ConfigMap, so
//! `kubectl get events -n netpol-sync` and `kubectl describe configmap netpol-sync-state`
//! tell what happened: applied (revision, digests, counts), rejected (reason code), drift
//! reverted (object and the field manager that made the change), held (a policy the
//! revision does not contain that someone else's finalizers keep, naming them).

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use kube::api::{Api, PostParams};

/// The state record the events are about (owned by the `state` stage).
pub const STATE_OBJECT: &str = "netpol-sync-state";
/// Event messages are cut at this length (kubectl shows them on one line).
const MAX_MESSAGE_BYTES: usize = 1024;

#[derive(Debug, thiserror::Error)]
#[error("posting event {reason} in {namespace}: {source}")]
pub struct EventError {
    reason: &'static str,
    namespace: String,
    source: kube::Error,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SyncEvent {
    Applied {
        revision: String,
        bundles: Vec<(String, String)>,
        created: usize,
        updated: usize,
        deleted: usize,
        /// What the writes opened and closed (docs/reachability.md), when computed.
        reachability: Option<String>,
    },
    Rejected {
        revision: Option<String>,
        reason: String,
        message: String,
    },
    DriftReverted {
        namespace: String,
        name: String,
        change: String,
        field_manager: Option<String>,
    },
    /// The cycle's base did not come from the state record alone: recovered from the
    /// live policies (`StateRecovered`), or the operator reset trust to the anchor
    /// (`TrustReset`). docs/trust.md, "The state record".
    BaseNotFromRecord { reason: &'static str, note: String },
    /// A policy the revision does not contain is being deleted but someone else's
    /// finalizers hold it, so it still applies.
    Held {
        namespace: String,
        name: String,
        finalizers: Vec<String>,
    },
}

impl From<&super::engine::HeldReport> for SyncEvent {
    fn from(h: &super::engine::HeldReport) -> SyncEvent {
        SyncEvent::Held {
            namespace: h.namespace.clone(),
            name: h.name.clone(),
            finalizers: h.finalizers.clone(),
        }
    }
}

impl SyncEvent {
    /// The Event for a cycle whose base is not simply the authenticated record's.
    pub fn for_base(base: &crate::state::base::BaseReport) -> Option<SyncEvent> {
        use crate::state::base::BaseSourceName;
        let reason = match base.source {
            BaseSourceName::Reset => "TrustReset",
            BaseSourceName::Recovered | BaseSourceName::RecordBehind => "StateRecovered",
            BaseSourceName::Explicit | BaseSourceName::Record | BaseSourceName::FirstStart => {
                return None
            }
        };
        Some(SyncEvent::BaseNotFromRecord {
            reason,
            note: base.note.clone()?,
        })
    }

    /// (reason, type, message)
    pub fn describe(&self) -> (&'static str, &'static str, String) {
        match self {
            SyncEvent::Applied {
                revision,
                bundles,
                created,
                updated,
                deleted,
                reachability,
            } => {
                let bundles: Vec<String> =
                    bundles.iter().map(|(n, d)| format!("{n}={d}")).collect();
                let paths = reachability
                    .as_deref()
                    .map(|r| format!("; paths {r}"))
                    .unwrap_or_default();
                (
                    "Applied",
                    "Normal",
                    format!(
                        "revision {revision} applied (bundles {}): created {created}, updated {updated}, deleted {deleted}{paths}",
                        bundles.join(", ")
                    ),
                )
            }
            SyncEvent::Rejected {
                revision,
                reason,
                message,
            } => (
                "Rejected",
                "Warning",
                format!(
                    "revision {} rejected ({reason}): {message}",
                    revision.as_deref().unwrap_or("?")
                ),
            ),
            SyncEvent::DriftReverted {
                namespace,
                name,
                change,
                field_manager,
            } if change == "held" => (
                "DriftReverted",
                "Warning",
                format!(
                    "NetworkPolicy {namespace}/{name}: held by someone else's finalizers after its deletion; they were removed (--remove-foreign-finalizers) and it is gone (field manager {})",
                    field_manager.as_deref().unwrap_or("unknown field manager")
                ),
            ),
            SyncEvent::DriftReverted {
                namespace,
                name,
                change,
                field_manager,
            } => (
                "DriftReverted",
                "Warning",
                format!(
                    "NetworkPolicy {namespace}/{name}: {change} by hand, reverted (field manager {})",
                    field_manager.as_deref().unwrap_or("unknown field manager")
                ),
            ),
            SyncEvent::BaseNotFromRecord { reason, note } => (reason, "Warning", note.clone()),
            SyncEvent::Held {
                namespace,
                name,
                finalizers,
            } => (
                "HeldByFinalizer",
                "Warning",
                format!(
                    "NetworkPolicy {namespace}/{name} is not in the revision and is being deleted, but finalizer(s) [{}] hold it, so it still applies; the cycle fails (held-by-finalizer) until they are removed, or run with --remove-foreign-finalizers",
                    finalizers.join(", ")
                ),
            ),
        }
    }
}

pub struct EventRecorder {
    api: Api<Event>,
    namespace: String,
    instance: String,
}

impl EventRecorder {
    pub fn new(client: kube::Client, namespace: &str, instance: &str) -> EventRecorder {
        EventRecorder {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_string(),
            instance: instance.to_string(),
        }
    }

    pub fn build(&self, event: &SyncEvent) -> Event {
        let (reason, kind, message) = event.describe();
        let now = k8s_openapi::jiff::Timestamp::now();
        let mut message = message;
        if message.len() > MAX_MESSAGE_BYTES {
            let mut cut = MAX_MESSAGE_BYTES;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
        }
        Event {
            metadata: ObjectMeta {
                // client-go's naming: the involved object, then a unique suffix.
                name: Some(format!(
                    "{STATE_OBJECT}.{:x}{:04x}",
                    now.as_nanosecond(),
                    rand::random::<u16>()
                )),
                namespace: Some(self.namespace.clone()),
                ..ObjectMeta::default()
            },
            involved_object: ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("ConfigMap".into()),
                name: Some(STATE_OBJECT.into()),
                namespace: Some(self.namespace.clone()),
                ..ObjectReference::default()
            },
            reason: Some(reason.into()),
            type_: Some(kind.into()),
            message: Some(message),
            count: Some(1),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            event_time: Some(MicroTime(now)),
            action: Some("Sync".into()),
            reporting_component: Some("netpol-sync".into()),
            reporting_instance: Some(self.instance.clone()),
            source: Some(EventSource {
                component: Some("netpol-sync".into()),
                host: None,
            }),
            ..Event::default()
        }
    }

    pub async fn publish(&self, event: &SyncEvent) -> Result<(), EventError> {
        let built = self.build(event);
        let (reason, _, _) = event.describe();
        self.api
            .create(&PostParams::default(), &built)
            .await
            .map(|_| ())
            .map_err(|source| EventError {
                reason,
                namespace: self.namespace.clone(),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_what_an_operator_needs() {
        let (reason, kind, msg) = SyncEvent::Applied {
            revision: "abc123".into(),
            bundles: vec![("prod".into(), "sha256:ff".into())],
            created: 1,
            updated: 2,
            deleted: 3,
            reachability: Some("+1 opened, -0 closed, ~0 changed over 4 workloads".into()),
        }
        .describe();
        assert_eq!((reason, kind), ("Applied", "Normal"));
        assert!(
            msg.contains("abc123")
                && msg.contains("prod=sha256:ff")
                && msg.contains("deleted 3")
                && msg.ends_with("; paths +1 opened, -0 closed, ~0 changed over 4 workloads"),
            "{msg}"
        );

        let (reason, kind, msg) = SyncEvent::Rejected {
            revision: Some("def".into()),
            reason: "bad-signature".into(),
            message: "commit def".into(),
        }
        .describe();
        assert_eq!((reason, kind), ("Rejected", "Warning"));
        assert!(msg.contains("bad-signature"));

        let (reason, _, msg) = SyncEvent::DriftReverted {
            namespace: "payments".into(),
            name: "allow-web".into(),
            change: "hand edit".into(),
            field_manager: Some("kubectl-edit".into()),
        }
        .describe();
        assert_eq!(reason, "DriftReverted");
        assert!(
            msg.contains("payments/allow-web") && msg.contains("kubectl-edit"),
            "{msg}"
        );

        let (reason, kind, msg) = SyncEvent::Held {
            namespace: "payments".into(),
            name: "debug-allow-all".into(),
            finalizers: vec!["example.com/keep".into()],
        }
        .describe();
        assert_eq!((reason, kind), ("HeldByFinalizer", "Warning"));
        assert!(
            msg.contains("payments/debug-allow-all") && msg.contains("example.com/keep"),
            "{msg}"
        );
    }
}
