//! Safe multi-document YAML → `serde_json::Value`. serde_yaml 0.9 bounds recursion
//! (128) and alias jumps (100× the events of a document), but it lets duplicate keys
//! overwrite silently when the target is a JSON map, turns custom tags into enums, and
//! an alias to a large scalar can still multiply memory 100-fold. This loader adds: a
//! UTF-8 pre-check, a document count limit, a nesting limit, a budget on the expanded
//! size (nodes + scalar bytes, a small multiple of the input) that stops alias bombs,
//! duplicate-key and custom-tag rejection, and string-only mapping keys.

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::cell::Cell;
use std::fmt;

#[derive(Debug, Clone, Copy)]
pub struct YamlLimits {
    pub max_documents: usize,
    pub max_depth: usize,
}

/// One document of a stream, with its 0-based index among all documents of the file
/// (empty ones included, so the index finds it in an editor).
#[derive(Debug, Clone, PartialEq)]
pub struct YamlDocument {
    pub index: usize,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum YamlError {
    #[error("not UTF-8: invalid byte sequence at byte {offset}")]
    NotUtf8 { offset: usize },
    #[error("more than {limit} YAML documents in one file")]
    TooManyDocuments { limit: usize },
    #[error("YAML nested deeper than {limit} levels")]
    TooDeep { limit: usize },
    #[error("YAML expands to more than {budget} nodes and bytes (an alias/anchor bomb?)")]
    ExpansionBudget { budget: usize },
    #[error("duplicate mapping key `{key}`")]
    DuplicateKey { key: String },
    #[error("YAML tag `{tag}` is not allowed; write plain values")]
    CustomTag { tag: String },
    #[error("mapping keys must be strings; quote the key")]
    NonStringKey,
    #[error("number {0} is not finite")]
    NonFiniteNumber(String),
    #[error("{0}")]
    Syntax(String),
}

/// A failure and the document it happened in.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{error}")]
pub struct DocumentError {
    pub document: Option<usize>,
    pub error: YamlError,
}

/// Nodes plus scalar bytes allowed per byte of input. Plain YAML without aliases stays
/// below 2×; the slack covers escapes, and aliases beyond it are refused.
const EXPANSION_FACTOR: usize = 4;
const EXPANSION_SLACK: usize = 4096;

pub fn load_documents(
    bytes: &[u8],
    limits: YamlLimits,
) -> Result<Vec<YamlDocument>, DocumentError> {
    let text = std::str::from_utf8(bytes).map_err(|e| DocumentError {
        document: None,
        error: YamlError::NotUtf8 {
            offset: e.valid_up_to(),
        },
    })?;
    let budget = bytes
        .len()
        .saturating_mul(EXPANSION_FACTOR)
        .saturating_add(EXPANSION_SLACK);
    let state = LoadState {
        remaining: Cell::new(budget),
        budget,
        max_depth: limits.max_depth,
        failure: Cell::new(None),
    };
    let mut documents = Vec::new();
    for (index, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        if index >= limits.max_documents {
            return Err(DocumentError {
                document: Some(index),
                error: YamlError::TooManyDocuments {
                    limit: limits.max_documents,
                },
            });
        }
        let seed = NodeSeed {
            state: &state,
            depth: 0,
        };
        match seed.deserialize(document) {
            Ok(value) => documents.push(YamlDocument { index, value }),
            Err(e) => {
                // Our own failures travel through serde's string errors; keep the typed one.
                let error = state
                    .failure
                    .take()
                    .unwrap_or_else(|| YamlError::Syntax(e.to_string()));
                return Err(DocumentError {
                    document: Some(index),
                    error,
                });
            }
        }
    }
    Ok(documents)
}

struct LoadState {
    remaining: Cell<usize>,
    budget: usize,
    max_depth: usize,
    failure: Cell<Option<YamlError>>,
}

impl LoadState {
    fn fail<E: de::Error>(&self, error: YamlError) -> E {
        let message = error.to_string();
        self.failure.set(Some(error));
        E::custom(message)
    }

    fn spend<E: de::Error>(&self, cost: usize) -> Result<(), E> {
        match self.remaining.get().checked_sub(cost) {
            Some(left) => {
                self.remaining.set(left);
                Ok(())
            }
            None => Err(self.fail(YamlError::ExpansionBudget {
                budget: self.budget,
            })),
        }
    }
}

#[derive(Clone, Copy)]
struct NodeSeed<'s> {
    state: &'s LoadState,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for NodeSeed<'_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl NodeSeed<'_> {
    fn child<E: de::Error>(self) -> Result<Self, E> {
        let depth = self.depth + 1;
        if depth > self.state.max_depth {
            return Err(self.state.fail(YamlError::TooDeep {
                limit: self.state.max_depth,
            }));
        }
        Ok(NodeSeed {
            state: self.state,
            depth,
        })
    }
}

impl<'de> Visitor<'de> for NodeSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a YAML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        self.state.spend(1)?;
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.state.spend(1)?;
        Ok(Value::from(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.state.spend(1)?;
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        self.state.spend(1)?;
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| self.state.fail(YamlError::NonFiniteNumber(v.to_string())))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.state.spend(1usize.saturating_add(v.len()))?;
        Ok(Value::String(v.to_string()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.state.spend(1)?;
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        self.visit_unit()
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        self.state.spend(1)?;
        let child = self.child()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(child)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        self.state.spend(1)?;
        let child = self.child()?;
        let mut out = Map::new();
        while let Some(key) = map.next_key_seed(KeySeed { state: self.state })? {
            let value = map.next_value_seed(child)?;
            // One lookup per key: this is the hottest line of a bundle load.
            match out.entry(key) {
                serde_json::map::Entry::Vacant(slot) => {
                    slot.insert(value);
                }
                serde_json::map::Entry::Occupied(taken) => {
                    let key = taken.key().clone();
                    return Err(self.state.fail(YamlError::DuplicateKey { key }));
                }
            }
        }
        Ok(Value::Object(out))
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        let (tag, _variant): (String, _) = data.variant()?;
        Err(self.state.fail(YamlError::CustomTag {
            tag: format!("!{tag}"),
        }))
    }
}

#[derive(Clone, Copy)]
struct KeySeed<'s> {
    state: &'s LoadState,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = String;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        self.state.spend(1usize.saturating_add(v.len()))?;
        Ok(v.to_string())
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<String, A::Error> {
        let (tag, _variant): (String, _) = data.variant()?;
        Err(self.state.fail(YamlError::CustomTag {
            tag: format!("!{tag}"),
        }))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<String, E> {
        Err(self.state.fail(YamlError::NonStringKey))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<String, E> {
        Err(self.state.fail(YamlError::NonStringKey))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<String, E> {
        Err(self.state.fail(YamlError::NonStringKey))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<String, E> {
        Err(self.state.fail(YamlError::NonStringKey))
    }
    fn visit_unit<E: de::Error>(self) -> Result<String, E> {
        Err(self.state.fail(YamlError::NonStringKey))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<String, A::Error> {
        Err(self.state.fail(YamlError::NonStringKey))
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<String, A::Error> {
        Err(self.state.fail(YamlError::NonStringKey))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const LIMITS: YamlLimits = YamlLimits {
        max_documents: 100,
        max_depth: 32,
    };

    fn load(s: &str) -> Result<Vec<Value>, YamlError> {
        load_documents(s.as_bytes(), LIMITS)
            .map(|docs| docs.into_iter().map(|d| d.value).collect())
            .map_err(|e| e.error)
    }

    #[test]
    fn multi_document_stream_keeps_indexes_including_empty_documents() {
        let docs = load_documents(b"a: 1\n---\n---\nb: [x, 2, true, null]\n", LIMITS).unwrap();
        let indexes: Vec<_> = docs.iter().map(|d| d.index).collect();
        assert_eq!(indexes, vec![0, 1, 2]);
        assert_eq!(docs[0].value, json!({"a": 1}));
        assert_eq!(docs[1].value, Value::Null);
        assert_eq!(docs[2].value, json!({"b": ["x", 2, true, null]}));
    }

    #[test]
    fn yaml_1_1_booleans_stay_strings() {
        assert_eq!(
            load("a: yes\nb: off\n").unwrap(),
            vec![json!({"a": "yes", "b": "off"})]
        );
    }

    #[test]
    fn duplicate_keys_are_rejected() {
        assert_eq!(
            load("metadata:\n  name: a\n  name: b\n"),
            Err(YamlError::DuplicateKey { key: "name".into() })
        );
    }

    #[test]
    fn custom_tags_are_rejected() {
        let e = load("a: !python/object:os.system ls\n").unwrap_err();
        assert!(
            matches!(e, YamlError::CustomTag { ref tag } if tag.contains("python")),
            "{e:?}"
        );
        let e = load("!Deployment\nspec: {}\n").unwrap_err();
        assert!(matches!(e, YamlError::CustomTag { .. }), "{e:?}");
    }

    #[test]
    fn non_string_keys_are_rejected() {
        assert_eq!(load("80: http\n"), Err(YamlError::NonStringKey));
        assert_eq!(load("? [a, b]\n: c\n"), Err(YamlError::NonStringKey));
    }

    #[test]
    fn non_utf8_is_rejected_with_its_offset() {
        let e = load_documents(b"name: caf\xe9\n", LIMITS).unwrap_err();
        assert_eq!(e.error, YamlError::NotUtf8 { offset: 9 });
    }

    #[test]
    fn deep_nesting_is_rejected() {
        let deep = format!("{}{}", "[".repeat(33), "]".repeat(33));
        assert_eq!(load(&deep), Err(YamlError::TooDeep { limit: 32 }));
        let ok = format!("{}{}", "[".repeat(32), "]".repeat(32));
        assert!(load(&ok).is_ok());
        let very_deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(load(&very_deep).is_err());
    }

    #[test]
    fn too_many_documents_are_rejected() {
        let stream = "a: 1\n---\n".repeat(101);
        assert_eq!(
            load(&stream),
            Err(YamlError::TooManyDocuments { limit: 100 })
        );
    }

    /// The billion-laughs shape: each level references the one before ten times.
    #[test]
    fn yaml_bomb_billion_laughs_is_rejected_quickly() {
        let mut s = String::from("a0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
        for i in 1..10 {
            let refs = vec![format!("*a{}", i - 1); 10].join(",");
            s.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        let started = std::time::Instant::now();
        let e = load(&s).unwrap_err();
        assert!(
            matches!(e, YamlError::ExpansionBudget { .. } | YamlError::Syntax(_)),
            "{e:?}"
        );
        // Generous bound: the point is that it is not exponential.
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    /// One large scalar, aliased many times: few events, much memory.
    #[test]
    fn yaml_bomb_aliased_large_scalar_is_rejected() {
        let big = "x".repeat(100_000);
        let refs = vec!["*big"; 50].join(", ");
        let s = format!("a: &big \"{big}\"\nb: [{refs}]\n");
        assert!(matches!(load(&s), Err(YamlError::ExpansionBudget { .. })));
    }

    #[test]
    fn a_few_aliases_within_budget_are_fine() {
        let s = "base: &l {app: web}\nother: *l\n";
        assert_eq!(
            load(s).unwrap(),
            vec![json!({"base": {"app": "web"}, "other": {"app": "web"}})]
        );
    }

    #[test]
    fn syntax_errors_name_the_document() {
        let e = load_documents(b"a: 1\n---\nb: [\n", LIMITS).unwrap_err();
        assert_eq!(e.document, Some(1));
        assert!(matches!(e.error, YamlError::Syntax(_)));
    }

    #[test]
    fn undefined_alias_is_an_error_not_a_panic() {
        assert!(load("a: *nope\n").is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_error_or_load_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = load_documents(&bytes, LIMITS);
        }

        #[test]
        fn arbitrary_yaml_ish_text_never_panics(s in "[-:&*!\\[\\]{}#|>'\" a-z0-9\n]{0,128}") {
            let _ = load_documents(s.as_bytes(), LIMITS);
        }
    }
}
