//! An API request as the handlers see it, and what they answer.

use bytes::Bytes;
use serde_json::Value;

use crate::query::Query;
use crate::route::Route;
use crate::status::ApiError;
use crate::watch::WatchStream;

pub struct ApiRequest {
    pub method: http::Method,
    pub route: Route,
    pub query: Query,
    pub content_type: Option<String>,
    pub accept: Option<String>,
    pub user_agent: Option<String>,
    pub body: Bytes,
}

pub enum Reply {
    Json {
        status: u16,
        body: Value,
        warnings: Vec<String>,
    },
    /// Already-serialized JSON (large lists).
    Raw {
        status: u16,
        body: Vec<u8>,
    },
    Text {
        status: u16,
        body: &'static str,
    },
    Watch(WatchStream),
}

impl Reply {
    pub fn ok(body: Value) -> Reply {
        Reply::Json {
            status: 200,
            body,
            warnings: Vec::new(),
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            Reply::Json { status, .. } | Reply::Raw { status, .. } | Reply::Text { status, .. } => {
                *status
            }
            Reply::Watch(_) => 200,
        }
    }
}

pub type ApiResult = Result<Reply, ApiError>;
