//! Cases derived at load time: every materialize case also runs over the wire, under
//! long-poll and under SSE, so an implementation that only subscribes is checked on the
//! protocol's semantics too.
//!
//! `mat-NAME` gives `wire-lp-NAME` and `wire-sse-NAME`: a subscribe case on an empty stream
//! where each non-empty batch is one append, awaited before the next is made, so each batch
//! reaches the reader as exactly one read (one long-poll response, or one SSE data group with
//! its control event) and each await is a checkpoint at that batch's end offset. The reference
//! at the reported offset is the oracle, as in every subscribe case; a test holds it equal to
//! the materialize case's own outcome after each batch.
//!
//! A source that declares no collections gets one per entity type its changes name (primary
//! key `id`), since a subscribing client (a StreamDB, say) materializes declared collections
//! only: every type the stream carries is then expected, as before, and the reference's
//! outcome is unchanged (the same test holds it to that).
//!
//! Not derived: cases whose resets name an offset (their offsets are made up and do not
//! exist on a real stream). Not observable over the wire: which items were rejected, the
//! halt flag, and an empty batch (an append cannot be empty).

use std::collections::BTreeSet;

use state_reference::Collection;
use state_reference::client::{Live, Until};

use super::case::{AwaitStep, Case, Expectation, Mode, Step};

/// The tag every derived case carries (with `long-poll` or `sse`).
pub const DERIVED_TAG: &str = "over-the-wire";

/// The ID prefixes of derived cases, by how the reader follows the stream.
pub const PREFIXES: [(&str, Live); 2] = [("wire-lp-", Live::LongPoll), ("wire-sse-", Live::Sse)];

/// Every case `cases` derive, in their order, long-poll before SSE.
pub fn over_the_wire(cases: &[Case]) -> Vec<Case> {
    cases
        .iter()
        .filter(|c| derivable(c))
        .flat_map(|c| {
            PREFIXES
                .iter()
                .map(move |(prefix, live)| derive(c, prefix, *live))
        })
        .collect()
}

/// Whether `case` is a derived one.
pub fn is_derived(case: &Case) -> bool {
    case.tags.iter().any(|t| t == DERIVED_TAG)
}

fn derivable(case: &Case) -> bool {
    case.mode == Mode::Materialize
        && case.batches.iter().any(|b| !b.items.is_empty())
        && !case.batches.iter().flat_map(|b| &b.items).any(|item| {
            item.pointer("/headers/control")
                .is_some_and(|c| c == "reset")
                && item.pointer("/headers/offset").is_some()
        })
}

fn derive(case: &Case, prefix: &str, live: Live) -> Case {
    let name = case.id.strip_prefix("mat-").unwrap_or(&case.id);
    let how = match live {
        Live::Sse => "SSE",
        _ => "long-poll",
    };
    let mut steps = vec![Step::Subscribe];
    for batch in case.batches.iter().filter(|b| !b.items.is_empty()) {
        steps.push(Step::Append {
            items: batch.items.clone(),
        });
        steps.push(Step::Await(AwaitStep::reaching(Until::UpToDate {
            offset: None,
        })));
    }
    let mut tags = case.tags.clone();
    tags.extend([DERIVED_TAG.to_owned(), how.to_lowercase()]);
    Case {
        schema: None,
        id: format!("{prefix}{name}"),
        title: format!("{} (over the wire, {how})", case.title),
        title_by_profile: case
            .title_by_profile
            .iter()
            .map(|(p, t)| (p.clone(), format!("{t} (over the wire, {how})")))
            .collect(),
        description: Some(format!(
            "Derived from {} at load time: each non-empty batch is one append, read as one \
             response; checked after each batch against the reference at the reported offset.",
            case.id
        )),
        requirements: case.requirements.clone(),
        level: case.level.clone(),
        tags,
        mode: Mode::Subscribe,
        profiles: case.profiles.clone(),
        collections: Some(
            case.collections
                .clone()
                .unwrap_or_else(|| collections_for(case)),
        ),
        batches: Vec::new(),
        message: None,
        raw: None,
        live: Some(live),
        steps,
        expect: Expectation::default(),
        expect_by_profile: Default::default(),
    }
}

/// A collection for every entity type the case's items name, in sorted order.
fn collections_for(case: &Case) -> Vec<Collection> {
    let types: BTreeSet<&str> = case
        .batches
        .iter()
        .flat_map(|b| &b.items)
        .filter_map(|item| item.get("type")?.as_str())
        .filter(|t| !t.is_empty())
        .collect();
    types
        .into_iter()
        .map(|t| Collection::new(t, t, "id"))
        .collect()
}

/// The batches a derived case appends, in order (the items of each `append` step).
pub fn appended_batches(case: &Case) -> impl Iterator<Item = (usize, &[serde_json::Value])> {
    case.steps.iter().enumerate().filter_map(|(i, s)| match s {
        Step::Append { items } => Some((i, items.as_slice())),
        _ => None,
    })
}
