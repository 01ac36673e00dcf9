//! Expectations of a generated case, from the reference (the oracle) under every preset.

use state_reference::Profile;

use crate::corpus::case::{Case, Expectation, Mode, RejectedItem};
use crate::judge::outcome::{Outcome, Validated};
use crate::run::execute::run_reference;

/// Sets `expect` (and per-profile overrides) from the reference's outcome, for the modes
/// whose expectation is data (validate, materialize, produce); subscribe cases are judged
/// against the reference at run time.
pub fn fill_expectations(case: &mut Case) {
    case.expect = Expectation::default();
    case.expect_by_profile.clear();
    let mut by_profile: Vec<(String, Expectation)> = Vec::new();
    for name in case.profiles.keys() {
        let Ok(profile) = Profile::preset(name) else {
            continue;
        };
        let e = match case.mode {
            Mode::Subscribe => Expectation::default(),
            _ => expectation_of(&run_reference(case, &profile, None)),
        };
        by_profile.push((name.clone(), e));
    }
    let default = by_profile
        .iter()
        .find(|(n, _)| n == state_reference::profile::DEFAULT_PROFILE)
        .or(by_profile.first())
        .map(|(_, e)| e.clone())
        .unwrap_or_default();
    for (name, e) in by_profile {
        if e != default {
            case.expect_by_profile.insert(name, e);
        }
    }
    case.expect = default;
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
