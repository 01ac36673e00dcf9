//! Why the reference holds what it holds at one type/key: the message and the rule that last
//! wrote, removed, cleared or refused it. Found by replaying the case's messages through the
//! reference one at a time, so a failure can name the requirement behind the expected value
//! and the message that set it, not only where two states differ.

use serde_json::Value;
use state_reference::{Batch, Materializer, Message, Operation, ParseRules, Profile};

use crate::corpus::case::{Case, Mode, Step};

/// Cases with more messages than this are not replayed one by one (an explanation is a
/// courtesy; the verdict never depends on it).
const MAX_REPLAYED: usize = 2_000;

/// The messages of `case` up to `until` (a batch index for materialize cases, a step index
/// for live ones; everything when `None`), each with its batch (or append) number and a
/// label for people.
fn messages(case: &Case, until: Option<usize>) -> Vec<(usize, String, &Value)> {
    match case.mode {
        Mode::Materialize => case
            .batches
            .iter()
            .enumerate()
            .take(until.map_or(usize::MAX, |b| b + 1))
            .flat_map(|(b, batch)| {
                batch
                    .items
                    .iter()
                    .enumerate()
                    .map(move |(i, item)| (b, format!("batch {b} item {i}"), item))
            })
            .collect(),
        _ => {
            let appends = case
                .steps
                .iter()
                .enumerate()
                .take_while(|(i, _)| until.is_none_or(|u| *i < u));
            appends
                .filter_map(|(_, s)| match s {
                    Step::Append { items } => Some(items),
                    _ => None,
                })
                .enumerate()
                .flat_map(|(a, items)| {
                    items
                        .iter()
                        .enumerate()
                        .map(move |(i, item)| (a, format!("append {a} item {i}"), item))
                })
                .collect()
        }
    }
}

/// Whether the stream changes other than through its messages (simulator actions), which a
/// replay of the messages alone would not see.
fn acted_on(case: &Case) -> bool {
    case.steps.iter().any(|s| match s {
        Step::Act { .. } => true,
        Step::Faults { rules } => rules
            .iter()
            .any(|r| matches!(r.fault, stream_simulator::fault::Fault::Act { .. })),
        _ => false,
    })
}

fn names(item: &Value, entity_type: &str, key: &str) -> bool {
    item.get("type").and_then(Value::as_str) == Some(entity_type)
        && item.get("key").and_then(Value::as_str) == Some(key)
}

/// The offset a valid reset names, if it is one that does.
fn reset_offset(item: &Value, rules: &ParseRules) -> Option<String> {
    match Message::parse(item.clone(), rules) {
        Ok(Message::Control(_)) => item
            .pointer("/headers/offset")
            .and_then(Value::as_str)
            .filter(|_| {
                item.pointer("/headers/control")
                    .is_some_and(|c| c == "reset")
            })
            .map(str::to_owned),
        _ => None,
    }
}

/// The rule a valid message applied, by what it is.
fn rule_of(item: &Value, rules: &ParseRules) -> String {
    match Message::parse(item.clone(), rules) {
        Ok(Message::Change(c)) => match c.operation {
            Operation::Insert => "an insert (SP-6-INSERT)".into(),
            Operation::Delete => "a delete (SP-6-DELETE)".into(),
            Operation::Update => "an update (SP-6-UPDATE)".into(),
            Operation::Upsert => "an upsert (OQ-UPSERT)".into(),
        },
        Ok(Message::Control(_)) => "a reset (SP-4.2.2-RESET-CLEAR)".into(),
        Err(_) => "a message".into(),
    }
}

/// Where the reference's value at one type/key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// One line for people: the message and the rule.
    pub line: String,
    /// The open question the value rests on, if it does: an insert at a key that already
    /// held a value (OQ-INSERT-EXISTING), where the spec does not say what happens. (A
    /// refused `upsert` is not one: the spec lists three operations, and every profile takes
    /// a position the corpus requires.)
    pub open_question: Option<&'static str>,
}

/// Where the reference's value at `entity_type`/`key` comes from, as of `until`.
pub fn explain(
    case: &Case,
    profile: &Profile,
    entity_type: &str,
    key: &str,
    until: Option<usize>,
) -> Option<Explanation> {
    if acted_on(case) {
        return None;
    }
    let messages = messages(case, until);
    if messages.len() > MAX_REPLAYED {
        return None;
    }
    let rules = ParseRules::from_profile(profile);
    let mut m = Materializer::consumer(profile, case.collections.as_deref(), None).ok()?;
    let value_at = |m: &Materializer| {
        m.observe()
            .state
            .get(entity_type)
            .and_then(|t| t.get(key))
            .cloned()
    };
    let (mut before, mut last) = (None, None);
    // A reset naming an offset ends its batch: the items after it are not applied (reading
    // restarts at the offset), so the replay skips them too, and names the reset.
    let mut skipped_by: Option<(usize, String, String)> = None;
    for (group, label, item) in messages {
        if let Some((_, reset, offset)) = skipped_by.as_ref().filter(|(g, ..)| *g == group) {
            if names(item, entity_type, key) {
                last = Some(Explanation {
                    line: format!(
                        "{label} names {entity_type}/{key}, but the reference never applied it: \
                         the reset at {reset} named offset {offset}, which ends its batch and \
                         restarts reading there (SP-4.2.2-RESET-RESTART): {item}"
                    ),
                    open_question: None,
                });
            }
            continue;
        }
        if let Some(offset) = reset_offset(item, &rules) {
            skipped_by = Some((group, label.clone(), offset));
        }
        let batch = Batch::whole(vec![item.clone()]);
        if let Some(d) = m.apply_batch(batch).first()
            && names(item, entity_type, key)
        {
            last = Some(Explanation {
                line: format!(
                    "the reference refused {label} ({}: {}): {item}",
                    d.requirement, d.reason
                ),
                open_question: None,
            });
            continue;
        }
        let now = value_at(&m);
        if now != before {
            let what = match &now {
                Some(_) => "set",
                None => "removed",
            };
            let over_existing = before.is_some()
                && now.is_some()
                && matches!(
                    Message::parse(item.clone(), &rules),
                    Ok(Message::Change(c)) if c.operation == Operation::Insert
                );
            last = Some(Explanation {
                line: format!(
                    "in the reference, {entity_type}/{key} was last {what} by {label}, {}: {item}",
                    rule_of(item, &rules)
                ),
                open_question: over_existing.then_some("OQ-INSERT-EXISTING"),
            });
            before = now;
        }
    }
    last
}
