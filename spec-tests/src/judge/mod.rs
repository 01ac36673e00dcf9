//! Judging: an [`Outcome`] against a case's expectations under one profile gives a
//! [`Verdict`]. The hand-written expectations and the reference agree (a test holds them to
//! it), so a case run against the reference in process is also judged here.
//!
//! - [`outcome`]: what an implementation did (a leaf type).
//! - [`diff`]: differences in words.
//! - [`live`]: subscribe and produce comparisons.
//! - [`expectations`]: known-failure files.

pub mod diff;
pub mod expectations;
pub mod explain;
pub mod live;
pub mod outcome;
pub mod position;
pub mod requests;
pub mod resume;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use state_reference::Profile;

use crate::corpus::case::{Case, Mode, Weight};
use diff::first_divergent;
use outcome::{Outcome, Validated};
pub use position::Standard;

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

/// How closely to compare: the reference names the requirement behind each rejection;
/// foreign implementations are only held to *which* items they rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    WithRequirementIds,
    ItemsOnly,
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
            reason: "the reader made no catch-up request (it may open SSE at -1, which the \
                     protocol allows), so the case's catch-up fault could not fire"
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

/// A txid difference (`label: expected …, observed …`), informational when it rests on an
/// open question (`rests_on`) the standard does not hold implementations to.
pub(crate) fn txid_difference(
    label: String,
    want: &BTreeSet<&String>,
    got: &BTreeSet<&String>,
    rests_on: Option<&str>,
    standard: Standard,
    out: &mut Vec<String>,
    silent: &mut Vec<String>,
) {
    let line = format!("{label}: expected {want:?}, observed {got:?}");
    let line = match rests_on {
        Some(q) => format!(
            "{line} (kept across a reset: whether a reset clears txids is open, {q}; the profile clears them)"
        ),
        None => line,
    };
    position::file(line, rests_on, standard, out, silent);
}

/// An offset for people: `none` when there is none, quoted only when it is empty.
pub(crate) fn offset_text(offset: Option<&str>) -> String {
    match offset {
        None => "none".to_owned(),
        Some("") => "\"\" (empty)".to_owned(),
        Some(o) => o.to_owned(),
    }
}

/// A state difference, with the reference's explanation of the expected value: a difference
/// resting on an open question (an insert at an existing key) is only informational.
pub(crate) fn state_difference(
    line: String,
    why: Option<explain::Explanation>,
    out: &mut Vec<String>,
    silent: &mut Vec<String>,
) {
    match why {
        Some(explain::Explanation {
            line: why,
            open_question: Some(question),
        }) => {
            silent.push(format!(
                "{line} (the expected value rests on a question the spec leaves open, {question})"
            ));
            silent.push(why);
        }
        why => {
            out.push(line);
            out.extend(why.map(|w| w.line));
        }
    }
}

/// An unfired rule aimed at catch-up requests, in an SSE case: a reader may open SSE at the
/// beginning without any catch-up request, and the case then cannot test it.
fn skips_catch_up(case: &Case, rule: &str) -> bool {
    case.live == Some(state_reference::client::Live::Sse)
        && serde_json::from_str::<stream_simulator::fault::Rule>(rule)
            .is_ok_and(|r| r.kind == stream_simulator::fault::RequestKind::CatchUp)
}

/// Whether a subscribe case's catch-up fault could not fire because the reader never made a
/// catch-up request.
fn catch_up_never_made(case: &Case, outcome: &Outcome) -> bool {
    // A generated plan may aim at requests a scenario never makes, whoever reads it.
    if is_generated(case) {
        return false;
    }
    match outcome {
        Outcome::Subscribe { unfired, .. } => unfired.iter().any(|r| skips_catch_up(case, r)),
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
        (
            Mode::Validate,
            Outcome::Validate(Validated {
                valid,
                requirement,
                reason,
            }),
        ) => {
            let expected = case.validate_expectation(&profile.name);
            if expected.valid != *valid {
                let said = if *valid {
                    "valid".to_owned()
                } else {
                    format!("invalid ({})", reason.as_deref().unwrap_or("no reason"))
                };
                out.push(format!(
                    "expected {}, observed {said}",
                    if expected.valid { "valid" } else { "invalid" }
                ));
            } else if strictness == Strictness::WithRequirementIds
                && !expected.valid
                && expected.requirement.is_some()
                && expected.requirement != *requirement
            {
                out.push(format!(
                    "rejected for {}, expected {}",
                    requirement.as_deref().unwrap_or("no requirement"),
                    expected.requirement.as_deref().unwrap_or_default()
                ));
            }
        }
        (
            Mode::Materialize,
            Outcome::Materialize {
                after_batch,
                rejected,
            },
        ) => {
            let expected = case.materialize_expectation(&profile.name);
            let Some(last) = after_batch.last() else {
                out.push("no batch was applied".into());
                return (out, silent);
            };
            if let Some(d) = first_divergent(&expected.state, &last.state) {
                let why = explain::explain(case, profile, &d.entity_type, &d.key, None);
                state_difference(
                    format!("final state: {}", d.described),
                    why,
                    &mut out,
                    &mut silent,
                );
            }
            let items: Vec<_> = case.batches.iter().flat_map(|b| &b.items).collect();
            let before_reset = position::before_last_reset(&items);
            let txids = |label: String,
                         want: &[String],
                         got: &[String],
                         out: &mut Vec<String>,
                         silent: &mut Vec<String>| {
                let (want, got): (BTreeSet<&String>, BTreeSet<&String>) =
                    (want.iter().collect(), got.iter().collect());
                if want != got {
                    txid_difference(
                        label,
                        &want,
                        &got,
                        position::txids_kept_across_reset(before_reset, &want, &got),
                        standard,
                        out,
                        silent,
                    );
                }
            };
            txids(
                "txids".into(),
                &expected.txids,
                &last.txids,
                &mut out,
                &mut silent,
            );
            if expected.offset != last.offset {
                out.push(format!(
                    "offset: expected {}, observed {}",
                    offset_text(expected.offset.as_deref()),
                    offset_text(last.offset.as_deref())
                ));
            }
            if expected.halted != last.halted {
                out.push(format!(
                    "halted: expected {}, observed {}",
                    expected.halted, last.halted
                ));
            }
            let key = |batch, index, req: &str| match strictness {
                Strictness::WithRequirementIds => format!("batch {batch} item {index} ({req})"),
                Strictness::ItemsOnly => format!("batch {batch} item {index}"),
            };
            let want: Vec<String> = expected
                .rejected
                .iter()
                .map(|r| key(r.batch, r.index, &r.requirement))
                .collect();
            let got: Vec<String> = rejected
                .iter()
                .map(|r| key(r.batch, r.index, &r.requirement))
                .collect();
            if want != got {
                out.push(format!(
                    "rejected: expected [{}], observed [{}]",
                    want.join(", "),
                    got.join(", ")
                ));
            }
            for cp in &expected.checkpoints {
                let Some(seen) = after_batch.get(cp.after_batch) else {
                    out.push(format!(
                        "checkpoint after batch {}: no such batch",
                        cp.after_batch
                    ));
                    continue;
                };
                if let Some(d) = first_divergent(&cp.state, &seen.state) {
                    let why = explain::explain(
                        case,
                        profile,
                        &d.entity_type,
                        &d.key,
                        Some(cp.after_batch),
                    );
                    state_difference(
                        format!("state after batch {}: {}", cp.after_batch, d.described),
                        why,
                        &mut out,
                        &mut silent,
                    );
                }
                if let Some(want) = &cp.txids {
                    let label = format!("txids after batch {}", cp.after_batch);
                    txids(label, want, &seen.txids, &mut out, &mut silent);
                }
            }
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
            let unfired = unfired
                .iter()
                .filter(|r| !generated && !skips_catch_up(case, r));
            for rule in unfired {
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
