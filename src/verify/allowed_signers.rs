//! The OpenSSH allowed_signers format (ssh-keygen(1), ALLOWED SIGNERS):
//!
//! ```text
//! # comment
//! alice@example.com,*@ops.example.com namespaces="git,netpol-sync-bundle",valid-before="20270101Z" ssh-ed25519 AAAA… comment
//! ```
//!
//! Differences from ssh-keygen, all on the strict side:
//! - a malformed line (bad principal, unknown option or key type, bad base64) is an error
//!   naming the file and line; ssh-keygen logs it and skips the line;
//! - option values must be quoted, as ssh-keygen requires, and an option may appear once;
//! - `valid-after`/`valid-before` without `Z` are read as UTC, not the verifier's local
//!   time zone: the daemon's verdict must not depend on the TZ of the pod it runs in;
//! - the windows are judged at [`SignaturePolicy::at`] (the verifier's clock), never at
//!   the signer-chosen committer date that git passes to ssh-keygen.
//! - `cert-authority` lines are parsed, but certificate signatures are refused as
//!   `unsupported-key-type`, so such a line never vouches for anything.

use super::armor::dearmor;
use super::key::{KeyError, PublicKey};
use super::sshsig::SshSig;
use super::{SignaturePolicy, VerifyError};
use crate::reason::ReasonCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const MAX_FILE_BYTES: usize = 1024 * 1024;
pub const MAX_LINES: usize = 10_000;
pub const MAX_LINE_BYTES: usize = 16 * 1024;

/// One trusted key line.
#[derive(Debug, Clone)]
struct Entry {
    line: usize,
    /// The principal patterns as written (comma-separated).
    principals: String,
    cert_authority: bool,
    namespaces: Option<Vec<String>>,
    valid_after: Option<SystemTime>,
    valid_before: Option<SystemTime>,
    key: PublicKey,
    /// The key's Ed25519 point, decompressed once when the file is parsed (it is the
    /// costly part of a verification); `None` for other key types or an invalid point.
    verifying: Option<ed25519_dalek::VerifyingKey>,
}

/// A parsed allowed_signers file.
#[derive(Debug, Clone)]
pub struct AllowedSigners {
    source: String,
    entries: Vec<Entry>,
}

/// Who made a signature that verified. Built only by this file's verification
/// ([`AllowedSigners::verify_detached`], and the commit checks; tests aside): holding one proves that a signature over some message verified against a key
/// of that file, for the namespace and at the time asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerIdentity {
    pub(super) principal: String,
    /// `SHA256:…` as ssh-keygen prints it.
    pub(super) fingerprint: String,
    /// The public key in SSH wire format: the identity used to count distinct signers.
    pub(super) key_blob: Vec<u8>,
}

impl SignerIdentity {
    pub fn principal(&self) -> &str {
        &self.principal
    }
    /// `SHA256:…` as ssh-keygen prints it.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
    /// The public key in SSH wire format: the identity used to count distinct signers.
    pub fn key_blob(&self) -> &[u8] {
        &self.key_blob
    }
    /// A made-up identity for tests of what consumes one.
    #[cfg(test)]
    pub(crate) fn for_test(principal: &str, fingerprint: &str, key_blob: &[u8]) -> Self {
        SignerIdentity {
            principal: principal.into(),
            fingerprint: fingerprint.into(),
            key_blob: key_blob.into(),
        }
    }
}

/// One allowed_signers line holding a given key ([`AllowedSigners::lines_for_key`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLine {
    /// 1-based line number in the file.
    pub line: usize,
    /// The principal patterns as written (comma-separated).
    pub principals: String,
    /// `Ok` when the line lets the key sign in the namespace asked at the time asked;
    /// otherwise why not (namespaces=, valid-after, valid-before).
    pub allows: Result<(), String>,
}

impl AllowedSigners {
    /// Parse a whole file. `source_name` names it in every error (`keys/allowed_signers`,
    /// the trust anchor's path).
    pub fn parse(source_name: &str, bytes: &[u8]) -> Result<AllowedSigners, VerifyError> {
        let file_error = |message: String| {
            VerifyError::rejection(
                ReasonCode::TrustFileInvalid,
                format!("{source_name}: {message}"),
            )
            .in_file(source_name)
        };
        if bytes.len() > MAX_FILE_BYTES {
            return Err(file_error(format!(
                "{} bytes, more than the {MAX_FILE_BYTES} allowed",
                bytes.len()
            )));
        }
        let mut entries = Vec::new();
        for (index, raw) in bytes.split(|&b| b == b'\n').enumerate() {
            let number = index + 1;
            if number > MAX_LINES {
                return Err(file_error(format!("more than {MAX_LINES} lines")));
            }
            let line_error = |message: String| {
                let mut e = file_error(format!("line {number}: {message}"));
                e.location.field = Some(format!("line {number}"));
                e
            };
            if raw.len() > MAX_LINE_BYTES {
                return Err(line_error(format!("longer than {MAX_LINE_BYTES} bytes")));
            }
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            let text = std::str::from_utf8(raw).map_err(|_| line_error("not UTF-8".into()))?;
            if let Some(entry) = parse_line(text).map_err(line_error)? {
                entries.push(Entry {
                    line: number,
                    ..entry
                });
            }
        }
        Ok(AllowedSigners {
            source: source_name.to_string(),
            entries,
        })
    }

    /// The name given to [`AllowedSigners::parse`].
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Number of key lines (comments and blank lines excluded).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The lines that list `key` (cert-authority lines aside), in file order, each with
    /// whether it lets the key sign in `namespace` at `at` (and why not). For `bundle
    /// sign`, which must name the signer and refuse a key verify would not count before
    /// it signs anything; verification itself is [`AllowedSigners::verify_detached`].
    pub fn lines_for_key(&self, key: &PublicKey, namespace: &str, at: SystemTime) -> Vec<KeyLine> {
        self.entries
            .iter()
            .filter(|e| !e.cert_authority && e.key.blob() == key.blob())
            .map(|e| KeyLine {
                line: e.line,
                principals: e.principals.clone(),
                allows: e.allows(namespace, None, at),
            })
            .collect()
    }

    /// The principals (as written, comma-separated patterns) and key fingerprint of every
    /// line that lets its key sign in `namespace` at `at`, in file order: who may sign a
    /// bundle or a commit, as `check` tells a pull request's author (docs/check.md).
    pub fn signers_for(&self, namespace: &str, at: SystemTime) -> Vec<(String, String)> {
        self.entries
            .iter()
            .filter(|e| !e.cert_authority && e.allows(namespace, None, at).is_ok())
            .map(|e| (e.principals.clone(), e.key.fingerprint()))
            .collect()
    }

    /// Verify an armored SSHSIG over `message` in `namespace` against these keys, the way
    /// `git verify-commit` does for SSH (ssh-keygen `-Y find-principals` then `-Y verify`):
    /// any line holding the signing key whose `namespaces=` and validity window allow it
    /// vouches for the signature, whatever its principals.
    pub fn verify_detached(
        &self,
        armored: &[u8],
        namespace: &str,
        message: &[u8],
        policy: &SignaturePolicy,
    ) -> Result<SignerIdentity, VerifyError> {
        self.verify_inner(armored, namespace, message, None, policy)
    }

    /// As [`AllowedSigners::verify_detached`], and the line must also match `principal`
    /// with its patterns (`*`, `?`, `!negation`), like `ssh-keygen -Y verify -I principal`.
    pub fn verify_detached_as(
        &self,
        armored: &[u8],
        namespace: &str,
        message: &[u8],
        principal: &str,
        policy: &SignaturePolicy,
    ) -> Result<SignerIdentity, VerifyError> {
        self.verify_inner(armored, namespace, message, Some(principal), policy)
    }

    fn verify_inner(
        &self,
        armored: &[u8],
        namespace: &str,
        message: &[u8],
        principal: Option<&str>,
        policy: &SignaturePolicy,
    ) -> Result<SignerIdentity, VerifyError> {
        let blob = dearmor(armored)?;
        let sig = SshSig::parse(&blob)?;
        let key = sig.public_key();
        let fingerprint = key.fingerprint();
        if key.is_certificate() {
            return Err(VerifyError::rejection(
                ReasonCode::UnsupportedKeyType,
                format!(
                    "signed with an SSH certificate ({}); certificates and cert-authority lines are not supported",
                    key.type_name()
                ),
            )
            .with_fingerprint(&fingerprint));
        }
        // The same key bytes as a listed key's are the same point: its decompression from
        // the parse serves (a key no line lists is decompressed here, as any other).
        let listed = self
            .entries
            .iter()
            .find(|e| e.key.blob() == key.blob())
            .and_then(|e| e.verifying.as_ref());
        sig.verify_with(namespace, message, policy.require_user_presence, listed)
            .map_err(|e| VerifyError::from(e).with_fingerprint(&fingerprint))?;

        let mut refusal: Option<String> = None;
        for entry in self
            .entries
            .iter()
            .filter(|e| !e.cert_authority && e.key.blob() == key.blob())
        {
            let verdict = entry.allows(namespace, principal, policy.at);
            match verdict {
                Ok(()) => {
                    return Ok(SignerIdentity {
                        principal: entry.principals.clone(),
                        fingerprint,
                        key_blob: key.blob().to_vec(),
                    })
                }
                Err(why) => {
                    refusal.get_or_insert(format!("{}:{}: {why}", self.source, entry.line));
                }
            }
        }
        let message = match refusal {
            Some(why) => format!("key {fingerprint} is not trusted here: {why}"),
            None => format!("key {fingerprint} is not in {}", self.source),
        };
        let mut err = VerifyError::rejection(ReasonCode::UntrustedKey, message)
            .with_fingerprint(&fingerprint);
        if let Some(p) = principal {
            err = err.with_principal(p);
        }
        Err(err)
    }
}

impl Entry {
    fn allows(
        &self,
        namespace: &str,
        principal: Option<&str>,
        at: SystemTime,
    ) -> Result<(), String> {
        if let Some(p) = principal {
            if !match_pattern_list(p, &self.principals) {
                return Err(format!(
                    "principal {p:?} does not match {:?}",
                    self.principals
                ));
            }
        }
        if let Some(allowed) = &self.namespaces {
            if !allowed.iter().any(|n| match_pattern(namespace, n)) {
                return Err(format!(
                    "namespace {namespace:?} is not in namespaces=\"{}\"",
                    allowed.join(",")
                ));
            }
        }
        if let Some(after) = self.valid_after {
            if at < after {
                return Err(format!(
                    "not valid until {}",
                    humantime::format_rfc3339_seconds(after)
                ));
            }
        }
        if let Some(before) = self.valid_before {
            if at > before {
                return Err(format!(
                    "expired at {}",
                    humantime::format_rfc3339_seconds(before)
                ));
            }
        }
        Ok(())
    }
}

/// Parse one line; `Ok(None)` for blank lines and comments.
fn parse_line(text: &str) -> Result<Option<Entry>, String> {
    let rest = text.trim_start_matches([' ', '\t']);
    if rest.is_empty() || rest.starts_with('#') {
        return Ok(None);
    }
    let (principals, rest) = take_principals(rest)?;
    check_principals(principals)?;
    let rest = rest.trim_start_matches([' ', '\t']);
    if rest.is_empty() {
        return Err("no key after the principals".into());
    }
    let (first, _) = split_token(rest);
    let mut options = LineOptions::default();
    let rest = if super::key::is_known_type(first) {
        rest
    } else {
        let (list, after) = take_options(rest)?;
        for (name, value) in list {
            options.apply(&name, value)?;
        }
        after.trim_start_matches([' ', '\t'])
    };
    if let (Some(a), Some(b)) = (options.valid_after, options.valid_before) {
        if b < a {
            return Err("valid-before is earlier than valid-after".into());
        }
    }
    let (key_type, rest) = split_token(rest);
    let rest = rest.trim_start_matches([' ', '\t']);
    let (key_b64, _comment) = split_token(rest);
    if key_type.is_empty() {
        return Err("no key after the options".into());
    }
    if key_b64.is_empty() {
        return Err(format!("no key data after key type {key_type:?}"));
    }
    let key = PublicKey::from_text(key_type, key_b64).map_err(|e| match e {
        KeyError::UnknownType(t) => format!("unknown key type {t:?}"),
        other => other.to_string(),
    })?;
    let verifying = (key.kind() != crate::verify::KeyKind::Unsupported)
        .then(|| ed25519_dalek::VerifyingKey::from_bytes(key.ed25519_point()).ok())
        .flatten();
    Ok(Some(Entry {
        line: 0,
        principals: principals.to_string(),
        cert_authority: options.cert_authority,
        namespaces: options.namespaces,
        valid_after: options.valid_after,
        valid_before: options.valid_before,
        key,
        verifying,
    }))
}

#[derive(Default)]
struct LineOptions {
    cert_authority: bool,
    namespaces: Option<Vec<String>>,
    valid_after: Option<SystemTime>,
    valid_before: Option<SystemTime>,
}

fn split_token(s: &str) -> (&str, &str) {
    match s.find([' ', '\t']) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    }
}

fn take_principals(s: &str) -> Result<(&str, &str), String> {
    if let Some(quoted) = s.strip_prefix('"') {
        let end = quoted.find('"').ok_or("unterminated quoted principals")?;
        let after = &quoted[end + 1..];
        if !(after.is_empty() || after.starts_with([' ', '\t'])) {
            return Err("text directly after the quoted principals".into());
        }
        Ok((&quoted[..end], after))
    } else {
        Ok(split_token(s))
    }
}

fn check_principals(principals: &str) -> Result<(), String> {
    if principals.is_empty() {
        return Err("empty principals".into());
    }
    for p in principals.split(',') {
        let bare = p.strip_prefix('!').unwrap_or(p);
        if bare.is_empty() {
            return Err(format!("empty principal in {principals:?}"));
        }
        if bare.chars().any(|c| c.is_control() || c == '"') {
            return Err(format!("principal {p:?} has a control character or quote"));
        }
    }
    Ok(())
}

/// Options as written: each name with its value, if it has one.
type OptionList = Vec<(String, Option<String>)>;

/// Split `opt1,opt2="a,b" rest` into options and the rest of the line. Quotes protect
/// commas and spaces; `\"` is a quote inside a value.
fn take_options(s: &str) -> Result<(OptionList, &str), String> {
    let mut options = Vec::new();
    let mut name = String::new();
    let mut value: Option<String> = None;
    let mut in_quotes = false;
    let mut chars = s.char_indices().peekable();
    let mut end = s.len();
    while let Some((i, c)) = chars.next() {
        if in_quotes {
            match c {
                '\\' if matches!(chars.peek(), Some((_, '"'))) => {
                    chars.next();
                    value.get_or_insert_with(String::new).push('"');
                }
                '"' => {
                    in_quotes = false;
                    if let Some((_, next)) = chars.peek() {
                        if !matches!(next, ',' | ' ' | '\t') {
                            return Err(format!(
                                "text directly after the quoted value of option {name:?}"
                            ));
                        }
                    }
                }
                _ => value.get_or_insert_with(String::new).push(c),
            }
            continue;
        }
        match c {
            ' ' | '\t' => {
                end = i;
                break;
            }
            ',' => options.push((std::mem::take(&mut name), value.take())),
            '=' if value.is_none() => {
                if !matches!(chars.next(), Some((_, '"'))) {
                    return Err(format!(
                        "option {name:?} needs a quoted value (name=\"value\")"
                    ));
                }
                value = Some(String::new());
                in_quotes = true;
            }
            _ if value.is_some() => {
                return Err(format!("text after the value of option {name:?}"));
            }
            _ => name.push(c),
        }
    }
    if in_quotes {
        return Err("unterminated quote in options".into());
    }
    options.push((name, value));
    Ok((options, &s[end..]))
}

impl LineOptions {
    fn apply(&mut self, name: &str, value: Option<String>) -> Result<(), String> {
        let entry = self;
        let lower = name.to_ascii_lowercase();
        let needs_value =
            |v: Option<String>| v.ok_or_else(|| format!("option {name:?} needs a value"));
        match lower.as_str() {
            "cert-authority" => {
                if value.is_some() {
                    return Err("cert-authority takes no value".into());
                }
                if entry.cert_authority {
                    return Err("cert-authority given twice".into());
                }
                entry.cert_authority = true;
            }
            "namespaces" => {
                if entry.namespaces.is_some() {
                    return Err("namespaces given twice".into());
                }
                let v = needs_value(value)?;
                let list: Vec<String> = v.split(',').map(str::to_string).collect();
                if list.iter().any(|n| n.is_empty()) {
                    return Err(format!("empty namespace in namespaces=\"{v}\""));
                }
                entry.namespaces = Some(list);
            }
            "valid-after" | "valid-before" => {
                let when = parse_time(&needs_value(value)?)?;
                let slot = if lower == "valid-after" {
                    &mut entry.valid_after
                } else {
                    &mut entry.valid_before
                };
                if slot.is_some() {
                    return Err(format!("{lower} given twice"));
                }
                *slot = Some(when);
            }
            "" => return Err("empty option".into()),
            _ => {
                let shown: String = name.chars().take(40).collect();
                return Err(format!("unknown option or key type {shown:?}"));
            }
        }
        Ok(())
    }
}

/// `YYYYMMDD[HHMM[SS]]` with an optional `Z`, as ssh-keygen accepts. Read as UTC with or
/// without `Z` (see the module docs).
fn parse_time(value: &str) -> Result<SystemTime, String> {
    let bad = || format!("time {value:?} is not YYYYMMDD[HHMM[SS]][Z]");
    let digits = value.strip_suffix(['Z', 'z']).unwrap_or(value);
    if !matches!(digits.len(), 8 | 12 | 14) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let field = |from: usize, to: usize| -> u64 {
        digits
            .get(from..to)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    };
    let (year, month, day) = (field(0, 4), field(4, 6), field(6, 8));
    let (hour, minute, second) = (field(8, 10), field(10, 12), field(12, 14));
    if year < 1970
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return Err(bad());
    }
    let days = days_since_epoch(year, month, day);
    let secs = days * 86_400 + hour * 3_600 + minute * 60 + second;
    Ok(UNIX_EPOCH + Duration::from_secs(secs))
}

fn is_leap(year: u64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn days_since_epoch(year: u64, month: u64, day: u64) -> u64 {
    let years: u64 = (1970..year)
        .map(|y| if is_leap(y) { 366 } else { 365 })
        .sum();
    let months: u64 = (1..month).map(|m| days_in_month(year, m)).sum();
    years + months + day - 1
}

/// OpenSSH `match_pattern_list`: comma-separated patterns; a match of a `!pattern` is a
/// definite no; otherwise any positive match is a yes.
pub(crate) fn match_pattern_list(value: &str, list: &str) -> bool {
    let mut matched = false;
    for pattern in list.split(',') {
        match pattern.strip_prefix('!') {
            Some(negated) if match_pattern(value, negated) => return false,
            Some(_) => {}
            None => matched |= match_pattern(value, pattern),
        }
    }
    matched
}

/// `*` matches any run of characters, `?` exactly one. Iterative with backtracking to the
/// last `*`, so hostile patterns cost O(len(value) × len(pattern)) at worst.
pub(crate) fn match_pattern(value: &str, pattern: &str) -> bool {
    let v: Vec<char> = value.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    let (mut vi, mut pi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, vi));
                pi += 1;
            }
            Some(&c) if c == '?' || c == v[vi] => {
                vi += 1;
                pi += 1;
            }
            _ => match star {
                Some((sp, sv)) => {
                    pi = sp + 1;
                    vi = sv + 1;
                    star = Some((sp, sv + 1));
                }
                None => return false,
            },
        }
    }
    p[pi.min(p.len())..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::super::sshsig::tests::TestSigner;
    use super::*;
    use base64::Engine;
    use proptest::prelude::*;

    fn line_for(signer: &TestSigner, principals: &str, options: &str) -> String {
        let b64 = base64::engine::general_purpose::STANDARD.encode(signer.public_blob());
        let key_type = if signer.application.is_some() {
            "sk-ssh-ed25519@openssh.com"
        } else {
            "ssh-ed25519"
        };
        format!("{principals} {options} {key_type} {b64} a comment\n")
    }

    fn armored(blob: &[u8]) -> Vec<u8> {
        let b64 = base64::engine::general_purpose::STANDARD.encode(blob);
        let mut s = String::from("-----BEGIN SSH SIGNATURE-----\n");
        for chunk in b64.as_bytes().chunks(70) {
            s.push_str(std::str::from_utf8(chunk).unwrap());
            s.push('\n');
        }
        s.push_str("-----END SSH SIGNATURE-----\n");
        s.into_bytes()
    }

    fn policy_at(secs: u64) -> SignaturePolicy {
        SignaturePolicy {
            at: UNIX_EPOCH + Duration::from_secs(secs),
            require_user_presence: true,
            key_change_signatures: 1,
        }
    }

    const JAN_2026: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z

    #[test]
    fn comments_blank_lines_and_crlf_are_accepted() {
        let s = TestSigner::ed25519(1);
        let file = format!(
            "# trusted\n\n   \r\n{}",
            line_for(&s, "alice@example.com", "").replace('\n', "\r\n")
        );
        let signers = AllowedSigners::parse("f", file.as_bytes()).unwrap();
        assert_eq!(signers.len(), 1);
    }

    #[test]
    fn verifies_and_names_the_principal() {
        let s = TestSigner::ed25519(1);
        let signers =
            AllowedSigners::parse("f", line_for(&s, "alice@example.com", "").as_bytes()).unwrap();
        let sig = armored(&s.sign("netpol-sync-bundle", "sha512", b"m", 0));
        let who = signers
            .verify_detached(&sig, "netpol-sync-bundle", b"m", &policy_at(JAN_2026))
            .unwrap();
        assert_eq!(who.principal, "alice@example.com");
        assert_eq!(who.key_blob, s.public_blob());
    }

    #[test]
    fn hardware_key_line_verifies_with_touch_only() {
        let s = TestSigner::sk(5);
        let signers =
            AllowedSigners::parse("f", line_for(&s, "hw@example.com", "").as_bytes()).unwrap();
        let touched = armored(&s.sign("git", "sha512", b"m", 0x01));
        let who = signers
            .verify_detached(&touched, "git", b"m", &policy_at(JAN_2026))
            .unwrap();
        assert_eq!(who.principal, "hw@example.com");
        let untouched = armored(&s.sign("git", "sha512", b"m", 0));
        let err = signers
            .verify_detached(&untouched, "git", b"m", &policy_at(JAN_2026))
            .unwrap_err();
        assert_eq!(err.reason(), ReasonCode::BadSignature);
        assert!(err.message.contains("user presence"), "{}", err.message);
    }

    #[test]
    fn lines_for_key_lists_each_line_of_the_key_and_what_it_allows() {
        let alice = TestSigner::ed25519(1);
        let bob = TestSigner::ed25519(2);
        let file = format!(
            "{}{}{}",
            line_for(&alice, "alice-git", "namespaces=\"git\""),
            line_for(&bob, "bob", ""),
            line_for(
                &alice,
                "alice@example.com",
                "namespaces=\"git,netpol-sync-bundle\""
            )
        );
        let signers = AllowedSigners::parse("f", file.as_bytes()).unwrap();
        let key = PublicKey::from_blob(&alice.public_blob()).unwrap();
        let at = UNIX_EPOCH + Duration::from_secs(JAN_2026);
        let lines = signers.lines_for_key(&key, "netpol-sync-bundle", at);
        assert_eq!(lines.len(), 2);
        assert_eq!(
            (lines[0].line, lines[0].principals.as_str()),
            (1, "alice-git")
        );
        assert!(lines[0].allows.as_ref().unwrap_err().contains("namespace"));
        assert_eq!(
            (lines[1].line, lines[1].principals.as_str()),
            (3, "alice@example.com")
        );
        assert_eq!(lines[1].allows, Ok(()));
        let unknown = PublicKey::from_blob(&TestSigner::ed25519(3).public_blob()).unwrap();
        assert!(signers.lines_for_key(&unknown, "git", at).is_empty());
    }

    #[test]
    fn key_not_listed_is_untrusted() {
        let signers =
            AllowedSigners::parse("f", line_for(&TestSigner::ed25519(1), "a", "").as_bytes())
                .unwrap();
        let sig = armored(&TestSigner::ed25519(2).sign("git", "sha512", b"m", 0));
        let err = signers
            .verify_detached(&sig, "git", b"m", &policy_at(JAN_2026))
            .unwrap_err();
        assert_eq!(err.reason(), ReasonCode::UntrustedKey);
        assert!(err.location().fingerprint.unwrap().starts_with("SHA256:"));
    }

    #[test]
    fn namespaces_option_limits_the_key() {
        let s = TestSigner::ed25519(1);
        let signers =
            AllowedSigners::parse("f", line_for(&s, "a", "namespaces=\"git\"").as_bytes()).unwrap();
        let bundle_sig = armored(&s.sign("netpol-sync-bundle", "sha512", b"m", 0));
        let err = signers
            .verify_detached(
                &bundle_sig,
                "netpol-sync-bundle",
                b"m",
                &policy_at(JAN_2026),
            )
            .unwrap_err();
        assert_eq!(err.reason(), ReasonCode::UntrustedKey);
        let git_sig = armored(&s.sign("git", "sha512", b"m", 0));
        signers
            .verify_detached(&git_sig, "git", b"m", &policy_at(JAN_2026))
            .unwrap();
    }

    #[test]
    fn validity_window_is_judged_at_the_policy_clock() {
        let s = TestSigner::ed25519(1);
        let line = line_for(
            &s,
            "a",
            "valid-after=\"20250101\",valid-before=\"20260101Z\"",
        );
        let signers = AllowedSigners::parse("f", line.as_bytes()).unwrap();
        let sig = armored(&s.sign("git", "sha512", b"m", 0));
        // The bounds are inclusive, as in ssh-keygen.
        signers
            .verify_detached(&sig, "git", b"m", &policy_at(JAN_2026))
            .unwrap();
        let expired = signers
            .verify_detached(&sig, "git", b"m", &policy_at(JAN_2026 + 1))
            .unwrap_err();
        assert_eq!(expired.reason(), ReasonCode::UntrustedKey);
        assert!(expired.message.contains("expired"), "{}", expired.message);
        let early = signers
            .verify_detached(&sig, "git", b"m", &policy_at(1_735_689_599))
            .unwrap_err();
        assert!(
            early.message.contains("not valid until"),
            "{}",
            early.message
        );
    }

    #[test]
    fn times_with_hours_minutes_seconds_parse() {
        assert_eq!(
            parse_time("20260101000000Z").unwrap(),
            UNIX_EPOCH + Duration::from_secs(JAN_2026)
        );
        assert_eq!(
            parse_time("202601010001").unwrap(),
            UNIX_EPOCH + Duration::from_secs(JAN_2026 + 60)
        );
        assert_eq!(
            parse_time("20240229").unwrap(),
            UNIX_EPOCH + Duration::from_secs(1_709_164_800)
        );
        for bad in [
            "2026010",
            "20261301",
            "20230229",
            "20260101250000",
            "2026-01-01",
            "20260101ZZ",
            "",
        ] {
            assert!(parse_time(bad).is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn second_line_for_the_same_key_can_vouch() {
        let s = TestSigner::ed25519(1);
        let file = format!(
            "{}{}",
            line_for(&s, "old", "valid-before=\"20200101\""),
            line_for(&s, "new", "valid-after=\"20250101\"")
        );
        let signers = AllowedSigners::parse("f", file.as_bytes()).unwrap();
        let sig = armored(&s.sign("git", "sha512", b"m", 0));
        assert_eq!(
            signers
                .verify_detached(&sig, "git", b"m", &policy_at(JAN_2026))
                .unwrap()
                .principal,
            "new"
        );
    }

    #[test]
    fn cert_authority_line_never_vouches_for_a_plain_key() {
        let s = TestSigner::ed25519(1);
        let signers = AllowedSigners::parse(
            "f",
            line_for(&s, "*@example.com", "cert-authority").as_bytes(),
        )
        .unwrap();
        let sig = armored(&s.sign("git", "sha512", b"m", 0));
        let err = signers
            .verify_detached(&sig, "git", b"m", &policy_at(JAN_2026))
            .unwrap_err();
        assert_eq!(err.reason(), ReasonCode::UntrustedKey);
    }

    #[test]
    fn principal_patterns_are_matched_by_verify_detached_as() {
        let s = TestSigner::ed25519(1);
        let signers = AllowedSigners::parse(
            "f",
            line_for(&s, "*@example.com,!mallory@example.com", "").as_bytes(),
        )
        .unwrap();
        let sig = armored(&s.sign("git", "sha512", b"m", 0));
        let p = policy_at(JAN_2026);
        signers
            .verify_detached_as(&sig, "git", b"m", "alice@example.com", &p)
            .unwrap();
        assert!(signers
            .verify_detached_as(&sig, "git", b"m", "mallory@example.com", &p)
            .is_err());
        assert!(signers
            .verify_detached_as(&sig, "git", b"m", "alice@evil.com", &p)
            .is_err());
    }

    #[test]
    fn quoted_principals_and_options_with_spaces_parse() {
        let s = TestSigner::ed25519(1);
        let line = line_for(
            &s,
            "\"alice@example.com,bob@example.com\"",
            "namespaces=\"git,netpol-sync-bundle\"",
        );
        let signers = AllowedSigners::parse("f", line.as_bytes()).unwrap();
        assert_eq!(
            signers.entries[0].principals,
            "alice@example.com,bob@example.com"
        );
        assert_eq!(signers.entries[0].namespaces.as_ref().unwrap().len(), 2);
    }

    #[test]
    fn patterns_match_like_openssh() {
        assert!(match_pattern("alice@example.com", "*@example.com"));
        assert!(match_pattern("abc", "a?c"));
        assert!(!match_pattern("abbc", "a?c"));
        assert!(match_pattern("", "*"));
        assert!(!match_pattern("a", ""));
        assert!(match_pattern_list("bob", "alice,b*"));
        assert!(!match_pattern_list("bob", "*,!bob"));
        assert!(!match_pattern_list("bob", "!alice"));
    }

    fn parse_err(file: &str) -> VerifyError {
        AllowedSigners::parse("keys/allowed_signers", file.as_bytes()).unwrap_err()
    }

    #[test]
    fn malformed_lines_are_errors_naming_file_and_line() {
        let good = line_for(&TestSigner::ed25519(1), "a", "");
        let cases = [
            (
                "unknown_key_type",
                format!("{good}a ssh-foo AAAAC3NzaC1lZDI1NTE5AAAAIA==\n"),
                "ssh-foo",
            ),
            (
                "bad_base64",
                format!("{good}a ssh-ed25519 AAAA!!!!\n"),
                "base64",
            ),
            (
                "unknown_option",
                format!("{good}a no-touch-required ssh-ed25519 AAAA\n"),
                "no-touch-required",
            ),
            (
                "unquoted_value",
                format!("{good}a namespaces=git ssh-ed25519 AAAA\n"),
                "quoted",
            ),
            ("principal_only", format!("{good}alice\n"), "no key"),
            (
                "unterminated_quote",
                format!("{good}a namespaces=\"git ssh-ed25519 AAAA\n"),
                "unterminated",
            ),
            (
                "bad_time",
                format!("{good}a valid-before=\"tomorrow\" ssh-ed25519 AAAA\n"),
                "YYYYMMDD",
            ),
        ];
        for (name, file, needle) in cases {
            let err = parse_err(&file);
            assert_eq!(err.reason(), ReasonCode::TrustFileInvalid, "{name}");
            assert!(
                err.message.contains("keys/allowed_signers: line 2"),
                "{name}: {}",
                err.message
            );
            assert!(err.message.contains(needle), "{name}: {}", err.message);
        }
    }

    #[test]
    fn truncated_key_blob_is_an_error() {
        let s = TestSigner::ed25519(1);
        let blob = s.public_blob();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&blob[..blob.len() - 4]);
        let err = parse_err(&format!("a ssh-ed25519 {b64}\n"));
        assert!(err.message.contains("truncated"), "{}", err.message);
    }

    #[test]
    fn limits_are_enforced() {
        assert!(parse_err(&"#\n".repeat(MAX_LINES + 1))
            .message
            .contains("lines"));
        assert!(parse_err(&format!("#{}\n", "x".repeat(MAX_LINE_BYTES)))
            .message
            .contains("longer"));
        assert!(parse_err(&"#".repeat(MAX_FILE_BYTES + 1))
            .message
            .contains("bytes"));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = AllowedSigners::parse("f", &bytes);
        }

        #[test]
        fn arbitrary_lines_never_panic(line in "[ -~\t]{0,300}") {
            let _ = AllowedSigners::parse("f", line.as_bytes());
        }

        #[test]
        fn arbitrary_patterns_never_panic(value in "[a-c*?]{0,30}", pattern in "[a-c*?!,]{0,30}") {
            let _ = match_pattern_list(&value, &pattern);
        }
    }
}
