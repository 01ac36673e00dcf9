//! Differences in words: the first type/key where two states part, where a landed message
//! lacks or differs from an expected one, and offsets as people read them.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use state_reference::CanonicalState;
use state_reference::materializer::canonical_value;

/// The first type/key (in sorted order) where two states differ, described for a human.
pub fn first_divergence(expected: &CanonicalState, observed: &CanonicalState) -> Option<String> {
    first_divergent(expected, observed).map(|d| d.described)
}

/// Where two states first differ: the type, the key, and the difference in words.
pub struct Divergence {
    pub entity_type: String,
    pub key: String,
    pub described: String,
}

/// The first type/key (in sorted order) where two states differ.
pub fn first_divergent(expected: &CanonicalState, observed: &CanonicalState) -> Option<Divergence> {
    let types: BTreeSet<&String> = expected.keys().chain(observed.keys()).collect();
    for t in types {
        let empty = BTreeMap::new();
        let (e, o) = (
            expected.get(t).unwrap_or(&empty),
            observed.get(t).unwrap_or(&empty),
        );
        let keys: BTreeSet<&String> = e.keys().chain(o.keys()).collect();
        for k in keys {
            let (ev, ov) = (e.get(k).map(canonical_value), o.get(k).map(canonical_value));
            if ev != ov {
                let show = |v: Option<Value>| v.map_or("absent".to_owned(), |v| v.to_string());
                return Some(Divergence {
                    entity_type: t.clone(),
                    key: k.clone(),
                    described: format!(
                        "first difference at {t}/{k}: expected {}, observed {}",
                        show(ev),
                        show(ov)
                    ),
                });
            }
        }
    }
    None
}

pub fn txid_set(txids: &[String]) -> BTreeSet<&String> {
    txids.iter().collect()
}

/// Where `observed` lacks or differs from a field `expected` names (message and header
/// objects field by field, values compared whole), or has a field `expected` lists under
/// `$absent`.
pub fn subset_difference(expected: &Value, observed: &Value, path: &str) -> Option<String> {
    match (expected, observed) {
        (Value::Object(e), Value::Object(o)) if path.is_empty() || path == "/headers" => {
            let absent = e
                .get("$absent")
                .and_then(Value::as_array)
                .into_iter()
                .flatten();
            if let Some(field) = absent
                .filter_map(Value::as_str)
                .find(|f| o.contains_key(*f))
            {
                return Some(format!(
                    "{path}/{field}: expected absent, observed {}",
                    o[field]
                ));
            }
            e.iter()
                .filter(|(k, _)| *k != "$absent")
                .find_map(|(k, ev)| {
                    let at = format!("{path}/{k}");
                    match o.get(k) {
                        None => Some(format!("{at}: expected {ev}, absent")),
                        Some(ov) => subset_difference(ev, ov, &at),
                    }
                })
        }
        _ => (canonical_value(expected) != canonical_value(observed)).then(|| {
            format!(
                "{}: expected {expected}, observed {observed}",
                if path.is_empty() { "/" } else { path }
            )
        }),
    }
}

/// An offset for people: `none` when there is none, quoted only when it is empty.
pub(crate) fn offset_text(offset: Option<&str>) -> String {
    match offset {
        None => "none".to_owned(),
        Some("") => "\"\" (empty)".to_owned(),
        Some(o) => o.to_owned(),
    }
}
