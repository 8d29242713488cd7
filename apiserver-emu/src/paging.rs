//! List pagination (`limit` / `continue`), as kube-apiserver does it: a page of at most
//! `limit` items in key order, `metadata.continue` when more remain, and
//! `metadata.remainingItemCount` for the rest. The token has the apiserver's shape
//! (base64 of `{"v":"meta.k8s.io/v1","rv":N,"start":"<key>\u0000"}`), so clients that
//! only pass it back work unchanged.
//!
//! Difference from the apiserver: later pages are served from the current state, not
//! from a snapshot at the first page's resourceVersion. A token expires as the
//! apiserver's does once history before its revision is compacted (`/_emu/compact`):
//! 410 Expired, with a token (revision -1) that resumes after the same key.

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
    /// The revision of the list the continue token belongs to; -1 for a token that
    /// resumes an expired list at the latest revision.
    pub token_rv: Option<i64>,
}

/// What the list metadata says about the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageEnd {
    pub continue_token: String,
    /// `None` when the list has selectors (the apiserver cannot know it then).
    pub remaining: Option<usize>,
}

pub type ObjectKey = (String, String);

/// Longest continue token accepted (a key is at most 253 + 1 + 253 bytes).
const MAX_TOKEN_LEN: usize = 4096;
const TOKEN_VERSION: &str = "meta.k8s.io/v1";

#[derive(Serialize, Deserialize)]
struct Token {
    v: String,
    rv: i64,
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
        let (after, token_rv) = match continue_ {
            None | Some("") => (None, None),
            Some(raw) => {
                let (key, rv) = decode_token(raw)?;
                (Some(key), Some(rv))
            }
        };
        Ok(PageRequest {
            limit,
            after,
            token_rv,
        })
    }

    /// The 410 for a continue token from a list at a revision before `compacted_rv`.
    pub fn expired(&self, compacted_rv: u64) -> Option<ApiError> {
        let rv = self.token_rv?;
        let compacted = i64::try_from(compacted_rv).unwrap_or(i64::MAX);
        (rv >= 0 && rv < compacted).then(|| self.expire())
    }

    /// The 410 the apiserver sends when this request's revision is compacted away: with a
    /// token resuming after the same key when the request continues a list.
    pub fn expire(&self) -> ApiError {
        match &self.after {
            Some(after) => ApiError::expired_continue(encode_token(-1, after)),
            None => ApiError::expired_list(),
        }
    }

    /// This page of `items`, which must be in key order and already start after
    /// [`PageRequest::after`] (the store positions its iterator there). Only the page is
    /// collected; the rest is counted for `remainingItemCount` when `count_rest` (the
    /// apiserver leaves it unset when the list has selectors) and otherwise only probed.
    pub fn take<T>(
        &self,
        mut items: impl Iterator<Item = T>,
        rv: u64,
        count_rest: bool,
        key_of: impl Fn(&T) -> ObjectKey,
    ) -> (Vec<T>, Option<PageEnd>) {
        let Some(limit) = self.limit else {
            return (items.collect(), None);
        };
        let page: Vec<T> = items.by_ref().take(limit).collect();
        let remaining = if count_rest {
            items.count()
        } else {
            usize::from(items.next().is_some())
        };
        if remaining == 0 {
            return (page, None);
        }
        let last = page.last().map(&key_of).unwrap_or_default();
        let end = PageEnd {
            continue_token: encode_token(i64::try_from(rv).unwrap_or(i64::MAX), &last),
            remaining: count_rest.then_some(remaining),
        };
        (page, Some(end))
    }
}

fn encode_token(rv: i64, (namespace, name): &ObjectKey) -> String {
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

fn decode_token(raw: &str) -> Result<(ObjectKey, i64), ApiError> {
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
    // As the apiserver: a meta.k8s.io/v1 token always carries a revision.
    if token.rv == 0 {
        return Err(invalid(
            "incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
        ));
    }
    let Some(start) = token.start.strip_suffix('\u{0}') else {
        return Err(invalid("malformed start key"));
    };
    // A namespace never contains `/`; a cluster-scoped key has none.
    let key = match start.split_once('/') {
        Some((namespace, name)) => (namespace.to_string(), name.to_string()),
        None => (String::new(), start.to_string()),
    };
    Ok((key, token.rv))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: usize) -> Vec<ObjectKey> {
        (0..n)
            .map(|i| ("ns".to_string(), format!("p{i:03}")))
            .collect()
    }

    /// What the store does: position after the token's key, in key order.
    fn page(req: &PageRequest, all: &[ObjectKey]) -> (Vec<ObjectKey>, Option<PageEnd>) {
        let items = all
            .iter()
            .filter(|k| req.after.as_ref().is_none_or(|a| *k > a))
            .cloned();
        req.take(items, 5, true, |k| k.clone())
    }

    #[test]
    fn pages_walk_every_item_once_in_order() {
        let all = keys(7);
        let mut seen = Vec::new();
        let mut req = PageRequest::parse(Some("3"), None).unwrap();
        let mut pages = 0;
        loop {
            let (items, end) = page(&req, &all);
            pages += 1;
            seen.extend(items);
            match end {
                Some(end) => {
                    assert_eq!(end.remaining, Some(all.len() - seen.len()));
                    req = PageRequest::parse(Some("3"), Some(&end.continue_token)).unwrap();
                }
                None => break,
            }
        }
        assert_eq!(seen, all);
        assert_eq!(pages, 3);
    }

    #[test]
    fn pages_follow_the_store_order_not_string_order() {
        // As strings "a-b/x" < "a/x"; the store orders by namespace first: "a" < "a-b".
        let all: Vec<ObjectKey> = [("a", "x"), ("a", "y"), ("a-b", "x")]
            .iter()
            .map(|(n, m)| (n.to_string(), m.to_string()))
            .collect();
        let (first, end) = page(&PageRequest::parse(Some("1"), None).unwrap(), &all);
        assert_eq!(first, all[..1]);
        let token = end.unwrap().continue_token;
        let (rest, _) = page(&PageRequest::parse(None, Some(&token)).unwrap(), &all);
        assert_eq!(rest, all[1..]);
    }

    #[test]
    fn with_selectors_the_remaining_count_is_left_unset() {
        let req = PageRequest::parse(Some("2"), None).unwrap();
        let (_, end) = req.take(keys(5).into_iter(), 1, false, |k| k.clone());
        assert_eq!(end.unwrap().remaining, None);
    }

    #[test]
    fn no_limit_zero_or_negative_means_everything() {
        for limit in [None, Some("0"), Some("-4")] {
            let (items, end) = page(&PageRequest::parse(limit, None).unwrap(), &keys(4));
            assert_eq!(items.len(), 4);
            assert!(end.is_none());
        }
    }

    #[test]
    fn an_exact_last_page_has_no_continue() {
        let (items, end) = page(&PageRequest::parse(Some("4"), None).unwrap(), &keys(4));
        assert_eq!(items.len(), 4);
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

    #[test]
    fn a_token_from_before_a_compaction_expires_with_one_that_resumes_after_the_same_key() {
        let all = keys(7);
        let (first, end) = page(&PageRequest::parse(Some("3"), None).unwrap(), &all);
        let token = end.unwrap().continue_token; // issued at revision 5
        let next = PageRequest::parse(Some("3"), Some(&token)).unwrap();
        assert!(next.expired(5).is_none(), "revision 5 itself is kept");
        let err = next.expired(6).expect("history before 6 is gone");
        assert_eq!((err.code, err.reason), (410, "Expired"));
        let status = err.to_status();
        let resume = status["metadata"]["continue"].as_str().unwrap();
        let resumed = PageRequest::parse(Some("3"), Some(resume)).unwrap();
        assert_eq!(resumed.token_rv, Some(-1));
        assert!(
            resumed.expired(u64::MAX).is_none(),
            "an inconsistent token never expires"
        );
        let (rest, _) = page(&resumed, &all);
        assert_eq!(rest, all[first.len()..first.len() + 3]);
    }

    #[test]
    fn a_first_page_never_expires() {
        assert!(PageRequest::parse(Some("3"), None)
            .unwrap()
            .expired(u64::MAX)
            .is_none());
    }

    #[test]
    fn a_token_without_a_revision_is_a_bad_request() {
        let zero = base64::engine::general_purpose::URL_SAFE
            .encode(br#"{"v":"meta.k8s.io/v1","rv":0,"start":"a\u0000"}"#);
        let err = PageRequest::parse(None, Some(&zero)).unwrap_err();
        assert_eq!(err.code, 400);
        assert!(err.message.contains("resourceVersion"), "{}", err.message);
    }
}
