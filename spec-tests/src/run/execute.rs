//! Running one case under one profile through an [`Implementation`]: the same steps whether
//! it is the reference in process (the oracle) or an adapter process.

use std::time::Duration;

use state_reference::{Mutant, Profile};

use super::live;
use crate::adapter::ThroughAdapter;
use crate::adapter::implementation::{Implementation, ValidateInput};
use crate::adapter::process::{AdapterFault, AdapterProcess};
use crate::corpus::case::{Case, Mode};
use crate::judge::outcome::Outcome;
use crate::reference_adapter::Reference;

/// Runs `case` with the reference under `profile` (and, for self-tests, a mutant), in process.
pub fn run_reference(case: &Case, profile: &Profile, mutant: Option<Mutant>) -> Outcome {
    run_case(case, profile, &mut Reference::in_process(mutant)).unwrap_or_else(|fault| {
        Outcome::AdapterFault {
            reason: fault.to_string(),
            stderr_tail: String::new(),
        }
    })
}

/// Runs `case` under `profile` through an adapter process.
pub fn run_adapter(
    case: &Case,
    profile: &Profile,
    adapter: &mut AdapterProcess,
    timeout: Duration,
) -> Result<Outcome, AdapterFault> {
    run_case(case, profile, &mut ThroughAdapter { adapter, timeout })
}

/// Opens the case on `implementation` and runs it by its mode.
pub fn run_case(
    case: &Case,
    profile: &Profile,
    implementation: &mut dyn Implementation,
) -> Result<Outcome, AdapterFault> {
    implementation.open(&case.id, profile, case.collections.as_deref())?;
    match case.mode {
        Mode::Subscribe | Mode::Produce => live::run(case, profile, implementation),
        Mode::Validate => {
            let input = match (&case.raw, &case.message) {
                (Some(raw), _) => ValidateInput::Raw(raw),
                (None, Some(message)) => ValidateInput::Message(message),
                (None, None) => {
                    return Ok(Outcome::SetupError {
                        reason: "a validate case needs `message` or `raw`".into(),
                    });
                }
            };
            implementation.validate(input).map(Outcome::Validate)
        }
        Mode::Materialize => {
            let (mut after_batch, mut rejected) = (Vec::new(), Vec::new());
            for (i, batch) in case.batches.iter().enumerate() {
                rejected.extend(implementation.apply(i, batch)?);
                after_batch.push(implementation.state()?);
            }
            Ok(Outcome::Materialize {
                after_batch,
                rejected,
            })
        }
    }
}
