//! Adapter protocol v1 messages, one typed model for both sides: the runner writes
//! [`Command`]s and decodes answers; the bundled reference adapter reads commands and writes
//! [`Answer`]s. Every command has a `cmd`; every answer repeats it in `cmd` and says `ok`. A
//! failed command answers `{"cmd": ..., "ok": false, "error": "..."}`.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use state_reference::client::Progress;
use state_reference::{Collection, Observation, ProduceOp};

pub use state_reference::client::{Live, Until};

use crate::corpus::case::{Mode, present};

pub const PROTOCOL_VERSION: u32 = 1;

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

/// An implementation's name and version, as its `hello` gives them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImplementationId {
    pub name: String,
    pub version: String,
}

/// The answer to `hello`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hello {
    pub protocol: u32,
    pub implementation: ImplementationId,
    /// The modes the implementation supports; cases of other modes are not applicable.
    pub capabilities: Vec<Mode>,
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

/// The answer to `validate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Validity {
    pub valid: bool,
    #[serde(default)]
    pub reason: Option<String>,
}

/// The answer to `await`: whether the point was reached, and where the subscription is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Awaited {
    pub reached: bool,
    #[serde(flatten)]
    pub progress: Progress,
}

/// The answer to `produce`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Produced {
    pub written: usize,
}

/// What a successful answer carries besides `cmd` and `ok` (the `state` answer is an
/// [`Observation`]; `open`, `subscribe` and `bye` carry nothing).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Answer {
    Hello(Hello),
    Applied(Applied),
    State(Observation),
    Validity(Validity),
    Awaited(Awaited),
    Produced(Produced),
    Done {},
}

/// The line an adapter writes for `cmd`'s answer, or for its refusal.
pub fn answer_line(cmd: &str, answer: Result<Answer, String>) -> String {
    let mut line = match answer {
        Ok(answer) => serde_json::to_value(answer).unwrap_or_else(|_| serde_json::json!({})),
        Err(error) => serde_json::json!({"error": error}),
    };
    let ok = line.get("error").is_none();
    if let Some(fields) = line.as_object_mut() {
        fields.insert("cmd".into(), cmd.into());
        fields.insert("ok".into(), ok.into());
    }
    line.to_string()
}
