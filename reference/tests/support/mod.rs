//! Generators of State Protocol messages for property tests: valid changes and controls,
//! and deterministic near-misses (one defect each) of a valid message.

#![allow(dead_code)] // each test binary uses a different part

use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Any JSON value, small and shallow.
pub fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1.0e6f64..1.0e6).prop_map(Value::from),
        "[a-zA-Z0-9 _:é🙂]{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A small object value (what most entities are).
pub fn object_value() -> impl Strategy<Value = Value> {
    prop::collection::btree_map("[a-z]{1,4}", any_json(), 0..4)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

pub const TYPES: &[&str] = &["user", "message", "a:b", "a"];
pub const TIMESTAMPS: &[&str] = &[
    "2025-01-15T10:30:00Z",
    "2025-01-15T10:30:00.123+02:00",
    "1999-12-31T23:59:59-08:00",
];

/// A valid change message (valid under the strict profile and the schema).
pub fn valid_change() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(TYPES),
        "[a-z0-9:]{1,3}",
        prop::sample::select(&["insert", "update", "delete"][..]),
        prop::option::of(any_json()),
        prop::option::of(any_json()),
        prop::option::of("[a-z0-9-]{1,6}"),
        prop::option::of(prop::sample::select(TIMESTAMPS)),
    )
        .prop_map(|(t, key, op, value, old_value, txid, ts)| {
            let mut headers = Map::new();
            headers.insert("operation".into(), json!(op));
            if let Some(txid) = txid {
                headers.insert("txid".into(), json!(txid));
            }
            if let Some(ts) = ts {
                headers.insert("timestamp".into(), json!(ts));
            }
            let mut m = Map::new();
            m.insert("type".into(), json!(t));
            m.insert("key".into(), json!(key));
            match (op, value) {
                ("delete", v) => {
                    if let Some(v) = v {
                        m.insert("value".into(), v);
                    }
                }
                (_, v) => {
                    m.insert("value".into(), v.unwrap_or(Value::Null));
                }
            }
            if let Some(old) = old_value {
                m.insert("old_value".into(), old);
            }
            m.insert("headers".into(), Value::Object(headers));
            Value::Object(m)
        })
}

/// A valid control message.
pub fn valid_control() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(&["snapshot-start", "snapshot-end", "reset"][..]),
        prop::option::of("[0-9_]{1,8}"),
    )
        .prop_map(|(c, offset)| match offset {
            Some(o) => json!({"headers": {"control": c, "offset": o}}),
            None => json!({"headers": {"control": c}}),
        })
}

pub fn valid_message() -> impl Strategy<Value = Value> {
    prop_oneof![4 => valid_change(), 1 => valid_control()]
}

/// Every one-defect variant of a valid message, named. Some are still valid (e.g. removing
/// an optional field): the tests compare verdicts, they do not presume them.
pub fn near_misses(message: &Value) -> Vec<(&'static str, Value)> {
    let mut out = Vec::new();
    let mut with = |name: &'static str, f: &dyn Fn(&mut Value)| {
        let mut m = message.clone();
        f(&mut m);
        out.push((name, m));
    };
    let is_change = message.get("type").is_some();
    for field in ["type", "key", "value", "old_value", "headers"] {
        with("remove-field", &|m| {
            m.as_object_mut().unwrap().remove(field);
        });
    }
    for header in ["operation", "control", "txid", "timestamp", "offset"] {
        with("remove-header", &|m| {
            if let Some(h) = m.get_mut("headers").and_then(Value::as_object_mut) {
                h.remove(header);
            }
        });
    }
    let bad_values = [
        json!(""),
        json!(0),
        json!(null),
        json!([]),
        json!({}),
        json!(true),
        json!("x"),
    ];
    for field in ["type", "key", "headers"] {
        for bad in &bad_values {
            with("retype-field", &|m| {
                m.as_object_mut().unwrap().insert(field.into(), bad.clone());
            });
        }
    }
    let header_values = [
        json!(""),
        json!(1),
        json!(null),
        json!("INSERT"),
        json!("upsert"),
        json!("insert"),
        json!("update"),
        json!("delete"),
        json!("reset"),
        json!("snapshot-start"),
        json!("checkpoint"),
        json!("2025-01-15 10:30"),
        json!("2025-13-15T10:30:00Z"),
        json!("2025-01-15T10:30:00Z"),
    ];
    for header in [
        "operation",
        "control",
        "txid",
        "timestamp",
        "offset",
        "from",
        "extra",
    ] {
        for bad in &header_values {
            with("set-header", &|m| {
                if let Some(h) = m.get_mut("headers").and_then(Value::as_object_mut) {
                    h.insert(header.into(), bad.clone());
                }
            });
        }
    }
    for extra in ["meta", "offset", "value", "old_value", "type"] {
        with("add-field", &|m| {
            m.as_object_mut()
                .unwrap()
                .entry(extra)
                .or_insert(json!("extra"));
        });
    }
    with("wrap-in-array", &|m| *m = json!([m.clone()]));
    with("stringify", &|m| *m = Value::String(m.to_string()));
    with("null", &|m| *m = Value::Null);
    if is_change {
        with("drop-headers-object", &|m| m["headers"] = json!([]));
    }
    out
}

/// Deterministically samples `n` values of a strategy (same seed, same values, any machine).
pub fn sample<S: Strategy>(strategy: S, n: usize, seed: u8) -> Vec<S::Value> {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    (0..n)
        .map(|_| {
            strategy
                .new_tree(&mut runner)
                .expect("strategy samples")
                .current()
        })
        .collect()
}
