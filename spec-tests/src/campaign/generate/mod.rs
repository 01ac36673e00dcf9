//! Seeded scenarios: from a seed, a case of any mode (messages over a few types and many keys,
//! batch boundaries, txids, resets and snapshots, malformed items, and for subscribe cases a
//! fault plan from the simulator's catalogue). The same seed gives the same case on any
//! machine: the only randomness is a ChaCha stream seeded from it.
//!
//! Expectations come from the reference (the oracle) under every preset, so a generated case
//! is a self-contained fixture; subscribe cases are judged at run time against the reference
//! at the offset the implementation reports, like hand-written ones.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use state_reference::{Collection, Profile};
use stream_simulator::fault::{Fault, RequestKind, Rule};
use stream_simulator::store::Action;

use state_reference::ProduceOp;
use state_reference::client::{Live, Until};

use super::expect::fill_expectations;
use crate::corpus::case::{
    AwaitStep, BatchInput, Case, Expectation, Mode, Step, Weight, fault_rules, serves_offsets,
};

mod live;

pub(super) use live::settle_each_write;

pub use crate::corpus::case::GENERATED_TAG;

/// The seed of the `index`th scenario of a campaign seeded with `seed` (splitmix64), so a
/// scenario can be re-made from its own seed alone.
pub fn scenario_seed(seed: u64, index: u64) -> u64 {
    let mut z = seed.wrapping_add(index.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The case a seed makes (expectations filled in by the reference).
pub fn scenario(seed: u64) -> Case {
    let mut g = Gen {
        rng: ChaCha8Rng::seed_from_u64(seed),
        reset_offsets: false,
    };
    let mode = match g.rng.random_range(0..10) {
        0 => Mode::Validate,
        1..=4 => Mode::Materialize,
        5..=8 => Mode::Subscribe,
        _ => Mode::Produce,
    };
    let mut case = Case {
        schema: None,
        id: format!("gen-{seed:016x}"),
        title: format!("generated {} scenario, seed {seed}", mode.name()),
        title_by_profile: BTreeMap::new(),
        description: None,
        requirements: vec![
            match mode {
                Mode::Validate => "SP-9.1-VALIDATE-FORMAT",
                Mode::Materialize => "SP-6-ORDER",
                Mode::Subscribe => "DS-8-NEXT-OFFSET",
                Mode::Produce => "SP-4.1-TYPE-REQUIRED",
            }
            .to_owned(),
        ],
        level: "MUST".into(),
        tags: vec![GENERATED_TAG.into()],
        mode,
        profiles: Profile::preset_names()
            .into_iter()
            .map(|p| (p.to_owned(), Weight::Required))
            .collect(),
        collections: None,
        batches: Vec::new(),
        message: None,
        raw: None,
        live: None,
        steps: Vec::new(),
        expect: Expectation::default(),
        expect_by_profile: BTreeMap::new(),
    };
    match mode {
        Mode::Validate => case.message = Some(g.validate_message()),
        Mode::Materialize => g.materialize(&mut case),
        Mode::Subscribe => g.subscribe(&mut case),
        Mode::Produce => g.produce(&mut case),
    }
    case.requirements = super::cite::requirements_of(&case);
    if super::cite::rests_on_open_question(&case) {
        case.level = "silent".into();
        case.profiles
            .values_mut()
            .for_each(|w| *w = Weight::Informational);
    }
    fill_expectations(&mut case);
    // A message the presets judge differently rests on a question the spec leaves open
    // (extra fields, empty txids, timestamps, upsert): a validator may take either side.
    if mode == Mode::Validate && !case.expect_by_profile.is_empty() {
        case.level = "silent".into();
        case.profiles
            .values_mut()
            .for_each(|w| *w = Weight::Informational);
    }
    case
}

struct Gen {
    rng: ChaCha8Rng,
    /// Resets may name an offset (materialize only: a live stream's offsets are not known
    /// when the scenario is made).
    reset_offsets: bool,
}

const TYPES: [&str; 3] = ["user", "order", "task"];

impl Gen {
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.rng.random_range(0..items.len())]
    }

    fn key(&mut self) -> String {
        format!("k{}", self.rng.random_range(0..12))
    }

    fn value(&mut self, key: &str) -> Value {
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
    fn message(&mut self, bad: f64, types: &[&str]) -> Value {
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
            headers["txid"] = json!(format!("tx{}", self.rng.random_range(0..6)));
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
    fn validate_message(&mut self) -> Value {
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

    fn malformed(&mut self, types: &[&str]) -> Value {
        let t = *self.pick(types);
        let key = self.key();
        let txid = json!(format!("tx{}", self.rng.random_range(0..6)));
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
    fn collections(&mut self) -> Option<Vec<Collection>> {
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

    fn materialize(&mut self, case: &mut Case) {
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

/// Whether a fault of the plan acts at a position inside a live read's body (a byte, a
/// message, an SSE event): where it lands then depends on how the writes were split into
/// reads.
pub(super) fn cuts_live_reads(steps: &[Step]) -> bool {
    fault_rules(steps).any(|r| {
        r.kind != RequestKind::CatchUp
            && matches!(
                r.fault,
                Fault::CutBody { .. }
                    | Fault::CutInsideMessage { .. }
                    | Fault::SseCloseAfter { .. }
                    | Fault::SseAbortAfter { .. }
            )
    })
}

/// Whether `steps` already await after the subscription and after every live write, as
/// [`settle_each_write`] makes them: the shrinker keeps a settled scenario settled, or its
/// smaller cases would race again.
pub(super) fn is_settled(steps: &[Step]) -> bool {
    let mut settled = steps.to_vec();
    settle_each_write(&mut settled);
    settled.len() == steps.len()
}
