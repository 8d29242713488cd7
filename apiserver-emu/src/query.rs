//! Query parameters of API requests. Unknown parameters are ignored, as the apiserver's
//! parameter codec ignores them; known ones with bad values are errors.

use crate::status::{ApiError, Cause};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

/// Longest query string accepted.
const MAX_QUERY_LEN: usize = 64 * 1024;

impl Query {
    pub fn parse(raw: &str) -> Result<Query, ApiError> {
        if raw.len() > MAX_QUERY_LEN {
            return Err(ApiError::bad_request("query string too long"));
        }
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw)
            .map_err(|e| ApiError::bad_request(format!("invalid query: {e}")))?;
        Ok(Query { pairs })
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, key: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// `watch=true|1`.
    pub fn watch(&self) -> Result<bool, ApiError> {
        match self.get("watch") {
            None | Some("") | Some("false") | Some("0") => Ok(false),
            Some("true") | Some("1") => Ok(true),
            Some(other) => Err(ApiError::bad_request(format!(
                "invalid value for watch: {other:?}"
            ))),
        }
    }

    /// `dryRun=All` (the only value the apiserver supports); `options_kind` names the
    /// options type in the 422 (`CreateOptions`, `UpdateOptions`, `DeleteOptions`).
    pub fn dry_run(&self, options_kind: &str) -> Result<bool, ApiError> {
        dry_run_values(&self.all("dryRun"), options_kind)
    }
}

/// Validate dryRun values given in the query or in a DeleteOptions body.
pub fn dry_run_values(values: &[&str], options_kind: &str) -> Result<bool, ApiError> {
    if values.is_empty() {
        return Ok(false);
    }
    if values.iter().all(|v| *v == "All") {
        return Ok(true);
    }
    let rendered = format!(
        "[]string{{{}}}",
        values
            .iter()
            .map(|v| format!("{v:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Err(ApiError::invalid(
        &format!("{options_kind}.meta.k8s.io"),
        "meta.k8s.io",
        options_kind,
        "",
        vec![Cause {
            reason: "FieldValueNotSupported".into(),
            message: format!("Unsupported value: {rendered}: supported values: \"All\""),
            field: "dryRun".into(),
        }],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_are_url_decoded() {
        let q = Query::parse("labelSelector=app%20in%20(a%2Cb)&dryRun=All&x=1").unwrap();
        assert_eq!(q.get("labelSelector"), Some("app in (a,b)"));
        assert!(q.dry_run("CreateOptions").unwrap());
        assert_eq!(q.get("nope"), None);
    }

    #[test]
    fn unsupported_dry_run_is_a_422() {
        let err = Query::parse("dryRun=Yes")
            .unwrap()
            .dry_run("CreateOptions")
            .unwrap_err();
        assert_eq!(err.code, 422);
        assert_eq!(
            err.message,
            "CreateOptions.meta.k8s.io \"\" is invalid: dryRun: Unsupported value: []string{\"Yes\"}: supported values: \"All\""
        );
    }

    #[test]
    fn bad_watch_value() {
        assert!(Query::parse("watch=maybe").unwrap().watch().is_err());
        assert!(Query::parse("watch=1").unwrap().watch().unwrap());
    }

    #[test]
    fn oversized_query_is_refused() {
        let long = format!("labelSelector={}", "a".repeat(MAX_QUERY_LEN));
        assert_eq!(Query::parse(&long).unwrap_err().code, 400);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_query_strings_never_panic(raw in "\\PC{0,120}") {
            if let Ok(q) = Query::parse(&raw) {
                let _ = q.watch();
                let _ = q.dry_run("CreateOptions");
            }
        }
    }
}
