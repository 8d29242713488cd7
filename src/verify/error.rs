use super::armor::ArmorError;
use super::sshsig::SshsigError;
use crate::reason::Location;
use crate::reason::ReasonCode;

/// Whether an error judges the input (exit 1) or means the verifier could not do its job
/// (exit 2: unknown revision, unreadable repository).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    Rejection,
    Environment,
}

/// The public error of the trust stage: a stable reason code, a message a person can act
/// on, and where it happened (commit, key fingerprint, principal, file).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct VerifyError {
    pub reason: ReasonCode,
    pub message: String,
    /// Boxed: `Location` is large and errors travel through every `Result` here.
    pub location: Box<Location>,
    pub class: ErrorClass,
}

impl VerifyError {
    pub fn reason(&self) -> ReasonCode {
        self.reason
    }
    pub fn location(&self) -> Location {
        (*self.location).clone()
    }
    pub fn is_rejection(&self) -> bool {
        self.class == ErrorClass::Rejection
    }

    pub(crate) fn rejection(reason: ReasonCode, message: impl Into<String>) -> Self {
        VerifyError {
            reason,
            message: message.into(),
            location: Box::default(),
            class: ErrorClass::Rejection,
        }
    }

    pub(crate) fn environment(reason: ReasonCode, message: impl Into<String>) -> Self {
        VerifyError {
            reason,
            message: message.into(),
            location: Box::default(),
            class: ErrorClass::Environment,
        }
    }

    pub(crate) fn at_commit(mut self, commit: git2::Oid) -> Self {
        self.location.commit = Some(commit.to_string());
        self
    }

    pub(crate) fn with_fingerprint(mut self, fingerprint: &str) -> Self {
        self.location.fingerprint = Some(fingerprint.to_string());
        self
    }

    pub(crate) fn with_principal(mut self, principal: &str) -> Self {
        self.location.principal = Some(principal.to_string());
        self
    }

    pub(crate) fn in_file(mut self, file: &str) -> Self {
        self.location.file = Some(file.to_string());
        self
    }

    pub(crate) fn prefixed(mut self, prefix: &str) -> Self {
        self.message = format!("{prefix}: {}", self.message);
        self
    }
}

impl From<ArmorError> for VerifyError {
    fn from(e: ArmorError) -> Self {
        let reason = match e {
            ArmorError::OtherFormat(_) => ReasonCode::UnsupportedKeyType,
            _ => ReasonCode::BadSignature,
        };
        VerifyError::rejection(reason, e.to_string())
    }
}

impl From<SshsigError> for VerifyError {
    fn from(e: SshsigError) -> Self {
        let reason = match e {
            SshsigError::UnsupportedKey(_) => ReasonCode::UnsupportedKeyType,
            _ => ReasonCode::BadSignature,
        };
        VerifyError::rejection(reason, e.to_string())
    }
}
