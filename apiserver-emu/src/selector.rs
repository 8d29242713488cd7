//! `labelSelector` and `fieldSelector` query parameters, parsed with the grammar of
//! k8s.io/apimachinery's labels/fields packages. Input is untrusted: every failure is a
//! [`SelectorError`], never a panic, and the length is bounded.

use std::collections::BTreeMap;

use serde_json::Value;

/// Longest selector accepted; kube-apiserver's own limit is the URL length, this is far above
/// anything a client sends and keeps parsing cost bounded.
pub const MAX_SELECTOR_LEN: usize = 16 * 1024;
const MAX_LABEL_VALUE_LEN: usize = 63;
const MAX_KEY_LEN: usize = 253 + 1 + 63;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    #[error("selector is longer than {MAX_SELECTOR_LEN} bytes")]
    TooLong,
    #[error("unable to parse requirement: found '{found}', expected: {expected}")]
    Unexpected {
        found: String,
        expected: &'static str,
    },
    #[error("unable to parse requirement: invalid label key {0:?}")]
    InvalidKey(String),
    #[error("unable to parse requirement: invalid label value {0:?}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character")]
    InvalidValue(String),
    #[error("unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer, got {0:?}")]
    NotAnInteger(String),
    #[error("field label not supported: {0}")]
    UnsupportedField(String),
    #[error("invalid selector: '{0}'; can't understand '{0}'")]
    BadFieldTerm(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum LabelOp {
    Exists,
    DoesNotExist,
    Equals(String),
    NotEquals(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    GreaterThan(i64),
    LessThan(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct LabelRequirement {
    key: String,
    op: LabelOp,
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<LabelRequirement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Ident(String),
    Not,
    Equals,
    DoubleEquals,
    NotEquals,
    Open,
    Close,
    Comma,
    Greater,
    Less,
}

fn is_special(c: char) -> bool {
    matches!(c, '!' | '=' | ',' | '(' | ')' | '<' | '>')
}

fn tokenize(input: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = input.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        chars.next();
        let token = match c {
            '!' if chars.peek() == Some(&'=') => {
                chars.next();
                Token::NotEquals
            }
            '!' => Token::Not,
            '=' if chars.peek() == Some(&'=') => {
                chars.next();
                Token::DoubleEquals
            }
            '=' => Token::Equals,
            ',' => Token::Comma,
            '(' => Token::Open,
            ')' => Token::Close,
            '<' => Token::Less,
            '>' => Token::Greater,
            first => {
                let mut ident = String::from(first);
                while let Some(&n) = chars.peek() {
                    if n.is_whitespace() || is_special(n) {
                        break;
                    }
                    ident.push(n);
                    chars.next();
                }
                Token::Ident(ident)
            }
        };
        tokens.push(token);
    }
    tokens
}

fn describe(token: Option<&Token>) -> String {
    match token {
        None => "EOS".into(),
        Some(Token::Ident(s)) => s.clone(),
        Some(Token::Not) => "!".into(),
        Some(Token::Equals) => "=".into(),
        Some(Token::DoubleEquals) => "==".into(),
        Some(Token::NotEquals) => "!=".into(),
        Some(Token::Open) => "(".into(),
        Some(Token::Close) => ")".into(),
        Some(Token::Comma) => ",".into(),
        Some(Token::Greater) => ">".into(),
        Some(Token::Less) => "<".into(),
    }
}

fn unexpected(token: Option<&Token>, expected: &'static str) -> SelectorError {
    SelectorError::Unexpected {
        found: describe(token),
        expected,
    }
}

fn valid_name_part(s: &str, max: usize) -> bool {
    let bytes = s.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(f), Some(l)) => {
            bytes.len() <= max
                && f.is_ascii_alphanumeric()
                && l.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// A qualified name: `[prefix/]name`, prefix a DNS subdomain.
fn validate_key(key: &str) -> Result<(), SelectorError> {
    let ok = key.len() <= MAX_KEY_LEN
        && match key.split_once('/') {
            Some((prefix, name)) => {
                !prefix.is_empty()
                    && prefix.len() <= 253
                    && prefix.split('.').all(|p| {
                        valid_name_part(p, 63)
                            && !p.contains('_')
                            && p.bytes().all(|b| !b.is_ascii_uppercase())
                    })
                    && valid_name_part(name, 63)
            }
            None => valid_name_part(key, 63),
        };
    if ok {
        Ok(())
    } else {
        Err(SelectorError::InvalidKey(key.to_string()))
    }
}

fn validate_value(value: &str) -> Result<(), SelectorError> {
    if value.is_empty() || valid_name_part(value, MAX_LABEL_VALUE_LEN) {
        Ok(())
    } else {
        Err(SelectorError::InvalidValue(value.to_string()))
    }
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn at_requirement_end(&self) -> bool {
        matches!(self.peek(), None | Some(Token::Comma))
    }

    /// A value after `=`/`==`/`!=`: an identifier, or empty when the requirement ends.
    fn single_value(&mut self) -> Result<String, SelectorError> {
        if self.at_requirement_end() {
            return Ok(String::new());
        }
        match self.next() {
            Some(Token::Ident(v)) => {
                validate_value(&v)?;
                Ok(v)
            }
            other => Err(unexpected(other.as_ref(), "identifier")),
        }
    }

    fn value_set(&mut self) -> Result<Vec<String>, SelectorError> {
        match self.next() {
            Some(Token::Open) => {}
            other => return Err(unexpected(other.as_ref(), "'('")),
        }
        let mut values = Vec::new();
        loop {
            match self.next() {
                Some(Token::Ident(v)) => {
                    validate_value(&v)?;
                    values.push(v);
                    match self.next() {
                        Some(Token::Comma) => continue,
                        Some(Token::Close) => break,
                        other => return Err(unexpected(other.as_ref(), "',' or ')'")),
                    }
                }
                Some(Token::Close) => break,
                Some(Token::Comma) => values.push(String::new()),
                other => return Err(unexpected(other.as_ref(), "identifier")),
            }
        }
        Ok(values)
    }

    fn integer(&mut self) -> Result<i64, SelectorError> {
        match self.next() {
            Some(Token::Ident(v)) => v.parse().map_err(|_| SelectorError::NotAnInteger(v)),
            other => Err(unexpected(other.as_ref(), "integer")),
        }
    }

    fn requirement(&mut self) -> Result<LabelRequirement, SelectorError> {
        match self.next() {
            Some(Token::Not) => match self.next() {
                Some(Token::Ident(key)) => {
                    validate_key(&key)?;
                    Ok(LabelRequirement {
                        key,
                        op: LabelOp::DoesNotExist,
                    })
                }
                other => Err(unexpected(other.as_ref(), "identifier after '!'")),
            },
            Some(Token::Ident(key)) => {
                validate_key(&key)?;
                if self.at_requirement_end() {
                    return Ok(LabelRequirement {
                        key,
                        op: LabelOp::Exists,
                    });
                }
                let op = match self.next() {
                    Some(Token::Equals) | Some(Token::DoubleEquals) => {
                        LabelOp::Equals(self.single_value()?)
                    }
                    Some(Token::NotEquals) => LabelOp::NotEquals(self.single_value()?),
                    Some(Token::Ident(word)) if word == "in" => LabelOp::In(self.value_set()?),
                    Some(Token::Ident(word)) if word == "notin" => {
                        LabelOp::NotIn(self.value_set()?)
                    }
                    Some(Token::Greater) => LabelOp::GreaterThan(self.integer()?),
                    Some(Token::Less) => LabelOp::LessThan(self.integer()?),
                    other => return Err(unexpected(other.as_ref(), "=, ==, !=, in, notin, <, >")),
                };
                Ok(LabelRequirement { key, op })
            }
            other => Err(unexpected(other.as_ref(), "identifier or '!'")),
        }
    }
}

impl LabelSelector {
    /// Selects everything.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    pub fn parse(input: &str) -> Result<LabelSelector, SelectorError> {
        if input.len() > MAX_SELECTOR_LEN {
            return Err(SelectorError::TooLong);
        }
        let mut parser = Parser {
            tokens: tokenize(input),
            pos: 0,
        };
        let mut requirements = Vec::new();
        if parser.peek().is_none() {
            return Ok(LabelSelector { requirements });
        }
        loop {
            requirements.push(parser.requirement()?);
            match parser.next() {
                None => break,
                Some(Token::Comma) => continue,
                other => return Err(unexpected(other.as_ref(), "','")),
            }
        }
        Ok(LabelSelector { requirements })
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matches_with(|key| labels.get(key).map(String::as_str))
    }

    fn matches_with<'a>(&self, label: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.requirements.iter().all(|r| {
            let value = label(&r.key);
            match &r.op {
                LabelOp::Exists => value.is_some(),
                LabelOp::DoesNotExist => value.is_none(),
                LabelOp::Equals(v) => value == Some(v.as_str()),
                LabelOp::NotEquals(v) => value != Some(v.as_str()),
                LabelOp::In(vs) => value.is_some_and(|x| vs.iter().any(|v| v == x)),
                LabelOp::NotIn(vs) => value.is_none_or(|x| vs.iter().all(|v| v != x)),
                LabelOp::GreaterThan(n) => value
                    .and_then(|x| x.parse::<i64>().ok())
                    .is_some_and(|x| x > *n),
                LabelOp::LessThan(n) => value
                    .and_then(|x| x.parse::<i64>().ok())
                    .is_some_and(|x| x < *n),
            }
        })
    }

    /// Match against an object's `metadata.labels`.
    pub fn matches_object(&self, object: &Value) -> bool {
        if self.requirements.is_empty() {
            return true;
        }
        let labels = object
            .get("metadata")
            .and_then(|m| m.get("labels"))
            .and_then(Value::as_object);
        self.matches_with(|key| labels.and_then(|l| l.get(key)).and_then(Value::as_str))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct FieldRequirement {
    /// JSON pointer into the object (`/metadata/name`).
    pointer: String,
    value: String,
    equal: bool,
}

/// A parsed field selector over the fields the apiserver supports for the kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    requirements: Vec<FieldRequirement>,
}

impl FieldSelector {
    /// Selects everything.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// `supported` lists the dotted field names allowed for this kind beyond
    /// `metadata.name` and `metadata.namespace`.
    pub fn parse(input: &str, supported: &[&str]) -> Result<FieldSelector, SelectorError> {
        if input.len() > MAX_SELECTOR_LEN {
            return Err(SelectorError::TooLong);
        }
        let mut requirements = Vec::new();
        for term in input.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (field, value, equal) = if let Some((f, v)) = term.split_once("!=") {
                (f, v, false)
            } else if let Some((f, v)) = term.split_once("==") {
                (f, v, true)
            } else if let Some((f, v)) = term.split_once('=') {
                (f, v, true)
            } else {
                return Err(SelectorError::BadFieldTerm(term.to_string()));
            };
            let field = field.trim();
            if field != "metadata.name"
                && field != "metadata.namespace"
                && !supported.contains(&field)
            {
                return Err(SelectorError::UnsupportedField(field.to_string()));
            }
            requirements.push(FieldRequirement {
                pointer: format!("/{}", field.replace('.', "/")),
                value: value.trim().to_string(),
                equal,
            });
        }
        Ok(FieldSelector { requirements })
    }

    pub fn matches_object(&self, object: &Value) -> bool {
        self.requirements.iter().all(|r| {
            let actual = match object.pointer(&r.pointer) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            (actual == r.value) == r.equal
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_operator_form_matches_like_the_apiserver() {
        let l = labels(&[("app", "web"), ("tier", "front"), ("n", "5")]);
        for (sel, want) in [
            ("", true),
            ("app=web", true),
            ("app==web", true),
            ("app!=web", false),
            ("app!=db", true),
            ("missing!=x", true),
            ("app in (web, db)", true),
            ("app notin (web)", false),
            ("missing notin (web)", true),
            ("app", true),
            ("!app", false),
            ("!missing", true),
            ("app=web,tier=front", true),
            ("app=web,tier=back", false),
            ("n>4", true),
            ("n<5", false),
            ("app=", false),
            ("  app = web  ,  tier  ", true),
            ("app.kubernetes.io/managed-by", false),
        ] {
            assert_eq!(
                LabelSelector::parse(sel).unwrap().matches(&l),
                want,
                "{sel}"
            );
        }
    }

    #[test]
    fn malformed_selectors_are_errors() {
        for sel in [
            "app in web",
            "app in (web",
            "=web",
            "app==",
            "app=web=x",
            "!",
            "app,,",
            "a b",
            "app > x",
            "in (",
            "-bad=x",
            "app=-bad",
        ] {
            let parsed = LabelSelector::parse(sel);
            if sel == "app==" {
                // An empty value is legal: `key==` selects objects whose label is empty.
                assert!(parsed.is_ok());
                continue;
            }
            assert!(parsed.is_err(), "{sel} should be rejected, got {parsed:?}");
        }
    }

    #[test]
    fn oversized_selector_is_refused_before_parsing() {
        let huge = "a=b,".repeat(MAX_SELECTOR_LEN);
        assert_eq!(LabelSelector::parse(&huge), Err(SelectorError::TooLong));
    }

    #[test]
    fn field_selector_covers_name_and_namespace_only_by_default() {
        let obj = json!({"metadata": {"name": "a", "namespace": "ns1"}});
        assert!(FieldSelector::parse("metadata.name=a", &[])
            .unwrap()
            .matches_object(&obj));
        assert!(!FieldSelector::parse("metadata.name!=a", &[])
            .unwrap()
            .matches_object(&obj));
        assert!(
            FieldSelector::parse("metadata.namespace==ns1,metadata.name=a", &[])
                .unwrap()
                .matches_object(&obj)
        );
        assert_eq!(
            FieldSelector::parse("spec.podSelector=x", &[]),
            Err(SelectorError::UnsupportedField("spec.podSelector".into()))
        );
        assert!(FieldSelector::parse("metadata.name", &[]).is_err());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_label_selector_text_never_panics(s in "\\PC{0,64}") {
            let _ = LabelSelector::parse(&s);
        }

        #[test]
        fn arbitrary_field_selector_text_never_panics(s in "\\PC{0,64}") {
            let _ = FieldSelector::parse(&s, &["status.phase"]);
        }
    }
}
