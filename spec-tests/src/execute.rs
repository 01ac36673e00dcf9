//! Running one case under one profile against the reference, in process.
//!
//! This is the oracle side of the suite; the adapter side (a foreign implementation behind
//! the adapter protocol) produces the same [`Outcome`] shape.

use std::time::Duration;

use state_reference::{Batch, Materializer, Message, Mutant, Observation, ParseRules, Profile};

use crate::adapter::process::{AdapterFault, AdapterProcess};
use crate::adapter::protocol::{Applied, Command, StateReport, Verdict};
use crate::case::{Case, Mode, RejectedItem};
use crate::live::{self, InProcess, ThroughAdapter};

/// What an implementation did with a case.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "mode", rename_all = "kebab-case")]
pub enum Outcome {
    Materialize {
        /// The observation after each batch, in order; the last one is the final state.
        after_batch: Vec<Observation>,
        rejected: Vec<RejectedItem>,
    },
    Validate {
        valid: bool,
        requirement: Option<String>,
        reason: Option<String>,
    },
    Subscribe {
        checkpoints: Vec<crate::live::CheckpointRun>,
        /// Fault rules that never fired.
        unfired: Vec<String>,
        /// The simulator's last exchanges, a line each.
        transcript: Vec<String>,
    },
    Produce {
        landed: Vec<crate::live::Landed>,
        transcript: Vec<String>,
    },
    /// The case could not be set up (e.g. an invalid value schema).
    SetupError { reason: String },
    /// The adapter failed (crashed, hung, answered garbage); its stderr tail is kept.
    AdapterFault { reason: String, stderr_tail: String },
}

/// Runs `case` with the reference materializer under `profile` (and, for self-tests, a mutant).
pub fn run_reference(case: &Case, profile: &Profile, mutant: Option<Mutant>) -> Outcome {
    match case.mode {
        Mode::Materialize => materialize(case, profile, mutant),
        Mode::Validate => validate(case, profile, mutant),
        Mode::Subscribe | Mode::Produce => {
            let mut client = InProcess::new(profile, case.collections.clone(), mutant);
            live::run(case, profile, &mut client).unwrap_or_else(|fault| Outcome::AdapterFault {
                reason: fault.to_string(),
                stderr_tail: String::new(),
            })
        }
    }
}

fn materialize(case: &Case, profile: &Profile, mutant: Option<Mutant>) -> Outcome {
    let mut m = Materializer::new(profile.clone()).with_mutant(mutant);
    if let Some(collections) = &case.collections {
        m = match m.with_collections(collections) {
            Ok(m) => m,
            Err(e) => {
                return Outcome::SetupError {
                    reason: e.to_string(),
                };
            }
        };
    }
    let mut after_batch = Vec::with_capacity(case.batches.len());
    for b in &case.batches {
        m.apply_batch(Batch {
            items: b.items.clone(),
            offset: Some(b.offset.clone()),
            up_to_date: b.up_to_date,
        });
        after_batch.push(m.observe());
    }
    let rejected = m
        .diagnostics()
        .iter()
        .map(|d| RejectedItem {
            batch: d.batch,
            index: d.index,
            requirement: d.requirement.to_owned(),
            reason: Some(format!(
                "at {}: {}",
                if d.path.is_empty() { "/" } else { &d.path },
                d.reason
            )),
        })
        .collect();
    Outcome::Materialize {
        after_batch,
        rejected,
    }
}

fn validate(case: &Case, profile: &Profile, mutant: Option<Mutant>) -> Outcome {
    let rules = ParseRules::from_profile(profile).with_mutant(mutant);
    let parsed = match (&case.raw, &case.message) {
        (Some(raw), _) => Message::parse_bytes(raw.as_bytes(), &rules),
        (None, Some(message)) => Message::parse(message.clone(), &rules),
        (None, None) => {
            return Outcome::SetupError {
                reason: "a validate case needs `message` or `raw`".into(),
            };
        }
    };
    match parsed {
        Ok(_) => Outcome::Validate {
            valid: true,
            requirement: None,
            reason: None,
        },
        Err(r) => Outcome::Validate {
            valid: false,
            requirement: Some(r.requirement.to_owned()),
            reason: Some(r.to_string()),
        },
    }
}

fn decode<T: serde::de::DeserializeOwned>(
    command: &str,
    answer: serde_json::Value,
) -> Result<T, AdapterFault> {
    serde_json::from_value(answer.clone()).map_err(|e| AdapterFault::WrongAnswer {
        command: command.into(),
        answer: format!("{answer} ({e})"),
    })
}

/// Runs `case` under `profile` through an adapter process.
pub fn run_adapter(
    case: &Case,
    profile: &str,
    adapter: &mut AdapterProcess,
    timeout: Duration,
) -> Result<Outcome, AdapterFault> {
    let collections = case.collections.clone();
    adapter.call(
        &Command::Open {
            case: case.id.clone(),
            profile: profile.into(),
            collections,
        },
        timeout,
    )?;
    match case.mode {
        Mode::Subscribe | Mode::Produce => {
            let profile = Profile::preset(profile).map_err(|e| AdapterFault::Refused {
                command: "open".into(),
                error: e.to_string(),
            })?;
            let mut client = ThroughAdapter { adapter, timeout };
            live::run(case, &profile, &mut client)
        }
        Mode::Validate => {
            let command = match &case.raw {
                Some(raw) => Command::Validate {
                    message: None,
                    raw: Some(raw.clone()),
                },
                None => Command::Validate {
                    message: case.message.clone(),
                    raw: None,
                },
            };
            let verdict: Verdict = decode("validate", adapter.call(&command, timeout)?)?;
            Ok(Outcome::Validate {
                valid: verdict.valid,
                requirement: None,
                reason: verdict.reason,
            })
        }
        Mode::Materialize => {
            let (mut after_batch, mut rejected) = (Vec::new(), Vec::new());
            for (i, b) in case.batches.iter().enumerate() {
                let apply = Command::Apply {
                    items: b.items.clone(),
                    offset: b.offset.clone(),
                    up_to_date: b.up_to_date,
                };
                let applied: Applied = decode("apply", adapter.call(&apply, timeout)?)?;
                rejected.extend(applied.rejected.into_iter().map(|r| RejectedItem {
                    batch: i,
                    index: r.index,
                    requirement: String::new(),
                    reason: Some(r.reason),
                }));
                let report: StateReport = decode("state", adapter.call(&Command::State, timeout)?)?;
                after_batch.push(report.into());
            }
            Ok(Outcome::Materialize {
                after_batch,
                rejected,
            })
        }
    }
}
