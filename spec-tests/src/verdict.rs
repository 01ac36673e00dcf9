//! Comparing an outcome with a case's hand-written expectation.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;
use state_reference::materializer::canonical_value;

use crate::case::{AwaitPoint, Case, Mode, Step, Weight};
use crate::execute::Outcome;
use crate::live::{CheckpointRun, Landed};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    Pass,
    /// A required expectation was not met.
    Fail {
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
    pub fn is_failure(&self) -> bool {
        matches!(self, Verdict::Fail { .. })
    }

    /// Whether this verdict fails a run (unexpected failures and stale expectations).
    pub fn fails_run(&self) -> bool {
        matches!(
            self,
            Verdict::Fail { .. } | Verdict::StaleExpectation { .. }
        )
    }
}

/// How closely to compare: the reference names the requirement behind each rejection;
/// foreign implementations are only held to *which* items they rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    WithRequirementIds,
    ItemsOnly,
}

pub fn judge(case: &Case, profile: &str, outcome: &Outcome, strictness: Strictness) -> Verdict {
    let mismatches = mismatches(case, profile, outcome, strictness);
    match (mismatches.is_empty(), case.weight(profile)) {
        (true, _) => Verdict::Pass,
        (false, Some(Weight::Informational)) => Verdict::Informational { mismatches },
        (false, _) => Verdict::Fail { mismatches },
    }
}

/// Every way the outcome differs from the expectation, in words; empty when it matches.
pub fn mismatches(
    case: &Case,
    profile: &str,
    outcome: &Outcome,
    strictness: Strictness,
) -> Vec<String> {
    let mut out = Vec::new();
    match (case.mode, outcome) {
        (_, Outcome::SetupError { reason }) => {
            out.push(format!("case could not be set up: {reason}"))
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
            Outcome::Validate {
                valid,
                requirement,
                reason,
            },
        ) => {
            let expected = case.validate_expectation(profile);
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
            let expected = case.materialize_expectation(profile);
            let Some(last) = after_batch.last() else {
                out.push("no batch was applied".into());
                return out;
            };
            if let Some(d) = first_divergence(&expected.state, &last.state) {
                out.push(format!("final state: {d}"));
            }
            let observed_txids: BTreeSet<&String> = last.txids.iter().collect();
            let expected_txids: BTreeSet<&String> = expected.txids.iter().collect();
            if observed_txids != expected_txids {
                out.push(format!(
                    "txids: expected {expected_txids:?}, observed {observed_txids:?}"
                ));
            }
            if expected.offset != last.offset {
                out.push(format!(
                    "offset: expected {:?}, observed {:?}",
                    expected.offset, last.offset
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
                if let Some(d) = first_divergence(&cp.state, &seen.state) {
                    out.push(format!("state after batch {}: {d}", cp.after_batch));
                }
                if let Some(txids) = &cp.txids {
                    let want: BTreeSet<&String> = txids.iter().collect();
                    let got: BTreeSet<&String> = seen.txids.iter().collect();
                    if want != got {
                        out.push(format!(
                            "txids after batch {}: expected {want:?}, observed {got:?}",
                            cp.after_batch
                        ));
                    }
                }
            }
        }
        (
            Mode::Subscribe,
            Outcome::Subscribe {
                checkpoints,
                unfired,
                ..
            },
        ) => {
            subscribe_mismatches(case, checkpoints, strictness, &mut out);
            // A generated plan may aim at a request the scenario never makes: not a failure.
            let generated = case
                .tags
                .iter()
                .any(|t| t == crate::generate::GENERATED_TAG);
            for rule in unfired.iter().filter(|_| !generated) {
                out.push(format!(
                    "the fault {rule} never fired: the reader never made the request it targets"
                ));
            }
        }
        (Mode::Produce, Outcome::Produce { landed, .. }) => {
            produce_mismatches(case, profile, landed, &mut out)
        }
        (mode, _) => out.push(format!("outcome does not match the case's mode {mode:?}")),
    }
    out
}

type StateMap = BTreeMap<String, BTreeMap<String, Value>>;

/// The first type/key (in sorted order) where two states differ, described for a human.
pub fn first_divergence(expected: &StateMap, observed: &StateMap) -> Option<String> {
    let types: BTreeSet<&String> = expected.keys().chain(observed.keys()).collect();
    for t in types {
        let empty = BTreeMap::new();
        let (e, o) = (
            expected.get(t).unwrap_or(&empty),
            observed.get(t).unwrap_or(&empty),
        );
        let keys: BTreeSet<&String> = e.keys().chain(o.keys()).collect();
        for k in keys {
            let (ev, ov) = (e.get(k).map(canonical_value), o.get(k).map(canonical_value));
            if ev != ov {
                let show = |v: Option<Value>| v.map_or("absent".to_owned(), |v| v.to_string());
                return Some(format!(
                    "first difference at {t}/{k}: expected {}, observed {}",
                    show(ev),
                    show(ov)
                ));
            }
        }
    }
    None
}

fn txid_set(txids: &[String]) -> BTreeSet<&String> {
    txids.iter().collect()
}

/// Each checkpoint: reached as expected; then at the stream's tail, with the reference's state
/// and txids at the reported offset (and, for the reference's own run, the hand-written ones).
fn subscribe_mismatches(
    case: &Case,
    runs: &[CheckpointRun],
    strictness: Strictness,
    out: &mut Vec<String>,
) {
    let steps = case.steps.iter().enumerate().filter_map(|(i, s)| match s {
        Step::Await(a) => Some((i, a)),
        _ => None,
    });
    for (i, want) in steps {
        let Some(run) = runs.iter().find(|r| r.step == i) else {
            out.push(format!("step {i}: the checkpoint was never reached"));
            continue;
        };
        let got = &run.answer;
        let what = match want.until {
            AwaitPoint::Txid => {
                format!("to see txid {:?}", want.txid.as_deref().unwrap_or_default())
            }
            AwaitPoint::UpToDate => format!(
                "to be up to date at {}",
                run.tail.as_deref().unwrap_or("the tail")
            ),
            AwaitPoint::Closed => "to read the closed stream to its end".to_owned(),
            AwaitPoint::Stopped => "to stop and report an error".to_owned(),
        };
        if want.reached != got.reached {
            let error = got
                .stop_reason
                .as_deref()
                .map(|e| format!(" (its error: {e})"))
                .unwrap_or_default();
            out.push(match want.reached {
                true => format!("step {i}: expected the subscription {what}; it did not get there{error}, and stopped at offset {:?}", got.report.offset),
                false => format!("step {i}: expected the subscription not {what}, but it claims so"),
            });
            continue;
        }
        if !want.reached || want.until == AwaitPoint::Stopped {
            continue;
        }
        if matches!(want.until, AwaitPoint::UpToDate | AwaitPoint::Closed)
            && got.report.offset != run.tail
        {
            out.push(format!(
                "step {i}: reported offset {:?}, but the stream's tail is {:?}",
                got.report.offset, run.tail
            ));
        }
        match &run.reference {
            Err(e) => out.push(format!(
                "step {i}: no reference state at offset {:?}: {e}",
                got.report.offset
            )),
            Ok(reference) => {
                if let Some(d) = first_divergence(&reference.state, &got.report.state) {
                    out.push(format!(
                        "step {i}: state at offset {:?}: {d}",
                        got.report.offset
                    ));
                }
                if txid_set(&reference.txids) != txid_set(&got.report.txids) {
                    out.push(format!(
                        "step {i}: txids: expected {:?}, observed {:?}",
                        txid_set(&reference.txids),
                        txid_set(&got.report.txids)
                    ));
                }
            }
        }
        if strictness == Strictness::WithRequirementIds {
            if let Some(state) = &want.state
                && let Some(d) = first_divergence(state, &got.report.state)
            {
                out.push(format!("step {i}: hand-written state: {d}"));
            }
            if let Some(txids) = &want.txids
                && txid_set(txids) != txid_set(&got.report.txids)
            {
                out.push(format!(
                    "step {i}: hand-written txids: expected {txids:?}, observed {:?}",
                    got.report.txids
                ));
            }
        }
    }
}

/// What landed: every message valid as written, and the expected messages in order (each
/// field an expected message names must be equal; others are not compared).
fn produce_mismatches(case: &Case, profile: &str, landed: &[Landed], out: &mut Vec<String>) {
    for (i, l) in landed.iter().enumerate() {
        if let Some(why) = &l.invalid {
            out.push(format!(
                "message {i} as written is invalid: {why}\n  {}",
                l.message
            ));
        }
    }
    let expected = case.expectation_for(profile).messages.unwrap_or_default();
    if expected.len() != landed.len() {
        out.push(format!(
            "expected {} messages to land, {} did",
            expected.len(),
            landed.len()
        ));
    }
    for (i, (want, got)) in expected.iter().zip(landed).enumerate() {
        if let Some(d) = subset_difference(want, &got.message, "") {
            out.push(format!("message {i}: {d}\n  landed: {}", got.message));
        }
    }
}

/// Where `observed` lacks or differs from a field `expected` names (message and header
/// objects field by field, values compared whole), or has a field `expected` lists under
/// `$absent`.
fn subset_difference(expected: &Value, observed: &Value, path: &str) -> Option<String> {
    match (expected, observed) {
        (Value::Object(e), Value::Object(o)) if path.is_empty() || path == "/headers" => {
            let absent = e
                .get("$absent")
                .and_then(Value::as_array)
                .into_iter()
                .flatten();
            if let Some(field) = absent
                .filter_map(Value::as_str)
                .find(|f| o.contains_key(*f))
            {
                return Some(format!(
                    "{path}/{field}: expected absent, observed {}",
                    o[field]
                ));
            }
            e.iter()
                .filter(|(k, _)| *k != "$absent")
                .find_map(|(k, ev)| {
                    let at = format!("{path}/{k}");
                    match o.get(k) {
                        None => Some(format!("{at}: expected {ev}, absent")),
                        Some(ov) => subset_difference(ev, ov, &at),
                    }
                })
        }
        _ => (canonical_value(expected) != canonical_value(observed)).then(|| {
            format!(
                "{}: expected {expected}, observed {observed}",
                if path.is_empty() { "/" } else { path }
            )
        }),
    }
}
