//! The reference's side of a live case: the state a fault-free reader reaches on the stream
//! as it stands, at a given offset, and the verdict on every message a producer wrote.

use serde_json::Value;
use state_reference::{Batch, Collection, Materializer, Message, Observation, ParseRules};
use state_reference::{Profile, Rejection};
use stream_simulator::store::Log;

use crate::judge::outcome::Landed;

/// The reference's observation after reading `log` from its beginning up to `offset`, as a
/// fault-free reader would: everything up to there in one up-to-date batch, and again from
/// wherever a reset moves reading.
pub fn state_at(
    log: &Log,
    offset: Option<&str>,
    profile: &Profile,
    collections: Option<&[Collection]>,
) -> Result<Observation, String> {
    let mut m = Materializer::consumer(profile, collections, None).map_err(|e| e.to_string())?;
    let Some(target) = offset else {
        return Ok(m.observe());
    };
    let offsets: Vec<String> = log.messages.iter().map(|l| l.offset.to_string()).collect();
    let mut from = 0usize;
    // Each pass starts further on or stops: a reset that points backwards is reported.
    for _ in 0..=log.messages.len() + 1 {
        let mut items = Vec::new();
        let mut next = offsets
            .get(from)
            .cloned()
            .unwrap_or_else(|| log.meta.tail.to_string());
        for logged in &log.messages[from.min(log.messages.len())..] {
            let end = logged.next.to_string();
            if end.as_str() > target {
                break;
            }
            items.push(serde_json::from_slice(&logged.data).unwrap_or(Value::Null));
            next = end;
        }
        if next.as_str() != target {
            return Err(format!("{target} is not a message boundary of the stream"));
        }
        m.apply_batch(Batch {
            items,
            offset: Some(next.clone()),
            up_to_date: true,
        });
        let observation = m.observe();
        match observation.offset.as_deref() {
            Some(o) if o == next => return Ok(observation),
            Some(restart) => match offsets.iter().position(|o| o == restart) {
                Some(at) if at > from => from = at,
                _ if restart == target => return Ok(observation),
                _ => {
                    return Err(format!(
                        "a reset moves reading to {restart}, which the stream cannot continue from"
                    ));
                }
            },
            None => return Ok(observation),
        }
    }
    Err("resets keep moving reading back".into())
}

/// Every message of `log`, judged as written under `profile`.
pub fn lint(log: &Log, profile: &Profile) -> Vec<Landed> {
    let rules = ParseRules::from_profile(profile);
    log.messages
        .iter()
        .map(|logged| {
            let parsed = Message::parse_bytes(&logged.data, &rules);
            Landed {
                message: serde_json::from_slice(&logged.data).unwrap_or(Value::Null),
                invalid: parsed
                    .err()
                    .map(|r: Rejection| format!("{}: {r}", r.requirement)),
            }
        })
        .collect()
}
