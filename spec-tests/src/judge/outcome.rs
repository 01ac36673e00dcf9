//! What an implementation did with a case: a leaf type, produced by `run` (against the
//! reference or an adapter) and read by the judge, the reports and repro bundles.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use state_reference::Observation;

pub use crate::adapter::implementation::Validated;
use crate::adapter::protocol::Awaited;
use crate::corpus::case::RejectedItem;

/// Field names are camelCase like the rest of the report; the snake_case names of report
/// format 2 and older bundles still read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "mode",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase"
)]
pub enum Outcome {
    Materialize {
        /// The observation after each batch, in order; the last one is the final state.
        #[serde(alias = "after_batch")]
        after_batch: Vec<Observation>,
        rejected: Vec<RejectedItem>,
    },
    Validate(Validated),
    Subscribe {
        checkpoints: Vec<CheckpointRun>,
        /// Fault rules that never fired (in reports: each rule's JSON text, as format 3 has it).
        #[serde(with = "rules_as_text")]
        unfired: Vec<stream_simulator::fault::Rule>,
        /// Base-protocol rules the reader's own requests broke, seen in the transcript
        /// (judged where a case cites the rule).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        requests: Vec<RequestViolation>,
        /// The simulator's last exchanges, a line each.
        transcript: Vec<String>,
    },
    Produce {
        landed: Vec<Landed>,
        transcript: Vec<String>,
    },
    /// The case could not be set up (the runner's side: a simulator that did not start, a
    /// stream that could not be created).
    SetupError {
        reason: String,
    },
    /// The adapter failed (crashed, hung, answered garbage); its stderr tail is kept.
    AdapterFault {
        reason: String,
        #[serde(alias = "stderr_tail")]
        stderr_tail: String,
    },
}

impl Outcome {
    /// The simulator's last exchanges, for live cases.
    pub fn transcript(&self) -> &[String] {
        match self {
            Outcome::Subscribe { transcript, .. } | Outcome::Produce { transcript, .. } => {
                transcript
            }
            _ => &[],
        }
    }

    /// Whether the implementation or the runner broke, rather than answered.
    pub fn errored(&self) -> bool {
        matches!(
            self,
            Outcome::SetupError { .. } | Outcome::AdapterFault { .. }
        )
    }
}

/// A checkpoint as run: what the implementation said and what the reference holds there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckpointRun {
    /// The step's index in the case.
    pub step: usize,
    pub answer: Awaited,
    /// The stream's tail when the answer came (absent once the stream is gone).
    pub tail: Option<String>,
    /// Set when the await ended before its timeout, the point not reached, because the
    /// simulator saw the reader stall or stop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_early: Option<EndedEarly>,
    /// The reference's observation at the reported offset, or why there is none. Taken when
    /// the answer came, since the stream goes on changing (appends, compaction, deletion).
    /// Written `{"observed": …}` or `{"unavailable": "why"}`.
    #[serde(with = "reference_at")]
    pub reference: Result<Observation, String>,
}

/// What the simulator saw a reader do that ended an await early.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndedEarly {
    pub reader: Idle,
    /// What it was sent and when, what it asked for last, and what it reports.
    pub detail: String,
}

/// How a reader that has not reached a checkpoint is not getting there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Idle {
    /// It was sent the point, and its reported progress does not move.
    Stalled,
    /// It has no read open and has asked for nothing for longer than a reader waits.
    Stopped,
}

impl std::fmt::Display for Idle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Idle::Stalled => "stalled",
            Idle::Stopped => "stopped",
        })
    }
}

/// `Result<Observation, String>` in the report's own words (report format 2 wrote serde's
/// `Ok`/`Err`, which still read).
mod reference_at {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use state_reference::Observation;

    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    enum ReferenceAt {
        #[serde(alias = "Ok")]
        Observed(Observation),
        #[serde(alias = "Err")]
        Unavailable(String),
    }

    pub fn serialize<S: Serializer>(
        value: &Result<Observation, String>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Ok(o) => ReferenceAt::Observed(o.clone()),
            Err(e) => ReferenceAt::Unavailable(e.clone()),
        }
        .serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Result<Observation, String>, D::Error> {
        Ok(match ReferenceAt::deserialize(deserializer)? {
            ReferenceAt::Observed(o) => Ok(o),
            ReferenceAt::Unavailable(e) => Err(e),
        })
    }
}

/// A rule a reader's request broke, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestViolation {
    pub requirement: String,
    pub detail: String,
    /// How the judge takes it (absent in reports before it existed: cited).
    #[serde(default, skip_serializing_if = "RequestClass::is_cited")]
    pub class: RequestClass,
}

impl RequestViolation {
    /// A violation judged where a case cites its requirement.
    pub fn cited(requirement: &str, detail: String) -> RequestViolation {
        RequestViolation {
            requirement: requirement.into(),
            detail,
            class: RequestClass::Cited,
        }
    }
}

/// How the judge takes a request violation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RequestClass {
    /// Fails a case that cites its requirement.
    #[default]
    Cited,
    /// The reader gave up at a 5xx or 429 answer: the checkpoints it then misses rest on an
    /// open question (see `judge::position`).
    GaveUp,
    /// Recorded in every case, never failed (a reconnect storm).
    Recorded,
    /// Fails every case: a MUST every read is held to (where it resumes, its cursor).
    Every,
}

impl RequestClass {
    fn is_cited(&self) -> bool {
        *self == RequestClass::Cited
    }
}

/// One message that landed in a produce case, with the reference's verdict on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Landed {
    pub message: Value,
    /// `REQUIREMENT: reason` when the message is invalid under the profile, as written.
    pub invalid: Option<String>,
}

/// Fault rules in a report: each as its JSON text (report format 3), typed in memory.
mod rules_as_text {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use stream_simulator::fault::Rule;

    pub fn serialize<S: Serializer>(rules: &[Rule], s: S) -> Result<S::Ok, S::Error> {
        let texts: Result<Vec<String>, _> = rules.iter().map(serde_json::to_string).collect();
        texts.map_err(serde::ser::Error::custom)?.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Rule>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|t| serde_json::from_str(t).map_err(serde::de::Error::custom))
            .collect()
    }
}
