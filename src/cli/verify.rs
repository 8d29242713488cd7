use super::VerifyArgs;
use crate::outcome::Outcome;

pub fn run(_args: VerifyArgs) -> Outcome {
    Outcome::error("verify is being built")
}
