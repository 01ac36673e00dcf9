//! Judging live cases: subscribe checkpoints against the reference at the reported offset
//! (and the hand-written expectations), and what a producer landed.

use super::diff::{first_divergence, first_divergent, offset_text, subset_difference, txid_set};
use super::explain::explain;
use super::outcome::{CheckpointRun, Landed};
use super::position::{self, Standard, state_difference, txid_difference};
use super::strictness::Strictness;
use crate::corpus::case::{Case, Step};
use crate::corpus::derive::appended_batches;
use state_reference::client::Until;
use state_reference::requirement::OQ_TRANSIENT_ERRORS;
use state_reference::{Batch, Materializer, Profile};

/// Each checkpoint: reached as expected; then at the stream's tail, with the reference's state
/// and txids at the reported offset (and, for the reference's own run, the hand-written ones).
/// `gave_up`: the reader stopped at a 5xx or 429 answer (the detail), an open question: the
/// checkpoints it then misses rest on it.
pub fn subscribe_mismatches(
    case: &Case,
    profile: &Profile,
    runs: &[CheckpointRun],
    gave_up: Option<&str>,
    (strictness, standard): (Strictness, Standard),
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
            let line = match (want.reached, &run.ended_early) {
                (true, Some(early)) => format!(
                    "step {i}: expected the subscription {what}; the reader {}: {}",
                    early.reader, early.detail
                ),
                (true, None) => format!(
                    "step {i}: expected the subscription {what}; it did not get there{error}, and stopped at offset {}",
                    offset_text(got.progress.observation.offset.as_deref())
                ),
                (false, _) => {
                    format!("step {i}: expected the subscription not {what}, but it claims so")
                }
            };
            match gave_up.filter(|_| want.reached) {
                Some(how) => position::file(
                    format!(
                        "{line} ({how}: whether a reader retries is open, {OQ_TRANSIENT_ERRORS}; the profile retries)"
                    ),
                    Some(OQ_TRANSIENT_ERRORS),
                    standard,
                    out,
                    silent,
                ),
                None => out.push(line),
            }
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
                offset_text(got.progress.observation.offset.as_deref()),
                offset_text(run.tail.as_deref())
            ));
        }
        match &run.reference {
            Err(e) => out.push(format!(
                "step {i}: no reference state at offset {}: {e}",
                offset_text(got.progress.observation.offset.as_deref())
            )),
            Ok(reference) => {
                if let Some(d) = first_divergent(&reference.state, &got.progress.observation.state)
                {
                    let why = explain(case, profile, &d.entity_type, &d.key, Some(i));
                    state_difference(
                        format!(
                            "step {i}: state at offset {}: {}",
                            offset_text(got.progress.observation.offset.as_deref()),
                            d.described
                        ),
                        why,
                        standard,
                        out,
                        silent,
                    );
                }
                let (want_txids, got_txids) = (
                    txid_set(&reference.txids),
                    txid_set(&got.progress.observation.txids),
                );
                if want_txids != got_txids {
                    let rests_on = kept_across_reset(case, profile, &want_txids, &got_txids);
                    let label = format!("step {i}: txids");
                    txid_difference(
                        label,
                        &want_txids,
                        &got_txids,
                        rests_on,
                        standard,
                        out,
                        silent,
                    );
                }
            }
        }
        if strictness == Strictness::WithRequirementIds {
            if let Some(state) = &want.state
                && let Some(d) = first_divergence(state, &got.progress.observation.state)
            {
                out.push(format!("step {i}: hand-written state: {d}"));
            }
            if let Some(txids) = &want.txids {
                let (want, got) = (txid_set(txids), txid_set(&got.progress.observation.txids));
                if want != got {
                    let rests_on = kept_across_reset(case, profile, &want, &got);
                    let label = format!("step {i}: hand-written txids");
                    txid_difference(label, &want, &got, rests_on, standard, out, silent);
                }
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
        let batch = Batch::whole(items.to_vec());
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

/// The open question the observed txids rest on, if they are the expected ones plus txids
/// appended before the last reset (see [`position::txids_kept_across_reset`]).
fn kept_across_reset(
    case: &Case,
    profile: &Profile,
    want: &std::collections::BTreeSet<&String>,
    got: &std::collections::BTreeSet<&String>,
) -> Option<&'static str> {
    let before = appended_before_last_reset(case);
    position::txids_kept_across_reset(case, profile, before.as_deref(), want, got)
}

/// The items appended before the case's last reset (appended, or acted between appends), if
/// one happens. A reset in a fault plan fires at a request whose timing the case does not
/// fix, so with one every appended item may precede it.
fn appended_before_last_reset(case: &Case) -> Option<Vec<&serde_json::Value>> {
    use stream_simulator::fault::Fault;
    use stream_simulator::store::Action;
    let (mut items, mut before) = (Vec::new(), None);
    let mut planned = false;
    for step in &case.steps {
        match step {
            Step::Append { items: appended } => {
                for item in appended {
                    if position::is_reset(item) {
                        before = Some(items.len());
                    }
                    items.push(item);
                }
            }
            Step::Act {
                act: Action::Reset { .. },
            } => before = Some(items.len()),
            Step::Faults { rules } => {
                planned |= rules.iter().any(|r| {
                    matches!(
                        &r.fault,
                        Fault::Act {
                            act: Action::Reset { .. }
                        }
                    )
                });
            }
            _ => {}
        }
    }
    match planned {
        true => Some(items),
        false => before.map(|n| items[..n].to_vec()),
    }
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
