//! What a command reports: one value that renders as a screen of text or as one JSON
//! object (DESIGN §5), and decides the exit code.

use crate::reason::ReasonCode;
use serde::Serialize;
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Verified,
    Applied,
    Unchanged,
    Rejected,
    Error,
}

impl Verdict {
    /// `0` verified / applied / nothing to do; `1` rejected (cluster untouched);
    /// `2` usage, I/O or cluster error.
    pub fn exit_code(self) -> ExitCode {
        match self {
            Verdict::Verified | Verdict::Applied | Verdict::Unchanged => ExitCode::from(0),
            Verdict::Rejected => ExitCode::from(1),
            Verdict::Error => ExitCode::from(2),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BundleSummary {
    pub name: String,
    pub digest: String,
    /// Fingerprints (`SHA256:…`) of the distinct trusted keys that signed bundle.yaml.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub signers: Vec<String>,
}

/// One verified commit of the chain, for the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommitSummary {
    pub commit: String,
    pub principal: String,
    pub fingerprint: String,
}

/// Where a rejection happened, as precisely as it is known.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Location {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl Location {
    pub fn is_empty(&self) -> bool {
        self == &Location::default()
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub created: usize,
    pub updated: usize,
    pub deleted: usize,
    pub unchanged: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub verdict: Verdict,
    /// Full commit id of the revision the command looked at, when one was resolved.
    pub revision: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<ReasonCode>,
    pub message: String,
    #[serde(skip_serializing_if = "Location::is_empty")]
    pub location: Location,
    pub bundles: Vec<BundleSummary>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub commits: Vec<CommitSummary>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub counts: Option<Counts>,
    /// Command-specific detail (plan entries, drift, state...).
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Outcome {
    pub fn new(verdict: Verdict, message: impl Into<String>) -> Self {
        Outcome {
            verdict,
            revision: None,
            reason: None,
            message: message.into(),
            location: Location::default(),
            bundles: Vec::new(),
            commits: Vec::new(),
            counts: None,
            extra: serde_json::Map::new(),
        }
    }

    pub fn rejected(reason: ReasonCode, message: impl Into<String>, location: Location) -> Self {
        let mut o = Outcome::new(Verdict::Rejected, message);
        o.reason = Some(reason);
        o.location = location;
        o
    }

    pub fn error(message: impl Into<String>) -> Self {
        Outcome::new(Verdict::Error, message)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self)
            .expect("Outcome serialises: it holds only strings, numbers and maps")
    }

    /// A screen a person reads: the verdict first, then where and why.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let verdict = serde_json::to_value(self.verdict).ok();
        let verdict = verdict.as_ref().and_then(|v| v.as_str()).unwrap_or("?");
        let _ = write!(s, "{}", verdict.to_uppercase());
        if let Some(reason) = self.reason {
            let _ = write!(s, " ({reason})");
        }
        if let Some(rev) = &self.revision {
            let _ = write!(s, "  revision {rev}");
        }
        let _ = writeln!(s);
        if !self.message.is_empty() {
            let _ = writeln!(s, "  {}", self.message);
        }
        let l = &self.location;
        for (label, value) in [
            ("commit", l.commit.as_deref()),
            ("key", l.fingerprint.as_deref()),
            ("principal", l.principal.as_deref()),
            ("bundle", l.bundle.as_deref()),
            ("file", l.file.as_deref()),
            ("field", l.field.as_deref()),
        ] {
            if let Some(v) = value {
                let _ = writeln!(s, "  {label:<10} {v}");
            }
        }
        if let Some(d) = l.document {
            let _ = writeln!(s, "  {:<10} {d}", "document");
        }
        if !self.commits.is_empty() {
            let _ = writeln!(s, "  commits verified: {}", self.commits.len());
            for c in self.commits.iter().take(10) {
                let _ = writeln!(
                    s,
                    "    {}  {}  {}",
                    &c.commit[..c.commit.len().min(12)],
                    c.principal,
                    c.fingerprint
                );
            }
            if self.commits.len() > 10 {
                let _ = writeln!(s, "    … and {} more", self.commits.len() - 10);
            }
        }
        for b in &self.bundles {
            let _ = writeln!(s, "  bundle {:<20} {}", b.name, b.digest);
        }
        if let Some(c) = self.counts {
            let _ = writeln!(
                s,
                "  created {}  updated {}  deleted {}  unchanged {}",
                c.created, c.updated, c.deleted, c.unchanged
            );
        }
        s
    }
}

/// A verification failure as a command reports it: a verdict on the revision (rejected)
/// or an error that says nothing about it (unreadable repository, …).
impl From<crate::verify::VerifyError> for Outcome {
    fn from(e: crate::verify::VerifyError) -> Outcome {
        let location = e.location();
        let reason = e.reason();
        if e.is_rejection() {
            Outcome::rejected(reason, e.message, location)
        } else {
            let mut o = Outcome::error(e.message);
            o.reason = Some(reason);
            o.location = location;
            o
        }
    }
}
