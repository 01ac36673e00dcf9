//! The reference materializer (STATE-PROTOCOL §6): batches of raw items in, visible state out.
//!
//! A *batch* is what one read delivers (one HTTP response, or one SSE data group with its
//! control event): its items, the offset to resume from after it, and whether it brought the
//! reader up to date. The materializer keeps one *working* state where every accepted change
//! is applied at once, plus an undo log of the changes that are not visible yet (an
//! uncommitted batch that may be rolled back, or an open atomic snapshot). The visible state
//! is the working state with that log reverted, computed only when observed, so the common
//! path (skip bad messages, per-batch visibility, no open snapshot) records no undo at all.
//!
//! Entity values are stored as their JSON text (one allocation each) and turned back into
//! values only when observed; a JSON-mode body can be applied without building value trees
//! (see `wire.rs`).

use std::borrow::Cow;
use std::collections::BTreeMap;

use hashbrown::HashMap;

use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::collection::Collection;
use crate::message::{Control, ControlMessage, Message, Operation, ParseRules, Rejection};
use crate::mutant::Mutant;
use crate::profile::{
    Acceptance, DeleteMissing, InsertExisting, InvalidMessage, Profile, ResetOffset, ResetScope,
    SnapshotSemantics, TxidSeen, UpdateMissing, UpdateSemantics, Visibility,
};
use crate::requirement as req;
use crate::wire::halves::{PARALLEL_MIN_BYTES, read_in_halves};
use crate::wire::{self, Decoded, DecodedChange, from_raw, to_raw};

mod apply;
mod entity;
mod partitioned;
mod undo;

/// Batches with fewer changes are applied on one thread (a thread costs more than it saves).
const PARTITION_MIN_CHANGES: usize = 16 * 1024;

/// An entity value, as JSON text.
type Stored = Box<RawValue>;
type Entities = HashMap<Key, Stored>;
/// An entity key: up to 23 bytes kept inline (no allocation, and compared without a pointer
/// chase: most keys are short ids).
type Key = smol_str::SmolStr;
/// Seen txids: a hash set (a large batch's txids are added in bulk), sorted when observed.
type Txids = hashbrown::HashSet<String>;
type State = HashMap<String, Entities>;

/// The canonical, byte-comparable form of a state: `{type: {key: value}}`, keys sorted,
/// empty types omitted, integral numbers written as integers.
pub type CanonicalState = BTreeMap<String, BTreeMap<String, Value>>;

/// One read's worth of items.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    /// The items as JSON values, in stream order.
    pub items: Vec<Value>,
    /// The offset to resume from after this batch (`Stream-Next-Offset`).
    pub offset: Option<String>,
    /// The batch ended at the stream's tail (`Stream-Up-To-Date`).
    pub up_to_date: bool,
}

impl Batch {
    /// `items` as one batch at the stream's tail, with no offset: what a replay or a file of
    /// messages applies.
    pub fn whole(items: Vec<Value>) -> Batch {
        Batch {
            items,
            offset: None,
            up_to_date: true,
        }
    }
}

/// A message the materializer refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Zero-based number of the batch, counting every batch applied.
    pub batch: usize,
    /// Zero-based index of the item within its batch.
    pub index: usize,
    /// The requirement the item violates (a catalogue ID).
    pub requirement: &'static str,
    /// JSON Pointer to the offending part of the item ("" for the whole item).
    pub path: String,
    /// What is wrong, in words.
    pub reason: String,
}

/// What an observer sees at a batch boundary (also what an implementation reports of its
/// own state: every field but `state` may be left out).
#[derive(Debug, Default, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Observation {
    /// The visible entities.
    pub state: CanonicalState,
    /// The txids seen so far, sorted.
    #[serde(default)]
    pub txids: Vec<String>,
    /// The offset of the last committed batch (where reading would resume).
    #[serde(default)]
    pub offset: Option<String>,
    /// The consumer stopped at an invalid message (OQ-INVALID-HALTS).
    #[serde(default)]
    pub halted: bool,
}

/// A batch body that is not a JSON array of items.
#[derive(Debug, thiserror::Error)]
#[error("the body is not a JSON array: {0}")]
pub struct BodyError(#[from] serde_json::Error);

/// One item of a batch: already parsed, or read from a body by `wire`.
enum Item<'a> {
    Parsed(Value),
    Read(Decoded<'a>),
}

/// Why declared collections cannot make a materializer.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A collection's value schema does not compile.
    #[error("collection `{name}`: invalid value schema: {reason}")]
    InvalidSchema {
        /// The collection.
        name: String,
        /// The compiler's complaint.
        reason: String,
    },
    /// Two collections hold the same entity type.
    #[error("collections `{first}` and `{second}` both claim entity type `{entity_type}`")]
    DuplicateType {
        /// The first collection claiming the type.
        first: String,
        /// The second one.
        second: String,
        /// The type both claim.
        entity_type: String,
    },
}

/// What the batch loop does after an item was applied.
enum Step {
    Next,
    /// A reset named an offset: stop the batch and resume reading there.
    RestartAt(String),
}

/// An undoable step of the working state.
#[derive(Clone)]
enum Undo {
    /// `key` of `entity_type` held `previous` before.
    Put {
        entity_type: String,
        key: String,
        previous: Option<Stored>,
    },
    /// The whole state (and, for a reset, the txids) before a clear.
    Clear {
        state: State,
        txids: Option<(Txids, Vec<String>)>,
    },
}

/// A consumer's state under one profile: apply batches, then [`observe`](Materializer::observe)
/// what an observer would see. Rejected messages leave [`Diagnostic`]s and change nothing.
pub struct Materializer {
    profile: Profile,
    rules: ParseRules,
    mutant: Option<Mutant>,
    /// Declared collections by entity type; `None` when the consumer declared none.
    collections: Option<HashMap<String, Option<jsonschema::Validator>>>,
    working: State,
    seen_txids: Txids,
    /// Txids of applied changes that are not visible yet, in order.
    staged_txids: Vec<String>,
    undo: Vec<Undo>,
    /// Where the open atomic snapshot starts in `undo` and `staged_txids`.
    snapshot_mark: Option<(usize, usize)>,
    offset: Option<String>,
    up_to_date_seen: bool,
    halted: bool,
    batches: usize,
    diagnostics: Vec<Diagnostic>,
}

impl Materializer {
    /// An empty state under `profile`, with no declared collections (every type accepted).
    pub fn new(profile: Profile) -> Materializer {
        Materializer {
            rules: ParseRules::from_profile(&profile),
            profile,
            mutant: None,
            collections: None,
            working: State::new(),
            seen_txids: Txids::new(),
            staged_txids: Vec::new(),
            undo: Vec::new(),
            snapshot_mark: None,
            offset: None,
            up_to_date_seen: false,
            halted: false,
            batches: 0,
            diagnostics: Vec::new(),
        }
    }

    /// Declares the collections the consumer expects; types outside them are unknown (§9.4).
    pub fn with_collections(
        mut self,
        collections: &[Collection],
    ) -> Result<Materializer, SetupError> {
        let mut by_type: HashMap<String, Option<jsonschema::Validator>> = HashMap::new();
        let mut owner: HashMap<&str, &str> = HashMap::new();
        for c in collections {
            if let Some(first) = owner.insert(&c.entity_type, &c.name) {
                return Err(SetupError::DuplicateType {
                    first: first.to_owned(),
                    second: c.name.clone(),
                    entity_type: c.entity_type.clone(),
                });
            }
            let validator = match &c.schema {
                Some(schema) => Some(crate::schema::compile(schema).map_err(|reason| {
                    SetupError::InvalidSchema {
                        name: c.name.clone(),
                        reason,
                    }
                })?),
                None => None,
            };
            by_type.insert(c.entity_type.clone(), validator);
        }
        self.collections = Some(by_type);
        Ok(self)
    }

    /// A fresh consumer under `profile`, declaring `collections` when given (absent: every
    /// type is expected), optionally with a mutant.
    pub fn consumer(
        profile: &Profile,
        collections: Option<&[Collection]>,
        mutant: Option<Mutant>,
    ) -> Result<Materializer, SetupError> {
        let m = Materializer::new(profile.clone()).with_mutant(mutant);
        match collections {
            Some(c) => m.with_collections(c),
            None => Ok(m),
        }
    }

    /// Switches on one deliberate defect (self-test only).
    pub fn with_mutant(mut self, mutant: Option<Mutant>) -> Materializer {
        self.mutant = mutant;
        self.rules = self.rules.with_mutant(mutant);
        self
    }

    /// The profile this state follows.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// Every refused message so far, in order.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// Applies one batch and returns the diagnostics it produced.
    pub fn apply_batch(&mut self, batch: Batch) -> &[Diagnostic] {
        let len = batch.items.len();
        self.apply_items(
            batch.items.into_iter().map(Item::Parsed),
            len,
            batch.offset,
            batch.up_to_date,
        )
    }

    /// Applies one JSON-mode body (a JSON array of messages) as a batch, without building
    /// value trees for well-formed changes. Fails, changing nothing, if it is not an array.
    pub fn apply_json(
        &mut self,
        body: &str,
        offset: Option<String>,
        up_to_date: bool,
    ) -> Result<&[Diagnostic], BodyError> {
        let parallel = std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
        let halves = match parallel && body.len() >= PARALLEL_MIN_BYTES {
            true => read_in_halves(body, &self.rules),
            false => None,
        };
        let parts = match halves {
            Some(halves) => Vec::from(halves),
            None => vec![wire::read(body, &self.rules)?],
        };
        let len = parts.iter().map(Vec::len).sum();
        if parallel && len >= PARTITION_MIN_CHANGES && self.partitionable(&parts) {
            return Ok(self.apply_partitioned(&parts, offset, up_to_date));
        }
        let items = parts.into_iter().flatten().map(Item::Read);
        Ok(self.apply_items(items, len, offset, up_to_date))
    }

    /// Numbers a new batch: its number, and where its diagnostics will start.
    fn start_batch(&mut self) -> (usize, usize) {
        self.batches += 1;
        (self.batches - 1, self.diagnostics.len())
    }

    /// What an observer sees now: the visible state, seen txids and committed offset.
    pub fn observe(&self) -> Observation {
        let hidden =
            self.profile.visibility == Visibility::AfterFirstUpToDate && !self.up_to_date_seen;
        let (state, txids) = if hidden {
            (CanonicalState::new(), Vec::new())
        } else if self.undo.is_empty() {
            (
                canonical_state(&self.working),
                sorted(self.seen_txids.iter().cloned()),
            )
        } else {
            let mut visible = self.working.clone();
            let mut seen = self.seen_txids.clone();
            for step in self.undo.iter().rev() {
                step.clone()
                    .revert(&mut visible, &mut seen, &mut Vec::new());
            }
            (canonical_state(&visible), sorted(seen))
        };
        Observation {
            state,
            txids,
            offset: self.offset.clone(),
            halted: self.halted,
        }
    }
}

fn sorted(txids: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut txids: Vec<String> = txids.into_iter().collect();
    txids.sort_unstable();
    txids
}

fn halted_rejection() -> Rejection {
    Rejection {
        requirement: req::OQ_HALT,
        path: String::new(),
        reason: "not applied: the consumer halted at an earlier invalid message".into(),
    }
}

/// Canonical form of a state (see [`CanonicalState`]).
fn canonical_state(state: &State) -> CanonicalState {
    state
        .iter()
        .filter(|(_, entities)| !entities.is_empty())
        .map(|(t, entities)| {
            let sorted = entities
                .iter()
                .map(|(k, v)| (k.to_string(), canonical_value(&from_raw(v))))
                .collect();
            (t.clone(), sorted)
        })
        .collect()
}

/// Canonical form of a JSON value: integral floats within ±2^53 become integers, so that
/// `1.0` and `1` compare equal, as JSON (and JavaScript) consider them.
pub fn canonical_value(value: &Value) -> Value {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    match value {
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < EXACT => Value::from(f as i64),
            _ => value.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(canonical_value).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), canonical_value(v)))
                .collect(),
        ),
        _ => value.clone(),
    }
}

#[cfg(test)]
mod tests;
