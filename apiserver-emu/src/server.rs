//! The HTTP(S) server: accept loop, TLS, bearer-token auth, fault injection, request log,
//! and the mapping from routes to handlers.

use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::Router;
use bytes::Bytes;
use futures::StreamExt;
use http::{header, HeaderValue, Method, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::body::MAX_BODY_BYTES;
use crate::faults::FaultAction;
use crate::paging::PageRequest;
use crate::query::Query;
use crate::records::RequestRecord;
use crate::request::{ApiRequest, ApiResult, Reply};
use crate::route::{self, Route};
use crate::state::{lock, Shared};
use crate::status::ApiError;
use crate::{api_read, api_write, control, discovery, openapi};

#[derive(Clone)]
pub struct AppState {
    pub shared: Arc<Shared>,
    /// `host:port`, for `/api`'s serverAddressByClientCIDRs.
    pub address: String,
}

pub fn router(state: AppState) -> Router {
    Router::new().fallback(dispatch).with_state(state)
}

/// Serve until `shutdown` fires.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<TlsAcceptor>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else { continue };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let tls = tls.clone();
        tokio::spawn(async move {
            let builder = auto::Builder::new(TokioExecutor::new());
            // Connection errors (client went away, handshake failed) end that connection only.
            match tls {
                Some(acceptor) => {
                    if let Ok(stream) = acceptor.accept(stream).await {
                        let _ = builder
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    }
                }
                None => {
                    let _ = builder
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                }
            }
        });
    }
}

fn json_response(status: u16, body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn error_response(error: &ApiError) -> Response {
    let mut response = json_response(
        error.code,
        serde_json::to_vec(&error.to_status()).unwrap_or_default(),
    );
    if let Some(secs) = error.retry_after {
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    response
}

/// A Warning header value: `299 - "<text>"` with the text quoted as Go's %q would.
fn warning_header(text: &str) -> Option<HeaderValue> {
    let quoted = serde_json::to_string(text).ok()?;
    HeaderValue::from_str(&format!("299 - {quoted}")).ok()
}

fn reply_response(reply: Reply) -> Response {
    match reply {
        Reply::Json {
            status,
            body,
            warnings,
        } => {
            let mut response = json_response(status, serde_json::to_vec(&body).unwrap_or_default());
            for w in warnings {
                if let Some(v) = warning_header(&w) {
                    response.headers_mut().append(header::WARNING, v);
                }
            }
            response
        }
        Reply::Raw { status, body } => json_response(status, body),
        Reply::Text { status, body } => {
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::NOT_FOUND);
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            response
        }
        Reply::Watch(stream) => {
            let mut response = Response::new(Body::from_stream(stream));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
    }
}

/// Replace a response body with its first half followed by an error: hyper then aborts
/// the connection (HTTP/1.1) or resets the stream (HTTP/2) mid-body.
async fn cut_off(response: Response) -> Response {
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let half = bytes.slice(..bytes.len() / 2);
    // The pause lets the headers and the first half reach the client before the abort.
    let abort = futures::stream::once(async {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        Err::<Bytes, _>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "injected connection drop",
        ))
    });
    let chunks = futures::stream::iter([Ok::<Bytes, std::io::Error>(half)]).chain(abort);
    let mut cut = Response::from_parts(parts, Body::from_stream(chunks));
    if let Ok(v) = HeaderValue::from_str(&bytes.len().to_string()) {
        cut.headers_mut().insert(header::CONTENT_LENGTH, v);
    }
    cut.headers_mut().remove(header::TRANSFER_ENCODING);
    cut
}

fn header_str(req: &Request, name: header::HeaderName) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn authorized(shared: &Shared, req: &Request) -> bool {
    let Some(token) = &shared.token else {
        return true;
    };
    header_str(req, header::AUTHORIZATION)
        .and_then(|h| h.strip_prefix("Bearer ").map(|t| t.trim() == token))
        .unwrap_or(false)
}

async fn dispatch(State(state): State<AppState>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    if path.starts_with("/_emu/") {
        let body = axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES)
            .await
            .unwrap_or_default();
        let reply = control::handle(&state.shared, &method, &path, &body);
        return json_response(
            reply.status,
            serde_json::to_vec(&reply.body).unwrap_or_default(),
        );
    }
    let raw_query = req.uri().query().unwrap_or("").to_string();
    let user_agent = header_str(&req, header::USER_AGENT);
    let query = Query::parse(&raw_query);
    let field_manager = query
        .as_ref()
        .ok()
        .and_then(|q| q.get("fieldManager").map(str::to_string));

    let (response, status) = respond(&state, req, &method, &path, query).await;
    let mut log = lock(&state.shared.requests);
    let seq = log.len() as u64 + 1;
    log.push(RequestRecord {
        seq,
        time: SystemTime::now(),
        method: method.to_string(),
        path,
        query: raw_query,
        status,
        user_agent,
        field_manager,
    });
    response
}

/// The response and the status to log for it.
async fn respond(
    state: &AppState,
    req: Request,
    method: &Method,
    path: &str,
    query: Result<Query, ApiError>,
) -> (Response, u16) {
    let shared = &state.shared;
    if !authorized(shared, &req) {
        let e = ApiError::unauthorized();
        return (error_response(&e), e.code);
    }
    let has_param = |name: &str| {
        query
            .as_ref()
            .is_ok_and(|q| q.get(name).is_some_and(|v| !v.is_empty()))
    };
    let fault = lock(&shared.faults).decide(method.as_str(), path, has_param);
    let mut drop_connection = false;
    match fault {
        Some(FaultAction::Status(code)) => {
            let e = ApiError::from_code(code);
            return (error_response(&e), e.code);
        }
        Some(FaultAction::TooManyRequests { retry_after_secs }) => {
            let e = ApiError::too_many_requests(retry_after_secs);
            return (error_response(&e), e.code);
        }
        Some(FaultAction::Conflict) => {
            let e = conflict_for(path);
            return (error_response(&e), e.code);
        }
        Some(FaultAction::Expired) => {
            let continue_ = query.as_ref().ok().and_then(|q| q.get("continue"));
            let e = match PageRequest::parse(None, continue_) {
                Ok(page) => page.expire(),
                Err(e) => e,
            };
            return (error_response(&e), e.code);
        }
        Some(FaultAction::Latency(d)) => tokio::time::sleep(d).await,
        Some(FaultAction::DropConnection) => drop_connection = true,
        None => {}
    }
    let result = match query {
        Ok(query) => handle(state, req, method, path, query).await,
        Err(e) => Err(e),
    };
    let (response, status) = match result {
        Ok(reply) => {
            let status = reply.status();
            (reply_response(reply), status)
        }
        Err(e) => (error_response(&e), e.code),
    };
    if drop_connection {
        return (cut_off(response).await, status);
    }
    (response, status)
}

/// An injected 409 names the object of the path when there is one.
fn conflict_for(path: &str) -> ApiError {
    match route::parse(path) {
        Route::Item { kind, name, .. } => ApiError::optimistic_lock(&kind, &name),
        _ => ApiError::from_code(409),
    }
}

async fn handle(
    state: &AppState,
    req: Request,
    method: &Method,
    path: &str,
    query: Query,
) -> ApiResult {
    let content_type = header_str(&req, header::CONTENT_TYPE);
    let accept = header_str(&req, header::ACCEPT);
    let user_agent = header_str(&req, header::USER_AGENT);
    let declared_len = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared_len.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(ApiError::too_large(MAX_BODY_BYTES));
    }
    let body = axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::too_large(MAX_BODY_BYTES))?;
    let api = ApiRequest {
        method: method.clone(),
        route: route::parse(path),
        query,
        content_type,
        accept,
        user_agent,
        body,
    };
    route_request(state, &api)
}

fn route_request(state: &AppState, req: &ApiRequest) -> ApiResult {
    let shared = &state.shared;
    let get_only = |body: Value| {
        if req.method == Method::GET {
            Ok(Reply::ok(body))
        } else {
            Err(ApiError::method_not_allowed())
        }
    };
    match &req.route {
        Route::Version => get_only(discovery::version()),
        Route::Health => Ok(Reply::Text {
            status: 200,
            body: "ok",
        }),
        Route::CoreVersions => get_only(discovery::core_versions(&state.address)),
        Route::CoreResources => get_only(discovery::resource_list("", "v1")),
        Route::Groups => get_only(discovery::groups()),
        Route::Group(g) => get_only(discovery::group(g)),
        Route::GroupResources(g, v) => get_only(discovery::resource_list(g, v)),
        Route::Collection { kind, namespace } => match req.method {
            Method::GET => api_read::list(shared, req, kind, namespace.as_deref()),
            Method::POST => api_write::create(shared, req, kind, namespace.as_deref()),
            _ => Err(ApiError::method_not_allowed()),
        },
        Route::Item {
            kind,
            namespace,
            name,
        } => {
            let ns = namespace.as_deref();
            match req.method {
                Method::GET => api_read::get(shared, req, kind, ns, name),
                Method::PUT => api_write::replace(shared, req, kind, ns, name),
                Method::PATCH => api_write::patch(shared, req, kind, ns, name),
                Method::DELETE => api_write::delete(shared, req, kind, ns, name),
                _ => Err(ApiError::method_not_allowed()),
            }
        }
        Route::UnknownResource => Err(ApiError::no_such_resource()),
        Route::OpenApiRoot => get_only(openapi::root()),
        Route::OpenApiGroupVersion(g, v) => get_only(openapi::group_version(g, v)),
        Route::NotFound => Ok(Reply::Text {
            status: 404,
            body: "404 page not found\n",
        }),
    }
}
