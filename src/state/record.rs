//! The state record's content and its ConfigMap encoding. The ConfigMap lives in the
//! cluster where others with RBAC could edit it, so decoding is checked and bounded: a
//! malformed record is an error naming the field, never a panic.

use super::key::StateKey;
use super::StateError;
use crate::plan::ObjectKey;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

pub const STATE_CONFIGMAP: &str = "netpol-sync-state";
/// Data key holding the record (without the inventory) as JSON.
pub const RECORD_KEY: &str = "state.json";
/// Data key holding the inventory, one `namespace/name hash` per line. Kept apart from the
/// JSON so that 10,000 entries stay compact (a ConfigMap holds at most 1 MiB).
pub const INVENTORY_KEY: &str = "inventory";
/// Data key holding the hex HMAC-SHA256 of the record and inventory ([`StateKey`]).
pub const MAC_KEY: &str = "mac";
/// Hex digits of each content hash kept in the inventory: enough to tell versions apart in
/// an audit, small enough for large inventories.
const INVENTORY_HASH_HEX: usize = 16;
/// Refuse to decode (or write) more than this: well under the 1 MiB object limit.
pub const MAX_RECORD_BYTES: usize = 900 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedBundle {
    pub name: String,
    pub digest: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedSigner {
    pub principal: String,
    pub fingerprint: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedFailure {
    pub revision: Option<String>,
    pub reason: String,
    pub message: String,
    pub at: String,
}

/// What the cluster enforces, and the last thing that went wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StateRecord {
    /// The applied revision (full commit id); `None` until the first successful sync.
    pub revision: Option<String>,
    #[serde(default)]
    pub bundles: Vec<RecordedBundle>,
    #[serde(default)]
    pub signer: Option<RecordedSigner>,
    /// RFC 3339 time of the last successful apply.
    #[serde(default)]
    pub applied_at: Option<String>,
    #[serde(default)]
    pub last_failure: Option<RecordedFailure>,
    /// Every policy the applied revision made live: namespace/name → content hash prefix.
    #[serde(skip)]
    pub inventory: BTreeMap<ObjectKey, String>,
}

impl StateRecord {
    pub fn inventory_keys(&self) -> BTreeSet<ObjectKey> {
        self.inventory.keys().cloned().collect()
    }

    /// Encode as ConfigMap data, authenticated with `key` for the record of `namespace`.
    pub fn to_data(
        &self,
        key: &StateKey,
        namespace: &str,
    ) -> Result<BTreeMap<String, String>, StateError> {
        let json =
            serde_json::to_string_pretty(self).map_err(|e| StateError::Malformed(e.to_string()))?;
        let mut inventory = String::with_capacity(self.inventory.len() * 48);
        for (key, hash) in &self.inventory {
            let hex = hash.strip_prefix("sha256:").unwrap_or(hash);
            let short: String = hex.chars().take(INVENTORY_HASH_HEX).collect();
            inventory.push_str(&format!("{key} {short}\n"));
        }
        let size = json.len() + inventory.len();
        if size > MAX_RECORD_BYTES {
            return Err(StateError::TooLarge {
                bytes: size,
                limit: MAX_RECORD_BYTES,
            });
        }
        let mac = key.sign(namespace, &[json.as_bytes(), inventory.as_bytes()]);
        Ok([
            (RECORD_KEY.to_string(), json),
            (INVENTORY_KEY.to_string(), inventory),
            (MAC_KEY.to_string(), mac),
        ]
        .into())
    }

    /// Whether ConfigMap data carries a MAC that `key` made for `namespace` over exactly
    /// its record and inventory. Checked before anything in it is believed.
    pub fn authenticates(data: &BTreeMap<String, String>, key: &StateKey, namespace: &str) -> bool {
        let part = |k: &str| data.get(k).map(String::as_bytes).unwrap_or_default();
        let Some(mac) = data.get(MAC_KEY) else {
            return false;
        };
        // Any other key is content the MAC does not cover.
        data.keys()
            .all(|k| [RECORD_KEY, INVENTORY_KEY, MAC_KEY].contains(&k.as_str()))
            && key.verify(namespace, &[part(RECORD_KEY), part(INVENTORY_KEY)], mac)
    }

    /// Decode ConfigMap data, checking sizes and shapes first.
    pub fn from_data(data: &BTreeMap<String, String>) -> Result<StateRecord, StateError> {
        let size: usize = data.iter().map(|(k, v)| k.len() + v.len()).sum();
        if size > MAX_RECORD_BYTES {
            return Err(StateError::TooLarge {
                bytes: size,
                limit: MAX_RECORD_BYTES,
            });
        }
        let json = data
            .get(RECORD_KEY)
            .ok_or_else(|| StateError::Malformed(format!("data.{RECORD_KEY} is missing")))?;
        let mut record: StateRecord = serde_json::from_str(json)
            .map_err(|e| StateError::Malformed(format!("data.{RECORD_KEY}: {e}")))?;
        if let Some(rev) = &record.revision {
            if rev.len() != 40 || !rev.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(StateError::Malformed(format!(
                    "data.{RECORD_KEY}: revision {rev:?} is not a full commit id"
                )));
            }
        }
        if let Some(text) = data.get(INVENTORY_KEY) {
            for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.is_empty()) {
                let entry = parse_inventory_line(line).ok_or_else(|| {
                    StateError::Malformed(format!("data.{INVENTORY_KEY} line {}: {line:?}", i + 1))
                })?;
                record.inventory.insert(entry.0, entry.1);
            }
        }
        Ok(record)
    }
}

fn parse_inventory_line(line: &str) -> Option<(ObjectKey, String)> {
    let (key, hash) = line.split_once(' ')?;
    let (namespace, name) = key.split_once('/')?;
    let valid = |s: &str| !s.is_empty() && s.len() <= 253 && !s.contains(['/', ' ']);
    if !valid(namespace)
        || !valid(name)
        || hash.is_empty()
        || !hash.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return None;
    }
    Some((
        ObjectKey {
            namespace: namespace.into(),
            name: name.into(),
        },
        hash.into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NS: &str = "netpol-sync";

    fn key() -> StateKey {
        StateKey::from_bytes("test", &[7; 32]).unwrap()
    }

    fn record() -> StateRecord {
        StateRecord {
            revision: Some("a".repeat(40)),
            bundles: vec![RecordedBundle {
                name: "prod".into(),
                digest: format!("sha256:{}", "b".repeat(64)),
            }],
            signer: Some(RecordedSigner {
                principal: "alice@example.com".into(),
                fingerprint: "SHA256:xyz".into(),
            }),
            applied_at: Some("2026-01-01T00:00:00Z".into()),
            last_failure: None,
            inventory: [(
                ObjectKey {
                    namespace: "payments".into(),
                    name: "deny".into(),
                },
                format!("sha256:{}", "c".repeat(64)),
            )]
            .into(),
        }
    }

    #[test]
    fn record_round_trips_through_configmap_data_with_shortened_hashes() {
        let data = record().to_data(&key(), NS).unwrap();
        let back = StateRecord::from_data(&data).unwrap();
        assert_eq!(back.revision, record().revision);
        assert_eq!(back.bundles, record().bundles);
        assert_eq!(back.signer, record().signer);
        assert_eq!(back.inventory.values().next().unwrap(), &"c".repeat(16));
        assert_eq!(data[INVENTORY_KEY], "payments/deny cccccccccccccccc\n");
    }

    #[test]
    fn ten_thousand_entry_inventory_fits_in_a_configmap() {
        let mut r = record();
        for i in 0..10_000 {
            r.inventory.insert(
                ObjectKey {
                    namespace: format!("namespace-{}", i % 500),
                    name: format!("policy-{i}-allow-ingress"),
                },
                format!("sha256:{}", "d".repeat(64)),
            );
        }
        let data = r.to_data(&key(), NS).unwrap();
        assert_eq!(
            StateRecord::from_data(&data).unwrap().inventory.len(),
            10_001
        );
    }

    #[test]
    fn a_record_authenticates_only_unchanged_with_its_key_and_namespace() {
        let data = record().to_data(&key(), NS).unwrap();
        assert!(StateRecord::authenticates(&data, &key(), NS));
        let other = StateKey::from_bytes("other", &[8; 32]).unwrap();
        assert!(!StateRecord::authenticates(&data, &other, NS));
        assert!(!StateRecord::authenticates(&data, &key(), "elsewhere"));
    }

    #[test]
    fn a_configmap_writer_cannot_forge_the_revision_inventory_or_extra_keys() {
        let good = record().to_data(&key(), NS).unwrap();
        let forged_revision = {
            let mut d = good.clone();
            let json = d[RECORD_KEY].replace(&"a".repeat(40), &"e".repeat(40));
            d.insert(RECORD_KEY.into(), json);
            d
        };
        let forged_inventory = {
            let mut d = good.clone();
            d.insert(INVENTORY_KEY.into(), "team-b/theirs abcd\n".into());
            d
        };
        let moved_between_parts = {
            let mut d = good.clone();
            let inventory = d[INVENTORY_KEY].clone();
            d.insert(RECORD_KEY.into(), format!("{}{inventory}", d[RECORD_KEY]));
            d.insert(INVENTORY_KEY.into(), String::new());
            d
        };
        let extra_key = {
            let mut d = good.clone();
            d.insert("note".into(), "x".into());
            d
        };
        let no_mac = {
            let mut d = good.clone();
            d.remove(MAC_KEY);
            d
        };
        for (name, data) in [
            ("revision", forged_revision),
            ("inventory", forged_inventory),
            ("moved", moved_between_parts),
            ("extra key", extra_key),
            ("no mac", no_mac),
        ] {
            assert!(!StateRecord::authenticates(&data, &key(), NS), "{name}");
        }
    }

    #[test]
    fn missing_record_key_is_malformed_not_a_panic() {
        let err = StateRecord::from_data(&BTreeMap::new()).unwrap_err();
        assert!(err.to_string().contains("state.json"), "{err}");
    }

    #[test]
    fn forged_short_revision_is_refused() {
        let mut data = record().to_data(&key(), NS).unwrap();
        data.insert(RECORD_KEY.into(), r#"{"revision":"HEAD~3"}"#.into());
        assert!(matches!(
            StateRecord::from_data(&data),
            Err(StateError::Malformed(_))
        ));
    }

    #[test]
    fn unknown_field_in_record_is_refused() {
        let mut data = record().to_data(&key(), NS).unwrap();
        data.insert(
            RECORD_KEY.into(),
            r#"{"revision":null,"trustEverything":true}"#.into(),
        );
        assert!(matches!(
            StateRecord::from_data(&data),
            Err(StateError::Malformed(_))
        ));
    }

    #[test]
    fn oversized_record_is_refused_before_parsing() {
        let mut data = record().to_data(&key(), NS).unwrap();
        data.insert("padding".into(), "x".repeat(MAX_RECORD_BYTES + 1));
        assert!(matches!(
            StateRecord::from_data(&data),
            Err(StateError::TooLarge { .. })
        ));
    }

    #[test]
    fn inventory_line_without_namespace_separator_names_the_line() {
        let mut data = record().to_data(&key(), NS).unwrap();
        data.insert(INVENTORY_KEY.into(), "ns/ok abcd\nbroken-line\n".into());
        let err = StateRecord::from_data(&data).unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    proptest! {
        #[test]
        fn arbitrary_configmap_data_is_an_error_or_a_record_never_a_panic(
            json in ".{0,300}", inventory in "(?s).{0,300}"
        ) {
            let data: BTreeMap<String, String> = [(RECORD_KEY.to_string(), json), (INVENTORY_KEY.to_string(), inventory)].into();
            let _ = StateRecord::from_data(&data);
        }
    }
}
