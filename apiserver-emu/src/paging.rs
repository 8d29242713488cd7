//! List pagination (`limit` / `continue`), as kube-apiserver does it: a page of at most
//! `limit` items in key order, `metadata.continue` when more remain, and
//! `metadata.remainingItemCount` for the rest. The token has the apiserver's shape
//! (base64 of `{"v":"meta.k8s.io/v1","rv":N,"start":"<key>\u0000"}`), so clients that
//! only pass it back work unchanged.
//!
//! Difference from the apiserver: later pages are served from the current state, not
//! from a snapshot at the first page's resourceVersion, so a token never expires (no 410).

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::status::ApiError;

/// Where a page starts and how long it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// `None` (or `limit=0`): everything.
    pub limit: Option<usize>,
    /// Serve keys strictly after this `(namespace, name)` (namespace empty when
    /// cluster-scoped), in the store's order.
    pub after: Option<ObjectKey>,
}

/// What the list metadata says about the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageEnd {
    pub continue_token: String,
    pub remaining: usize,
}

pub type ObjectKey = (String, String);

/// Longest continue token accepted (a key is at most 253 + 1 + 253 bytes).
const MAX_TOKEN_LEN: usize = 4096;
const TOKEN_VERSION: &str = "meta.k8s.io/v1";

#[derive(Serialize, Deserialize)]
struct Token {
    v: String,
    rv: u64,
    start: String,
}

impl PageRequest {
    pub fn parse(limit: Option<&str>, continue_: Option<&str>) -> Result<Self, ApiError> {
        let limit = match limit {
            None | Some("") => None,
            Some(raw) => match raw.parse::<i64>() {
                Ok(n) if n > 0 => Some(usize::try_from(n).unwrap_or(usize::MAX)),
                // The apiserver treats zero and negative limits as "no limit".
                Ok(_) => None,
                Err(_) => {
                    return Err(ApiError::bad_request(format!(
                        "invalid value for limit: {raw:?}"
                    )))
                }
            },
        };
        let after = match continue_ {
            None | Some("") => None,
            Some(raw) => Some(decode_token(raw)?),
        };
        Ok(PageRequest { limit, after })
    }

    /// Cut `items` (in key order, `key_of` naming each) to this page.
    pub fn apply<T>(
        &self,
        mut items: Vec<T>,
        rv: u64,
        key_of: impl for<'a> Fn(&'a T) -> (&'a str, &'a str),
    ) -> (Vec<T>, Option<PageEnd>) {
        if let Some((ns, name)) = &self.after {
            let after = (ns.as_str(), name.as_str());
            let start = items.partition_point(|i| key_of(i) <= after);
            items.drain(..start);
        }
        let Some(limit) = self.limit else {
            return (items, None);
        };
        if items.len() <= limit {
            return (items, None);
        }
        let remaining = items.len() - limit;
        items.truncate(limit);
        let last = items
            .last()
            .map(|i| {
                let (ns, name) = key_of(i);
                (ns.to_string(), name.to_string())
            })
            .unwrap_or_default();
        (
            items,
            Some(PageEnd {
                continue_token: encode_token(rv, &last),
                remaining,
            }),
        )
    }
}

fn encode_token(rv: u64, (namespace, name): &ObjectKey) -> String {
    let last_key = if namespace.is_empty() {
        name.clone()
    } else {
        format!("{namespace}/{name}")
    };
    let token = Token {
        v: TOKEN_VERSION.to_string(),
        rv,
        // The apiserver's start key is the last key plus a NUL: the next key after it.
        start: format!("{last_key}\u{0}"),
    };
    let json = serde_json::to_vec(&token).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE.encode(json)
}

fn decode_token(raw: &str) -> Result<ObjectKey, ApiError> {
    let invalid = |why: &str| ApiError::bad_request(format!("continue key is not valid: {why}"));
    if raw.len() > MAX_TOKEN_LEN {
        return Err(invalid("too long"));
    }
    let bytes = base64::engine::general_purpose::URL_SAFE
        .decode(raw)
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(raw))
        .map_err(|_| invalid("not base64"))?;
    let token: Token = serde_json::from_slice(&bytes).map_err(|_| invalid("not a token"))?;
    if token.v != TOKEN_VERSION {
        return Err(invalid("unknown version"));
    }
    let Some(start) = token.start.strip_suffix('\u{0}') else {
        return Err(invalid("malformed start key"));
    };
    // A namespace never contains `/`; a cluster-scoped key has none.
    Ok(match start.split_once('/') {
        Some((namespace, name)) => (namespace.to_string(), name.to_string()),
        None => (String::new(), start.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &ObjectKey) -> (&str, &str) {
        (&k.0, &k.1)
    }

    fn keys(n: usize) -> Vec<ObjectKey> {
        (0..n)
            .map(|i| ("ns".to_string(), format!("p{i:03}")))
            .collect()
    }

    #[test]
    fn pages_follow_the_store_order_not_string_order() {
        // As strings "a-b/x" < "a/x"; the store orders by namespace first: "a" < "a-b".
        let all: Vec<ObjectKey> = [("a", "x"), ("a", "y"), ("a-b", "x")]
            .iter()
            .map(|(n, m)| (n.to_string(), m.to_string()))
            .collect();
        let (first, end) = PageRequest::parse(Some("1"), None)
            .unwrap()
            .apply(all.clone(), 1, key);
        assert_eq!(first, all[..1]);
        let token = end.unwrap().continue_token;
        let (rest, _) = PageRequest::parse(None, Some(&token))
            .unwrap()
            .apply(all.clone(), 1, key);
        assert_eq!(rest, all[1..]);
    }

    #[test]
    fn pages_walk_every_item_once_in_order() {
        let all = keys(7);
        let mut seen = Vec::new();
        let mut req = PageRequest::parse(Some("3"), None).unwrap();
        let mut pages = 0;
        loop {
            let (page, end) = req.apply(all.clone(), 5, key);
            pages += 1;
            seen.extend(page);
            match end {
                Some(end) => {
                    assert_eq!(end.remaining, all.len() - seen.len());
                    req = PageRequest::parse(Some("3"), Some(&end.continue_token)).unwrap();
                }
                None => break,
            }
        }
        assert_eq!(seen, all);
        assert_eq!(pages, 3);
    }

    #[test]
    fn no_limit_zero_or_negative_means_everything() {
        for limit in [None, Some("0"), Some("-4")] {
            let (page, end) = PageRequest::parse(limit, None)
                .unwrap()
                .apply(keys(4), 1, key);
            assert_eq!(page.len(), 4);
            assert!(end.is_none());
        }
    }

    #[test]
    fn an_exact_last_page_has_no_continue() {
        let (page, end) = PageRequest::parse(Some("4"), None)
            .unwrap()
            .apply(keys(4), 1, key);
        assert_eq!(page.len(), 4);
        assert!(end.is_none());
    }

    #[test]
    fn hostile_tokens_and_limits_are_bad_requests() {
        let long = "A".repeat(MAX_TOKEN_LEN + 1);
        let not_json = base64::engine::general_purpose::URL_SAFE.encode(b"[1,2]");
        let wrong_version = base64::engine::general_purpose::URL_SAFE
            .encode(br#"{"v":"x","rv":1,"start":"a\u0000"}"#);
        let no_nul = base64::engine::general_purpose::URL_SAFE
            .encode(br#"{"v":"meta.k8s.io/v1","rv":1,"start":"a"}"#);
        for token in ["%%%", long.as_str(), &not_json, &wrong_version, &no_nul] {
            let err = PageRequest::parse(None, Some(token)).unwrap_err();
            assert_eq!(err.code, 400, "{token}");
        }
        assert_eq!(PageRequest::parse(Some("ten"), None).unwrap_err().code, 400);
    }
}
