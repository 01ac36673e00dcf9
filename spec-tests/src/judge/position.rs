//! Where a difference rests on a question the spec leaves open, and what that makes it: the
//! one place a position's class (fails the case, or is recorded as informational) is
//! decided, for hand-written cases and generated scenarios alike. A case file may also weigh
//! a whole case informational; this module is what keeps a generated scenario, which has no
//! such weight, from failing an implementation for a position the corpus only records.
//!
//! The positions recognised from what happened, wherever they occur:
//! - txids kept across a reset (`OQ-RESET-SCOPE`): the observed txids are the expected ones
//!   plus txids carried before a reset;
//! - a reader that gave up at a 5xx or 429 answer (`OQ-TRANSIENT-ERRORS`): it made no request
//!   after one;
//! - a value that rests on an insert at an existing key (`OQ-INSERT-EXISTING`), found by
//!   [`super::explain`];
//! - a committed offset left at an earlier batch's when every batch after it had nothing the
//!   reference applies: only items it refuses (`OQ-INVALID-HALTS`), or no items at all
//!   (`OQ-VISIBILITY`).
//!
//! Under `--standard upstream-client` ([`Standard::UpstreamClient`]) the questions the upstream
//! client conformance suite answers ([`Standard::requires`]) are required, not informational.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use state_reference::requirement::{
    OQ_HALT, OQ_RESET_SCOPE, OQ_STREAM_GONE, OQ_TRANSIENT_ERRORS, OQ_VISIBILITY,
};
use state_reference::{Batch, Materializer, Mutant, Profile};

use super::explain::Explanation;
use crate::corpus::case::{Case, RejectedItem, Weight};

/// How much beyond the spec an implementation is held to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Standard {
    /// The spec: open questions are recorded, never failed.
    #[default]
    Spec,
    /// The spec, plus what the upstream Durable Streams client conformance suite expects of
    /// every official client where the protocol is silent (retries, a missing stream).
    UpstreamClient,
}

impl Standard {
    /// The open questions this standard holds implementations to (as required).
    pub fn requires(self) -> &'static [&'static str] {
        match self {
            Standard::Spec => &[],
            Standard::UpstreamClient => &[OQ_TRANSIENT_ERRORS, OQ_STREAM_GONE],
        }
    }

    /// Whether a difference resting on `question` fails under this standard.
    pub fn holds_to(self, question: &str) -> bool {
        self.requires().contains(&question)
    }

    pub fn name(self) -> &'static str {
        match self {
            Standard::Spec => "spec",
            Standard::UpstreamClient => "upstream-client",
        }
    }
}

/// The open question the observed txids rest on, if they differ from the expected ones only
/// by txids a reader keeping its txids across a reset would hold: those the reference, taking
/// that position ([`Mutant::KeepsTxidsAcrossReset`]), records from the changes of
/// `before_reset` (the items before the last reset, `None` when nothing reset) under
/// `profile` with the case's collections (`OQ-RESET-SCOPE`, where the spec is silent). A txid
/// first carried after the last reset, or carried only by a message the reference refuses, is
/// no such position. Control messages are left out: they carry no txid, and a reset naming
/// an offset would make the reference skip what follows it here, though a reader reads on.
pub fn txids_kept_across_reset(
    case: &Case,
    profile: &Profile,
    before_reset: Option<&[&Value]>,
    want: &BTreeSet<&String>,
    got: &BTreeSet<&String>,
) -> Option<&'static str> {
    let items = before_reset?;
    let keeper = Some(Mutant::KeepsTxidsAcrossReset);
    let mut m = Materializer::consumer(profile, case.collections.as_deref(), keeper).ok()?;
    let changes = items
        .iter()
        .filter(|i| i.pointer("/headers/control").is_none());
    m.apply_batch(Batch::whole(changes.map(|&i| i.clone()).collect()));
    let kept: BTreeSet<String> = m.observe().txids.into_iter().collect();
    (want.is_subset(got) && got.difference(want).all(|t| kept.contains(*t)))
        .then_some(OQ_RESET_SCOPE)
}

/// The open question a committed offset rests on when it is the offset of an earlier batch
/// (or none at all) and every later batch held nothing the reference applies: only items it
/// refuses (`expected_rejected`; whether a consumer commits past what it refuses is open,
/// OQ-INVALID-HALTS), or no item (whether an empty read moves the offset, OQ-VISIBILITY).
pub fn offset_left_behind(
    case: &Case,
    expected_rejected: &[RejectedItem],
    observed: Option<&str>,
) -> Option<&'static str> {
    let first_later = match observed {
        None => 0,
        Some(o) => case.batches.iter().rposition(|b| b.offset == o)? + 1,
    };
    let later = &case.batches[first_later..];
    let refused = |batch: usize, index: usize| {
        expected_rejected
            .iter()
            .any(|r| r.batch == batch && r.index == index)
    };
    let nothing_applied = later
        .iter()
        .enumerate()
        .all(|(i, b)| (0..b.items.len()).all(|index| refused(first_later + i, index)));
    match (later.is_empty(), nothing_applied) {
        (false, true) if later.iter().all(|b| b.items.is_empty()) => Some(OQ_VISIBILITY),
        (false, true) => Some(OQ_HALT),
        _ => None,
    }
}

/// Whether `item` is a reset control message.
pub fn is_reset(item: &Value) -> bool {
    item.pointer("/headers/control")
        .is_some_and(|c| c == "reset")
}

/// The items before the last reset among them, if one is.
pub fn before_last_reset<'i, 'v>(items: &'i [&'v Value]) -> Option<&'i [&'v Value]> {
    let last = items.iter().rposition(|i| is_reset(i))?;
    Some(&items[..last])
}

/// Files a difference by its class: into `out` (it fails the case) unless it rests only on
/// the open question `rests_on` and `standard` does not hold implementations to that question;
/// then into `silent` (recorded). `line` says which question, in words.
pub fn file(
    line: String,
    rests_on: Option<&str>,
    standard: Standard,
    out: &mut Vec<String>,
    silent: &mut Vec<String>,
) {
    match rests_on {
        Some(q) if standard.holds_to(q) => {
            out.push(format!(
                "{line} [required under --standard {}]",
                standard.name()
            ));
        }
        Some(_) => silent.push(line),
        None => out.push(line),
    }
}

/// A case's weight under `profile` at `standard`: an informational case that cites a question
/// the standard holds implementations to is required.
pub fn weight(case: &Case, profile: &str, standard: Standard) -> Option<Weight> {
    let weight = case.weight(profile)?;
    let held = case.requirements.iter().any(|r| standard.holds_to(r));
    Some(match (weight, held) {
        (Weight::Informational, true) => Weight::Required,
        (w, _) => w,
    })
}

/// A state difference, with the reference's explanation of the expected value: one whose
/// expected value rests on an open question (an insert at an existing key) is filed as such.
pub fn state_difference(
    line: String,
    why: Option<Explanation>,
    standard: Standard,
    out: &mut Vec<String>,
    silent: &mut Vec<String>,
) {
    match why {
        Some(Explanation {
            line: why,
            open_question: Some(question),
        }) => {
            let line = format!(
                "{line} (the expected value rests on a question the spec leaves open, {question})"
            );
            file(line, Some(question), standard, out, silent);
            match standard.holds_to(question) {
                true => out.push(why),
                false => silent.push(why),
            }
        }
        why => {
            out.push(line);
            out.extend(why.map(|w| w.line));
        }
    }
}

/// A txid difference (`label: expected …, observed …`), filed as resting on `rests_on` when
/// the extra txids were all carried before a reset.
pub fn txid_difference(
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
    file(line, rests_on, standard, out, silent);
}
