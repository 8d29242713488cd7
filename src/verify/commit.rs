//! Raw commit objects, parsed the way git-core reads them for signature checks
//! (`parse_buffer_signed_by_header`): the signature is the value of the `gpgsig` header
//! with its continuation lines; the payload is the object with that header removed.
//!
//! Stricter than git-core, on purpose: a header block that two parsers could read two ways
//! is refused as `bad-signature` (malformed) rather than interpreted. libgit2's
//! `extract_signature` and git-core disagree on exactly these cases: duplicated
//! `tree`/`author`/`committer`, two `gpgsig` headers, and `gpgsig-sha256` (a signature
//! over the SHA-256 form of the object, which a SHA-1 repository must not accept).

use crate::reason::ReasonCode;

use super::VerifyError;

/// Commit objects larger than this are refused before they are read.
pub const MAX_COMMIT_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitError {
    #[error("commit object is {0} bytes, more than the {MAX_COMMIT_BYTES} allowed")]
    TooLarge(usize),
    #[error("malformed commit: {0}")]
    Malformed(String),
}

impl From<CommitError> for VerifyError {
    fn from(e: CommitError) -> Self {
        let reason = match e {
            CommitError::TooLarge(_) => ReasonCode::LimitExceeded,
            CommitError::Malformed(_) => ReasonCode::BadSignature,
        };
        VerifyError::rejection(reason, e.to_string())
    }
}

/// The parts of a commit the chain needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedCommit {
    pub tree: String,
    pub parents: Vec<String>,
    /// The armored signature from `gpgsig`, continuation lines joined; `None` if unsigned.
    pub signature: Option<Vec<u8>>,
    /// The bytes that were signed: the object without the `gpgsig` header.
    pub payload: Vec<u8>,
}

impl ParsedCommit {
    pub fn first_parent(&self) -> Option<&str> {
        self.parents.first().map(String::as_str)
    }
}

#[derive(PartialEq)]
enum Stage {
    Start,
    Tree,
    Parents,
    Author,
    Committer,
}

pub fn parse_commit(raw: &[u8]) -> Result<ParsedCommit, CommitError> {
    let malformed = |m: &str| CommitError::Malformed(m.to_string());
    if raw.len() > MAX_COMMIT_BYTES {
        return Err(CommitError::TooLarge(raw.len()));
    }
    // The header block ends at the first empty line; an object may also end right after
    // its headers (no message).
    let header_end = find(raw, b"\n\n").map(|i| i + 1).unwrap_or(raw.len());
    let headers = &raw[..header_end];
    if headers.contains(&0) {
        return Err(malformed("NUL byte in the header"));
    }
    if !headers.ends_with(b"\n") {
        return Err(malformed("header block does not end with a newline"));
    }

    let mut stage = Stage::Start;
    let mut tree = None;
    let mut parents = Vec::new();
    let mut signature: Option<Vec<u8>> = None;
    let mut payload = Vec::with_capacity(raw.len());
    let mut in_gpgsig = false;
    let mut previous_was_header = false;

    for line in headers.split_inclusive(|&b| b == b'\n') {
        if let Some(continuation) = line.strip_prefix(b" ") {
            if !previous_was_header {
                return Err(malformed("continuation line before any header"));
            }
            if in_gpgsig {
                if let Some(sig) = signature.as_mut() {
                    sig.extend_from_slice(continuation);
                }
            } else {
                payload.extend_from_slice(line);
            }
            continue;
        }
        in_gpgsig = false;
        previous_was_header = true;
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        let space = body
            .iter()
            .position(|&b| b == b' ')
            .ok_or_else(|| malformed("header line without a value"))?;
        let (name, value) = (&body[..space], &body[space + 1..]);
        match name {
            b"tree" => {
                if stage != Stage::Start {
                    return Err(malformed("tree is not the first header, or appears twice"));
                }
                tree = Some(object_id(value)?);
                stage = Stage::Tree;
            }
            b"parent" => {
                if !matches!(stage, Stage::Tree | Stage::Parents) {
                    return Err(malformed("parent header out of place"));
                }
                parents.push(object_id(value)?);
                stage = Stage::Parents;
            }
            b"author" => {
                if !matches!(stage, Stage::Tree | Stage::Parents) {
                    return Err(malformed("author header missing its place or duplicated"));
                }
                stage = Stage::Author;
            }
            b"committer" => {
                if stage != Stage::Author {
                    return Err(malformed("committer header out of place or duplicated"));
                }
                stage = Stage::Committer;
            }
            b"gpgsig" => {
                if signature.is_some() {
                    return Err(malformed("two gpgsig headers"));
                }
                let mut sig = value.to_vec();
                sig.push(b'\n');
                signature = Some(sig);
                in_gpgsig = true;
                continue;
            }
            _ if name.starts_with(b"gpgsig") => {
                return Err(malformed(&format!(
                    "unknown signature header {:?}",
                    String::from_utf8_lossy(&name[..name.len().min(40)])
                )));
            }
            _ if stage == Stage::Start => return Err(malformed("tree is not the first header")),
            _ => {}
        }
        payload.extend_from_slice(line);
    }
    if stage != Stage::Committer {
        return Err(malformed("missing tree, author or committer header"));
    }
    payload.extend_from_slice(&raw[header_end..]);
    Ok(ParsedCommit {
        tree: tree.ok_or_else(|| malformed("missing tree"))?,
        parents,
        signature,
        payload,
    })
}

/// A hex object id (SHA-1 or SHA-256 length), lowercase as git writes it.
fn object_id(value: &[u8]) -> Result<String, CommitError> {
    let ok = matches!(value.len(), 40 | 64)
        && value
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b));
    if !ok {
        return Err(CommitError::Malformed(
            "object id is not 40 or 64 lowercase hex digits".into(),
        ));
    }
    Ok(String::from_utf8_lossy(value).into_owned())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TREE: &str = "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n";
    const PARENT: &str = "parent 0123456789abcdef0123456789abcdef01234567\n";
    const AUTHOR: &str = "author A <a@example.com> 1767225600 +0000\n";
    const COMMITTER: &str = "committer A <a@example.com> 1767225600 +0000\n";
    const SIG: &str =
        "gpgsig -----BEGIN SSH SIGNATURE-----\n U1NIU0lH\n -----END SSH SIGNATURE-----\n";

    fn commit(headers: &[&str]) -> Vec<u8> {
        let mut s = headers.concat();
        s.push_str("\nmessage\n\nbody\n");
        s.into_bytes()
    }

    #[test]
    fn splits_signature_from_payload() {
        let raw = commit(&[TREE, PARENT, AUTHOR, COMMITTER, SIG]);
        let c = parse_commit(&raw).unwrap();
        assert_eq!(
            c.signature.as_deref(),
            Some(&b"-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n"[..])
        );
        assert_eq!(c.payload, commit(&[TREE, PARENT, AUTHOR, COMMITTER]));
        assert_eq!(
            c.first_parent(),
            Some("0123456789abcdef0123456789abcdef01234567")
        );
    }

    #[test]
    fn unsigned_commit_has_no_signature() {
        let c = parse_commit(&commit(&[TREE, AUTHOR, COMMITTER])).unwrap();
        assert_eq!(c.signature, None);
        assert_eq!(c.first_parent(), None);
    }

    #[test]
    fn mergetag_continuations_stay_in_the_payload() {
        let mergetag = "mergetag object 0123456789abcdef0123456789abcdef01234567\n type commit\n";
        let raw = commit(&[TREE, PARENT, AUTHOR, COMMITTER, mergetag, SIG]);
        let c = parse_commit(&raw).unwrap();
        assert_eq!(
            c.payload,
            commit(&[TREE, PARENT, AUTHOR, COMMITTER, mergetag])
        );
    }

    fn malformed(headers: &[&str]) -> String {
        match parse_commit(&commit(headers)) {
            Err(CommitError::Malformed(m)) => m,
            other => panic!("expected malformed, got {other:?}"),
        }
    }

    #[test]
    fn duplicated_headers_are_malformed() {
        assert!(malformed(&[TREE, TREE, AUTHOR, COMMITTER]).contains("tree"));
        assert!(malformed(&[TREE, AUTHOR, AUTHOR, COMMITTER]).contains("author"));
        assert!(malformed(&[TREE, AUTHOR, COMMITTER, COMMITTER]).contains("committer"));
        assert!(malformed(&[TREE, AUTHOR, COMMITTER, SIG, SIG]).contains("two gpgsig"));
    }

    #[test]
    fn unknown_gpgsig_headers_are_malformed() {
        let sha256 = "gpgsig-sha256 -----BEGIN SSH SIGNATURE-----\n U1NIU0lH\n -----END SSH SIGNATURE-----\n";
        assert!(malformed(&[TREE, AUTHOR, COMMITTER, sha256]).contains("gpgsig-sha256"));
        assert!(malformed(&[TREE, AUTHOR, COMMITTER, "gpgsig-x y\n"]).contains("gpgsig-x"));
    }

    #[test]
    fn out_of_order_and_missing_headers_are_malformed() {
        malformed(&[AUTHOR, TREE, COMMITTER]);
        malformed(&[TREE, COMMITTER, AUTHOR]);
        malformed(&[TREE, AUTHOR, PARENT, COMMITTER]);
        malformed(&[TREE, AUTHOR]);
        malformed(&[" orphan continuation\n", TREE, AUTHOR, COMMITTER]);
        malformed(&[
            "tree 4B825DC642CB6EB9A060E54BF8D69288FBEE4904\n",
            AUTHOR,
            COMMITTER,
        ]);
        malformed(&[TREE, AUTHOR, COMMITTER, "novalue\n"]);
    }

    #[test]
    fn nul_in_header_is_malformed() {
        malformed(&[TREE, "author A\0 <a@example.com> 1 +0000\n", COMMITTER]);
    }

    #[test]
    fn oversized_commit_is_refused() {
        let mut raw = commit(&[TREE, AUTHOR, COMMITTER]);
        raw.resize(MAX_COMMIT_BYTES + 1, b'x');
        assert_eq!(
            parse_commit(&raw),
            Err(CommitError::TooLarge(MAX_COMMIT_BYTES + 1))
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = parse_commit(&bytes);
        }

        #[test]
        fn payload_plus_signature_never_exceeds_the_object(extra in "[ -~\n]{0,200}") {
            let mut raw = commit(&[TREE, AUTHOR, COMMITTER, SIG]);
            raw.extend_from_slice(extra.as_bytes());
            if let Ok(c) = parse_commit(&raw) {
                prop_assert!(c.payload.len() + c.signature.map_or(0, |s| s.len()) <= raw.len());
            }
        }
    }
}
