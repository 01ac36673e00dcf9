//! Adapter protocol v1 messages. Every command has a `cmd`; every answer repeats it in `cmd`
//! and says `ok`. A failed command answers `{"cmd": ..., "ok": false, "error": "..."}`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use state_reference::{Collection, Observation};

pub use crate::client::{Live, Until};

pub const PROTOCOL_VERSION: u32 = 1;

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// A runner-to-adapter command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "cmd",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase"
)]
pub enum Command {
    /// First command of every session.
    Hello { protocol: u32, suite: String },
    /// Starts a case: fresh state, the profile to follow, and the consumer's collections
    /// (absent: the consumer declares none and expects every type).
    Open {
        case: String,
        profile: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        collections: Option<Vec<Collection>>,
    },
    /// One batch: the raw items of a read, its next offset and up-to-date flag.
    Apply {
        items: Vec<Value>,
        offset: String,
        up_to_date: bool,
    },
    /// The visible state now.
    State,
    /// Judges one message (`message`), or one text that may not be JSON (`raw`).
    Validate {
        /// `Some(null)` is the message `null`; absent means `raw` is given.
        #[serde(
            default,
            deserialize_with = "present",
            skip_serializing_if = "Option::is_none"
        )]
        message: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        raw: Option<String>,
    },
    /// Starts the implementation's own client reading the stream at `url` from its
    /// beginning, into the open case's state; answers at once.
    Subscribe { url: String, live: Live },
    /// Waits until the subscription reaches a point, stops on an error, or `timeout_ms` passes.
    Await {
        #[serde(flatten)]
        until: Until,
        timeout_ms: u64,
    },
    /// Writes `ops` to the stream at `url` through the implementation's producer helpers.
    Produce { url: String, ops: Vec<ProduceOp> },
    /// Last command; the adapter exits after answering.
    Bye,
}

/// One change a producer writes: the collection (by name), the operation, and what it needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProduceOp {
    pub collection: String,
    pub op: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_value: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub txid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
}

impl Command {
    pub fn name(&self) -> &'static str {
        match self {
            Command::Hello { .. } => "hello",
            Command::Open { .. } => "open",
            Command::Apply { .. } => "apply",
            Command::State => "state",
            Command::Validate { .. } => "validate",
            Command::Subscribe { .. } => "subscribe",
            Command::Await { .. } => "await",
            Command::Produce { .. } => "produce",
            Command::Bye => "bye",
        }
    }
}

/// What the adapter can do; cases needing something else are not applicable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    Materialize,
    Validate,
    Subscribe,
    Produce,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Implementation {
    pub name: String,
    pub version: String,
}

/// The answer to `hello`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hello {
    pub protocol: u32,
    pub implementation: Implementation,
    pub capabilities: Vec<Capability>,
    /// Profiles the implementation means to follow (informative).
    #[serde(default)]
    pub profiles: Vec<String>,
}

/// One item an implementation refused, and why in its own words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refused {
    pub index: usize,
    pub reason: String,
}

/// The answer to `apply`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Applied {
    pub rejected: Vec<Refused>,
}

/// The answer to `state`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateReport {
    pub state: BTreeMap<String, BTreeMap<String, Value>>,
    #[serde(default)]
    pub txids: Vec<String>,
    #[serde(default)]
    pub offset: Option<String>,
    #[serde(default)]
    pub halted: bool,
}

impl From<Observation> for StateReport {
    fn from(o: Observation) -> Self {
        StateReport {
            state: o.state,
            txids: o.txids,
            offset: o.offset,
            halted: o.halted,
        }
    }
}

impl From<StateReport> for Observation {
    fn from(r: StateReport) -> Self {
        Observation {
            state: r.state,
            txids: r.txids,
            offset: r.offset,
            halted: r.halted,
        }
    }
}

/// The answer to `validate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub valid: bool,
    #[serde(default)]
    pub reason: Option<String>,
}

/// The answer to `await`: whether the point was reached, and where the subscription is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Awaited {
    pub reached: bool,
    #[serde(default)]
    pub up_to_date: bool,
    #[serde(default)]
    pub closed: bool,
    /// The state, txids, committed offset and halt flag, as `state` reports them.
    #[serde(flatten)]
    pub report: StateReport,
    /// Why the subscription stopped, in the implementation's words (absent while it runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
}
