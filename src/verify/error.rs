use crate::outcome::Location;
use crate::reason::ReasonCode;

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct VerifyError {
    pub reason: ReasonCode,
    pub message: String,
    pub location: Location,
}

impl VerifyError {
    pub fn reason(&self) -> ReasonCode {
        self.reason
    }
    pub fn location(&self) -> Location {
        self.location.clone()
    }
}
