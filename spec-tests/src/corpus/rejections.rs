//! Materialize cases derived at load time from the validate corpus: every message a validate
//! case calls invalid (under any of its profiles) is also fed to a consumer, between two
//! valid changes, so what an implementation *does* with each malformed message is tested,
//! not only whether it says so; [`super::derive`] then takes each of them over the wire too.
//!
//! `val-NAME` gives `mat-rejects-NAME`: one batch of three items, a valid insert of
//! `probe/before` (value `{"id": "before", "n": 1}`, txid `tx-before`), the source's message (with txid `tx-rejected` added to
//! its `headers` when they are an object naming neither a control nor a txid), and a valid
//! insert of `probe/after` (txid `tx-after`). The expected state, txids and rejections come
//! from the reference under each profile; a test holds each derived case to its source (the
//! item rejected exactly where the validate case says invalid, for the same requirement).
//!
//! Not derived: sources given as `raw` text (an item of a batch is JSON), and messages valid
//! under every profile.

use serde_json::{Value, json};
use state_reference::{Materializer, Profile};

use super::case::{BatchInput, Case, Expectation, Mode, RejectedItem};

/// The tag every case derived from a validate case carries.
pub const FROM_VALIDATE_TAG: &str = "from-validate";

/// The ID prefix of a derived rejection case.
pub const PREFIX: &str = "mat-rejects-";

/// The txid the invalid item carries, where it can carry one.
pub const REJECTED_TXID: &str = "tx-rejected";

/// Requirements every derived case rests on, beside its source's: a rejected message does
/// not stop the items after it, and its txid does not count as seen.
const ALSO_CITED: [&str; 2] = ["SP-7-NO-BLOCK-OTHER-TYPES", "SP-9.1-REJECT-MALFORMED"];

/// Every rejection case the validate cases among `cases` derive, in their order.
pub fn from_validate(cases: &[Case]) -> Vec<Case> {
    cases.iter().filter_map(derive).collect()
}

/// Whether `case` was derived from a validate case (its copies over the wire carry the tag
/// too, but they are subscribe cases derived from this one).
pub fn is_from_validate(case: &Case) -> bool {
    case.mode == Mode::Materialize && case.tags.iter().any(|t| t == FROM_VALIDATE_TAG)
}

/// The validate case `case` was derived from, by ID.
pub fn source_id(case: &Case) -> Option<String> {
    let name = case.id.strip_prefix(PREFIX)?;
    is_from_validate(case).then(|| format!("val-{name}"))
}

/// The source's message as the derived case carries it: with a txid where one fits.
pub fn carried(message: &Value) -> Value {
    let mut item = message.clone();
    if let Some(headers) = item.get_mut("headers").and_then(Value::as_object_mut)
        && !headers.contains_key("control")
        && !headers.contains_key("txid")
    {
        headers.insert("txid".into(), json!(REJECTED_TXID));
    }
    item
}

fn derive(source: &Case) -> Option<Case> {
    let (Mode::Validate, None, Some(message)) = (&source.mode, &source.raw, &source.message) else {
        return None;
    };
    let invalid_somewhere = source
        .profiles
        .keys()
        .any(|p| !source.validate_expectation(p).valid);
    if !invalid_somewhere {
        return None;
    }
    let name = source.id.strip_prefix("val-").unwrap_or(&source.id);
    // The value carries its key as `id`, the primary key the copies over the wire declare:
    // a consumer that writes the key into the value (a StreamDB does) reads back what was
    // written, and only the invalid item tells.
    let probe = |key: &str, txid: &str| json!({"type": "probe", "key": key, "value": {"id": key, "n": 1}, "headers": {"operation": "insert", "txid": txid}});
    let batches = vec![BatchInput {
        items: vec![
            probe("before", "tx-before"),
            carried(message),
            probe("after", "tx-after"),
        ],
        offset: "o1".into(),
        up_to_date: true,
    }];
    let mut requirements = source.requirements.clone();
    for id in ALSO_CITED {
        if !requirements.iter().any(|r| r == id) {
            requirements.push(id.to_owned());
        }
    }
    let mut tags: Vec<String> = source
        .tags
        .iter()
        .filter(|t| *t != "validate")
        .cloned()
        .collect();
    tags.extend(["materialize".to_owned(), FROM_VALIDATE_TAG.to_owned()]);
    let mut case = Case {
        schema: None,
        id: format!("{PREFIX}{name}"),
        title: format!("Consumed between two valid changes: {}", source.title),
        title_by_profile: source
            .title_by_profile
            .iter()
            .map(|(p, t)| {
                (
                    p.clone(),
                    format!("Consumed between two valid changes: {t}"),
                )
            })
            .collect(),
        description: Some(format!(
            "Derived from {} at load time: its message, carrying a txid where it can, between \
             two valid inserts of another type; what the consumer keeps is the reference's \
             outcome under each profile.",
            source.id
        )),
        requirements,
        level: source.level.clone(),
        tags,
        mode: Mode::Materialize,
        profiles: source.profiles.clone(),
        collections: None,
        batches,
        message: None,
        raw: None,
        live: None,
        steps: Vec::new(),
        expect: Expectation::default(),
        expect_by_profile: Default::default(),
    };
    expect_from_reference(&mut case);
    Some(case)
}

/// The reference's outcome under each of the case's profiles as its expectation.
fn expect_from_reference(case: &mut Case) {
    let by_profile = case
        .profiles
        .keys()
        .filter_map(|name| {
            let profile = Profile::preset(name).ok()?;
            Some((name.clone(), reference_expectation(case, &profile)?))
        })
        .collect();
    case.set_expectations(by_profile);
}

fn reference_expectation(case: &Case, profile: &Profile) -> Option<Expectation> {
    let mut m = Materializer::consumer(profile, case.collections.as_deref(), None).ok()?;
    let mut rejected = Vec::new();
    for (index, batch) in case.batches.iter().enumerate() {
        let diagnostics = m.apply_batch(batch.to_batch());
        rejected.extend(diagnostics.iter().map(|d| RejectedItem {
            batch: index,
            index: d.index,
            requirement: d.requirement.to_owned(),
            reason: None,
        }));
    }
    let seen = m.observe();
    Some(Expectation {
        state: Some(seen.state),
        txids: Some(seen.txids),
        offset: Some(seen.offset),
        halted: Some(seen.halted),
        rejected: Some(rejected),
        ..Expectation::default()
    })
}
