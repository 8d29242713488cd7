//! Drift (docs/sync.md, "Drift"): a change in a governed namespace that no verified revision made.
//! Each one is reverted by the plan's writes and reported with the field manager that made
//! it, when the object's managedFields say. A policy held by someone else's finalizers
//! (`held`) is reverted only when the applier may remove them (`--remove-foreign-finalizers`);
//! otherwise it fails the cycle, every cycle, until it is gone.

use super::{LivePolicy, ObjectKey};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DriftKind {
    /// A policy netpol-sync wrote was changed by someone else.
    Modified,
    /// A policy nobody committed appeared in a governed namespace.
    Created,
    /// A policy netpol-sync wrote was deleted by someone else.
    Deleted,
    /// A policy the revision does not contain is being deleted but someone else's
    /// finalizers hold it, so it still applies. Reported every cycle while it stays.
    Held,
}

impl DriftKind {
    /// As the JSON output, the drift metric's `kind` label and Events name it.
    pub fn as_str(self) -> &'static str {
        match self {
            DriftKind::Modified => "modified",
            DriftKind::Created => "created",
            DriftKind::Deleted => "deleted",
            DriftKind::Held => "held",
        }
    }
}

impl std::fmt::Display for DriftKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drift {
    pub kind: DriftKind,
    pub namespace: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_manager: Option<String>,
    /// For `held`: the finalizers that hold it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finalizers: Vec<String>,
}

impl Drift {
    pub(super) fn deleted(key: ObjectKey) -> Drift {
        Drift {
            kind: DriftKind::Deleted,
            namespace: key.namespace,
            name: key.name,
            field_manager: None,
            finalizers: Vec::new(),
        }
    }

    pub(super) fn held(live: &LivePolicy) -> Drift {
        Drift {
            kind: DriftKind::Held,
            namespace: live.key.namespace.clone(),
            name: live.key.name.clone(),
            field_manager: live.last_foreign_manager.clone(),
            finalizers: live.finalizers.clone(),
        }
    }

    /// A policy this cycle's delete only marked, held by `finalizers` from now on.
    pub fn marked(key: &ObjectKey, finalizers: &[String], field_manager: Option<String>) -> Drift {
        Drift {
            kind: DriftKind::Held,
            namespace: key.namespace.clone(),
            name: key.name.clone(),
            field_manager,
            finalizers: finalizers.to_vec(),
        }
    }

    pub(super) fn created(live: &LivePolicy) -> Drift {
        Drift {
            kind: DriftKind::Created,
            namespace: live.key.namespace.clone(),
            name: live.key.name.clone(),
            field_manager: live.last_foreign_manager.clone(),
            finalizers: Vec::new(),
        }
    }
}

impl std::fmt::Display for Drift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.kind {
            DriftKind::Modified => "edited by hand",
            DriftKind::Created => "made by hand",
            DriftKind::Deleted => "deleted by hand",
            DriftKind::Held => "being deleted but held by finalizers",
        };
        write!(f, "{}/{} {what}", self.namespace, self.name)?;
        if !self.finalizers.is_empty() {
            write!(f, " [{}]", self.finalizers.join(", "))?;
        }
        if let Some(m) = &self.field_manager {
            write!(f, " (field manager {m})")?;
        }
        Ok(())
    }
}

/// A live object the revision also has, whose content differs. It is drift when the content
/// no longer matches what netpol-sync wrote (or netpol-sync never wrote it); when it still
/// matches our own annotation, the revision changed and this is an ordinary update. A
/// hand-made object with exactly the desired content is adopted, not reported.
pub(super) fn classify_changed(live: &LivePolicy, desired_hash: &str) -> Option<Drift> {
    let ours_untouched =
        live.managed && live.written_hash.as_deref() == Some(live.content_hash.as_str());
    if ours_untouched || live.content_hash == desired_hash {
        return None;
    }
    Some(Drift {
        kind: DriftKind::Modified,
        namespace: live.key.namespace.clone(),
        name: live.key.name.clone(),
        field_manager: live.last_foreign_manager.clone(),
        finalizers: Vec::new(),
    })
}
