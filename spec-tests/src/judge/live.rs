//! Judging live cases: subscribe checkpoints against the reference at the reported offset
//! (and the hand-written expectations), and what a producer landed.

use super::Strictness;
use super::diff::{first_divergence, first_divergent, subset_difference, txid_set};
use super::outcome::{CheckpointRun, Landed};
use crate::corpus::case::{Case, Step};
use crate::corpus::derive::appended_batches;
use state_reference::client::Until;
use state_reference::{Batch, Materializer, Profile};

/// Each checkpoint: reached as expected; then at the stream's tail, with the reference's state
/// and txids at the reported offset (and, for the reference's own run, the hand-written ones).
pub fn subscribe_mismatches(
    case: &Case,
    profile: &Profile,
    runs: &[CheckpointRun],
    strictness: Strictness,
    out: &mut Vec<String>,
    silent: &mut Vec<String>,
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
            out.push(match (want.reached, &run.ended_early) {
                (true, Some(early)) => format!("step {i}: expected the subscription {what}; the reader {}: {}", early.reader, early.detail),
                (true, None) => format!("step {i}: expected the subscription {what}; it did not get there{error}, and stopped at offset {}", super::offset_text(got.progress.observation.offset.as_deref())),
                (false, _) => format!("step {i}: expected the subscription not {what}, but it claims so"),
            });
            if want.reached && got.progress.stop_reason.is_some() {
                out.extend(skipped_item(case, profile, i));
            }
            continue;
        }
        if !want.reached || want.until == Until::Stopped {
            continue;
        }
        if matches!(want.until, Until::UpToDate { .. } | Until::Closed)
            && got.progress.observation.offset != run.tail
        {
            out.push(format!(
                "step {i}: reported offset {}, but the stream's tail is {}",
                super::offset_text(got.progress.observation.offset.as_deref()),
                super::offset_text(run.tail.as_deref())
            ));
        }
        match &run.reference {
            Err(e) => out.push(format!(
                "step {i}: no reference state at offset {}: {e}",
                super::offset_text(got.progress.observation.offset.as_deref())
            )),
            Ok(reference) => {
                if let Some(d) = first_divergent(&reference.state, &got.progress.observation.state)
                {
                    let why =
                        super::explain::explain(case, profile, &d.entity_type, &d.key, Some(i));
                    super::state_difference(
                        format!(
                            "step {i}: state at offset {}: {}",
                            super::offset_text(got.progress.observation.offset.as_deref()),
                            d.described
                        ),
                        why,
                        out,
                        silent,
                    );
                }
                let (want_txids, got_txids) = (
                    txid_set(&reference.txids),
                    txid_set(&got.progress.observation.txids),
                );
                if want_txids != got_txids {
                    let line =
                        format!("step {i}: txids: expected {want_txids:?}, observed {got_txids:?}");
                    match kept_across_reset(case, &want_txids, &got_txids) {
                        true => silent.push(format!(
                            "{line} (kept across a reset: whether a reset clears txids is open, OQ-RESET-SCOPE; the profile clears them)"
                        )),
                        false => out.push(line),
                    }
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

/// For a subscription that stopped before step `step`: the first item appended before it
/// that the reference skips under `profile`, since a consumer is to go on past such an item.
fn skipped_item(case: &Case, profile: &Profile, step: usize) -> Option<String> {
    let mut m = Materializer::consumer(profile, case.collections.as_deref(), None).ok()?;
    for (append, (at, items)) in appended_batches(case).enumerate() {
        if at > step {
            break;
        }
        let batch = Batch {
            items: items.to_vec(),
            offset: None,
            up_to_date: true,
        };
        if let Some(d) = m.apply_batch(batch).first() {
            return Some(format!(
                "append {append} item {} is one the {} profile skips ({}: {}); a consumer goes on \
                 past it, other types unblocked (SP-7-NO-BLOCK-OTHER-TYPES, OQ-INVALID-HALTS): {}",
                d.index,
                profile.name,
                d.requirement,
                d.reason,
                items
                    .get(d.index)
                    .map(ToString::to_string)
                    .unwrap_or_default()
            ));
        }
    }
    None
}

/// Whether the observed txids are the expected ones plus txids the case's messages carried
/// before a reset: a reader that keeps txids across a reset, where the spec is silent.
fn kept_across_reset(
    case: &Case,
    want: &std::collections::BTreeSet<&String>,
    got: &std::collections::BTreeSet<&String>,
) -> bool {
    let reset = case.steps.iter().any(|s| match s {
        Step::Append { items } => items
            .iter()
            .any(|i| i.pointer("/headers/control").is_some_and(|c| c == "reset")),
        Step::Act { act } => matches!(act, stream_simulator::store::Action::Reset { .. }),
        Step::Faults { rules } => rules.iter().any(|r| {
            matches!(
                &r.fault,
                stream_simulator::fault::Fault::Act {
                    act: stream_simulator::store::Action::Reset { .. }
                }
            )
        }),
        _ => false,
    });
    let carried = |t: &str| {
        appended_batches(case)
            .flat_map(|(_, items)| items)
            .any(|i| i.pointer("/headers/txid").is_some_and(|x| x == t))
    };
    reset && want.is_subset(got) && got.difference(want).all(|t| carried(t))
}

/// What landed: every message valid as written, and the expected messages in order (each
/// field an expected message names must be equal; others are not compared).
pub fn produce_mismatches(
    case: &Case,
    profile: &Profile,
    landed: &[Landed],
    out: &mut Vec<String>,
) {
    for (i, l) in landed.iter().enumerate() {
        if let Some(why) = &l.invalid {
            out.push(format!(
                "message {i} as written is invalid: {why}\n  {}",
                l.message
            ));
        }
    }
    let expected = case
        .expectation_for(&profile.name)
        .messages
        .unwrap_or_default();
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
