//! Judging live cases: subscribe checkpoints against the reference at the reported offset
//! (and the hand-written expectations), and what a producer landed.

use super::Strictness;
use super::diff::{first_divergence, subset_difference, txid_set};
use super::outcome::{CheckpointRun, Landed};
use crate::corpus::case::{Case, Step};
use state_reference::client::Until;

/// Each checkpoint: reached as expected; then at the stream's tail, with the reference's state
/// and txids at the reported offset (and, for the reference's own run, the hand-written ones).
pub fn subscribe_mismatches(
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
        let what = match &want.until {
            Until::Txid { txid } => format!("to see txid {txid:?}"),
            Until::UpToDate { .. } => format!(
                "to be up to date at {}",
                run.tail.as_deref().unwrap_or("the tail")
            ),
            Until::Closed => "to read the closed stream to its end".to_owned(),
            Until::Stopped => "to stop and report an error".to_owned(),
        };
        if want.reached != got.reached {
            let error = got
                .progress
                .stop_reason
                .as_deref()
                .map(|e| format!(" (its error: {e})"))
                .unwrap_or_default();
            out.push(match want.reached {
                true => format!("step {i}: expected the subscription {what}; it did not get there{error}, and stopped at offset {:?}", got.progress.observation.offset),
                false => format!("step {i}: expected the subscription not {what}, but it claims so"),
            });
            continue;
        }
        if !want.reached || want.until == Until::Stopped {
            continue;
        }
        if matches!(want.until, Until::UpToDate { .. } | Until::Closed)
            && got.progress.observation.offset != run.tail
        {
            out.push(format!(
                "step {i}: reported offset {:?}, but the stream's tail is {:?}",
                got.progress.observation.offset, run.tail
            ));
        }
        match &run.reference {
            Err(e) => out.push(format!(
                "step {i}: no reference state at offset {:?}: {e}",
                got.progress.observation.offset
            )),
            Ok(reference) => {
                if let Some(d) = first_divergence(&reference.state, &got.progress.observation.state)
                {
                    out.push(format!(
                        "step {i}: state at offset {:?}: {d}",
                        got.progress.observation.offset
                    ));
                }
                if txid_set(&reference.txids) != txid_set(&got.progress.observation.txids) {
                    out.push(format!(
                        "step {i}: txids: expected {:?}, observed {:?}",
                        txid_set(&reference.txids),
                        txid_set(&got.progress.observation.txids)
                    ));
                }
            }
        }
        if strictness == Strictness::WithRequirementIds {
            if let Some(state) = &want.state
                && let Some(d) = first_divergence(state, &got.progress.observation.state)
            {
                out.push(format!("step {i}: hand-written state: {d}"));
            }
            if let Some(txids) = &want.txids
                && txid_set(txids) != txid_set(&got.progress.observation.txids)
            {
                out.push(format!(
                    "step {i}: hand-written txids: expected {txids:?}, observed {:?}",
                    got.progress.observation.txids
                ));
            }
        }
    }
}

/// What landed: every message valid as written, and the expected messages in order (each
/// field an expected message names must be equal; others are not compared).
pub fn produce_mismatches(case: &Case, profile: &str, landed: &[Landed], out: &mut Vec<String>) {
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
