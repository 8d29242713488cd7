//! Retries for transient API failures: 429 and 5xx answers and broken connections are
//! retried with capped exponential backoff and jitter; a `Retry-After` the server sends
//! (`details.retryAfterSeconds` of the Status body) is honoured as the minimum wait.

use std::future::Future;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in total, the first included.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Upper bound on a server-requested wait, so one bad answer cannot stall a cycle.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(10),
        }
    }
}

/// How an error from the API server should be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// 429, 5xx, or the request never got an answer: try again.
    Transient {
        retry_after: Option<Duration>,
    },
    /// 409 Conflict: the object changed since it was read (or a precondition failed).
    Conflict,
    /// 409 AlreadyExists on create.
    AlreadyExists,
    NotFound,
    /// Anything else (400, 401, 403, 422...): retrying cannot help.
    Permanent,
}

pub fn classify(err: &kube::Error) -> ErrorClass {
    match err {
        kube::Error::Api(status) => {
            let retry_after = status
                .details
                .as_ref()
                .map(|d| d.retry_after_seconds)
                .filter(|s| *s > 0)
                .map(|s| Duration::from_secs(u64::from(s)));
            match status.code {
                429 => ErrorClass::Transient { retry_after },
                500..=599 => ErrorClass::Transient { retry_after },
                409 if status.is_already_exists() => ErrorClass::AlreadyExists,
                409 => ErrorClass::Conflict,
                404 => ErrorClass::NotFound,
                _ => ErrorClass::Permanent,
            }
        }
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::ReadEvents(_) => {
            ErrorClass::Transient { retry_after: None }
        }
        _ => ErrorClass::Permanent,
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1` (attempt counts from 1).
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let capped = exp.min(self.max_delay);
        // Full jitter on the upper half keeps concurrent writers from retrying in lockstep.
        let half = capped / 2;
        let jitter = Duration::from_micros(rand::random_range(0..=half.as_micros() as u64));
        let backoff = half + jitter;
        match retry_after {
            Some(ra) => ra.min(self.max_retry_after).max(backoff),
            None => backoff,
        }
    }

    /// Run `op` until it succeeds, fails for a reason retrying cannot fix, or runs out of
    /// attempts. Only transient errors are retried here; conflicts are the caller's to
    /// re-plan.
    pub async fn run<T, F, Fut>(&self, mut op: F) -> Result<T, kube::Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, kube::Error>>,
    {
        let mut attempt = 1;
        loop {
            match op().await {
                Ok(v) => return Ok(v),
                Err(e) => match classify(&e) {
                    ErrorClass::Transient { retry_after } if attempt < self.max_attempts => {
                        let wait = self.delay(attempt, retry_after);
                        tracing::debug!(attempt, ?wait, error = %e, "transient API error, retrying");
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                    }
                    _ => return Err(e),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::response::StatusDetails;
    use kube::core::Status;

    fn api(code: u16, reason: &str, retry_after: u32) -> kube::Error {
        let mut s = Status::failure("x", reason).with_code(code);
        if retry_after > 0 {
            // Decoded the way the client decodes an API server's 429 body.
            let details: StatusDetails =
                serde_json::from_value(serde_json::json!({"retryAfterSeconds": retry_after}))
                    .unwrap();
            s = s.with_details(details);
        }
        kube::Error::Api(s.boxed())
    }

    #[test]
    fn classification_follows_the_status_code() {
        assert_eq!(
            classify(&api(429, "TooManyRequests", 3)),
            ErrorClass::Transient {
                retry_after: Some(Duration::from_secs(3))
            }
        );
        assert_eq!(
            classify(&api(503, "ServiceUnavailable", 0)),
            ErrorClass::Transient { retry_after: None }
        );
        assert_eq!(classify(&api(409, "Conflict", 0)), ErrorClass::Conflict);
        assert_eq!(
            classify(&api(409, "AlreadyExists", 0)),
            ErrorClass::AlreadyExists
        );
        assert_eq!(classify(&api(404, "NotFound", 0)), ErrorClass::NotFound);
        assert_eq!(classify(&api(403, "Forbidden", 0)), ErrorClass::Permanent);
        assert_eq!(classify(&api(422, "Invalid", 0)), ErrorClass::Permanent);
    }

    #[test]
    fn delay_grows_is_capped_and_honours_retry_after_up_to_its_bound() {
        let p = RetryPolicy::default();
        for attempt in 1..20 {
            let d = p.delay(attempt, None);
            assert!(d <= p.max_delay, "{attempt}: {d:?}");
        }
        assert!(p.delay(1, None) <= Duration::from_millis(100));
        assert!(p.delay(5, None) >= Duration::from_millis(800));
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(3600))),
            p.max_retry_after
        );
    }

    #[tokio::test]
    async fn transient_errors_are_retried_until_success_and_permanent_ones_are_not() {
        let p = RetryPolicy {
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
            ..Default::default()
        };
        let mut calls = 0;
        let r: Result<u32, _> = p
            .run(|| {
                calls += 1;
                let n = calls;
                async move {
                    if n < 3 {
                        Err(api(500, "InternalError", 0))
                    } else {
                        Ok(n)
                    }
                }
            })
            .await;
        assert_eq!(r.unwrap(), 3);

        let mut calls = 0;
        let r: Result<u32, _> = p
            .run(|| {
                calls += 1;
                async { Err(api(403, "Forbidden", 0)) }
            })
            .await;
        assert!(r.is_err());
        assert_eq!(calls, 1);

        let mut calls = 0;
        let r: Result<u32, _> = p
            .run(|| {
                calls += 1;
                async { Err(api(503, "ServiceUnavailable", 0)) }
            })
            .await;
        assert!(r.is_err());
        assert_eq!(calls, p.max_attempts);
    }
}
