//! The daemon's HTTP endpoints on `--listen`: `/metrics`, `/healthz`, `/readyz` and the
//! `/hooks/git` webhook receiver.

use super::metrics::Metrics;
use super::trigger::Trigger;
use super::webhook::{WebhookSecret, MAX_WEBHOOK_BODY_BYTES};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::sync::{Arc, Mutex};

/// What `/readyz` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// No cycle has finished yet.
    Starting,
    /// This replica does not hold the lease; the leader enforces.
    Standby,
    /// The revision is enforced and the last cycle succeeded.
    Enforced { revision: String },
    /// The last cycle failed; `enforced` is what stays in place, if anything.
    Failing {
        reason: String,
        enforced: Option<String>,
    },
}

#[derive(Clone)]
pub struct HttpState {
    pub metrics: Arc<Metrics>,
    pub readiness: Arc<Mutex<Readiness>>,
    pub trigger: Trigger,
    pub webhook_secret: Option<WebhookSecret>,
}

impl HttpState {
    pub fn new(
        metrics: Arc<Metrics>,
        trigger: Trigger,
        webhook_secret: Option<WebhookSecret>,
    ) -> Self {
        HttpState {
            metrics,
            readiness: Arc::new(Mutex::new(Readiness::Starting)),
            trigger,
            webhook_secret,
        }
    }

    pub fn set_readiness(&self, r: Readiness) {
        *self.readiness.lock().unwrap_or_else(|p| p.into_inner()) = r;
    }
}

pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/hooks/git", post(webhook))
        .layer(DefaultBodyLimit::max(MAX_WEBHOOK_BODY_BYTES))
        .with_state(state)
}

async fn metrics(State(state): State<HttpState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

async fn readyz(State(state): State<HttpState>) -> Response {
    let readiness = state
        .readiness
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    // A policy the revision does not contain that still applies, held by someone else's
    // finalizers, is never "enforced": the cycle that found it failed too, and this holds
    // whatever the readiness says.
    let held = state.metrics.held_policies.get();
    if held > 0 && !matches!(readiness, Readiness::Standby) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {held} NetworkPolicy(ies) the revision does not contain are held by someone else's finalizers and still apply (held-by-finalizer)\n"),
        )
            .into_response();
    }
    match readiness {
        Readiness::Enforced { revision } => (
            StatusCode::OK,
            format!("ok: revision {revision} enforced\n"),
        )
            .into_response(),
        // A standby replica is healthy and ready to take over; failing it would stall
        // rolling updates of a two-replica Deployment.
        Readiness::Standby => {
            (StatusCode::OK, "ok: standby, the leader enforces\n").into_response()
        }
        Readiness::Starting => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: no cycle has finished yet\n",
        )
            .into_response(),
        Readiness::Failing { reason, enforced } => {
            let enforced = enforced
                .map(|r| format!("; revision {r} stays enforced"))
                .unwrap_or_default();
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: last cycle failed: {reason}{enforced}\n"),
            )
                .into_response()
        }
    }
}

async fn webhook(State(state): State<HttpState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(secret) = &state.webhook_secret else {
        return (
            StatusCode::NOT_FOUND,
            "webhook disabled: no --webhook-secret-file\n",
        )
            .into_response();
    };
    let github = headers.get("x-hub-signature-256").map(|v| v.as_bytes());
    let gitlab = headers.get("x-gitlab-token").map(|v| v.as_bytes());
    match secret.authenticate(github, gitlab, &body) {
        Ok(()) => {
            state.trigger.fire();
            tracing::info!(bytes = body.len(), "webhook accepted; cycle triggered");
            (StatusCode::ACCEPTED, "cycle triggered\n").into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "webhook rejected");
            (StatusCode::UNAUTHORIZED, format!("{e}\n")).into_response()
        }
    }
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: HttpState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> HttpState {
        HttpState::new(Arc::new(Metrics::new()), Trigger::default(), None)
    }

    #[tokio::test]
    async fn readyz_is_not_ready_while_a_policy_is_held_whatever_the_readiness_says() {
        let state = state();
        state.set_readiness(Readiness::Enforced {
            revision: "abc".into(),
        });
        assert_eq!(readyz(State(state.clone())).await.status(), StatusCode::OK);
        state.metrics.held_policies.set(1);
        let answer = readyz(State(state.clone())).await;
        assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
        // A standby replica enforces nothing: it stays ready to take over.
        state.set_readiness(Readiness::Standby);
        assert_eq!(readyz(State(state.clone())).await.status(), StatusCode::OK);
        state.metrics.held_policies.set(0);
        state.set_readiness(Readiness::Enforced {
            revision: "abc".into(),
        });
        assert_eq!(readyz(State(state)).await.status(), StatusCode::OK);
    }
}
