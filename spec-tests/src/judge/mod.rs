//! Judging: an [`Outcome`] against a case's expectations under one profile gives a
//! [`Verdict`]. The hand-written expectations and the reference agree (a test holds them to
//! it), so a case run against the reference in process is also judged here.
//!
//! - `outcome`: what an implementation did (a leaf type).
//! - `diff`: differences (and offsets) in words; `strictness`: how closely to compare.
//! - `validate`, `materialize`, `live`: the comparisons, one per mode (live: subscribe and
//!   produce); `resume` and `requests`: the rules a reader's requests are held to.
//! - `position`: whether a difference fails or is recorded (open questions, `--standard`).
//! - `explain`: the message and rule behind the reference's value at a type/key.
//! - `expectations`: known-failure files.
//!
//! Each comparison imports only its siblings, never this module (no parent/child loop).

pub(crate) mod diff;
pub(crate) mod expectations;
pub(crate) mod explain;
pub(crate) mod live;
mod materialize;
pub(crate) mod outcome;
pub(crate) mod position;
pub(crate) mod requests;
pub(crate) mod resume;
pub(crate) mod strictness;
mod validate;

pub use expectations::Expectations;

use serde::{Deserialize, Serialize};

use state_reference::Profile;

use crate::corpus::case::{Case, Mode, Weight};
pub use outcome::Outcome;
pub use position::Standard;
pub use strictness::Strictness;

/// One case run under one profile.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseResult {
    pub case: String,
    pub profile: String,
    pub weight: Weight,
    #[serde(flatten)]
    pub verdict: Verdict,
    pub outcome: Outcome,
    /// Wall time of the run, adapter start-up included when it happened for this case
    /// (0 in reports older than format 3).
    #[serde(default)]
    pub duration_ms: u64,
}

impl CaseResult {
    pub fn new(
        case: &Case,
        profile: &state_reference::Profile,
        weight: Weight,
        outcome: Outcome,
        verdict: Verdict,
    ) -> CaseResult {
        CaseResult {
            case: case.id.clone(),
            profile: profile.name.clone(),
            weight,
            verdict,
            outcome,
            duration_ms: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    Pass,
    /// A required expectation was not met.
    Fail {
        mismatches: Vec<String>,
    },
    /// A required case could not be judged: the adapter broke (crashed, hung, answered
    /// garbage, refused a command) or the runner could not set the case up.
    Errored {
        mismatches: Vec<String>,
    },
    /// The spec is silent and the implementation chose differently from the profile: recorded.
    Informational {
        mismatches: Vec<String>,
    },
    /// The implementation lacks a capability the case needs.
    NotApplicable {
        reason: String,
    },
    /// A failure listed in the expectations file, with its reason.
    ExpectedFailure {
        reason: String,
        mismatches: Vec<String>,
    },
    /// Listed in the expectations file, but it passed: the list is out of date.
    StaleExpectation {
        reason: String,
    },
}

impl Verdict {
    /// A required case the implementation did not pass: failed or errored.
    pub fn is_failure(&self) -> bool {
        matches!(self, Verdict::Fail { .. } | Verdict::Errored { .. })
    }

    /// Whether this verdict fails a run (unexpected failures, errors, stale expectations).
    pub fn fails_run(&self) -> bool {
        self.is_failure() || matches!(self, Verdict::StaleExpectation { .. })
    }

    /// What went wrong, for failed, errored, informational and expected-failure verdicts.
    pub fn mismatches(&self) -> &[String] {
        match self {
            Verdict::Fail { mismatches }
            | Verdict::Errored { mismatches }
            | Verdict::Informational { mismatches }
            | Verdict::ExpectedFailure { mismatches, .. } => mismatches,
            _ => &[],
        }
    }
}

pub fn judge(
    case: &Case,
    profile: &Profile,
    outcome: &Outcome,
    strictness: Strictness,
    standard: Standard,
) -> Verdict {
    let (required, silent) = differences(case, profile, outcome, strictness, standard);
    // Differences only on what the spec leaves open are recorded, never failed.
    if required.is_empty() && !silent.is_empty() {
        return Verdict::Informational { mismatches: silent };
    }
    let mismatches = [required, silent].concat();
    match (
        mismatches.is_empty(),
        position::weight(case, &profile.name, standard),
    ) {
        (true, _) if catch_up_never_made(case, outcome) => Verdict::NotApplicable {
            reason: "the reader did not make the catch-up request the case's fault is aimed at \
                     (it may read live instead: by SSE at any offset, or by long-poll from the \
                     beginning, which the protocol allows), so that fault could not fire"
                .into(),
        },
        (true, _) => Verdict::Pass,
        (false, Some(Weight::Informational)) => Verdict::Informational { mismatches },
        (false, _) if outcome.errored() => Verdict::Errored { mismatches },
        (false, _) => Verdict::Fail { mismatches },
    }
}

fn is_generated(case: &Case) -> bool {
    case.tags
        .iter()
        .any(|t| t == crate::corpus::case::GENERATED_TAG)
}

/// An unfired rule aimed at catch-up requests that a reader may have had no reason to make:
/// an SSE reader may open SSE at any offset without a catch-up request, and a long-poll reader
/// may long-poll from the beginning (the server answers at once while data is there:
/// PROTOCOL 5.7): when a rule aimed at its first catch-up request did not fire (`unfired`), it
/// made none, and no catch-up rule on that stream could fire. A long-poll reader that did
/// catch up but did not make a later catch-up request (after a reset naming an offset, say) is
/// still held to the case.
fn skips_catch_up(
    case: &Case,
    rule: &stream_simulator::fault::Rule,
    unfired: &[stream_simulator::fault::Rule],
) -> bool {
    use state_reference::client::Live;
    use stream_simulator::fault::RequestKind::CatchUp;
    let none_made = || {
        unfired
            .iter()
            .any(|r| r.kind == CatchUp && r.nth <= 1 && r.stream == rule.stream)
    };
    match case.live {
        Some(Live::Sse) => rule.kind == CatchUp,
        Some(Live::LongPoll | Live::Auto) => rule.kind == CatchUp && none_made(),
        _ => false,
    }
}

/// Whether a subscribe case's catch-up fault could not fire because the reader never made a
/// catch-up request.
fn catch_up_never_made(case: &Case, outcome: &Outcome) -> bool {
    // A generated plan may aim at requests a scenario never makes, whoever reads it.
    if is_generated(case) {
        return false;
    }
    match outcome {
        Outcome::Subscribe { unfired, .. } => {
            unfired.iter().any(|r| skips_catch_up(case, r, unfired))
        }
        _ => false,
    }
}

/// Every way the outcome differs from the expectation, in words; empty when it matches.
pub fn mismatches(
    case: &Case,
    profile: &Profile,
    outcome: &Outcome,
    strictness: Strictness,
    standard: Standard,
) -> Vec<String> {
    let (required, silent) = differences(case, profile, outcome, strictness, standard);
    [required, silent].concat()
}

/// The differences a verdict rests on, and those only on questions the spec leaves open
/// (which make a case informational at most).
fn differences(
    case: &Case,
    profile: &Profile,
    outcome: &Outcome,
    strictness: Strictness,
    standard: Standard,
) -> (Vec<String>, Vec<String>) {
    let (mut out, mut silent) = (Vec::new(), Vec::new());
    match (case.mode, outcome) {
        (_, Outcome::SetupError { reason }) => {
            out.push(format!("case could not be set up: {reason}"));
        }
        (
            _,
            Outcome::AdapterFault {
                reason,
                stderr_tail,
            },
        ) => {
            out.push(reason.clone());
            if !stderr_tail.is_empty() {
                out.push(format!("adapter stderr (last lines):\n{stderr_tail}"));
            }
        }
        (Mode::Validate, Outcome::Validate(validated)) => {
            validate::differences(case, profile, validated, strictness, &mut out);
        }
        (
            Mode::Materialize,
            Outcome::Materialize {
                after_batch,
                rejected,
            },
        ) => {
            let how = (strictness, standard);
            materialize::differences(
                case,
                profile,
                (after_batch, rejected),
                how,
                &mut out,
                &mut silent,
            );
        }
        (
            Mode::Subscribe,
            Outcome::Subscribe {
                checkpoints,
                unfired,
                requests,
                ..
            },
        ) => {
            live::subscribe_mismatches(
                case,
                profile,
                checkpoints,
                requests::gave_up(requests),
                (strictness, standard),
                &mut out,
                &mut silent,
            );
            // A case answers for the request rules it cites.
            for v in requests
                .iter()
                .filter(|v| v.class == outcome::RequestClass::Cited)
                .filter(|v| case.requirements.contains(&v.requirement))
            {
                out.push(format!("{}: {}", v.requirement, v.detail));
            }
            for v in requests
                .iter()
                .filter(|v| v.class == outcome::RequestClass::Every)
            {
                out.push(format!("{}: {}", v.requirement, v.detail));
            }
            for v in requests
                .iter()
                .filter(|v| v.class == outcome::RequestClass::Recorded)
            {
                silent.push(format!("{}: {}", v.requirement, v.detail));
            }
            // A generated plan may aim at a request the scenario never makes: not a failure.
            let generated = is_generated(case);
            let kept = unfired
                .iter()
                .filter(|r| !generated && !skips_catch_up(case, r, unfired));
            for rule in kept {
                let rule = serde_json::to_string(rule).unwrap_or_default();
                out.push(format!(
                    "the fault {rule} never fired: the reader never made the request it targets"
                ));
            }
        }
        (Mode::Produce, Outcome::Produce { landed, .. }) => {
            live::produce_mismatches(case, profile, landed, &mut out);
        }
        (mode, _) => out.push(format!("outcome does not match the case's mode {mode:?}")),
    }
    (out, silent)
}

#[cfg(test)]
mod tests;
