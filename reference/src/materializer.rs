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
use crate::wire::{self, Decoded, DecodedChange, PARALLEL_MIN_BYTES, from_raw, to_raw};

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
            true => wire::read_in_halves(body, &self.rules),
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

    /// Whether a batch of `parts` may be applied partitioned by entity type. It may when it
    /// holds only well-formed changes (no control message), no snapshot is open, the profile
    /// does not halt and no mutant is set: then a change's outcome depends only on the
    /// entities of its own type, no undo is recorded, and txids are staged the same way
    /// whenever they are staged, so each type's changes applied in order on their own, then
    /// diagnosed and staged in stream order, give what one pass in stream order gives.
    fn partitionable(&self, parts: &[Vec<Decoded<'_>>]) -> bool {
        self.mutant.is_none()
            && !self.halted
            && self.snapshot_mark.is_none()
            && self.profile.invalid_message != InvalidMessage::Halt
            && parts.iter().flatten().all(Result::is_ok)
    }

    /// Numbers a new batch: its number, and where its diagnostics will start.
    fn start_batch(&mut self) -> (usize, usize) {
        self.batches += 1;
        (self.batches - 1, self.diagnostics.len())
    }

    /// Applies a [`partitionable`](Self::partitionable) batch on two threads, its entity
    /// types split between them by count.
    fn apply_partitioned(
        &mut self,
        parts: &[Vec<Decoded<'_>>],
        offset: Option<String>,
        up_to_date: bool,
    ) -> &[Diagnostic] {
        let (batch_no, first_diagnostic) = self.start_batch();
        let changes = || parts.iter().flatten().filter_map(|d| d.as_ref().ok());
        // Each change's type as an index into `types`, which counts the changes per type.
        let mut ids: HashMap<&str, usize> = HashMap::new();
        let mut types: Vec<(&str, usize)> = Vec::new();
        let type_of: Vec<usize> = changes()
            .map(|c| {
                let name = c.entity_type.as_ref();
                let id = *ids.entry(name).or_insert_with(|| {
                    types.push((name, 0));
                    types.len() - 1
                });
                types[id].1 += 1;
                id
            })
            .collect();
        // The busiest types first, each to the thread with fewer changes so far.
        let mut order: Vec<usize> = (0..types.len()).collect();
        order.sort_by_key(|&id| std::cmp::Reverse(types[id].1));
        let (mut worker_of, mut load) = (vec![0; types.len()], [0; 2]);
        for id in order {
            let w = usize::from(load[1] < load[0]);
            worker_of[id] = w;
            load[w] += types[id].1;
        }
        let mut shards = [State::new(), State::new()];
        for (id, (name, _)) in types.iter().enumerate() {
            if let Some((name, entities)) = self.working.remove_entry(*name) {
                shards[worker_of[id]].insert(name, entities);
            }
        }
        let this = &*self;
        // What each thread saw, by index: a rejection, or the txid of an applied change.
        let run = |w: usize, shard: &mut State| {
            let mut seen = Vec::new();
            let mine = changes().zip(&type_of).enumerate();
            for (index, (change, _)) in mine.filter(|(_, (_, id))| worker_of[**id] == w) {
                let target = Target {
                    entity_type: &change.entity_type,
                    key: &change.key,
                    operation: change.operation,
                };
                let value = change.value.as_deref().map(Cow::Borrowed);
                let outcome = this
                    .admit(change)
                    .and_then(|()| change_entity(shard, &this.profile, None, target, value));
                match outcome {
                    Err(rejection) => seen.push((index, Err(rejection))),
                    Ok(_) => seen.extend(change.txid.as_deref().map(|t| (index, Ok(t.to_owned())))),
                }
            }
            seen
        };
        let [mut first, mut second] = shards;
        let mut seen = std::thread::scope(|scope| {
            let other = (load[1] > 0).then(|| scope.spawn(|| run(1, &mut second)));
            let mut seen = run(0, &mut first);
            if let Some(other) = other {
                seen.extend(other.join().expect("a partition's apply does not panic"));
            }
            seen
        });
        self.working.extend(first);
        self.working.extend(second);
        seen.sort_unstable_by_key(|(index, _)| *index);
        for (index, outcome) in seen {
            match outcome {
                Err(rejection) => self.diagnose(batch_no, index, rejection),
                Ok(txid) => self.stage_txid(txid),
            }
        }
        self.commit(offset, up_to_date);
        &self.diagnostics[first_diagnostic..]
    }

    /// Applies `len` items as one batch.
    fn apply_items<'i>(
        &mut self,
        items: impl Iterator<Item = Item<'i>> + 'i,
        len: usize,
        offset: Option<String>,
        up_to_date: bool,
    ) -> &[Diagnostic] {
        let (batch_no, first_diagnostic) = self.start_batch();
        if self.halted {
            for index in 0..len {
                self.diagnose(batch_no, index, halted_rejection());
            }
            return &self.diagnostics[first_diagnostic..];
        }
        let batch_undo_start = self.undo.len();
        let batch_txid_start = self.staged_txids.len();
        let items: Box<dyn Iterator<Item = (usize, Item<'i>)> + 'i> = match self.mutant {
            Some(Mutant::OrderReversed) => {
                Box::new(items.enumerate().collect::<Vec<_>>().into_iter().rev())
            }
            _ => Box::new(items.enumerate()),
        };
        let mut completed = true;
        let (mut offset, mut up_to_date) = (offset, up_to_date);
        for (index, item) in items {
            let rejection = match self.apply_item(item) {
                Ok(Step::Next) => continue,
                Ok(Step::RestartAt(restart)) => {
                    // The items after the reset will be read again from `restart`.
                    (offset, up_to_date) = (Some(restart), false);
                    break;
                }
                Err(rejection) => rejection,
            };
            self.diagnose(batch_no, index, rejection);
            if self.profile.invalid_message == InvalidMessage::Halt {
                completed = false;
                self.halt(batch_undo_start, batch_txid_start);
                for rest in index + 1..len {
                    self.diagnose(batch_no, rest, halted_rejection());
                }
                break;
            }
            if self.mutant == Some(Mutant::InvalidBlocksOtherTypes) {
                break;
            }
        }
        if completed {
            self.commit(offset, up_to_date);
        }
        &self.diagnostics[first_diagnostic..]
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
                revert(&mut visible, &mut seen, &mut Vec::new(), step.clone());
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

    fn diagnose(&mut self, batch: usize, index: usize, r: Rejection) {
        self.diagnostics.push(Diagnostic {
            batch,
            index,
            requirement: r.requirement,
            path: r.path,
            reason: r.reason,
        });
    }

    /// Stops the consumer; under batch visibility the unfinished batch is rolled back.
    fn halt(&mut self, batch_undo_start: usize, batch_txid_start: usize) {
        self.halted = true;
        if self.profile.visibility == Visibility::PerMessage {
            return;
        }
        while self.undo.len() > batch_undo_start {
            let step = self.undo.pop().expect("length checked");
            revert(
                &mut self.working,
                &mut self.seen_txids,
                &mut self.staged_txids,
                step,
            );
        }
        self.staged_txids.truncate(batch_txid_start);
    }

    /// Makes the batch visible, except what an open atomic snapshot still holds back.
    fn commit(&mut self, offset: Option<String>, up_to_date: bool) {
        if offset.is_some() {
            self.offset = offset;
        }
        self.up_to_date_seen |= up_to_date;
        let (undo_keep, txid_keep) = self
            .snapshot_mark
            .unwrap_or((self.undo.len(), self.staged_txids.len()));
        self.undo.drain(..undo_keep);
        self.seen_txids.extend(self.staged_txids.drain(..txid_keep));
        if self.snapshot_mark.is_some() {
            self.snapshot_mark = Some((0, 0));
        }
    }

    /// Whether a change applied now may still have to be hidden or rolled back.
    fn recording_undo(&self) -> bool {
        self.snapshot_mark.is_some()
            || (self.profile.invalid_message == InvalidMessage::Halt
                && self.profile.visibility != Visibility::PerMessage)
    }

    fn apply_item(&mut self, item: Item<'_>) -> Result<Step, Rejection> {
        let value = match item {
            Item::Parsed(value) => value,
            Item::Read(Err(value)) => value,
            Item::Read(Ok(change)) => {
                let txid = match self.records_rejected_txids() {
                    true => change.txid.as_deref().map(str::to_owned),
                    false => None,
                };
                let result = self.apply_change(change).map(|()| Step::Next);
                return self.after_item(result, txid);
            }
        };
        let txid = match self.records_rejected_txids() {
            true => value
                .pointer("/headers/txid")
                .and_then(Value::as_str)
                .map(str::to_owned),
            false => None,
        };
        let result = match Message::parse(value, &self.rules) {
            Ok(Message::Change(change)) => self
                .apply_change(DecodedChange::from_message(change))
                .map(|()| Step::Next),
            Ok(Message::Control(control)) => Ok(self.apply_control(control)),
            Err(r) => Err(r),
        };
        self.after_item(result, txid)
    }

    fn records_rejected_txids(&self) -> bool {
        self.mutant == Some(Mutant::RejectedTxidRecorded)
    }

    /// Where the mutants that misjudge an item's outcome hook in.
    fn after_item(
        &mut self,
        result: Result<Step, Rejection>,
        txid: Option<String>,
    ) -> Result<Step, Rejection> {
        match (result, self.mutant) {
            (Err(r), Some(Mutant::UnknownControlAccepted))
                if r.requirement == req::CONTROL_ENUM =>
            {
                Ok(Step::Next)
            }
            (Err(r), Some(Mutant::RejectedTxidRecorded)) => {
                self.seen_txids.extend(txid);
                Err(r)
            }
            (result, _) => result,
        }
    }

    /// Checks a change against the declared collections and the profile.
    fn admit(&self, change: &DecodedChange<'_>) -> Result<(), Rejection> {
        let value = change
            .value
            .as_deref()
            .filter(|_| change.operation.requires_value());
        if let Some(collections) = &self.collections {
            match collections.get(change.entity_type.as_ref()) {
                None if self.profile.unknown_type == Acceptance::Reject
                    && self.mutant != Some(Mutant::UnknownTypeStored) =>
                {
                    return Err(Rejection {
                        requirement: req::EXPECTED_TYPE,
                        path: "/type".into(),
                        reason: format!(
                            "no declared collection has entity type {:?}",
                            change.entity_type
                        ),
                    });
                }
                Some(Some(validator)) if self.mutant != Some(Mutant::ValueSchemaSkipped) => {
                    let value = value.map(from_raw);
                    if let Some(error) =
                        value.as_ref().and_then(|v| validator.iter_errors(v).next())
                    {
                        return Err(Rejection {
                            requirement: req::VALUE_SCHEMA,
                            path: format!("/value{}", error.instance_path()),
                            reason: format!(
                                "value fails the {:?} schema: {error}",
                                change.entity_type
                            ),
                        });
                    }
                }
                _ => {}
            }
        }
        let reject_non_objects = self.profile.non_object_values == Acceptance::Reject
            || self.mutant == Some(Mutant::NonObjectValuesRejected);
        if let Some(v) = value
            && reject_non_objects
            && !v.get().trim_start().starts_with('{')
        {
            return Err(Rejection {
                requirement: req::OQ_NON_OBJECT_VALUE,
                path: "/value".into(),
                reason: format!(
                    "value is {}, not an object",
                    crate::message::kind_of(&from_raw(v))
                ),
            });
        }
        Ok(())
    }

    fn apply_change(&mut self, change: DecodedChange<'_>) -> Result<(), Rejection> {
        self.admit(&change)?;
        let DecodedChange {
            entity_type,
            key,
            value,
            operation,
            txid,
        } = change;
        let target = Target {
            entity_type: &entity_type,
            key: &key,
            operation,
        };
        let changed = change_entity(&mut self.working, &self.profile, self.mutant, target, value)?;
        if let Some(previous) = changed
            && self.recording_undo()
        {
            self.undo.push(Undo::Put {
                entity_type: entity_type.into_owned(),
                key: key.into_owned(),
                previous,
            });
        }
        if let Some(txid) = txid {
            self.stage_txid(txid.into_owned());
        }
        Ok(())
    }

    fn apply_control(&mut self, control: ControlMessage) -> Step {
        match control.control {
            Control::Reset if self.mutant == Some(Mutant::ResetIgnored) => {}
            Control::Reset if self.mutant == Some(Mutant::ResetKeepsOtherTypes) => {
                if let Some(first) = self.working.keys().min().cloned() {
                    if self.recording_undo() {
                        let state = self.working.clone();
                        self.undo.push(Undo::Clear { state, txids: None });
                    }
                    self.working.remove(&first);
                }
            }
            Control::Reset => {
                // A reset starts over: an open snapshot belonged to the state it discards.
                self.snapshot_mark = None;
                let clear_txids = self.profile.reset == ResetScope::StateAndTxids;
                self.clear(clear_txids);
                let restart = self.profile.reset_offset == ResetOffset::Restart
                    && self.mutant != Some(Mutant::ResetOffsetIgnored);
                if let Some(offset) = control.offset.filter(|_| restart) {
                    return Step::RestartAt(offset);
                }
            }
            Control::SnapshotStart => match self.profile.snapshot {
                SnapshotSemantics::Hint => {}
                _ if self.snapshot_mark.is_some() => {}
                SnapshotSemantics::Atomic => {
                    self.snapshot_mark = Some((self.undo.len(), self.staged_txids.len()));
                }
                SnapshotSemantics::Replace => {
                    self.snapshot_mark = Some((self.undo.len(), self.staged_txids.len()));
                    self.clear(false);
                }
            },
            // Closing the snapshot lets its changes commit with the batch that closes it.
            Control::SnapshotEnd => self.snapshot_mark = None,
        }
        Step::Next
    }

    fn clear(&mut self, clear_txids: bool) {
        let state = std::mem::take(&mut self.working);
        let txids = clear_txids.then(|| {
            (
                std::mem::take(&mut self.seen_txids),
                std::mem::take(&mut self.staged_txids),
            )
        });
        if self.recording_undo() {
            self.undo.push(Undo::Clear { state, txids });
        }
    }

    fn stage_txid(&mut self, txid: String) {
        let visible_now = self.profile.txid_seen == TxidSeen::OnApply
            || (self.profile.visibility == Visibility::PerMessage && self.snapshot_mark.is_none());
        if visible_now {
            self.seen_txids.insert(txid);
        } else {
            self.staged_txids.push(txid);
        }
    }
}

fn revert(state: &mut State, seen: &mut Txids, staged: &mut Vec<String>, step: Undo) {
    match step {
        Undo::Put {
            entity_type,
            key,
            previous: Some(v),
        } => {
            state.entry(entity_type).or_default().insert(key.into(), v);
        }
        Undo::Put {
            entity_type,
            key,
            previous: None,
        } => {
            if let Some(entities) = state.get_mut(&entity_type) {
                entities.remove(key.as_str());
            }
        }
        Undo::Clear {
            state: before,
            txids,
        } => {
            *state = before;
            if let Some((s, st)) = txids {
                *seen = s;
                *staged = st;
            }
        }
    }
}

/// Which entity a change addresses, and how.
#[derive(Clone, Copy)]
struct Target<'a> {
    entity_type: &'a str,
    key: &'a str,
    operation: Operation,
}

/// Applies an admitted change to `state`: `Some(previous value)` if it changed anything.
/// The one place an entity changes, for the sequential and the partitioned apply alike.
fn change_entity(
    state: &mut State,
    profile: &Profile,
    mutant: Option<Mutant>,
    target: Target<'_>,
    value: Option<Cow<'_, RawValue>>,
) -> Result<Option<Option<Stored>>, Rejection> {
    let Target {
        entity_type,
        key,
        operation,
    } = target;
    let null_deletes = mutant == Some(Mutant::NullValueAsDelete)
        && value.as_deref().is_some_and(|v| v.get() == "null");
    let position_rejection = |requirement, reason: &str| Rejection {
        requirement,
        path: String::new(),
        reason: reason.into(),
    };
    // What the change did to the entity: `Some(previous value)` if it changed anything.
    let changed = if operation == Operation::Delete || null_deletes {
        let removed = match mutant {
            Some(Mutant::DeletesIgnored) if operation == Operation::Delete => None,
            _ => state.get_mut(entity_type).and_then(|e| e.remove(key)),
        };
        if removed.is_none()
            && operation == Operation::Delete
            && profile.delete_missing == DeleteMissing::Reject
        {
            return Err(position_rejection(
                req::OQ_DELETE_MISSING,
                "delete of a key that holds no entity",
            ));
        }
        removed.map(Some)
    } else {
        let value: Stored = match value {
            Some(Cow::Owned(v)) => v,
            Some(Cow::Borrowed(v)) => v.to_owned(),
            None => to_raw(&Value::Null),
        };
        let merge =
            profile.update == UpdateSemantics::ShallowMerge || mutant == Some(Mutant::UpdateMerges);
        let entities = state.entry_ref(entity_type).or_default();
        match entities.get_mut(key) {
            Some(_)
                if operation == Operation::Insert
                    && profile.insert_existing == InsertExisting::Reject =>
            {
                return Err(position_rejection(
                    req::OQ_INSERT_EXISTING,
                    "insert at a key that already holds an entity",
                ));
            }
            Some(slot) => {
                let value = match merge && operation != Operation::Insert {
                    true => merged(slot, &value),
                    false => value,
                };
                Some(Some(std::mem::replace(slot, value)))
            }
            None if operation == Operation::Update
                && profile.update_missing == UpdateMissing::Reject =>
            {
                return Err(position_rejection(
                    req::OQ_UPDATE_MISSING,
                    "update of a key that holds no entity",
                ));
            }
            None => {
                entities.insert(Key::from(key), value);
                Some(None)
            }
        }
    };
    Ok(changed)
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

/// Shallow merge of `new` into `old` when both are objects; otherwise `new` replaces.
fn merged(old: &RawValue, new: &RawValue) -> Stored {
    match (from_raw(old), from_raw(new)) {
        (Value::Object(mut m), Value::Object(n)) => {
            m.extend(n);
            to_raw(&Value::Object(m))
        }
        _ => new.to_owned(),
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
mod tests {
    use super::*;
    use serde_json::json;

    fn batch(items: Value, offset: &str) -> Batch {
        let Value::Array(items) = items else {
            panic!("items must be an array")
        };
        Batch {
            items,
            offset: Some(offset.into()),
            up_to_date: true,
        }
    }

    /// The partitioned apply gives what one pass in stream order (the parsed path) gives:
    /// state, txids, offset and every diagnostic, batch after batch, under profile answers
    /// that reject by state or by schema, with and without declared collections.
    #[test]
    fn a_batch_applied_partitioned_by_type_matches_one_pass_in_order() {
        use rand::{Rng, SeedableRng};
        let collections = [
            Collection::new("users", "user", "id"),
            Collection::new("messages", "message", "id")
                .with_schema(json!({"type": "object", "required": ["id"]})),
        ];
        let presets = Profile::presets();
        let mut partitioned = 0;
        for seed in 0..400u64 {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let mut profile = presets[rng.random_range(0..presets.len())].clone();
            if rng.random_bool(0.5) {
                profile.insert_existing = InsertExisting::Reject;
                profile.update_missing = UpdateMissing::Reject;
                profile.delete_missing = DeleteMissing::Reject;
            }
            if rng.random_bool(0.3) {
                profile.update = UpdateSemantics::ShallowMerge;
            }
            profile.txid_seen = [TxidSeen::OnApply, TxidSeen::OnVisible][rng.random_range(0..2)];
            profile.visibility = [
                Visibility::PerMessage,
                Visibility::PerBatch,
                Visibility::AfterFirstUpToDate,
            ][rng.random_range(0..3)];
            let declared = rng.random_bool(0.5);
            let fresh = || {
                let m = Materializer::new(profile.clone());
                match declared {
                    true => m.with_collections(&collections).unwrap(),
                    false => m,
                }
            };
            let (mut by_value, mut by_parts) = (fresh(), fresh());
            for b in 0..3 {
                let items: Vec<Value> = (0..rng.random_range(0..60))
                    .map(|i| {
                        if rng.random_ratio(1, 80) {
                            return json!({"headers": {"control": "snapshot-start"}});
                        }
                        let t = ["user", "message", "other"][rng.random_range(0..3)];
                        let op = ["insert", "update", "delete"][rng.random_range(0..3)];
                        let mut headers = json!({"operation": op});
                        if rng.random_bool(0.3) {
                            headers["txid"] = json!(format!("t{seed}-{b}-{i}"));
                        }
                        let value = match rng.random_range(0..4) {
                            0 => json!(7),
                            1 => json!({"x": i}),
                            _ => json!({"id": "k", "n": i}),
                        };
                        let key = format!("k{}", rng.random_range(0..6));
                        json!({"type": t, "key": key, "value": value, "headers": headers})
                    })
                    .collect();
                let (offset, up_to_date) = (Some(format!("o{b}")), rng.random_bool(0.7));
                let body = Value::Array(items.clone()).to_string();
                by_value.apply_batch(Batch {
                    items,
                    offset: offset.clone(),
                    up_to_date,
                });
                let parts = vec![wire::read(&body, &by_parts.rules).unwrap()];
                if by_parts.partitionable(&parts) {
                    partitioned += 1;
                    by_parts.apply_partitioned(&parts, offset, up_to_date);
                } else {
                    let len = parts[0].len();
                    let items = parts.into_iter().flatten().map(Item::Read);
                    by_parts.apply_items(items, len, offset, up_to_date);
                }
                assert_eq!(by_value.observe(), by_parts.observe(), "seed {seed}");
            }
            assert_eq!(
                by_value.diagnostics(),
                by_parts.diagnostics(),
                "seed {seed}"
            );
        }
        assert!(partitioned > 300, "only {partitioned} batches partitioned");
    }

    #[test]
    fn spec_section_6_example_materializes_as_documented() {
        let mut m = Materializer::new(Profile::default_profile());
        m.apply_batch(batch(
            json!([
                {"type": "user", "key": "1", "value": {"name": "Alice"}, "headers": {"operation": "insert"}},
                {"type": "user", "key": "2", "value": {"name": "Bob"}, "headers": {"operation": "insert"}},
                {"type": "user", "key": "1", "value": {"name": "Alice Smith"}, "headers": {"operation": "update"}}
            ]),
            "1",
        ));
        let seen = serde_json::to_value(m.observe().state).unwrap();
        assert_eq!(
            seen,
            json!({"user": {"1": {"name": "Alice Smith"}, "2": {"name": "Bob"}}})
        );
    }

    #[test]
    fn halt_under_batch_visibility_rolls_back_the_batch() {
        let mut p = Profile::default_profile();
        p.invalid_message = InvalidMessage::Halt;
        let mut m = Materializer::new(p);
        m.apply_batch(batch(json!([{"type": "t", "key": "a", "value": 1, "headers": {"operation": "insert", "txid": "x"}}]), "1"));
        m.apply_batch(batch(
            json!([
                {"type": "t", "key": "b", "value": 2, "headers": {"operation": "insert", "txid": "y"}},
                {"headers": {"control": "reset"}},
                {"type": "t", "headers": {"operation": "insert"}}
            ]),
            "2",
        ));
        let o = m.observe();
        assert!(o.halted);
        assert_eq!(
            serde_json::to_value(&o.state).unwrap(),
            json!({"t": {"a": 1}})
        );
        assert_eq!(
            (o.txids, o.offset.as_deref()),
            (vec!["x".to_string()], Some("1"))
        );
    }

    /// Applies `batches` (items, up-to-date) under the default profile changed by `tweak`,
    /// returning the observation after each batch as `(state JSON, txids)`.
    fn run(
        tweak: impl Fn(&mut Profile),
        batches: Vec<(Value, bool)>,
    ) -> Vec<(Value, Vec<String>, Option<String>)> {
        let mut p = Profile::default_profile();
        tweak(&mut p);
        let mut m = Materializer::new(p);
        batches
            .into_iter()
            .enumerate()
            .map(|(i, (items, up_to_date))| {
                let Value::Array(items) = items else {
                    panic!("items must be an array")
                };
                m.apply_batch(Batch {
                    items,
                    offset: Some(format!("o{i}")),
                    up_to_date,
                });
                let o = m.observe();
                (serde_json::to_value(o.state).unwrap(), o.txids, o.offset)
            })
            .collect()
    }

    fn ins(key: &str, value: Value) -> Value {
        json!({"type": "t", "key": key, "value": value, "headers": {"operation": "insert"}})
    }

    fn ctl(control: &str) -> Value {
        json!({"headers": {"control": control}})
    }

    #[test]
    fn atomic_snapshot_becomes_visible_at_its_end() {
        use crate::profile::SnapshotSemantics;
        let seen = run(
            |p| p.snapshot = SnapshotSemantics::Atomic,
            vec![
                (json!([ins("old", json!(0))]), true),
                (json!([ctl("snapshot-start"), ins("a", json!(1))]), false),
                (json!([ins("b", json!(2)), ctl("snapshot-end")]), true),
            ],
        );
        assert_eq!(
            seen[1].0,
            json!({"t": {"old": 0}}),
            "hidden while the snapshot is open"
        );
        assert_eq!(seen[2].0, json!({"t": {"old": 0, "a": 1, "b": 2}}));
    }

    #[test]
    fn replace_snapshot_replaces_the_whole_state_at_its_end() {
        use crate::profile::SnapshotSemantics;
        let seen = run(
            |p| p.snapshot = SnapshotSemantics::Replace,
            vec![
                (json!([ins("old", json!(0)), ins("a", json!(0))]), true),
                (json!([ctl("snapshot-start"), ins("a", json!(1))]), false),
                (json!([ctl("snapshot-end")]), true),
            ],
        );
        assert_eq!(seen[1].0, json!({"t": {"old": 0, "a": 0}}));
        assert_eq!(seen[2].0, json!({"t": {"a": 1}}));
    }

    #[test]
    fn nothing_is_visible_before_the_first_up_to_date_batch() {
        let seen = run(
            |p| p.visibility = Visibility::AfterFirstUpToDate,
            vec![
                (json!([ins("a", json!(1))]), false),
                (json!([ins("b", json!(2))]), true),
            ],
        );
        assert_eq!(seen[0].0, json!({}));
        assert_eq!(seen[1].0, json!({"t": {"a": 1, "b": 2}}));
    }

    #[test]
    fn halt_under_message_visibility_keeps_the_applied_prefix() {
        let seen = run(
            |p| (p.visibility, p.invalid_message) = (Visibility::PerMessage, InvalidMessage::Halt),
            vec![
                (json!([ins("a", json!(1))]), true),
                (
                    json!([ins("b", json!(2)), {"type": "t"}, ins("c", json!(3))]),
                    true,
                ),
                (json!([ins("d", json!(4))]), true),
            ],
        );
        assert_eq!(seen[2].0, json!({"t": {"a": 1, "b": 2}}));
        assert_eq!(
            seen[2].2.as_deref(),
            Some("o0"),
            "a halted batch does not advance the offset"
        );
    }

    #[test]
    fn txids_on_apply_are_seen_inside_an_open_snapshot() {
        use crate::profile::SnapshotSemantics;
        let with_txid = json!({"type": "t", "key": "a", "value": 1, "headers": {"operation": "insert", "txid": "x"}});
        let on_apply = run(
            |p| (p.snapshot, p.txid_seen) = (SnapshotSemantics::Atomic, TxidSeen::OnApply),
            vec![(json!([ctl("snapshot-start"), with_txid.clone()]), false)],
        );
        let on_visible = run(
            |p| p.snapshot = SnapshotSemantics::Atomic,
            vec![(json!([ctl("snapshot-start"), with_txid]), false)],
        );
        assert_eq!(
            (on_apply[0].1.clone(), on_visible[0].1.clone()),
            (vec!["x".to_string()], vec![])
        );
    }

    #[test]
    fn reset_scope_and_offset_positions() {
        let with_txid = json!({"type": "t", "key": "a", "value": 1, "headers": {"operation": "insert", "txid": "x"}});
        let state_only = run(
            |p| p.reset = ResetScope::StateOnly,
            vec![(json!([with_txid, ctl("reset")]), true)],
        );
        assert_eq!(
            (state_only[0].0.clone(), state_only[0].1.clone()),
            (json!({}), vec!["x".to_string()])
        );
        let reset_at = json!({"headers": {"control": "reset", "offset": "r1"}});
        let go_on = run(
            |p| p.reset_offset = ResetOffset::Continue,
            vec![(json!([reset_at.clone(), ins("b", json!(2))]), true)],
        );
        assert_eq!(
            (go_on[0].0.clone(), go_on[0].2.as_deref()),
            (json!({"t": {"b": 2}}), Some("o0"))
        );
        let restart = run(|_| {}, vec![(json!([reset_at, ins("b", json!(2))]), true)]);
        assert_eq!(
            (restart[0].0.clone(), restart[0].2.as_deref()),
            (json!({}), Some("r1"))
        );
    }

    #[test]
    fn position_rejections_name_their_open_question() {
        let mut p = Profile::default_profile();
        (p.insert_existing, p.update_missing, p.delete_missing) = (
            InsertExisting::Reject,
            UpdateMissing::Reject,
            DeleteMissing::Reject,
        );
        let mut m = Materializer::new(p);
        let upd = json!({"type": "t", "key": "z", "value": 1, "headers": {"operation": "update"}});
        let del = json!({"type": "t", "key": "z", "headers": {"operation": "delete"}});
        let d = m.apply_batch(Batch {
            items: vec![ins("a", json!(1)), ins("a", json!(2)), upd, del],
            offset: None,
            up_to_date: true,
        });
        let reqs: Vec<&str> = d.iter().map(|d| d.requirement).collect();
        assert_eq!(
            reqs,
            [
                req::OQ_INSERT_EXISTING,
                req::OQ_UPDATE_MISSING,
                req::OQ_DELETE_MISSING
            ]
        );
        assert_eq!(
            serde_json::to_value(m.observe().state).unwrap(),
            json!({"t": {"a": 1}})
        );
    }

    #[test]
    fn shallow_merge_and_upsert_positions() {
        let upd = |v: Value| json!({"type": "t", "key": "a", "value": v, "headers": {"operation": "update"}});
        let upsert = |k: &str| json!({"type": "t", "key": k, "value": {"u": 1}, "headers": {"operation": "upsert"}});
        let merged = run(
            |p| (p.update, p.upsert) = (UpdateSemantics::ShallowMerge, Acceptance::Accept),
            vec![(
                json!([
                    ins("a", json!({"x": 1, "y": {"k": 1}})),
                    upd(json!({"y": {"j": 2}})),
                    upsert("a"),
                    upsert("n")
                ]),
                true,
            )],
        );
        assert_eq!(
            merged[0].0,
            json!({"t": {"a": {"x": 1, "y": {"j": 2}, "u": 1}, "n": {"u": 1}}})
        );
    }

    #[test]
    fn canonical_numbers_compare_as_json_does() {
        assert_eq!(
            canonical_value(&json!({"a": [1.0, 2.5, -0.0]})),
            json!({"a": [1, 2.5, 0]})
        );
    }
}
