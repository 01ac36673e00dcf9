//! What a generated scenario cites: the requirements its own content exercises (the
//! operations and controls of its messages, the rules its malformed messages break, the
//! faults and lifecycle events of its plan), so a failure points at rules that can break.

use std::collections::BTreeSet;

use serde_json::Value;
use state_reference::{Control, Message, Operation, ParseRules, Profile};
use stream_simulator::fault::{Fault, RequestKind};
use stream_simulator::store::Action;

use crate::corpus::case::{Case, Mode, Step};
use state_reference::client::Live;
use state_reference::requirement::CURSOR_ECHO;

/// The requirement IDs `case` exercises, in catalogue-like order.
pub fn requirements_of(case: &Case) -> Vec<String> {
    let rules = ParseRules::from_profile(&Profile::default_profile());
    let mut ids: BTreeSet<&'static str> = BTreeSet::new();
    let items = case
        .batches
        .iter()
        .flat_map(|b| &b.items)
        .chain(case.steps.iter().flat_map(|s| match s {
            Step::Append { items } => items.as_slice(),
            _ => &[],
        }))
        .chain(case.message.iter());
    for item in items {
        ids.insert(message_rule(item, &rules));
    }
    for step in &case.steps {
        match step {
            Step::Faults { rules } => ids.extend(rules.iter().map(|r| fault_rule(&r.fault))),
            Step::Act { act } => {
                ids.insert(action_rule(act));
            }
            Step::Produce { ops } => {
                ids.extend(ops.iter().map(|o| match o.op.as_str() {
                    "delete" => "SP-6-DELETE",
                    "update" => "SP-6-UPDATE",
                    _ => "SP-6-INSERT",
                }));
            }
            _ => {}
        }
    }
    match case.mode {
        Mode::Materialize if case.batches.len() > 1 => {
            ids.insert("SP-6-ORDER");
        }
        Mode::Subscribe => {
            ids.insert("DS-8-NEXT-OFFSET");
            if exercises_cursor_echo(case) {
                ids.insert(CURSOR_ECHO);
            }
        }
        Mode::Validate => {
            ids.insert("SP-9.1-VALIDATE-FORMAT");
        }
        _ => {}
    }
    ids.into_iter().map(str::to_owned).collect()
}

/// Whether the scenario makes a long-polling reader echo a cursor on every run, not by
/// timing: after it subscribes, three appends each awaited before the next (the first may
/// arrive by catch-up; the second by a long-poll whose answer carries a cursor; the third
/// needs a long-poll that echoes it), and no fault on long-polls.
fn exercises_cursor_echo(case: &Case) -> bool {
    let long_poll = matches!(case.live, Some(Live::LongPoll | Live::Auto) | None);
    let faulted = crate::corpus::case::fault_rules(&case.steps)
        .any(|r| matches!(r.kind, RequestKind::LongPoll | RequestKind::Any));
    let after = case
        .steps
        .iter()
        .skip_while(|s| !matches!(s, Step::Subscribe))
        .collect::<Vec<_>>();
    let awaited_appends = after
        .windows(2)
        .filter(|w| matches!(w, [Step::Append { .. }, Step::Await(_)]))
        .count();
    long_poll && !faulted && awaited_appends >= 3
}

/// Whether the scenario's verdict rests on a question the spec leaves open: a plan that
/// answers reads with 5xx or 429 asks whether the reader retries (OQ-TRANSIENT-ERRORS), a
/// 404 whether it stops (OQ-STREAM-GONE), a 410 whether it starts over (OQ-GONE-OFFSET), as
/// the corpus's own cases of each do, which are informational.
pub fn rests_on_open_question(case: &Case) -> bool {
    crate::corpus::case::fault_rules(&case.steps).any(|r| matches!(r.fault, Fault::Status { .. }))
}

/// The rule a message exercises: its operation's or control's, or the one it breaks.
fn message_rule(item: &Value, rules: &ParseRules) -> &'static str {
    match Message::parse(item.clone(), rules) {
        Ok(Message::Change(c)) => match c.operation {
            Operation::Insert => "SP-6-INSERT",
            Operation::Delete => "SP-6-DELETE",
            Operation::Update | Operation::Upsert => "SP-6-UPDATE",
        },
        Ok(Message::Control(c)) => match c.control {
            Control::Reset => "SP-4.2.2-RESET-CLEAR",
            Control::SnapshotStart | Control::SnapshotEnd => "SP-4.2.1-SNAPSHOT-BOUNDARIES",
        },
        Err(r) => r.requirement,
    }
}

fn fault_rule(fault: &Fault) -> &'static str {
    match fault {
        Fault::SseCloseAfter { .. } | Fault::SseAbortAfter { .. } => "DS-5.8-RECONNECT",
        Fault::Act { act } => action_rule(act),
        Fault::Page { .. } | Fault::EmptyLongPoll | Fault::Delay { .. } => "DS-8-NEXT-OFFSET",
        Fault::Status { status: 404, .. } => "OQ-STREAM-GONE",
        Fault::Status { status: 410, .. } => "OQ-GONE-OFFSET",
        Fault::Status { .. } => "OQ-TRANSIENT-ERRORS",
        Fault::ServedOffsets => "OQ-SERVED-OFFSET",
        Fault::SseMultiLineData => "DS-5.8-DATA-LINES",
        _ => "DS-8-RESUME",
    }
}

fn action_rule(act: &Action) -> &'static str {
    match act {
        Action::Reset { .. } => "SP-4.2.2-RESET-CLEAR",
        Action::Close => "DS-5.7-EOF",
        Action::Compact => "OQ-GONE-OFFSET",
        Action::Delete => "OQ-STREAM-GONE",
        Action::Snapshot => "SP-4.2.1-SNAPSHOT-BOUNDARIES",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::Suite;

    #[test]
    fn scenarios_cite_what_they_contain_and_only_catalogued_rules() {
        let suite = Suite::embedded();
        let cases = crate::campaign::scenarios(21, 200);
        let mut cited = BTreeSet::new();
        for case in &cases {
            assert!(!case.requirements.is_empty(), "{}", case.id);
            for id in &case.requirements {
                assert!(suite.catalogue.get(id).is_some(), "{}: {id}", case.id);
                cited.insert(id.clone());
            }
            let deletes = case.batches.iter().flat_map(|b| &b.items).any(|i| {
                i.pointer("/headers/operation") == Some(&serde_json::json!("delete"))
                    && Message::parse(
                        i.clone(),
                        &ParseRules::from_profile(&Profile::default_profile()),
                    )
                    .is_ok()
            });
            assert_eq!(
                deletes,
                case.mode == Mode::Materialize
                    && case.requirements.contains(&"SP-6-DELETE".to_owned())
                    || (deletes && case.requirements.contains(&"SP-6-DELETE".to_owned())),
                "{}",
                case.id
            );
        }
        // Across a campaign the citations spread over many rules, not one per mode.
        assert!(cited.len() >= 15, "only {cited:?}");
    }
}
