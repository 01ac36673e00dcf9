//! Conformance cases: one JSON file each under `fixtures/cases/`, checked against
//! `fixtures/case.schema.json` and the requirements catalogue when loaded.
//!
//! The format is documented in `docs/fixture-format.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use state_reference::{Collection, Profile};

use crate::catalogue::Catalogue;
use crate::error::LoadError;

const CASE_SCHEMA: &str = include_str!("../../fixtures/case.schema.json");

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
    /// Waits for the implementation to be up to date with the stream's tail (or to have seen
    /// `txid`), then compares its state with the reference's at the offset it reports.
    Await(AwaitStep),
    /// The implementation writes these changes.
    Produce {
        ops: Vec<crate::adapter::protocol::ProduceOp>,
    },
}

/// What an `await` step waits for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AwaitPoint {
    /// Up to date with the stream's tail as it is when the step starts.
    #[default]
    UpToDate,
    /// The step's `txid` has been seen.
    Txid,
    /// The end of a closed stream has been read.
    Closed,
    /// The subscription stopped on an error.
    Stopped,
}

/// A checkpoint of a subscribe case, with its hand-written expectation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AwaitStep {
    #[serde(default)]
    pub until: AwaitPoint,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub txid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Whether the point must be reached (false: the subscription must not claim it).
    #[serde(default = "yes")]
    pub reached: bool,
    /// The state there, hand-written (the reference's must agree).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<BTreeMap<String, BTreeMap<String, Value>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub txids: Option<Vec<String>>,
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
    pub state: BTreeMap<String, BTreeMap<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub txids: Option<Vec<String>>,
}

/// Hand-written expectations; every field is optional so per-profile overrides can be partial.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Expectation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<BTreeMap<String, BTreeMap<String, Value>>>,
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
    pub live: Option<crate::client::Live>,
    /// subscribe and produce: what happens, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
    pub expect: Expectation,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub expect_by_profile: BTreeMap<String, Expectation>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// A materialize expectation with every default filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct MaterializeExpectation {
    pub state: BTreeMap<String, BTreeMap<String, Value>>,
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
}

/// Every case of a corpus, sorted by ID.
#[derive(Debug, Clone)]
pub struct Corpus {
    pub cases: Vec<Case>,
}

impl Corpus {
    /// Loads `dir/*.json`, checking each file against the case schema, its file name, the
    /// catalogue's requirement IDs, the known profiles and the tombstoned IDs.
    pub fn load(
        dir: &Path,
        catalogue: &Catalogue,
        tombstones: &BTreeSet<String>,
    ) -> Result<Corpus, LoadError> {
        let schema = case_schema();
        let entries = std::fs::read_dir(dir).map_err(|e| LoadError::io(dir, e))?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        paths.sort();
        let profiles = Profile::preset_names();
        let mut cases = Vec::with_capacity(paths.len());
        for path in paths {
            let case = load_case(&path, schema)?;
            for (i, id) in case.requirements.iter().enumerate() {
                if catalogue.get(id).is_none() {
                    return Err(LoadError::invalid(
                        &path,
                        format!("/requirements/{i}"),
                        format!("unknown requirement {id}"),
                    ));
                }
            }
            for profile in case.profiles.keys().chain(case.expect_by_profile.keys()) {
                if !profiles.contains(&profile.as_str()) {
                    return Err(LoadError::invalid(
                        &path,
                        "/profiles",
                        format!("unknown profile {profile}"),
                    ));
                }
            }
            if tombstones.contains(&case.id) {
                return Err(LoadError::invalid(
                    &path,
                    "/id",
                    format!("{} is tombstoned and may not be reused", case.id),
                ));
            }
            cases.push(case);
        }
        Ok(Corpus { cases })
    }

    pub fn get(&self, id: &str) -> Option<&Case> {
        self.cases.iter().find(|c| c.id == id)
    }
}

/// The case schema, compiled.
fn case_schema() -> &'static jsonschema::Validator {
    static SCHEMA: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    SCHEMA.get_or_init(|| {
        let json: Value = serde_json::from_str(CASE_SCHEMA).expect("embedded case schema is JSON");
        state_reference::schema::compile(&json).expect("embedded case schema compiles")
    })
}

/// A case from JSON that may come from anywhere (a bundle, an exported corpus): checked
/// against the case schema, then read.
pub fn check_case_value(value: &Value) -> Result<Case, String> {
    if let Some(error) = case_schema().iter_errors(value).next() {
        return Err(format!("at {}: {error}", error.instance_path()));
    }
    serde_json::from_value(value.clone()).map_err(|e| e.to_string())
}

fn load_case(path: &Path, schema: &jsonschema::Validator) -> Result<Case, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|e| LoadError::io(path, e))?;
    let value: Value = serde_json::from_str(&text).map_err(|e| LoadError::json(path, e))?;
    if let Some(error) = schema.iter_errors(&value).next() {
        return Err(LoadError::invalid(
            path,
            error.instance_path().to_string(),
            error.to_string(),
        ));
    }
    let case: Case = serde_json::from_value(value).map_err(|e| LoadError::json(path, e))?;
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    if case.id != stem {
        return Err(LoadError::invalid(
            path,
            "/id",
            format!("id {:?} does not match the file name {stem:?}", case.id),
        ));
    }
    Ok(case)
}

/// Loads `fixtures/tombstones.json`: IDs of removed cases, never to be reused.
pub fn load_tombstones(path: &Path) -> Result<BTreeSet<String>, LoadError> {
    #[derive(Deserialize)]
    struct Tombstones {
        tombstones: Vec<Tombstone>,
    }
    #[derive(Deserialize)]
    struct Tombstone {
        id: String,
    }
    let text = std::fs::read_to_string(path).map_err(|e| LoadError::io(path, e))?;
    let file: Tombstones = serde_json::from_str(&text).map_err(|e| LoadError::json(path, e))?;
    Ok(file.tombstones.into_iter().map(|t| t.id).collect())
}
