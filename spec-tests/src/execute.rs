//! Running one case under one profile against the reference, in process.
//!
//! This is the oracle side of the suite; the adapter side (a foreign implementation behind
//! the adapter protocol) produces the same [`Outcome`] shape.

use state_reference::{Batch, Materializer, Message, Mutant, Observation, ParseRules, Profile};

use crate::case::{Case, Mode, RejectedItem};

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
    /// The case could not be set up (e.g. an invalid value schema).
    SetupError { reason: String },
}

/// Runs `case` with the reference materializer under `profile` (and, for self-tests, a mutant).
pub fn run_reference(case: &Case, profile: &Profile, mutant: Option<Mutant>) -> Outcome {
    match case.mode {
        Mode::Materialize => materialize(case, profile, mutant),
        Mode::Validate => validate(case, profile, mutant),
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
