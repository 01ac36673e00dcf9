//! What a scenario is drawn from: a seeded ChaCha stream, a few entity types and many keys,
//! messages good and malformed, collections, and materialize batches.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use state_reference::Collection;

use crate::corpus::case::{BatchInput, Case};

pub(super) struct Gen {
    pub(super) rng: ChaCha8Rng,
    /// Resets may name an offset (materialize only: a live stream's offsets are not known
    /// when the scenario is made).
    pub(super) reset_offsets: bool,
    /// An SSE subscribe scenario takes the uncommitted-data shape (see
    /// `Gen::uncommitted_sse`). Chosen from the seed, not drawn, so that every other
    /// scenario of a seed is what it was before the shape existed.
    pub(super) uncommitted_sse: bool,
}

pub(super) const TYPES: [&str; 3] = ["user", "order", "task"];

impl Gen {
    pub(super) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.rng.random_range(0..items.len())]
    }

    /// A key: mostly `k0`..`k11`; sometimes one that differs from those only in case, a
    /// non-ASCII one or a long one (identifiers are compared as the exact strings they are).
    pub(super) fn key(&mut self) -> String {
        match self.rng.random_range(0..40) {
            0 => format!("K{}", self.rng.random_range(0..12)),
            1 => "ключ".to_owned(),
            2 => format!("k{}", "é".repeat(60)),
            _ => format!("k{}", self.rng.random_range(0..12)),
        }
    }

    /// A txid: mostly `tx0`..`tx5`; sometimes one that differs from those only in case, or a
    /// non-ASCII one (txids are opaque, compared exactly).
    pub(super) fn txid(&mut self) -> String {
        match self.rng.random_range(0..20) {
            0 => format!("TX{}", self.rng.random_range(0..6)),
            1 => "тх1".to_owned(),
            _ => format!("tx{}", self.rng.random_range(0..6)),
        }
    }

    pub(super) fn value(&mut self, key: &str) -> Value {
        match self.rng.random_range(0..22) {
            0 => json!(self.rng.random_range(0..100)),
            1 => Value::Null,
            2 => json!(["a", self.rng.random_range(0..9)]),
            20 => json!(format!("s{}", self.rng.random_range(0..9))),
            21 => json!(self.rng.random_bool(0.5)),
            3..=7 => json!({"id": key, "m": self.rng.random_range(0..100)}),
            _ => json!({"id": key, "n": self.rng.random_range(0..100)}),
        }
    }

    /// A change or control message; with probability `bad`, a malformed one.
    pub(super) fn message(&mut self, bad: f64, types: &[&str]) -> Value {
        let types = if types.is_empty() { &TYPES[..] } else { types };
        if self.rng.random_bool(bad) {
            return self.malformed(types);
        }
        if self.rng.random_bool(0.06) {
            return match self.reset_offsets && self.rng.random_bool(0.5) {
                true => {
                    json!({"headers": {"control": "reset", "offset": format!("o{}", self.rng.random_range(1..5))}})
                }
                false => json!({"headers": {"control": "reset"}}),
            };
        }
        let t = *self.pick(types);
        let key = self.key();
        let op = *self.pick(&["insert", "insert", "update", "update", "delete"]);
        let mut headers = json!({"operation": op});
        if self.rng.random_bool(0.3) {
            headers["txid"] = json!(self.txid());
        }
        let mut m = json!({"type": t, "key": key, "headers": headers});
        if op != "delete" {
            m["value"] = self.value(&key);
        }
        m
    }

    /// A message for a validate scenario: any message, half of them then given one of the
    /// details validators disagree on (a key of spaces, a control offset in another server's
    /// format, timestamps in every RFC 3339 spelling and some that are not, empty txids,
    /// fields the spec does not define). Only validate scenarios draw these, so the other
    /// modes' scenarios stay as they were.
    pub(super) fn validate_message(&mut self) -> Value {
        let mut m = self.message(0.5, &[]);
        if !self.rng.random_bool(0.5) {
            return m;
        }
        let Some(object) = m.as_object_mut() else {
            return m;
        };
        let change = object
            .get("headers")
            .and_then(Value::as_object)
            .is_some_and(|h| h.contains_key("operation"));
        let pick = self.rng.random_range(0..7);
        let timestamps = [
            "2025-01-15T10:30:00Z",
            "2025-01-15t10:30:00z",
            "2025-01-15T10:30:00.5+05:30",
            "2025-13-15T10:30:00Z",
            "15 Jan 2025",
        ];
        let timestamp = *self.pick(&timestamps);
        let offset = *self.pick(&["123456_000", "0000000000000000001G000000", "o7", ""]);
        let headers = object.get_mut("headers").and_then(Value::as_object_mut);
        match (pick, change, headers) {
            (0, true, _) => {
                object.insert("key".into(), json!(" "));
            }
            (1, true, Some(h)) => {
                h.insert("timestamp".into(), json!(timestamp));
            }
            (2, true, Some(h)) => {
                h.insert("txid".into(), json!(""));
            }
            (3, false, Some(h)) => {
                h.insert("offset".into(), json!(offset));
            }
            (4, _, Some(h)) => {
                h.insert("origin".into(), json!("generator"));
            }
            (5, _, _) => {
                object.insert("meta".into(), json!({"by": "generator"}));
            }
            (_, true, _) => {
                object.insert("type".into(), json!(" "));
            }
            _ => {}
        }
        m
    }

    pub(super) fn malformed(&mut self, types: &[&str]) -> Value {
        let t = *self.pick(types);
        let key = self.key();
        let txid = json!(self.txid());
        match self.rng.random_range(0..12) {
            0 => json!({"type": t, "key": key, "headers": {"operation": "insert", "txid": txid}}),
            1 => {
                json!({"type": t, "key": "", "value": {"id": ""}, "headers": {"operation": "insert"}})
            }
            2 => {
                json!({"type": t, "key": key, "value": {"id": key}, "headers": {"operation": "upsert"}})
            }
            3 => {
                json!({"type": t, "key": key, "value": {"id": key}, "headers": {"operation": "merge", "txid": txid}})
            }
            4 => json!({"headers": {"control": "rewind"}}),
            5 => {
                json!({"type": "ghost", "key": key, "value": {"id": key}, "headers": {"operation": "insert"}})
            }
            6 => {
                json!({"type": t, "key": key, "value": {"id": key}, "headers": {"operation": "insert", "control": "reset"}})
            }
            7 => json!({"type": t, "key": key, "value": {"id": key}}),
            8 => json!({"type": t, "key": key, "value": {"id": key}, "headers": "insert"}),
            9 => {
                json!([{"type": t, "key": key, "value": {"id": key}, "headers": {"operation": "insert"}}])
            }
            10 => Value::Null,
            _ => json!(self.rng.random_range(0..9)),
        }
    }

    /// Collections for some of the types (the rest are undeclared), sometimes with a value
    /// schema.
    pub(super) fn collections(&mut self) -> Option<Vec<Collection>> {
        if self.rng.random_bool(0.4) {
            return None;
        }
        let schema = self.rng.random_bool(0.3);
        Some(
            TYPES
                .iter()
                .take(self.rng.random_range(1..=3))
                .map(|t| {
                    let c = Collection::new(format!("{t}s"), *t, "id");
                    match schema {
                        true => c.with_schema(json!({"type": "object", "required": ["id"]})),
                        false => c,
                    }
                })
                .collect(),
        )
    }

    pub(super) fn materialize(&mut self, case: &mut Case) {
        self.reset_offsets = true;
        case.collections = self.collections();
        let count = self.rng.random_range(1..=20);
        let items: Vec<Value> = (0..count).map(|_| self.message(0.12, &[])).collect();
        let mut items = items.into_iter().peekable();
        let mut b = 0;
        while items.peek().is_some() {
            b += 1;
            let n = self.rng.random_range(0..=6);
            let batch: Vec<Value> = items.by_ref().take(n).collect();
            case.batches.push(BatchInput {
                items: batch,
                offset: format!("o{b}"),
                up_to_date: self.rng.random_bool(0.5),
            });
        }
        if let Some(last) = case.batches.last_mut() {
            last.up_to_date = true;
        }
    }
}
