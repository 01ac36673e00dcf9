//! Judging a materialize outcome: the final state, txids, committed offset, halt flag and
//! rejected items, and each checkpoint after a batch, against the case's expectation under
//! the profile; differences on open questions are filed by `position`.

use std::collections::BTreeSet;

use state_reference::{Observation, Profile};

use super::diff::{first_divergent, offset_text};
use super::position::{self, Standard, state_difference, txid_difference};
use super::strictness::Strictness;
use crate::corpus::case::{Case, RejectedItem};

/// How a materialize outcome (the state after each batch, the items rejected) differs from
/// the case's expectation under `profile`: into `out` (fails) or `silent` (open questions).
pub(super) fn differences(
    case: &Case,
    profile: &Profile,
    (after_batch, rejected): (&[Observation], &[RejectedItem]),
    (strictness, standard): (Strictness, Standard),
    out: &mut Vec<String>,
    silent: &mut Vec<String>,
) {
    let expected = case.materialize_expectation(&profile.name);
    let Some(last) = after_batch.last() else {
        out.push("no batch was applied".into());
        return;
    };
    if let Some(d) = first_divergent(&expected.state, &last.state) {
        let why = super::explain::explain(case, profile, &d.entity_type, &d.key, None);
        state_difference(
            format!("final state: {}", d.described),
            why,
            standard,
            out,
            silent,
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
                position::txids_kept_across_reset(case, profile, before_reset, &want, &got),
                standard,
                out,
                silent,
            );
        }
    };
    txids("txids".into(), &expected.txids, &last.txids, out, silent);
    if expected.offset != last.offset {
        let rests_on =
            position::offset_left_behind(case, &expected.rejected, last.offset.as_deref());
        let line = format!(
            "offset: expected {}, observed {}",
            offset_text(expected.offset.as_deref()),
            offset_text(last.offset.as_deref())
        );
        let line = match rests_on {
            Some(q) => format!(
                "{line} (left at the last batch that applied anything: whether a consumer commits past what it refuses or reads empty is open, {q})"
            ),
            None => line,
        };
        position::file(line, rests_on, standard, out, silent);
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
            let why = super::explain::explain(
                case,
                profile,
                &d.entity_type,
                &d.key,
                Some(cp.after_batch),
            );
            state_difference(
                format!("state after batch {}: {}", cp.after_batch, d.described),
                why,
                standard,
                out,
                silent,
            );
        }
        if let Some(want) = &cp.txids {
            let label = format!("txids after batch {}", cp.after_batch);
            txids(label, want, &seen.txids, out, silent);
        }
    }
}
