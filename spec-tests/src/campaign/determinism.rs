//! The determinism check: two runs of the same scenario compared, and when they differ,
//! whether the simulator or the implementation did.

use serde::Serialize;
use serde_json::Value;

use crate::corpus::case::{Case, Step};
use crate::judge::outcome::Outcome;
use state_reference::client::Until;

/// Where two runs of the same scenario part ways.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Difference {
    /// Same requests, same outcome.
    None,
    /// The same request got a different response: the simulator is not deterministic.
    Simulator { detail: String },
    /// The implementation asked differently, or ended differently from the same exchanges.
    Implementation { detail: String },
}

/// A transcript line without what legitimately varies: the exchange number and the cursor.
fn normalized(line: &str) -> String {
    let line = line.split_once(' ').map_or(line, |(_, rest)| rest);
    match line.find("&cursor=") {
        Some(at) => {
            let end = line[at + 1..]
                .find(['&', ' '])
                .map_or(line.len(), |e| at + 1 + e);
            format!("{}{}", &line[..at], &line[end..])
        }
        None => line.to_owned(),
    }
}

/// What of an outcome must be equal between two runs (not timing, not transcripts). At a
/// txid checkpoint only whether it was reached: the reader answers once it has seen the
/// txid, at whatever offset it has read to by then, which depends on how the writes and its
/// reads interleaved (the judge compares it with the reference at that very offset).
fn observable(case: &Case, outcome: &Outcome) -> Value {
    let txid_step = |step: u64| {
        usize::try_from(step)
            .ok()
            .and_then(|i| case.steps.get(i))
            .is_some_and(|s| matches!(s, Step::Await(a) if matches!(a.until, Until::Txid { .. })))
    };
    let mut v = serde_json::to_value(outcome).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        // Which generated fault rules fired before the end depends on timing.
        o.remove("transcript");
        o.remove("unfired");
    }
    if let Some(cps) = v.get_mut("checkpoints").and_then(Value::as_array_mut) {
        for cp in cps {
            if cp
                .get("step")
                .and_then(Value::as_u64)
                .is_some_and(txid_step)
            {
                let reached = cp.pointer("/answer/reached").cloned();
                *cp = serde_json::json!({"step": cp.get("step"), "reached": reached});
                continue;
            }
            if let Some(a) = cp.get_mut("answer").and_then(Value::as_object_mut) {
                a.remove("upToDate");
            }
            // Whether the reader stalled or stopped must agree; the detail carries timings.
            if let Some(e) = cp.get_mut("endedEarly").and_then(Value::as_object_mut) {
                e.remove("detail");
            }
        }
    }
    v
}

/// Compares two runs of one scenario: equal outcomes are deterministic (how many polls it
/// took may differ); otherwise the first differing exchange says who differed.
pub fn compare_runs(case: &Case, a: &Outcome, b: &Outcome) -> Difference {
    if observable(case, a) == observable(case, b) {
        return Difference::None;
    }
    let (ta, tb) = (a.transcript(), b.transcript());
    for (x, y) in ta.iter().zip(tb) {
        let (x, y) = (normalized(x), normalized(y));
        if x != y {
            let request = |l: &str| l.split(" -> ").next().unwrap_or_default().to_owned();
            return match request(&x) == request(&y) {
                true => Difference::Simulator {
                    detail: format!("`{x}` then `{y}`"),
                },
                false => Difference::Implementation {
                    detail: format!("it asked `{}` then `{}`", request(&x), request(&y)),
                },
            };
        }
    }
    Difference::Implementation {
        detail: format!(
            "the same exchanges ended in different outcomes ({})",
            first_difference(&observable(case, a), &observable(case, b), "")
        ),
    }
}

/// The JSON pointer of the first place two values differ, with both values.
fn first_difference(a: &Value, b: &Value, at: &str) -> String {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter()
                .find(|k| x.get(*k) != y.get(*k))
                .map(|k| {
                    let null = Value::Null;
                    first_difference(
                        x.get(k).unwrap_or(&null),
                        y.get(k).unwrap_or(&null),
                        &format!("{at}/{k}"),
                    )
                })
                .unwrap_or_default()
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find(|(_, (p, q))| p != q)
            .map(|(i, (p, q))| first_difference(p, q, &format!("{at}/{i}")))
            .unwrap_or_default(),
        _ => format!("{at}: {a} then {b}"),
    }
}
