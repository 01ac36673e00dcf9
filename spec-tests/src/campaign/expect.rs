//! Expectations of a generated case, from the reference (the oracle) under every preset.

use state_reference::Profile;

use crate::corpus::case::{Case, Expectation, Mode, RejectedItem};
use crate::judge::outcome::{Outcome, Validated};
use crate::run::execute::run_reference;

/// Sets `expect` (and per-profile overrides) from the reference's outcome, for the modes
/// whose expectation is data (validate, materialize, produce); subscribe cases are judged
/// against the reference at run time.
pub fn fill_expectations(case: &mut Case) {
    let by_profile: Vec<(String, Expectation)> = case
        .profiles
        .keys()
        .filter_map(|name| {
            let profile = Profile::preset(name).ok()?;
            let e = match case.mode {
                Mode::Subscribe => Expectation::default(),
                _ => expectation_of(&run_reference(case, &profile, None)),
            };
            Some((name.clone(), e))
        })
        .collect();
    case.set_expectations(by_profile);
}

fn expectation_of(outcome: &Outcome) -> Expectation {
    match outcome {
        Outcome::Materialize {
            after_batch,
            rejected,
        } => {
            let last = after_batch.last().cloned().unwrap_or_default();
            Expectation {
                state: Some(last.state),
                txids: Some(last.txids),
                offset: Some(last.offset),
                halted: Some(last.halted),
                rejected: Some(
                    rejected
                        .iter()
                        .map(|r| RejectedItem {
                            reason: None,
                            ..r.clone()
                        })
                        .collect(),
                ),
                ..Expectation::default()
            }
        }
        Outcome::Validate(Validated {
            valid, requirement, ..
        }) => Expectation {
            valid: Some(*valid),
            requirement: requirement.clone(),
            ..Expectation::default()
        },
        Outcome::Produce { landed, .. } => Expectation {
            messages: Some(landed.iter().map(|l| l.message.clone()).collect()),
            ..Expectation::default()
        },
        _ => Expectation::default(),
    }
}
