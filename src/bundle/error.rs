//! The one error every bundle check returns: a stable reason code, a message a person
//! can act on, and where it happened (bundle, file, document, field).

use crate::reason::Location;
use crate::reason::ReasonCode;
use crate::verify::VerifyError;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct BundleError {
    pub reason: ReasonCode,
    pub message: String,
    /// Boxed: it is the bulk of the error, and errors travel in every `Result` here.
    pub location: Box<Location>,
}

impl BundleError {
    pub fn new(reason: ReasonCode, message: impl Into<String>) -> Self {
        BundleError {
            reason,
            message: message.into(),
            location: Box::default(),
        }
    }

    pub fn reason(&self) -> ReasonCode {
        self.reason
    }

    pub fn location(&self) -> Location {
        (*self.location).clone()
    }

    pub(crate) fn in_bundle(mut self, bundle: &str) -> Self {
        self.location
            .bundle
            .get_or_insert_with(|| bundle.to_string());
        self
    }

    pub(crate) fn in_file(mut self, file: impl Into<String>) -> Self {
        self.location.file = Some(file.into());
        self
    }

    /// A read of `file` failed (the object store lost it, or is unreadable): the
    /// message names the file, not only the object id git knows it by.
    pub(crate) fn reading(mut self, file: &str) -> Self {
        self.message = format!("reading `{file}`: {}", self.message);
        self.in_file(file)
    }

    pub(crate) fn in_document(mut self, document: usize) -> Self {
        self.location.document = Some(document);
        self
    }

    pub(crate) fn at_field(mut self, field: impl Into<String>) -> Self {
        let field = field.into();
        if !field.is_empty() {
            self.location.field = Some(field);
        }
        self
    }

    pub(crate) fn at_commit(mut self, commit: git2::Oid) -> Self {
        self.location
            .commit
            .get_or_insert_with(|| commit.to_string());
        self
    }

    /// A trust failure met while checking a bundle (e.g. the revision's keys file is
    /// malformed) keeps the verifier's reason code and location.
    pub(crate) fn from_verify(e: VerifyError) -> Self {
        BundleError {
            reason: e.reason(),
            location: Box::new(e.location()),
            message: e.message,
        }
    }

    /// The repository could not be read: not a verdict on the revision's content.
    pub(crate) fn from_git(what: &str, e: git2::Error) -> Self {
        BundleError::new(ReasonCode::NotFound, format!("{what}: {}", e.message()))
    }
}
