//! The case model: one JSON file each under `fixtures/cases/` (format in
//! `docs/fixture-format.md`), with its expectations and their per-profile overrides.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use state_reference::client::{Live, Until};
use state_reference::{CanonicalState, Collection};

/// The tag every generated case carries.
pub const GENERATED_TAG: &str = "generated";

/// What a case exercises, and what an implementation can do (an adapter declares the modes
/// it supports as its capabilities; cases of other modes are not applicable to it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    Materialize,
    Validate,
    /// The implementation's own client reads a simulator stream while faults fire.
    Subscribe,
    /// The implementation writes through its producer helpers; the runner lints what landed.
    Produce,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Materialize => "materialize",
            Mode::Validate => "validate",
            Mode::Subscribe => "subscribe",
            Mode::Produce => "produce",
        }
    }
}

/// One step of a subscribe or produce case, run in order against a fresh simulator stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "step",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum Step {
    /// One append (a POST of these items as a JSON array).
    Append { items: Vec<Value> },
    /// Replaces the fault plan; a rule without `stream` applies to the case's stream.
    Faults {
        rules: Vec<stream_simulator::fault::Rule>,
    },
    /// A state-level or lifecycle action on the stream, now.
    Act {
        act: stream_simulator::store::Action,
    },
    /// The implementation starts reading the stream from its beginning.
    Subscribe,
    /// Forks the case's stream at its tail (PROTOCOL §4.2); every later step addresses the
    /// fork. `then_source` is appended to the source right after: the fork never holds it.
    Fork {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        then_source: Vec<Value>,
    },
    /// Waits until the simulator has answered the reader `count` requests of `kind` (with
    /// `status`, when given), at most `timeout_ms`: a gate, so that a fault lands where the
    /// case means it to on every run rather than by timing luck. An SSE connection counts
    /// once its response has started (it may stay open); other reads once answered in full.
    Requests {
        kind: stream_simulator::fault::RequestKind,
        count: usize,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_ms: Option<u64>,
    },
    /// Waits for the implementation to be up to date with the stream's tail (or to have seen
    /// `txid`), then compares its state with the reference's at the offset it reports.
    Await(AwaitStep),
    /// The implementation writes these changes.
    Produce {
        ops: Vec<state_reference::ProduceOp>,
    },
}

/// A checkpoint of a subscribe case, with its hand-written expectation. In a case file the
/// point is named by `until` (`up-to-date`, the default; `txid` with `txid`; `closed`;
/// `stopped`); an up-to-date point is the stream's tail when the step starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "AwaitStepFile", into = "AwaitStepFile")]
pub struct AwaitStep {
    pub until: Until,
    pub timeout_ms: Option<u64>,
    /// Whether the point must be reached (false: the subscription must not claim it).
    pub reached: bool,
    /// The state there, hand-written (the reference's must agree).
    pub state: Option<CanonicalState>,
    pub txids: Option<Vec<String>>,
}

impl AwaitStep {
    /// A step waiting for `until`, expected to get there, with no hand-written state.
    pub fn reaching(until: Until) -> AwaitStep {
        AwaitStep {
            until,
            timeout_ms: None,
            reached: true,
            state: None,
            txids: None,
        }
    }
}

/// How an await step is written in a case file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AwaitStepFile {
    #[serde(default)]
    until: PointName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    txid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    timeout_ms: Option<u64>,
    #[serde(default = "yes")]
    reached: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    state: Option<CanonicalState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    txids: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum PointName {
    #[default]
    UpToDate,
    Txid,
    Closed,
    Stopped,
}

impl TryFrom<AwaitStepFile> for AwaitStep {
    type Error = String;

    fn try_from(f: AwaitStepFile) -> Result<AwaitStep, String> {
        let until = match (f.until, f.txid) {
            (PointName::UpToDate, None) => Until::UpToDate { offset: None },
            (PointName::Txid, Some(txid)) => Until::Txid { txid },
            (PointName::Txid, None) => return Err("`until: txid` needs a `txid`".into()),
            (PointName::Closed, None) => Until::Closed,
            (PointName::Stopped, None) => Until::Stopped,
            (_, Some(_)) => return Err("`txid` goes with `until: txid` only".into()),
        };
        Ok(AwaitStep {
            until,
            timeout_ms: f.timeout_ms,
            reached: f.reached,
            state: f.state,
            txids: f.txids,
        })
    }
}

impl From<AwaitStep> for AwaitStepFile {
    fn from(s: AwaitStep) -> AwaitStepFile {
        let (until, txid) = match s.until {
            Until::UpToDate { .. } => (PointName::UpToDate, None),
            Until::Txid { txid } => (PointName::Txid, Some(txid)),
            Until::Closed => (PointName::Closed, None),
            Until::Stopped => (PointName::Stopped, None),
        };
        AwaitStepFile {
            until,
            txid,
            timeout_ms: s.timeout_ms,
            reached: s.reached,
            state: s.state,
            txids: s.txids,
        }
    }
}

fn yes() -> bool {
    true
}

/// How a case's outcome counts under one profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Weight {
    /// A mismatch fails the run.
    Required,
    /// The spec is silent: what happened is recorded, a mismatch does not fail.
    Informational,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchInput {
    pub items: Vec<Value>,
    pub offset: String,
    pub up_to_date: bool,
}

impl BatchInput {
    /// The batch as the reference applies it: the one conversion from a case file's batch.
    pub fn to_batch(&self) -> state_reference::Batch {
        state_reference::Batch {
            items: self.items.clone(),
            offset: Some(self.offset.clone()),
            up_to_date: self.up_to_date,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RejectedItem {
    pub batch: usize,
    pub index: usize,
    pub requirement: String,
    /// Why, in words: reported by implementations, never part of an expectation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    pub after_batch: usize,
    pub state: CanonicalState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub txids: Option<Vec<String>>,
}

/// Hand-written expectations; every field is optional so per-profile overrides can be partial.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Expectation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<CanonicalState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub txids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub halted: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected: Option<Vec<RejectedItem>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoints: Option<Vec<Checkpoint>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requirement: Option<String>,
    /// produce: the messages that must land, in order (fields a message does not name are
    /// not compared).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<Value>>,
}

impl Expectation {
    /// `self` with every field `over` sets replaced.
    fn overridden_by(&self, over: &Expectation) -> Expectation {
        Expectation {
            state: over.state.clone().or_else(|| self.state.clone()),
            txids: over.txids.clone().or_else(|| self.txids.clone()),
            offset: over.offset.clone().or_else(|| self.offset.clone()),
            halted: over.halted.or(self.halted),
            rejected: over.rejected.clone().or_else(|| self.rejected.clone()),
            checkpoints: over
                .checkpoints
                .clone()
                .or_else(|| self.checkpoints.clone()),
            valid: over.valid.or(self.valid),
            requirement: over
                .requirement
                .clone()
                .or_else(|| self.requirement.clone()),
            messages: over.messages.clone().or_else(|| self.messages.clone()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Case {
    #[serde(rename = "$schema", default, skip_serializing)]
    pub schema: Option<String>,
    pub id: String,
    pub title: String,
    /// Titles for profiles that expect otherwise than `title` says.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub title_by_profile: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub requirements: Vec<String>,
    pub level: String,
    pub tags: Vec<String>,
    pub mode: Mode,
    pub profiles: BTreeMap<String, Weight>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collections: Option<Vec<Collection>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub batches: Vec<BatchInput>,
    /// `Some(Value::Null)` when the file says `"message": null`; `None` when absent.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub message: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
    /// subscribe: how the implementation follows the stream after catching up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<Live>,
    /// subscribe and produce: what happens, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
    pub expect: Expectation,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub expect_by_profile: BTreeMap<String, Expectation>,
}

/// Every fault rule the steps install, in order.
pub fn fault_rules(steps: &[Step]) -> impl Iterator<Item = &stream_simulator::fault::Rule> {
    steps
        .iter()
        .filter_map(|s| match s {
            Step::Faults { rules } => Some(rules),
            _ => None,
        })
        .flatten()
}

/// Whether the steps' plan serves messages with `headers.offset` (a preset that refuses the
/// field then refuses the served changes; the oracle reads them so too).
pub fn serves_offsets(steps: &[Step]) -> bool {
    fault_rules(steps).any(|r| r.fault == stream_simulator::fault::Fault::ServedOffsets)
}

/// For `Option<Value>` fields where an explicit `null` differs from an absent field: with
/// `#[serde(default, deserialize_with = "present")]`, `null` reads as `Some(Value::Null)`.
pub fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// A materialize expectation with every default filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct MaterializeExpectation {
    pub state: CanonicalState,
    pub txids: Vec<String>,
    pub offset: Option<String>,
    pub halted: bool,
    pub rejected: Vec<RejectedItem>,
    pub checkpoints: Vec<Checkpoint>,
}

/// A validate expectation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidateExpectation {
    pub valid: bool,
    pub requirement: Option<String>,
}

impl Case {
    /// Where the steps are out of order, if they are: a reader reads one stream, so a `fork`
    /// (which moves every later step to the fork) comes once, before `subscribe`.
    pub fn misplaced_fork(&self) -> Option<(usize, &'static str)> {
        let (mut subscribed, mut forked) = (false, false);
        for (i, step) in self.steps.iter().enumerate() {
            match step {
                Step::Subscribe => subscribed = true,
                Step::Fork { .. } if forked => return Some((i, "a case forks its stream once")),
                Step::Fork { .. } if subscribed => {
                    return Some((i, "a fork step comes before the subscribe step"));
                }
                Step::Fork { .. } => forked = true,
                _ => {}
            }
        }
        None
    }

    /// The title under `profile`: what that profile expects.
    pub fn title_for(&self, profile: &str) -> &str {
        self.title_by_profile.get(profile).unwrap_or(&self.title)
    }

    /// The expectation under `profile`, overrides applied.
    pub fn expectation_for(&self, profile: &str) -> Expectation {
        match self.expect_by_profile.get(profile) {
            Some(over) => self.expect.overridden_by(over),
            None => self.expect.clone(),
        }
    }

    /// Materialize expectation under `profile`: txids, rejections default to none, halted to
    /// false, the offset to the last batch's (what a reader that consumed them all holds).
    pub fn materialize_expectation(&self, profile: &str) -> MaterializeExpectation {
        let e = self.expectation_for(profile);
        MaterializeExpectation {
            state: e.state.unwrap_or_default(),
            txids: e.txids.unwrap_or_default(),
            offset: e
                .offset
                .unwrap_or_else(|| self.batches.last().map(|b| b.offset.clone())),
            halted: e.halted.unwrap_or(false),
            rejected: e.rejected.unwrap_or_default(),
            checkpoints: e.checkpoints.unwrap_or_default(),
        }
    }

    pub fn validate_expectation(&self, profile: &str) -> ValidateExpectation {
        let e = self.expectation_for(profile);
        ValidateExpectation {
            valid: e.valid.unwrap_or(false),
            requirement: e.requirement,
        }
    }

    pub fn weight(&self, profile: &str) -> Option<Weight> {
        self.profiles.get(profile).copied()
    }

    /// Sets the expectations from one per profile: the default profile's (else the first) as
    /// `expect`, each other that differs from it as an override.
    pub fn set_expectations(&mut self, by_profile: Vec<(String, Expectation)>) {
        self.expect_by_profile.clear();
        let default = by_profile
            .iter()
            .find(|(n, _)| n == state_reference::profile::DEFAULT_PROFILE)
            .or(by_profile.first())
            .map(|(_, e)| e.clone())
            .unwrap_or_default();
        for (name, e) in by_profile {
            if e != default {
                self.expect_by_profile.insert(name, e);
            }
        }
        self.expect = default;
    }
}
