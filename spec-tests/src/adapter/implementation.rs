//! The one interface every case runs through, whatever its mode: the reference in process
//! (the oracle, the reference adapter module) and any adapter process ([`ThroughAdapter`])
//! implement it, so a case is executed by the same code against both.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use state_reference::{Collection, Observation, ProduceOp, Profile};

use super::process::{AdapterFault, AdapterProcess, decode};
use super::protocol::{Applied, Awaited, Command, Live, Until, Validity};
use crate::corpus::case::{BatchInput, RejectedItem};

/// What a validate case hands the implementation: a JSON message, or text that may not be
/// JSON at all.
#[derive(Debug, Clone, Copy)]
pub enum ValidateInput<'a> {
    Message(&'a Value),
    Raw(&'a str),
}

/// A validate verdict: whether the message is valid, and (for the reference only) the
/// requirement a rejection names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validated {
    pub valid: bool,
    pub requirement: Option<String>,
    pub reason: Option<String>,
}

/// An implementation under test (or the reference), one open case at a time.
pub trait Implementation {
    /// Starts a case: fresh state under `profile`, declaring `collections` when given.
    fn open(
        &mut self,
        case: &str,
        profile: &Profile,
        collections: Option<&[Collection]>,
    ) -> Result<(), AdapterFault>;
    /// Applies batch number `index`; returns the items refused.
    fn apply(
        &mut self,
        index: usize,
        batch: &BatchInput,
    ) -> Result<Vec<RejectedItem>, AdapterFault>;
    /// The visible state now.
    fn state(&mut self) -> Result<Observation, AdapterFault>;
    fn validate(&mut self, input: ValidateInput<'_>) -> Result<Validated, AdapterFault>;
    /// Starts reading the stream at `url` from its beginning; returns at once.
    fn subscribe(&mut self, url: &str, live: Live) -> Result<(), AdapterFault>;
    /// Waits for `until`, at most `timeout`.
    fn wait(&mut self, until: &Until, timeout: Duration) -> Result<Awaited, AdapterFault>;
    /// Writes `ops` to the stream at `url`.
    fn produce(&mut self, url: &str, ops: &[ProduceOp]) -> Result<(), AdapterFault>;
}

/// An adapter process, with the longest any one non-waiting command may take.
pub struct ThroughAdapter<'a> {
    pub adapter: &'a mut AdapterProcess,
    pub timeout: Duration,
}

impl ThroughAdapter<'_> {
    fn call<T: serde::de::DeserializeOwned>(
        &mut self,
        command: &Command,
        timeout: Duration,
    ) -> Result<T, AdapterFault> {
        let answer = self.adapter.call(command, timeout)?;
        decode(command.name(), answer)
    }

    fn send(&mut self, command: &Command) -> Result<(), AdapterFault> {
        self.adapter.call(command, self.timeout).map(drop)
    }
}

impl Implementation for ThroughAdapter<'_> {
    fn open(
        &mut self,
        case: &str,
        profile: &Profile,
        collections: Option<&[Collection]>,
    ) -> Result<(), AdapterFault> {
        self.send(&Command::Open {
            case: case.into(),
            profile: profile.name.clone(),
            collections: collections.map(<[Collection]>::to_vec),
        })
    }

    fn apply(
        &mut self,
        index: usize,
        batch: &BatchInput,
    ) -> Result<Vec<RejectedItem>, AdapterFault> {
        let command = Command::Apply {
            items: batch.items.clone(),
            offset: batch.offset.clone(),
            up_to_date: batch.up_to_date,
        };
        let applied: Applied = self.call(&command, self.timeout)?;
        // Foreign implementations say why in their own words; no requirement ID is asked of them.
        Ok(applied
            .rejected
            .into_iter()
            .map(|r| RejectedItem {
                batch: index,
                index: r.index,
                requirement: String::new(),
                reason: Some(r.reason),
            })
            .collect())
    }

    fn state(&mut self) -> Result<Observation, AdapterFault> {
        self.call(&Command::State, self.timeout)
    }

    fn validate(&mut self, input: ValidateInput<'_>) -> Result<Validated, AdapterFault> {
        let command = match input {
            ValidateInput::Raw(raw) => Command::Validate {
                message: None,
                raw: Some(raw.to_owned()),
            },
            ValidateInput::Message(message) => Command::Validate {
                message: Some(message.clone()),
                raw: None,
            },
        };
        let validity: Validity = self.call(&command, self.timeout)?;
        Ok(Validated {
            valid: validity.valid,
            requirement: None,
            reason: validity.reason,
        })
    }

    fn subscribe(&mut self, url: &str, live: Live) -> Result<(), AdapterFault> {
        self.send(&Command::Subscribe {
            url: url.into(),
            live,
        })
    }

    fn wait(&mut self, until: &Until, timeout: Duration) -> Result<Awaited, AdapterFault> {
        let command = Command::Await {
            until: until.clone(),
            timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
        };
        // The adapter may use all of `timeout` before it answers.
        self.call(&command, timeout + self.timeout)
    }

    fn produce(&mut self, url: &str, ops: &[ProduceOp]) -> Result<(), AdapterFault> {
        self.send(&Command::Produce {
            url: url.into(),
            ops: ops.to_vec(),
        })
    }
}
