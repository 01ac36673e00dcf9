//! Generated subscribe and produce scenarios: appends and awaits around a subscription, a
//! fault plan drawn from the simulator's catalogue (rules aimed at the reads the scenario
//! makes), writes settled before the next step, and the produce operations a producer writes.

use rand::Rng;
use serde_json::{Value, json};
use state_reference::client::{Live, Until};
use state_reference::{Collection, ProduceOp, Profile};
use stream_simulator::fault::{Fault, RequestKind, Rule};
use stream_simulator::store::Action;

use super::draw::Gen;
use crate::corpus::case::{AwaitStep, Case, Step, fault_rules, serves_offsets};

impl Gen {
    pub(super) fn subscribe(&mut self, case: &mut Case) {
        let types = ["user", "order"];
        case.collections = Some(vec![
            Collection::new("users", "user", "id"),
            Collection::new("orders", "order", "id"),
        ]);
        let live = match self.rng.random_bool(0.5) {
            true => Live::LongPoll,
            false => Live::Sse,
        };
        case.live = Some(live);
        if live == Live::Sse && self.uncommitted_sse {
            return uncommitted_sse(case);
        }
        let live_kind = match live {
            Live::Sse => RequestKind::Sse,
            _ => RequestKind::LongPoll,
        };
        let chunks = self.rng.random_range(1..=4);
        // A stream that answers 404 from the first or second read on: the reader must stop
        // (OQ-STREAM-GONE), so the scenario's one checkpoint is that it stopped. It subscribes
        // after every write, so what it read before the 404 does not depend on timing.
        let gone = self.rng.random_bool(0.06);
        let subscribe_after = match gone {
            true => chunks,
            false => self.rng.random_range(0..chunks),
        };
        let mut rules = Vec::new();
        for _ in 0..self.rng.random_range(0..=2) {
            let kind = match self.rng.random_bool(0.5) {
                true => RequestKind::CatchUp,
                false => live_kind,
            };
            rules.push(self.rule(kind, live));
        }
        // SSE data events written over several lines, as PROTOCOL 5.8's example does.
        if live == Live::Sse && self.rng.random_bool(0.3) {
            rules.push(Rule::new(Fault::SseMultiLineData).kind(RequestKind::Sse));
        }
        if gone {
            rules.push(Rule {
                stream: None,
                kind: RequestKind::Read,
                nth: self.rng.random_range(1..=2),
                times: None,
                fault: Fault::Status {
                    status: 404,
                    retry_after: None,
                },
            });
        }
        for i in 0..chunks {
            if i == subscribe_after {
                if !rules.is_empty() {
                    case.steps.push(Step::Faults {
                        rules: std::mem::take(&mut rules),
                    });
                }
                case.steps.push(Step::Subscribe);
            }
            let n = self.rng.random_range(1..=5);
            let items = (0..n).map(|_| self.message(0.1, &types)).collect();
            case.steps.push(Step::Append { items });
            if self.rng.random_bool(0.15) {
                let act = match self.rng.random_range(0..3) {
                    0 => Action::Snapshot,
                    1 => Action::Reset {
                        offset: true,
                        snapshot: self.rng.random_bool(0.5),
                        skip: Vec::new(),
                    },
                    _ => Action::Reset {
                        offset: false,
                        snapshot: false,
                        skip: Vec::new(),
                    },
                };
                case.steps.push(Step::Act { act });
            }
            if gone || i < subscribe_after {
                continue;
            }
            // Not after an action: a reset there could clear the txid before it is seen. Not
            // with served offsets: a preset that refuses `headers.offset` refuses the change.
            let txid = match case.steps.split_last() {
                Some((Step::Append { items }, earlier)) if !serves_offsets(earlier) => {
                    awaitable_txid(items, earlier)
                }
                _ => None,
            };
            match txid {
                Some(txid) if self.rng.random_bool(0.4) => {
                    case.steps.push(await_step(Until::Txid { txid }));
                }
                _ if self.rng.random_bool(0.5) => {
                    case.steps
                        .push(await_step(Until::UpToDate { offset: None }));
                }
                _ => {}
            }
        }
        // Served offsets on a reset name the reset's own position, where reading would
        // restart forever: the two are not combined.
        let resets = case.steps.iter().any(|s| match s {
            Step::Append { items } => items
                .iter()
                .any(|i| i.pointer("/headers/control") == Some(&json!("reset"))),
            Step::Act { act } => matches!(act, Action::Reset { .. }),
            _ => false,
        });
        if resets {
            for step in &mut case.steps {
                if let Step::Faults { rules } = step {
                    rules.retain(|r| r.fault != Fault::ServedOffsets);
                }
            }
        }
        if gone {
            case.steps.push(Step::Faults {
                rules: std::mem::take(&mut rules),
            });
            case.steps.push(Step::Subscribe);
        }
        if !gone && cuts_live_reads(&case.steps) {
            settle_each_write(&mut case.steps);
        }
        if gone {
            case.steps.push(await_step(Until::Stopped));
        } else if self.rng.random_bool(0.15) {
            case.steps.push(Step::Act { act: Action::Close });
            case.steps.push(await_step(Until::Closed));
        } else {
            case.steps
                .push(await_step(Until::UpToDate { offset: None }));
        }
    }

    /// A fault the reference recovers from: transport faults, 5xx, paging, delays, served
    /// offsets; rarely a 410 (the reader starts over) or a 429/503 with `Retry-After: 1`
    /// (rare because each costs a second). A 404 is made by `subscribe` (the reader stops).
    pub(super) fn rule(&mut self, kind: RequestKind, live: Live) -> Rule {
        let fault = match self.rng.random_range(0..11) {
            9 => Fault::Status {
                status: 410,
                retry_after: None,
            },
            10 => Fault::Status {
                status: *self.pick(&[429, 503]),
                retry_after: Some(1),
            },
            0 => Fault::ResetBeforeHeaders,
            1 => Fault::CutInsideMessage {
                message: self.rng.random_range(0..3),
            },
            2 => Fault::CutBody {
                bytes: self.rng.random_range(1..200),
            },
            3 => Fault::Status {
                status: *self.pick(&[500, 502, 503]),
                retry_after: None,
            },
            4 => Fault::Page {
                messages: self.rng.random_range(1..=3),
            },
            5 => Fault::Delay {
                ms: self.rng.random_range(0..10),
                jitter_ms: self.rng.random_range(0..10),
            },
            6 => Fault::ServedOffsets,
            _ if kind == RequestKind::Sse && live == Live::Sse => {
                let events = self.rng.random_range(1..=4);
                match self.rng.random_bool(0.5) {
                    true => Fault::SseCloseAfter { events },
                    false => Fault::SseAbortAfter { events },
                }
            }
            _ if kind == RequestKind::LongPoll => Fault::EmptyLongPoll,
            _ => Fault::ResetBeforeHeaders,
        };
        if fault == Fault::ServedOffsets {
            // Served form on every read, as a server serves it (the oracle reads it so too).
            return Rule::new(fault);
        }
        let times = match fault {
            Fault::Page { .. } | Fault::Delay { .. } => None,
            _ => Some(self.rng.random_range(1..=2)),
        };
        Rule {
            stream: None,
            kind,
            nth: self.rng.random_range(1..=2),
            times,
            fault,
        }
    }

    pub(super) fn produce(&mut self, case: &mut Case) {
        let collections = vec![
            Collection::new("users", "user", "id"),
            Collection::new("orders", "order", "id"),
        ];
        let ops = (0..self.rng.random_range(1..=5))
            .map(|_| {
                let collection = self.pick(&["users", "orders"]).to_string();
                let key = self.key();
                let key_again = key.clone();
                let op = *self.pick(&["insert", "update", "delete"]);
                let mut o = ProduceOp {
                    collection,
                    op: op.into(),
                    value: None,
                    key: None,
                    old_value: None,
                    txid: None,
                    timestamp: None,
                };
                match op {
                    "delete" => o.key = Some(key),
                    _ => o.value = Some(json!({"id": key, "n": self.rng.random_range(0..100)})),
                }
                if op != "insert" && self.rng.random_bool(0.3) {
                    o.old_value = Some(json!({"id": key_again, "n": 0}));
                }
                if self.rng.random_bool(0.3) {
                    o.txid = Some(format!("tx{}", self.rng.random_range(0..6)));
                }
                if self.rng.random_bool(0.2) {
                    o.timestamp = Some("2026-11-27T10:00:00Z".into());
                }
                o
            })
            .collect();
        case.collections = Some(collections);
        case.steps.push(Step::Produce { ops });
    }
}

/// Puts an up-to-date await after the subscription and after every write made while the
/// reader is live (unless one follows already), so the catch-up reads what was there before
/// and each later write is read alone: a live read's content, and so where a cut inside it
/// lands, is then the same on every run instead of depending on whether the reader woke
/// between two writes.
pub(in crate::campaign) fn settle_each_write(steps: &mut Vec<Step>) {
    let mut out = Vec::with_capacity(steps.len() * 2);
    let mut live = false;
    let mut input = std::mem::take(steps).into_iter().peekable();
    while let Some(step) = input.next() {
        let subscribe = matches!(step, Step::Subscribe);
        let write = matches!(step, Step::Append { .. } | Step::Act { .. });
        live |= subscribe;
        out.push(step);
        if live && (write || subscribe) && !matches!(input.peek(), Some(Step::Await(_))) {
            out.push(await_step(Until::UpToDate { offset: None }));
        }
    }
    *steps = out;
}

/// A txid an await can wait for right after `items` are appended: new to the stream (an
/// earlier one would be seen at once, at a point that depends on timing), carried by a change
/// that every preset accepts, and no control in the same append can clear it.
pub(super) fn awaitable_txid(items: &[Value], earlier: &[Step]) -> Option<String> {
    use state_reference::{Message, ParseRules};
    if items
        .iter()
        .any(|i| i.pointer("/headers/control").is_some())
    {
        return None;
    }
    let used = |txid: &str| {
        earlier.iter().any(|s| match s {
            Step::Append { items } => items
                .iter()
                .any(|i| i.pointer("/headers/txid").and_then(Value::as_str) == Some(txid)),
            _ => false,
        })
    };
    let presets: Vec<ParseRules> = Profile::preset_names()
        .into_iter()
        .filter_map(|n| Profile::preset(n).ok())
        .map(|p| ParseRules::from_profile(&p))
        .collect();
    items.iter().find_map(|item| {
        let txid = item.pointer("/headers/txid")?.as_str()?;
        if used(txid) {
            return None;
        }
        presets
            .iter()
            .all(|rules| Message::parse(item.clone(), rules).is_ok())
            .then(|| txid.to_owned())
    })
}

/// SSE data whose control event never comes is not committed (PROTOCOL 5.8): every SSE
/// connection closes after its first event, so a write made while the fault stands reaches
/// the reader as data alone, and its txid must not be seen until the fault is lifted. A
/// reader that applies data before its control event claims the txid at once, on every run
/// (the corpus's `sub-sse-data-without-control-not-committed`, as a scenario: a campaign
/// catches that bug without depending on how reads interleave).
fn uncommitted_sse(case: &mut Case) {
    let insert = |key: &str, txid: &str| json!({"type": "user", "key": key, "value": {"id": key}, "headers": {"operation": "insert", "txid": txid}});
    let close_after_data = Rule::new(Fault::SseCloseAfter { events: 1 }).kind(RequestKind::Sse);
    let txid = |t: &str| Until::Txid { txid: t.to_owned() };
    case.steps = vec![
        Step::Append {
            items: vec![insert("k0", "tx0")],
        },
        Step::Faults {
            rules: vec![close_after_data],
        },
        Step::Subscribe,
        await_step(Until::UpToDate { offset: None }),
        Step::Append {
            items: vec![insert("k1", "tx1")],
        },
        Step::Await(AwaitStep {
            timeout_ms: Some(300),
            reached: false,
            ..AwaitStep::reaching(txid("tx1"))
        }),
        Step::Faults { rules: Vec::new() },
        await_step(txid("tx1")),
        await_step(Until::UpToDate { offset: None }),
    ];
}

pub(super) fn await_step(until: Until) -> Step {
    Step::Await(AwaitStep::reaching(until))
}

/// Whether a fault of the plan acts at a position inside a live read's body (a byte, a
/// message, an SSE event): where it lands then depends on how the writes were split into
/// reads.
pub(in crate::campaign) fn cuts_live_reads(steps: &[Step]) -> bool {
    fault_rules(steps).any(|r| {
        r.kind != RequestKind::CatchUp
            && matches!(
                r.fault,
                Fault::CutBody { .. }
                    | Fault::CutInsideMessage { .. }
                    | Fault::SseCloseAfter { .. }
                    | Fault::SseAbortAfter { .. }
            )
    })
}

/// Whether `steps` already await after the subscription and after every live write, as
/// [`settle_each_write`] makes them: the shrinker keeps a settled scenario settled, or its
/// smaller cases would race again.
pub(in crate::campaign) fn is_settled(steps: &[Step]) -> bool {
    let mut settled = steps.to_vec();
    settle_each_write(&mut settled);
    settled.len() == steps.len()
}
